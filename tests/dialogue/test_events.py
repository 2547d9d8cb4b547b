from __future__ import annotations

import copy
import dataclasses
import json
import time
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.dialogue.events import (
    BOT_DATA_KEYS,
    NO_METADATA,
    ActionExecuted,
    ActiveLoop,
    BotUttered,
    Event,
    LoopInterrupted,
    ReminderScheduled,
    SessionStarted,
    SlotSet,
    UserUttered,
    event_names,
    events_from_dicts,
    events_to_dicts,
    shared_dict,
)
from bot.dialogue.tracker import DialogueStateTracker
from bot.errors import ConductorError
from tests.event_samples import RASA_EVENTS


def test_financial_demo_tracker_dumps_round_trip_exactly(shared_data: Path) -> None:
    dumps = sorted((shared_data / "rasa-projects" / "financial-demo" / "tests" / "data").glob("*.json"))
    assert len(dumps) == 4
    for path in dumps:
        tracker = json.loads(path.read_text())
        events = events_from_dicts(tracker["events"], str(path))
        assert [type(e) for e in events] == [ActionExecuted, SessionStarted, ActionExecuted]
        assert json.dumps(events_to_dicts(events)) == json.dumps(tracker["events"])


def test_every_kind_round_trips_exactly_keys_and_order() -> None:
    events = events_from_dicts(RASA_EVENTS)
    assert {e.type_name for e in events} == set(event_names())
    assert json.dumps(events_to_dicts(events)) == json.dumps(RASA_EVENTS)


def test_typed_fields_are_read() -> None:
    events = events_from_dicts(RASA_EVENTS)
    user = events[2]
    assert isinstance(user, UserUttered)
    assert (user.text, user.intent_name, user.input_channel, user.message_id) == (
        "i want to pay", "pay_cc", "rest", "42"
    )
    assert user.entities[0]["value"] == "emblem"
    assert user.metadata == {"model_id": "m1"}
    assert events[5] == ActionExecuted(
        name="cc_payment_form", policy="RulePolicy", confidence=1.0, hide_rule_turn=True, timestamp=1700000002
    )
    assert events[6] == ActiveLoop(name="cc_payment_form", timestamp=1700000002.1)
    reminder = events[12]
    assert isinstance(reminder, ReminderScheduled)
    assert reminder.trigger_date_time.year == 2024 and not reminder.kill_on_user_msg


def test_events_built_in_code_write_the_full_rasa_form() -> None:
    assert ActionExecuted(name="utter_greet", timestamp=5.0).as_dict() == {
        "event": "action", "timestamp": 5.0, "name": "utter_greet", "policy": None, "confidence": None,
        "action_text": None, "hide_rule_turn": False,
    }
    assert UserUttered(text="hi", timestamp=5.0).as_dict() == {
        "event": "user", "timestamp": 5.0, "text": "hi", "parse_data": {}, "input_channel": None,
        "message_id": None, "metadata": {},
    }
    bot = BotUttered.create("hi", buttons=[{"title": "a", "payload": "/a"}])
    assert list(bot.as_dict()["data"]) == list(BOT_DATA_KEYS)
    assert bot.data["buttons"] == [{"title": "a", "payload": "/a"}] and bot.data["image"] is None
    assert SlotSet(name="s", timestamp=5.0, metadata={"a": 1}).as_dict() == {
        "event": "slot", "timestamp": 5.0, "name": "s", "value": None, "metadata": {"a": 1}
    }
    before = time.time()
    assert ActiveLoop(name=None).timestamp >= before
    with pytest.raises(ValueError, match="name"):
        ActionExecuted()


def test_rasa_sdk_events_get_a_timestamp_and_empty_metadata() -> None:
    before = time.time()
    slot = Event.from_dict({"event": "slot", "timestamp": None, "name": "city", "value": "Berlin"})
    assert isinstance(slot, SlotSet) and slot.timestamp >= before
    bot = Event.from_dict({"event": "bot", "timestamp": None, "text": "hi", "data": None, "metadata": None})
    assert isinstance(bot, BotUttered) and (bot.data, bot.metadata) == ({}, {})
    written = bot.as_dict()
    assert (written["data"], written["metadata"]) == ({}, {})
    assert isinstance(written["timestamp"], float)


def test_unknown_keys_are_kept_and_changed_values_are_not_dropped() -> None:
    future: list[int] = [1, 2]
    raw: dict[str, Any] = {"event": "slot", "timestamp": 1, "name": "a", "value": 1, "future_field": future}
    slot = SlotSet.from_dict(raw)
    assert slot.extras == {"future_field": [1, 2]}
    assert slot.as_dict() == raw
    changed = dataclasses.replace(slot, metadata={"x": 1})
    assert changed.as_dict() == {**raw, "metadata": {"x": 1}}
    future.append(3)
    assert slot.extras == {"future_field": [1, 2]}, "the event must not share the caller's data"


def test_legacy_form_events_are_read_as_rasa_reads_them() -> None:
    loop, interrupted = events_from_dicts([
        {"event": "form", "timestamp": 1.0, "name": "restaurant_form"},
        {"event": "form_validation", "timestamp": 2.0, "validate": False},
    ])
    assert loop == ActiveLoop(name="restaurant_form", timestamp=1.0)
    assert interrupted == LoopInterrupted(is_interrupted=True, timestamp=2.0)
    assert loop.as_dict() == {"event": "active_loop", "timestamp": 1.0, "name": "restaurant_form"}


def test_bad_events_are_all_reported_with_their_position() -> None:
    bad = [
        {"event": "slot", "timestamp": 1.0, "name": "ok", "value": 1},
        {"event": "utter", "timestamp": 1.0},
        {"event": "slot", "timestamp": 1.0},
        {"event": "action", "timestamp": "yesterday", "name": "a"},
        {"event": "action", "timestamp": 1.0},
        {"event": "reminder", "timestamp": 1.0, "intent": "i", "date_time": "next tuesday"},
        {"timestamp": 1.0},
        "user",
        {"event": "user", "parse_data": [1]},
        {"event": "action", "name": "a", "hide_rule_turn": "no"},
    ]
    with pytest.raises(ConductorError) as caught:
        events_from_dicts(bad, "tracker.json")
    problems = caught.value.problems
    assert [p.message.split(":")[0] for p in problems] == [f"event #{n}" for n in range(2, 11)]
    assert all(p.file == "tracker.json" for p in problems)
    assert "unknown event 'utter'" in problems[0].message
    assert problems[0].hint is not None and "user" in problems[0].hint
    assert "has no `name`" in problems[1].message
    assert "`timestamp`" in problems[2].message
    assert "`name` or an `action_text`" in problems[3].message
    assert "ISO 8601" in problems[4].message
    assert "no `event` name" in problems[5].message


def test_from_dict_on_a_subclass_checks_the_kind() -> None:
    with pytest.raises(ConductorError, match="expected a 'slot' event"):
        SlotSet.from_dict({"event": "bot", "timestamp": 1.0, "text": "hi"})
    with pytest.raises(ConductorError, match="unknown event 'nope'"):
        Event.from_dict({"event": "nope"})


_json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=10),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner, max_size=4),
    max_leaves=12,
)


@settings(max_examples=60, deadline=None)
@given(
    value=_json_values,
    extras=st.dictionaries(st.text(min_size=1, max_size=8).filter(
        lambda k: k not in {"event", "timestamp", "metadata", "name", "value"}), _json_values, max_size=3),
    metadata=st.dictionaries(st.text(max_size=5), _json_values, max_size=3),
)
def test_any_json_values_round_trip(value: Any, extras: dict[str, Any], metadata: dict[str, Any]) -> None:
    raw = {"event": "slot", "timestamp": 12.5, "name": "s", "value": value, **extras, "metadata": metadata}
    assert json.dumps(SlotSet.from_dict(raw).as_dict()) == json.dumps(raw)
    user = {"event": "user", "timestamp": 1.0, "text": "t", "parse_data": {"i": value}, "metadata": metadata}
    assert json.dumps(Event.from_dict(user).as_dict()) == json.dumps(user)


def test_events_without_metadata_share_one_empty_dict_that_refuses_changes() -> None:
    made = [ActionExecuted(name="utter_greet"), SessionStarted(), UserUttered(text="hi")]
    read = events_from_dicts([{"event": "action", "name": "x", "metadata": {}}, {"event": "session_started"}])
    for event in [*made, *read]:
        assert event.metadata is NO_METADATA and event.extras is NO_METADATA
    with pytest.raises(TypeError, match="shared by many events"):
        made[0].metadata["key"] = "value"
    with pytest.raises(TypeError, match="shared by many events"):
        made[0].metadata.update(key="value")
    assert NO_METADATA == {}
    # a copy is an ordinary dict, and what as_dict gives may be changed without touching any event
    copied = made[0].as_dict()
    copied.setdefault("metadata", {})["key"] = "value"
    assert NO_METADATA == {} and type(copy.deepcopy(NO_METADATA)) is dict and type(copy.copy(NO_METADATA)) is dict
    assert json.dumps(events_to_dicts(made[:1])) == json.dumps(events_to_dicts([ActionExecuted(
        name="utter_greet", timestamp=made[0].timestamp, metadata={})]))


def test_integer_timestamps_and_confidences_are_written_back_as_integers() -> None:
    raw = [
        {"event": "action", "timestamp": 1700000000, "name": "utter_greet", "confidence": 1},
        {"event": "user", "timestamp": 1700000001, "text": "hi", "metadata": {}},
    ]
    assert json.dumps(events_to_dicts(events_from_dicts(raw))) == json.dumps(raw)
    tracker = DialogueStateTracker.from_dict({"sender_id": "s", "events": raw})
    assert json.dumps(tracker.current_state()["latest_event_time"]) == "1700000001"


def test_bot_messages_share_equal_data_and_metadata_but_not_buttons() -> None:
    first = BotUttered.create("hi", metadata={"utter_action": "utter_greet"})
    second = BotUttered.create("hello", metadata={"utter_action": "utter_greet"})
    assert first.data is second.data and first.metadata is second.metadata
    assert first.data == dict.fromkeys(BOT_DATA_KEYS)
    # equal by ==, but of another type: not the same dict (1 and True would write different JSON)
    assert shared_dict({"flag": 1}) is not shared_dict({"flag": True})
    with_buttons = BotUttered.create("pick", buttons=[{"title": "yes", "payload": "/affirm"}])
    assert with_buttons.data["buttons"] == [{"title": "yes", "payload": "/affirm"}]
    with pytest.raises(TypeError):
        first.data["text"] = "changed"
    assert first.as_dict()["data"] == dict.fromkeys(BOT_DATA_KEYS)
