from __future__ import annotations

from typing import Any

import pytest
import yaml

from bot.dialogue.actions import ActionContext, ActionExecutionRejection, ActionRegistry
from bot.dialogue.events import (
    ACTION_LISTEN_NAME,
    ActionExecuted,
    ActionExecutionRejected,
    ActiveLoop,
    BotUttered,
    Event,
    LoopInterrupted,
    SlotSet,
    UserUttered,
)
from bot.dialogue.forms import FormAction
from bot.dialogue.responses import ResponseGenerator
from bot.dialogue.slot_mappings import ActionExtractSlots
from bot.dialogue.tracker import DialogueStateTracker
from bot.project.domain import Domain

DOMAIN = """
version: "3.1"
intents: [order, inform, chitchat, book_table]
entities: [size, number, city]
slots:
  size:
    type: categorical
    values: [small, large]
    mappings: [{type: from_entity, entity: size}]
  guests:
    type: float
    mappings: [{type: from_entity, entity: number}]
  kids:
    type: float
    mappings: [{type: from_entity, entity: number}]
  city:
    type: text
    mappings: [{type: from_entity, entity: city}]
  booking:
    type: text
    mappings: [{type: from_trigger_intent, intent: book_table, value: table}]
responses:
  utter_ask_size: [{text: "Which size?"}]
  utter_ask_pizza_form_size: [{text: "Which pizza size?"}]
  utter_ask_guests: [{text: "How many guests?"}]
  utter_ask_kids: [{text: "How many kids?"}]
  utter_ask_city: [{text: "Which city?"}]
  utter_ask_booking: [{text: "What do you book?"}]
forms:
  pizza_form:
    required_slots: [size, city]
  party_form:
    required_slots: [guests, kids]
  table_form:
    required_slots: [booking, city]
actions: [validate_pizza_form, action_ask_city]
"""


def domain() -> Domain:
    return Domain.from_dict(yaml.safe_load(DOMAIN))


def user(intent: str, *entities: tuple[str, Any], text: str | None = None) -> UserUttered:
    parse = {
        "intent": {"name": intent, "confidence": 1.0},
        "entities": [{"entity": kind, "value": value} for kind, value in entities],
        "text": text,
    }
    return UserUttered(text=text, parse_data=parse)


def listen() -> ActionExecuted:
    return ActionExecuted(name=ACTION_LISTEN_NAME)


class Conversation:
    """A tracker that runs extraction after each user message and logs each form run, like the processor."""

    def __init__(self, registry: ActionRegistry | None = None) -> None:
        self.domain = domain()
        self.registry = registry or ActionRegistry()
        self.context = ActionContext(ResponseGenerator.from_domain(self.domain), self.registry)
        self.tracker = DialogueStateTracker.for_domain("u", self.domain, [listen()])

    async def say(self, message: UserUttered) -> None:
        self.tracker.update(message)
        slots = await ActionExtractSlots().run(self.tracker, self.domain, self.context)
        self.tracker.update_with_events(slots)

    async def run(self, form: str) -> list[Event]:
        action = FormAction(form)
        try:
            events = await action.run(self.tracker, self.domain, self.context)
        except ActionExecutionRejection:
            self.tracker.update(ActionExecutionRejected(name=form))
            raise
        self.tracker.update(ActionExecuted(name=form))
        self.tracker.update_with_events(events)
        self.tracker.update(listen())
        return events


def asked(events: list[Event]) -> list[str | None]:
    return [e.text for e in events if isinstance(e, BotUttered)]


def slot_events(events: list[Event]) -> list[tuple[str, Any]]:
    return [(e.name, e.value) for e in events if isinstance(e, SlotSet)]


async def test_activation_sets_the_loop_and_asks_the_first_empty_slot() -> None:
    chat = Conversation()
    await chat.say(user("order"))
    events = await chat.run("party_form")
    assert [e.type_name for e in events] == ["active_loop", "slot", "bot"]
    assert events[0] == ActiveLoop(name="party_form", timestamp=events[0].timestamp)
    assert slot_events(events) == [("requested_slot", "guests")]
    assert asked(events) == ["How many guests?"]


async def test_a_form_specific_question_wins_over_the_general_one() -> None:
    chat = Conversation()
    await chat.say(user("order"))
    assert asked(await chat.run("pizza_form")) == ["Which pizza size?"]


async def test_a_registered_action_ask_is_used_before_responses() -> None:
    async def ask_city(tracker: DialogueStateTracker, domain: Domain, context: ActionContext) -> list[Event]:
        return [BotUttered(text=f"City for a {tracker.get_slot('size')} pizza?")]

    registry = ActionRegistry()
    registry.register_function("action_ask_city", ask_city)
    chat = Conversation(registry)
    await chat.say(user("order", ("size", "large")))
    # the slot filled before activation counts; the question sees it already set
    events = await chat.run("pizza_form")
    assert slot_events(events) == [("size", "large"), ("requested_slot", "city")]
    assert asked(events) == ["City for a large pizza?"]


async def test_filled_slots_are_validated_and_the_next_slot_is_asked() -> None:
    chat = Conversation()
    await chat.say(user("order"))
    await chat.run("party_form")
    await chat.say(user("inform", ("number", 4)))
    events = await chat.run("party_form")
    assert slot_events(events) == [("guests", 4), ("requested_slot", "kids")]
    assert asked(events) == ["How many kids?"]


async def test_the_form_ends_when_every_required_slot_is_filled() -> None:
    chat = Conversation()
    await chat.say(user("order"))
    await chat.run("party_form")
    await chat.say(user("inform", ("number", 4)))
    await chat.run("party_form")
    await chat.say(user("inform", ("number", 2)))
    events = await chat.run("party_form")
    assert [e.type_name for e in events] == ["slot", "slot", "active_loop"]
    assert slot_events(events) == [("kids", 2), ("requested_slot", None)]
    assert chat.tracker.active_loop is None
    assert chat.tracker.get_slot("guests") == 4 and chat.tracker.get_slot("kids") == 2


async def test_an_entity_shared_by_two_required_slots_fills_only_the_requested_one() -> None:
    chat = Conversation()
    await chat.say(user("order"))
    await chat.run("party_form")
    await chat.say(user("inform", ("number", 4)))
    assert chat.tracker.get_slot("kids") is None
    assert chat.tracker.get_slot("guests") == 4


async def test_a_message_that_fills_nothing_makes_the_form_refuse_to_run() -> None:
    chat = Conversation()
    await chat.say(user("order"))
    await chat.run("party_form")
    await chat.say(user("chitchat", text="how are you?"))
    with pytest.raises(ActionExecutionRejection, match="guests"):
        await chat.run("party_form")
    assert chat.tracker.is_active_loop_rejected


async def test_after_an_interruption_the_form_asks_again_without_validating() -> None:
    chat = Conversation()
    await chat.say(user("order"))
    await chat.run("party_form")
    await chat.say(user("chitchat", text="how are you?"))
    with pytest.raises(ActionExecutionRejection):
        await chat.run("party_form")
    chat.tracker.update_with_events([ActionExecuted(name="utter_chitchat"), BotUttered(text="Fine!")])
    events = await chat.run("party_form")  # returning to the form: the latest action is not action_listen
    assert slot_events(events) == [("requested_slot", "guests")]
    assert asked(events) == ["How many guests?"]
    await chat.say(user("inform", ("number", 3)))
    assert slot_events(await chat.run("party_form")) == [("guests", 3), ("requested_slot", "kids")]


async def test_an_interrupted_loop_does_not_validate_the_message_it_resumes_on() -> None:
    chat = Conversation()
    await chat.say(user("order"))
    await chat.run("party_form")
    await chat.say(user("chitchat", text="wait, what?"))
    chat.tracker.update(LoopInterrupted(is_interrupted=True))  # the rule policy returns from an unhappy path
    events = await chat.run("party_form")
    assert asked(events) == ["How many guests?"]


async def test_a_validation_action_can_reject_a_value_and_the_slot_is_asked_again() -> None:
    seen: list[dict[str, Any]] = []

    async def validate(tracker: DialogueStateTracker, domain: Domain, context: ActionContext) -> list[Event]:
        seen.append({"size": tracker.get_slot("size"), "latest": tracker.latest_action_name})
        if tracker.get_slot("size") not in ("small", "large"):
            return [SlotSet(name="size", value=None), BotUttered(text="We only have small and large.")]
        return []

    registry = ActionRegistry()
    registry.register_function("validate_pizza_form", validate)
    chat = Conversation(registry)
    await chat.say(user("order"))
    await chat.run("pizza_form")
    await chat.say(user("inform", ("size", "gigantic")))
    events = await chat.run("pizza_form")
    assert slot_events(events) == [("size", None), ("requested_slot", "size")]
    assert asked(events) == ["We only have small and large.", "Which pizza size?"]
    # the validator saw the candidate on a tracker where the form just ran
    assert seen[-1] == {"size": "gigantic", "latest": "pizza_form"}
    await chat.say(user("inform", ("size", "small")))
    assert slot_events(await chat.run("pizza_form")) == [("size", "small"), ("requested_slot", "city")]


async def test_a_validation_action_can_choose_the_next_slot_or_end_the_form() -> None:
    async def validate(tracker: DialogueStateTracker, domain: Domain, context: ActionContext) -> list[Event]:
        if tracker.get_slot("size") == "small":
            return [SlotSet(name="requested_slot", value=None)]  # nothing else needed for a small pizza
        return [SlotSet(name="requested_slot", value="city")]  # ask the city first

    registry = ActionRegistry()
    registry.register_function("validate_pizza_form", validate)
    chat = Conversation(registry)
    await chat.say(user("order"))
    first = await chat.run("pizza_form")
    assert slot_events(first) == [("requested_slot", "city")]
    assert asked(first) == ["Which city?"]  # action_ask_city is declared but not registered: passed over

    chat = Conversation(registry)
    await chat.say(user("order", ("size", "small")))
    events = await chat.run("pizza_form")
    assert [e.type_name for e in events] == ["active_loop", "slot", "slot", "active_loop"]
    assert slot_events(events) == [("requested_slot", None), ("size", "small")]
    assert chat.tracker.active_loop is None


async def test_a_validation_action_rejecting_manually_stops_the_form_from_asking() -> None:
    async def validate(tracker: DialogueStateTracker, domain: Domain, context: ActionContext) -> list[Event]:
        return [ActionExecutionRejected(name="pizza_form")]

    registry = ActionRegistry()
    registry.register_function("validate_pizza_form", validate)
    chat = Conversation(registry)
    await chat.say(user("order"))
    events = await FormAction("pizza_form").run(chat.tracker, chat.domain, chat.context)
    assert [e.type_name for e in events] == ["active_loop", "action_execution_rejected"]


async def test_without_a_validation_action_any_value_of_a_categorical_slot_is_accepted() -> None:
    chat = Conversation()
    await chat.say(user("order"))
    await chat.run("pizza_form")
    await chat.say(user("inform", ("size", "gigantic")))
    assert slot_events(await chat.run("pizza_form")) == [("size", "gigantic"), ("requested_slot", "city")]


async def test_the_intent_that_activates_a_form_fills_its_trigger_intent_slots() -> None:
    chat = Conversation()
    await chat.say(user("book_table"))
    events = await chat.run("table_form")
    assert slot_events(events) == [("booking", "table"), ("requested_slot", "city")]
    assert asked(events) == ["Which city?"]
