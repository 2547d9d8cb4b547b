from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.dialogue.actions import ActionContext, ActionRegistry
from bot.dialogue.events import (
    ACTION_LISTEN_NAME,
    ActionExecuted,
    ActionExecutionRejected,
    ActiveLoop,
    BotUttered,
    Event,
    SlotSet,
    UserUttered,
)
from bot.dialogue.responses import ResponseGenerator
from bot.dialogue.slot_mappings import ActionExtractSlots, entity_mapping_is_unique, trigger_intent_values
from bot.dialogue.tracker import DialogueStateTracker
from bot.project.domain import Domain, load_domain

DOMAIN = """
version: "3.1"
intents: [inform, affirm, deny, book, chitchat, greet]
entities:
  - city: {roles: [from, to]}
  - cuisine
  - number
  - topping
slots:
  departure:
    type: text
    mappings:
    - {type: from_entity, entity: city, role: from}
  destination:
    type: text
    mappings:
    - {type: from_entity, entity: city, role: to}
  home_city:
    type: text
    mappings:
    - {type: from_entity, entity: city}
  cuisine:
    type: text
    mappings:
    - {type: from_entity, entity: cuisine, intent: [inform, book]}
  toppings:
    type: list
    mappings:
    - {type: from_entity, entity: topping}
  pizza_count:
    type: text
    mappings:
    - {type: from_entity, entity: topping}
  confirmed:
    type: bool
    mappings:
    - {type: from_intent, intent: affirm, value: true}
    - {type: from_intent, intent: deny, value: false}
  greeted:
    type: bool
    mappings:
    - {type: from_intent, value: true, not_intent: [deny, chitchat, inform, affirm, book]}
  note:
    type: text
    mappings:
    - type: from_text
      not_intent: chitchat
      conditions: [{active_loop: order_form, requested_slot: note}]
  idle_note:
    type: text
    mappings:
    - type: from_text
      intent: greet
      conditions: [{active_loop: null}]
  booking_type:
    type: text
    mappings:
    - {type: from_trigger_intent, intent: book, value: table, conditions: [{active_loop: order_form}]}
  first_people:
    type: text
    mappings:
    - {type: from_entity, entity: number}
  second_people:
    type: text
    mappings:
    - {type: from_entity, entity: number}
  name:
    type: text
    mappings:
    - {type: custom, action: action_guess_name}
  requested_slot:
    type: text
    mappings:
    - {type: from_text}
forms:
  order_form:
    required_slots: [first_people, second_people, note]
    ignored_intents: [chitchat]
"""


def domain() -> Domain:
    return Domain.from_dict(yaml.safe_load(DOMAIN))


def user(intent: str, *entities: dict[str, Any], text: str | None = None) -> UserUttered:
    parse_data = {"intent": {"name": intent, "confidence": 1.0}, "entities": list(entities), "text": text}
    return UserUttered(text=text, parse_data=parse_data)


def entity(kind: str, value: Any, **extra: Any) -> dict[str, Any]:
    return {"entity": kind, "value": value, **extra}


def in_form(requested: str) -> list[Event]:
    return [
        ActionExecuted(name="order_form"),
        ActiveLoop(name="order_form"),
        SlotSet(name="requested_slot", value=requested),
        ActionExecuted(name=ACTION_LISTEN_NAME),
    ]


async def extract(
    events: list[Event], registry: ActionRegistry | None = None, the_domain: Domain | None = None
) -> dict[str, Any]:
    events_out = await extract_events(events, registry, the_domain)
    return {e.name: e.value for e in events_out if isinstance(e, SlotSet)}


async def extract_events(
    events: list[Event], registry: ActionRegistry | None = None, the_domain: Domain | None = None
) -> list[Event]:
    the_domain = the_domain or domain()
    tracker = DialogueStateTracker.for_domain("u", the_domain, events)
    context = ActionContext(ResponseGenerator.from_domain(the_domain), registry or ActionRegistry())
    return await ActionExtractSlots().run(tracker, the_domain, context)


async def test_from_entity_matches_the_role_exactly() -> None:
    filled = await extract(
        [user("inform", entity("city", "Oslo", role="from"), entity("city", "Rome", role="to"))]
    )
    assert filled == {"departure": "Oslo", "destination": "Rome"}
    assert await extract([user("inform", entity("city", "Paris"))]) == {"home_city": "Paris"}


async def test_from_entity_respects_the_intents_of_the_mapping() -> None:
    assert (await extract([user("inform", entity("cuisine", "thai"))]))["cuisine"] == "thai"
    assert "cuisine" not in await extract([user("greet", entity("cuisine", "thai"))])


async def test_a_list_slot_takes_every_value_and_another_slot_the_last_one() -> None:
    filled = await extract([user("inform", entity("topping", "ham"), entity("topping", "olives"))])
    assert filled["toppings"] == ["ham", "olives"]
    assert filled["pizza_count"] == "olives"


async def test_from_intent_sets_the_value_of_the_matching_mapping() -> None:
    assert (await extract([user("affirm")]))["confirmed"] is True
    assert (await extract([user("deny")]))["confirmed"] is False


async def test_from_intent_without_intents_fills_for_any_intent_not_excluded() -> None:
    assert (await extract([user("greet")])).get("greeted") is True
    assert "greeted" not in await extract([user("chitchat")])


async def test_mapping_conditions_need_the_active_loop_and_requested_slot() -> None:
    message = user("inform", text="no onions please")
    assert "note" not in await extract([message])
    assert "note" not in await extract([*in_form("first_people"), message])
    assert (await extract([*in_form("note"), message]))["note"] == "no onions please"


async def test_a_condition_with_a_null_active_loop_holds_only_outside_loops() -> None:
    assert (await extract([user("greet", text="hello")]))["idle_note"] == "hello"
    assert "idle_note" not in await extract([*in_form("note"), user("greet", text="hello")])


async def test_the_ignored_intents_of_the_active_form_fill_nothing() -> None:
    assert "note" not in await extract([*in_form("note"), user("chitchat", text="how are you")])


async def test_the_requested_slot_is_not_filled_again_right_after_the_form_rejected() -> None:
    rejected = [
        *in_form("note")[:-1],
        ActionExecutionRejected(name="order_form"),
        ActionExecuted(name="utter_x"),
    ]
    assert "note" not in await extract([*rejected, user("inform", text="extra cheese")])


async def test_from_trigger_intent_fills_only_while_a_named_loop_is_active() -> None:
    assert "booking_type" not in await extract([user("book")])
    assert (await extract([*in_form("note"), user("book")]))["booking_type"] == "table"


def test_trigger_intent_values_give_the_form_its_activation_values() -> None:
    form_domain = Domain.from_dict(
        yaml.safe_load(DOMAIN.replace("[first_people, second_people, note]", "[booking_type, note]"))
    )
    tracker = DialogueStateTracker.for_domain("u", form_domain, [user("book")])
    assert trigger_intent_values("order_form", tracker, form_domain) == {"booking_type": "table"}
    other = DialogueStateTracker.for_domain("u", form_domain, [user("inform")])
    assert trigger_intent_values("order_form", other, form_domain) == {}


async def test_an_entity_shared_by_form_slots_fills_only_the_requested_one() -> None:
    the_domain = domain()
    number = user("inform", entity("number", "4"))
    assert not any(
        entity_mapping_is_unique("order_form", m, the_domain)
        for m in the_domain.slots["first_people"].mappings
    )
    assert await extract([*in_form("second_people"), number]) == {"second_people": "4"}
    # outside the form both slots take it
    assert await extract([number]) == {"first_people": "4", "second_people": "4"}


async def test_a_value_is_set_again_even_if_unchanged_but_none_only_clears_a_set_slot() -> None:
    again = await extract([SlotSet(name="cuisine", value="thai"), user("inform", entity("cuisine", "thai"))])
    assert again == {"cuisine": "thai"}
    nothing = user("inform", entity("cuisine", None))
    assert "cuisine" not in await extract([nothing])
    assert (await extract([SlotSet(name="cuisine", value="thai"), nothing])) == {"cuisine": None}


async def test_an_entity_with_the_slots_name_does_not_fill_a_slot_without_mapping() -> None:
    # Rasa 3 has no auto-fill (store_entities_as_slots): only mappings fill slots
    the_domain = Domain.from_dict(
        {"entities": ["color"], "slots": {"color": {"type": "text", "mappings": [{"type": "custom"}]}}}
    )
    assert await extract([user("inform", entity("color", "red"))], the_domain=the_domain) == {}


async def test_a_mapping_for_an_undeclared_entity_is_skipped_with_a_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    the_domain = Domain.from_dict(
        {
            "slots": {
                "phantom": {"type": "text", "mappings": [{"type": "from_entity", "entity": "phantom_entity"}]}
            }
        }
    )
    message = user("inform", entity("phantom_entity", "x"))
    with caplog.at_level(logging.WARNING):
        assert await extract([message], the_domain=the_domain) == {}
        assert await extract([message], the_domain=the_domain) == {}
    assert caplog.text.count("phantom_entity") == 1  # reported once, not on every message


async def test_builtin_slots_are_never_filled_by_mappings() -> None:
    assert "requested_slot" not in await extract([user("inform", text="anything")])


async def test_a_custom_mapping_runs_its_action_once_and_keeps_only_slot_events() -> None:
    calls: list[str] = []

    async def guess_name(
        tracker: DialogueStateTracker, domain: Domain, context: ActionContext
    ) -> list[Event]:
        calls.append(tracker.latest_message.text or "")
        return [SlotSet(name="name", value="Ada"), ActiveLoop(name="order_form"), BotUttered(text="hi")]

    registry = ActionRegistry()
    registry.register_function("action_guess_name", guess_name)
    events = await extract_events([user("inform", text="I am Ada")], registry)
    assert [(e.name, e.value) for e in events if isinstance(e, SlotSet)] == [("name", "Ada")]
    assert all(isinstance(e, SlotSet) for e in events)
    assert calls == ["I am Ada"]


async def test_action_validate_slot_mappings_overrides_the_extracted_values() -> None:
    the_domain = Domain.from_dict(yaml.safe_load(DOMAIN + "actions: [action_validate_slot_mappings]\n"))

    async def validate(tracker: DialogueStateTracker, domain: Domain, context: ActionContext) -> list[Event]:
        # the candidates are already on the tracker it sees
        assert tracker.get_slot("cuisine") == "klingon"
        return [SlotSet(name="cuisine", value=None), BotUttered(text="We do not serve klingon food.")]

    registry = ActionRegistry()
    registry.register_function("action_validate_slot_mappings", validate)
    events = await extract_events([user("inform", entity("cuisine", "klingon"))], registry, the_domain)
    assert [e.type_name for e in events] == ["slot", "bot"]
    assert isinstance(events[0], SlotSet) and events[0].value is None


async def test_formbot_fills_outdoor_seating_from_affirm_only_when_asked(shared_data: Path) -> None:
    formbot = load_domain(shared_data / "rasa-projects" / "rasa-oss-formbot" / "domain.yml")
    affirm = user("affirm", text="yes")
    assert await extract([affirm], the_domain=formbot) == {}
    asked = [
        ActiveLoop(name="restaurant_form"),
        SlotSet(name="requested_slot", value="outdoor_seating"),
        affirm,
    ]
    assert await extract(asked, the_domain=formbot) == {"outdoor_seating": True}
    number = user("inform", entity("number", "4"), text="for 4")
    assert await extract([number], the_domain=formbot) == {"num_people": "4"}
