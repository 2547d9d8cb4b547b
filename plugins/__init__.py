"""The skill plugins shipped with Conductor (one package each); see bot.plugins for the contract."""
