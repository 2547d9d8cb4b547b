"""Reading a Rasa-shaped project (domain, NLU data, stories, rules, config) into typed objects."""
