from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.dialogue.events import ACTION_LISTEN_NAME, ActionExecuted, ActiveLoop, Event, SlotSet, UserUttered
from bot.dialogue.story_events import events_from_steps, user_event
from bot.project.stories import (
    ANY_VALUE,
    ActionStep,
    ActiveLoopStep,
    BotStep,
    OrStep,
    SlotWasSetStep,
    Step,
    StoryEntity,
    UserStep,
    load_story_file,
)


def test_a_financial_demo_test_story_becomes_its_tracker_events(shared_data: Path) -> None:
    path = shared_data / "rasa-projects" / "financial-demo" / "tests" / "test_stories.yml"
    story = next(s for s in load_story_file(path, test=True) if s.name == "pay credit card happy path")
    events = events_from_steps(story.steps, listen=True)
    kinds = ["action", "user", "action", "active_loop", "active_loop", "action", "action"]
    assert [e.type_name for e in events] == kinds
    listen, user, form, loop, no_loop, pay, final_listen = events
    assert isinstance(pay, ActionExecuted) and pay.name == "action_pay_cc"
    assert listen == ActionExecuted(name=ACTION_LISTEN_NAME, timestamp=listen.timestamp)
    assert isinstance(user, UserUttered)
    assert user.text == "i want to pay off my emblm"
    assert user.intent == {"name": "pay_cc", "confidence": 1.0}
    assert user.entities == [{"start": 21, "end": 26, "value": "emblem", "entity": "credit_card"}]
    assert isinstance(form, ActionExecuted) and form.name == "cc_payment_form"
    assert (loop, no_loop) == (
        ActiveLoop(name="cc_payment_form", timestamp=loop.timestamp),
        ActiveLoop(name=None, timestamp=no_loop.timestamp),
    )
    assert isinstance(final_listen, ActionExecuted) and final_listen.name == ACTION_LISTEN_NAME
    assert json.loads(json.dumps([e.as_dict() for e in events]))  # JSON all the way down
    assert [type(Event.from_dict(e.as_dict())) for e in events] == [type(e) for e in events]


def test_listed_entities_slots_and_bot_steps() -> None:
    steps: list[Step] = [
        UserStep("inform", [StoryEntity("city"), StoryEntity("city", "Paris", role="to", group="g")]),
        SlotWasSetStep({"city": ANY_VALUE, "seats": 2, "vip": ANY_VALUE}),
        BotStep("Bon voyage!"),
        ActiveLoopStep("booking_form"),
        ActionStep("utter_done"),
    ]
    events = events_from_steps(steps, any_slot_value={"city": "filled"})
    user = events[0]
    assert isinstance(user, UserUttered) and user.text is None
    assert user.entities == [
        {"entity": "city", "value": ""},
        {"entity": "city", "value": "Paris", "role": "to", "group": "g"},
    ]
    assert [(e.name, e.value) for e in events[1:4] if isinstance(e, SlotSet)] == [
        ("city", "filled"), ("seats", 2), ("vip", None)
    ]
    bot = events[4]
    assert isinstance(bot, ActionExecuted) and (bot.name, bot.action_text) == (None, "Bon voyage!")
    assert [e.type_name for e in events[5:]] == ["active_loop", "action"]


def test_listen_is_not_doubled_and_entity_slots_follow_the_user_message() -> None:
    steps: list[Step] = [ActionStep(ACTION_LISTEN_NAME), UserStep("greet", [StoryEntity("name", "Ada")])]

    def entity_slots(event: UserUttered) -> list[Event]:
        return [SlotSet(name=e["entity"], value=e["value"]) for e in event.entities]

    events = events_from_steps(steps, listen=True, entity_slots=entity_slots)
    assert [e.type_name for e in events] == ["action", "user", "slot", "action"]
    assert isinstance(events[2], SlotSet) and (events[2].name, events[2].value) == ("name", "Ada")


def test_retrieval_intents_keep_their_full_name_aside() -> None:
    event = user_event(UserStep("faq/ask_name", user_text="what is your name?"))
    assert event.intent == {"name": "faq", "confidence": 1.0, "full_retrieval_intent_name": "faq/ask_name"}
    assert event.parse_data["text"] == "what is your name?"
    assert user_event(UserStep(None, user_text="hello")).intent == {}


def test_unresolved_steps_are_refused() -> None:
    with pytest.raises(ValueError, match="resolve_checkpoints"):
        events_from_steps([OrStep([UserStep("a"), UserStep("b")], "s.yml", 4)])
