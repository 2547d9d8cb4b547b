"""Sample events shared by the event and store tests: one of every kind, as Rasa 3.x writes them."""

from __future__ import annotations

from typing import Any

# One event of every kind, as Rasa 3.x writes them in a tracker (key order included).
RASA_EVENTS: list[dict[str, Any]] = [
    {"event": "action", "timestamp": 1700000000.1, "name": "action_session_start", "policy": None,
     "confidence": 1.0, "action_text": None, "hide_rule_turn": False},
    {"event": "session_started", "timestamp": 1700000000.2},
    {"event": "user", "timestamp": 1700000001.0, "metadata": {"model_id": "m1"}, "text": "i want to pay",
     "parse_data": {"intent": {"name": "pay_cc", "confidence": 0.97},
                    "entities": [{"entity": "credit_card", "start": 3, "end": 9, "value": "emblem",
                                  "extractor": "DIETClassifier", "confidence_entity": 0.99}],
                    "text": "i want to pay", "message_id": "42",
                    "metadata": {}, "intent_ranking": [{"name": "pay_cc", "confidence": 0.97},
                                                       {"name": "greet", "confidence": 0.03}],
                    "response_selector": {"all_retrieval_intents": []}},
     "input_channel": "rest", "message_id": "42"},
    {"event": "user_featurization", "timestamp": 1700000001.1, "use_text_for_featurization": False},
    {"event": "entities", "timestamp": 1700000001.2, "entities": [{"entity": "x", "value": "y"}]},
    {"event": "action", "timestamp": 1700000002.0, "name": "cc_payment_form", "policy": "RulePolicy",
     "confidence": 1.0, "action_text": None, "hide_rule_turn": True},
    {"event": "active_loop", "timestamp": 1700000002.1, "name": "cc_payment_form"},
    {"event": "slot", "timestamp": 1700000002.2, "name": "requested_slot", "value": "amount"},
    {"event": "bot", "timestamp": 1700000002.3, "metadata": {"utter_action": "utter_ask_amount"},
     "text": "How much?", "data": {"elements": None, "quick_replies": None,
                                   "buttons": [{"title": "all", "payload": "/inform"}],
                                   "attachment": None, "image": None, "custom": None}},
    {"event": "loop_interrupted", "timestamp": 1700000002.4, "is_interrupted": True},
    {"event": "action_execution_rejected", "timestamp": 1700000002.5, "name": "cc_payment_form",
     "policy": "TEDPolicy", "confidence": 0.4},
    {"event": "followup", "timestamp": 1700000002.6, "name": "utter_ok"},
    {"event": "reminder", "timestamp": 1700000002.7, "intent": "EXTERNAL_remind",
     "date_time": "2024-01-01T10:00:00+00:00", "entities": None, "name": "r1", "kill_on_user_msg": False},
    {"event": "cancel_reminder", "timestamp": 1700000002.8, "name": "r1", "intent": None, "entities": None},
    {"event": "agent", "timestamp": 1700000002.9, "text": "an agent said", "data": {"x": 1}},
    {"event": "stack", "timestamp": 1700000003.0, "update": "[]"},
    {"event": "export", "timestamp": 1700000003.1, "path": "stories.yml"},
    {"event": "pause", "timestamp": 1700000003.2},
    {"event": "resume", "timestamp": 1700000003.3},
    {"event": "rewind", "timestamp": 1700000003.4},
    {"event": "undo", "timestamp": 1700000003.5},
    {"event": "reset_slots", "timestamp": 1700000003.6},
    {"event": "action", "timestamp": 1700000003.7, "name": None, "policy": None, "confidence": None,
     "action_text": "Hello!", "hide_rule_turn": False},
    {"event": "restart", "timestamp": 1700000003.8, "metadata": {"why": "test"}},
]
