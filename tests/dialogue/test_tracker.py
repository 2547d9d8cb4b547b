"""The tracker: state derived from events, applied events, sessions and Rasa's tracker JSON."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from dialogue_helpers import action, domain_from, listen, user

from bot.dialogue.events import (
    ACTION_LISTEN_NAME,
    ActionExecuted,
    ActionExecutionRejected,
    ActionReverted,
    ActiveLoop,
    AllSlotsReset,
    BotUttered,
    ConversationPaused,
    ConversationResumed,
    EntitiesAdded,
    FollowupAction,
    LoopInterrupted,
    Restarted,
    SessionStarted,
    SlotSet,
    UserUtteranceReverted,
)
from bot.dialogue.tracker import DialogueStateTracker, EventVerbosity
from bot.errors import ConductorError
from bot.project.domain import SessionConfig
from bot.project.loader import ProjectPaths, load_project

FINANCIAL_DEMO = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "rasa-projects" / "financial-demo"

DOMAIN = domain_from(
    """
    intents: [greet, inform]
    entities: [city]
    slots:
      city:
        type: text
        initial_value: Paris
        mappings: [{type: from_entity, entity: city}]
      count:
        type: float
        mappings: [{type: custom}]
    forms:
      trip_form:
        required_slots: [city]
    responses:
      utter_greet: [{text: hi}]
    """
)


def test_state_follows_the_events() -> None:
    tracker = DialogueStateTracker.for_domain("u1", DOMAIN)
    assert tracker.followup_action == "action_listen"
    assert tracker.get_slot("city") == "Paris"
    tracker.update(listen())
    assert tracker.followup_action is None
    tracker.update(user("greet", text="hello"))
    tracker.update(action("utter_greet"))
    tracker.update(BotUttered(text="hi"))
    tracker.update(SlotSet(name="city", value="Rome"))
    assert tracker.latest_message.intent_name == "greet"
    assert tracker.latest_action == {"action_name": "utter_greet"}
    assert tracker.latest_action_name == "utter_greet"
    assert tracker.latest_bot_utterance.text == "hi"
    assert tracker.get_slot("city") == "Rome"
    assert tracker.slots["city"].has_been_set
    tracker.update(AllSlotsReset())
    assert tracker.get_slot("city") == "Paris"
    assert not tracker.slots["city"].has_been_set


def test_undeclared_slots_are_ignored_with_a_domain_and_kept_without() -> None:
    with_domain = DialogueStateTracker.for_domain("u", DOMAIN, [SlotSet(name="nope", value=1)])
    assert "nope" not in with_domain.current_slot_values()
    free = DialogueStateTracker.from_events("u", [SlotSet(name="nope", value=1)])
    assert free.get_slot("nope") == 1


def test_active_loop_interruption_and_rejection() -> None:
    tracker = DialogueStateTracker.for_domain("u", DOMAIN, [listen(), user("inform")])
    tracker.update(ActiveLoop(name="trip_form"))
    assert tracker.active_loop is not None
    assert tracker.active_loop_name == "trip_form"
    assert tracker.active_loop.trigger_message is not None
    assert tracker.active_loop.trigger_message["intent"]["name"] == "inform"
    tracker.update(LoopInterrupted(is_interrupted=True))
    assert tracker.is_active_loop_interrupted and not tracker.active_loop.validate
    tracker.update(ActionExecutionRejected(name="trip_form"))
    assert tracker.is_active_loop_rejected
    tracker.update(action("utter_greet"))
    assert not tracker.is_active_loop_interrupted and tracker.is_active_loop_rejected
    tracker.update(action("trip_form"))
    assert not tracker.is_active_loop_rejected
    tracker.update(ActiveLoop(name=None))
    assert tracker.active_loop is None and tracker.active_loop_name is None


def test_pause_followup_restart_and_session_start() -> None:
    tracker = DialogueStateTracker.for_domain("u", DOMAIN, [listen(), user("greet")])
    tracker.update(ConversationPaused())
    assert tracker.is_paused()
    tracker.update(ConversationResumed())
    assert not tracker.is_paused()
    tracker.update(FollowupAction(name="utter_greet"))
    assert tracker.followup_action == "utter_greet"
    tracker.update(SlotSet(name="city", value="Oslo"))
    tracker.update(Restarted())
    assert tracker.followup_action == "action_session_start"
    assert tracker.get_slot("city") == "Paris"
    assert tracker.latest_message.intent_name is None
    assert tracker.applied_events() == []
    tracker.update(action("action_session_start"))
    tracker.update(SessionStarted())
    tracker.update(listen())
    assert [e.as_dict()["event"] for e in tracker.applied_events()] == ["action"]
    assert tracker.idx_after_latest_restart() == 7


def test_rewind_and_undo_recompute_the_state() -> None:
    tracker = DialogueStateTracker.for_domain("u", DOMAIN, [listen(), user("greet"), action("utter_greet")])
    tracker.update(listen())
    tracker.update(user("inform", [{"entity": "city", "value": "Rome"}]))
    tracker.update(SlotSet(name="city", value="Rome"))
    tracker.update(UserUtteranceReverted())
    assert tracker.latest_message.intent_name == "greet"
    assert tracker.latest_action_name == "utter_greet"
    assert tracker.get_slot("city") == "Paris"  # the slot event after the rewound message is gone too
    tracker.update(ActionReverted())
    assert tracker.latest_action_name == "action_listen"
    assert len(tracker.events) == 8  # nothing is removed from the log


def test_repeated_loop_runs_collapse_in_the_applied_events() -> None:
    events = [
        listen(), user("inform"), action("trip_form"), ActiveLoop(name="trip_form"), listen(),
        user("inform"), action("trip_form"), listen(),
    ]
    tracker = DialogueStateTracker.for_domain("u", DOMAIN, events)
    names = [e.name for e in tracker.applied_events() if isinstance(e, ActionExecuted)]
    # the form's second run on its happy path replaces the turns since its first run
    assert names == ["action_listen", "trip_form", "action_listen"]
    unhappy = [listen(), user("inform"), action("trip_form"), ActiveLoop(name="trip_form"), listen(),
               user("greet"), action("utter_greet"), action("trip_form")]
    tracker = DialogueStateTracker.for_domain("u", DOMAIN, unhappy)
    names = [e.name for e in tracker.applied_events() if isinstance(e, ActionExecuted)]
    assert names[-2:] == ["utter_greet", "trip_form"]


def test_entities_added_join_the_latest_message() -> None:
    tracker = DialogueStateTracker.for_domain("u", DOMAIN, [listen(), user("inform")])
    tracker.update(EntitiesAdded(entities=[{"entity": "city", "value": "Rome"}]))
    assert list(tracker.get_latest_entity_values("city")) == ["Rome"]
    assert tracker.current_state()["latest_message"]["entities"] == [{"entity": "city", "value": "Rome"}]
    tracker.update(action("utter_greet"))
    tracker.update(EntitiesAdded(entities=[{"entity": "city", "value": "Oslo"}]))
    assert list(tracker.get_latest_entity_values("city")) == ["Rome"]


def test_session_expiry() -> None:
    tracker = DialogueStateTracker.for_domain("u", DOMAIN, [listen()])
    config = SessionConfig(session_expiration_time=1)
    assert not tracker.has_session_expired(config)  # no user message yet
    message = user("greet")
    tracker.update(message)
    assert not tracker.has_session_expired(config, now=message.timestamp + 59)
    assert tracker.has_session_expired(config, now=message.timestamp + 61)
    assert not tracker.has_session_expired(SessionConfig(session_expiration_time=0), now=message.timestamp + 1e6)


def test_slot_events_to_carry_over_and_time_travel() -> None:
    first = SlotSet(name="city", value="Rome", timestamp=10.0)
    second = SlotSet(name="count", value=2.0, timestamp=20.0)
    tracker = DialogueStateTracker.for_domain("u", DOMAIN, [first, second])
    assert tracker.slot_events_to_carry_over() == [first, second]
    earlier = tracker.travel_back_in_time(15.0)
    assert earlier.get_slot("city") == "Rome" and earlier.get_slot("count") is None
    twin = tracker.copy()
    twin.update(SlotSet(name="city", value="Oslo"))
    assert tracker.get_slot("city") == "Rome"


def test_a_copy_and_its_original_change_their_slots_apart() -> None:
    """A copy shares its slot objects until one of the two changes a slot: whichever changes first, by a slot
    event, a reset of all slots or a restart, the other keeps its values."""
    tracker = DialogueStateTracker.for_domain("u", DOMAIN, [SlotSet(name="city", value="Rome")])
    for change in (SlotSet(name="city", value="Oslo"), AllSlotsReset(), Restarted()):
        for changed, kept in ((tracker.copy(), tracker), (tracker, tracker.copy())):
            before = dict(kept.current_slot_values())
            changed.update(change)
            assert kept.current_slot_values() == before, change
            assert changed.current_slot_values() != before, change
            changed.update(SlotSet(name="city", value="Rome"))  # both read Rome again for the next round
        twin = tracker.copy()
        twin.update(SlotSet(name="count", value=3.0))
        tracker.update(SlotSet(name="count", value=4.0))  # both changed after the copy: each keeps its own
        assert (twin.get_slot("count"), tracker.get_slot("count")) == (3.0, 4.0)


def test_current_state_has_rasas_shape() -> None:
    tracker = DialogueStateTracker.for_domain("u", DOMAIN, [listen(), user("inform", text="to Rome")])
    tracker.update(ActiveLoop(name="trip_form"))
    state = tracker.current_state(EventVerbosity.APPLIED)
    assert list(state) == [
        "sender_id", "slots", "latest_message", "latest_event_time", "followup_action", "paused", "events",
        "latest_input_channel", "active_loop", "latest_action", "latest_action_name",
    ]
    assert state["active_loop"] == {
        "name": "trip_form", "is_interrupted": False, "rejected": False,
        "trigger_message": tracker.latest_message.parse_data,
    }
    assert tracker.current_state()["events"] is None
    assert len(state["events"]) == 3


@pytest.mark.parametrize("name", sorted(p.name for p in (FINANCIAL_DEMO / "tests" / "data").glob("*.json")))
def test_tracker_json_round_trip(name: str) -> None:
    project = load_project(ProjectPaths.discover(FINANCIAL_DEMO))
    data = json.loads((FINANCIAL_DEMO / "tests" / "data" / name).read_text())
    tracker = DialogueStateTracker.from_dict(data, project.domain)
    written = tracker.as_dict()
    assert written["events"] == data["events"]
    for key in ("sender_id", "latest_message", "latest_event_time", "followup_action", "paused",
                "latest_input_channel", "active_loop", "latest_action", "latest_action_name"):
        assert written[key] == data[key], key
    again = DialogueStateTracker.from_dict(json.loads(json.dumps(written)), project.domain)
    assert again == tracker and again.as_dict() == written


def test_bad_tracker_json_is_a_clear_error() -> None:
    with pytest.raises(ConductorError, match="event #2"):
        DialogueStateTracker.from_dict({"sender_id": "u", "events": [{"event": "action", "name": "x"}, {}]})
    with pytest.raises(ConductorError, match="sender_id"):
        DialogueStateTracker.from_dict({"sender_id": 5, "events": []})


def test_new_events_sort_after_the_old_ones_and_keep_a_time_of_this_turn() -> None:
    tracker = DialogueStateTracker("stamps")
    tracker.update(ActionExecuted(name=ACTION_LISTEN_NAME, timestamp=time.time()))
    made_now = ActionExecuted(name="utter_greet")
    too_old = SlotSet(name="city", value="Rome", timestamp=1.0)
    in_the_future = SlotSet(name="city", value="Oslo", timestamp=time.time() + 3600)
    tracker.update_with_events([made_now, too_old, in_the_future])
    stamps = [event.timestamp for event in tracker.events]
    assert stamps == sorted(stamps) and stamps[-1] <= time.time()
    assert tracker.events[1] is made_now  # made during the turn: kept as it is, not copied
    assert tracker.events[2].timestamp > 1.0 and tracker.events[3].timestamp < in_the_future.timestamp
    assert [event.value for event in tracker.events[2:]] == ["Rome", "Oslo"]  # type: ignore[attr-defined]
    tracker.update_with_events([too_old], override_timestamp=False)
    assert tracker.events[-1] is too_old
