"""The dialogue engine: conversation events, trackers, domain, slots, responses, forms, actions, policies."""
