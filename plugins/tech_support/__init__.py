"""The tech-support skill: troubleshooting, support tickets, knowledge-base answers and a hand-over to a person.

The plugin's data (plugin.yml, domain.yml, data/, tests/) is read by `bot.plugins`; its actions are in
`actions.py`. See README.md for the settings, the ticketing endpoint and the knowledge-base format.
"""
