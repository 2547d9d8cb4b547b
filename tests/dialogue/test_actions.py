from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import pytest
import yaml

from bot.dialogue.actions import (
    Action,
    ActionContext,
    ActionRegistry,
    EndToEndAction,
    FunctionAction,
    MissingAction,
    RetrievalAction,
    UtterAction,
)
from bot.dialogue.events import (
    ACTION_LISTEN_NAME,
    ActionExecuted,
    ActiveLoop,
    BotUttered,
    Event,
    Restarted,
    SessionStarted,
    SlotSet,
    UserUtteranceReverted,
    UserUttered,
)
from bot.dialogue.forms import FormAction
from bot.dialogue.responses import ResponseGenerator
from bot.dialogue.slot_mappings import ActionExtractSlots
from bot.dialogue.tracker import DialogueStateTracker
from bot.errors import ConductorError
from bot.project.domain import Domain

DOMAIN = """
version: "3.1"
intents: [greet, affirm, deny, faq, chitchat]
slots:
  name: {type: text, mappings: [{type: custom}]}
  mood: {type: text, mappings: [{type: custom}]}
responses:
  utter_greet: [{text: "Hi {name}"}]
  utter_restart: [{text: "Starting over."}]
  utter_default: [{text: "Sorry, I did not get that."}]
  utter_ask_rephrase: [{text: "Could you say that differently?"}]
  utter_back: [{text: "Going back."}]
  utter_faq/opening_hours: [{text: "We open at nine."}]
  utter_faq/price: [{text: "It is free."}]
actions: [action_custom, action_default_fallback]
forms:
  survey_form: {required_slots: [mood]}
e2e_actions: ["Nice to meet you!"]
"""


def domain(text: str = DOMAIN) -> Domain:
    return Domain.from_dict(yaml.safe_load(text))


def user(
    intent: str | None,
    *,
    text: str | None = None,
    ranking: list[dict[str, Any]] | None = None,
    **extra: Any,
) -> UserUttered:
    parse_data: dict[str, Any] = {"intent": {"name": intent, "confidence": 0.4}, "entities": [], "text": text}
    if ranking is not None:
        parse_data["intent_ranking"] = ranking
    parse_data.update(extra)
    return UserUttered(text=text or f"/{intent}", parse_data=parse_data)


def listen() -> ActionExecuted:
    return ActionExecuted(name=ACTION_LISTEN_NAME)


def tracker(events: Sequence[Event], the_domain: Domain | None = None) -> DialogueStateTracker:
    return DialogueStateTracker.for_domain("user-1", the_domain or domain(), events)


def context(registry: ActionRegistry | None = None, channel: str | None = None) -> ActionContext:
    return ActionContext(
        nlg=ResponseGenerator.from_domain(domain(), seed=1),
        actions=registry or ActionRegistry(),
        channel=channel,
    )


async def run(name: str, events: Sequence[Event], registry: ActionRegistry | None = None) -> list[Event]:
    registry = registry or ActionRegistry()
    action = registry.resolve(name, domain())
    return await action.run(tracker(events), domain(), context(registry))


def kinds(events: list[Event]) -> list[str]:
    return [e.type_name for e in events]


def texts(events: list[Event]) -> list[str | None]:
    return [e.text for e in events if isinstance(e, BotUttered)]


# --- responses as actions ---------------------------------------------------------------------------------


async def test_an_utter_action_sends_its_response_and_names_it_in_the_metadata() -> None:
    events = await run("utter_greet", [SlotSet(name="name", value="Ada")])
    assert len(events) == 1 and isinstance(events[0], BotUttered)
    assert events[0].text == "Hi Ada"
    assert events[0].metadata == {"utter_action": "utter_greet"}


async def test_an_utter_action_without_response_logs_an_error_and_does_nothing(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.ERROR):
        assert await run("utter_missing", []) == []
    assert "utter_missing" in caplog.text


async def test_a_retrieval_action_sends_the_response_the_selector_chose() -> None:
    selector = {"faq": {"response": {"utter_action": "utter_faq/price", "confidence": 0.9}}}
    events = await run("utter_faq", [listen(), user("faq", response_selector=selector)])
    assert texts(events) == ["It is free."]
    assert isinstance(events[0], BotUttered) and events[0].metadata["utter_action"] == "utter_faq/price"


async def test_a_retrieval_action_falls_back_to_the_default_selector() -> None:
    selector = {"default": {"response": {"utter_action": "utter_faq/opening_hours"}}}
    assert texts(await run("utter_faq", [user("faq", response_selector=selector)])) == ["We open at nine."]


async def test_a_retrieval_action_without_selector_output_logs_and_does_nothing(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.ERROR):
        assert await run("utter_faq", [user("faq")]) == []
    assert "ResponseSelector" in caplog.text


async def test_an_end_to_end_text_is_said_and_logged_as_action_text() -> None:
    action = ActionRegistry().resolve("Nice to meet you!", domain())
    assert isinstance(action, EndToEndAction)
    events = await action.run(tracker([]), domain(), context())
    assert texts(events) == ["Nice to meet you!"]
    logged = action.executed_event("TEDPolicy", 0.8)
    assert logged.action_text == "Nice to meet you!" and logged.name is None


# --- default actions --------------------------------------------------------------------------------------


async def test_action_listen_does_nothing() -> None:
    assert await run("action_listen", []) == []


async def test_action_restart_says_utter_restart_then_restarts() -> None:
    events = await run("action_restart", [])
    assert kinds(events) == ["bot", "restart"] and texts(events) == ["Starting over."]
    bare = domain("version: '3.1'\nintents: [greet]")
    registry = ActionRegistry()
    bare_context = ActionContext(nlg=ResponseGenerator.from_domain(bare), actions=registry)
    action = registry.resolve("action_restart", bare)
    assert [type(e) for e in await action.run(tracker([], bare), bare, bare_context)] == [Restarted]


async def test_action_session_start_carries_slots_over_and_ends_with_action_listen() -> None:
    events = await run(
        "action_session_start",
        [SlotSet(name="name", value="Ada"), SlotSet(name="session_started_metadata", value={"lang": "fr"})],
    )
    assert isinstance(events[0], SessionStarted)
    assert [(e.name, e.value) for e in events if isinstance(e, SlotSet)] == [
        ("name", "Ada"),
        ("session_started_metadata", {"lang": "fr"}),
    ]
    assert events[-1] == ActionExecuted(name=ACTION_LISTEN_NAME, timestamp=events[-1].timestamp)


async def test_without_carry_over_only_the_session_metadata_reaches_the_new_session() -> None:
    no_carry = domain(DOMAIN + "session_config: {carry_over_slots_to_new_session: false}\n")
    action = ActionRegistry().resolve("action_session_start", no_carry)
    history = [SlotSet(name="name", value="Ada"), SlotSet(name="session_started_metadata", value={"a": 1})]
    events = await action.run(tracker(history, no_carry), no_carry, context())
    assert kinds(events) == ["session_started", "slot", "action"]
    assert isinstance(events[1], SlotSet) and events[1].name == "session_started_metadata"


async def test_action_default_fallback_says_utter_default_and_reverts_the_user_message() -> None:
    events = await run("action_default_fallback", [listen(), user("greet")])
    assert texts(events) == ["Sorry, I did not get that."]
    assert isinstance(events[-1], UserUtteranceReverted)


async def test_action_deactivate_loop_ends_the_loop_and_clears_the_requested_slot() -> None:
    events = await run("action_deactivate_loop", [ActiveLoop(name="survey_form")])
    assert [e.as_dict()["event"] for e in events] == ["active_loop", "slot"]
    assert events[0] == ActiveLoop(name=None, timestamp=events[0].timestamp)
    assert isinstance(events[1], SlotSet) and (events[1].name, events[1].value) == ("requested_slot", None)


async def test_action_back_says_utter_back_and_reverts_two_user_messages() -> None:
    events = await run("action_back", [])
    assert kinds(events) == ["bot", "rewind", "rewind"]


async def test_action_unlikely_intent_does_nothing() -> None:
    assert await run("action_unlikely_intent", [user("greet")]) == []


async def test_ask_affirmation_offers_the_intent_and_out_of_scope_as_buttons() -> None:
    events = await run("action_default_ask_affirmation", [listen(), user("greet")])
    assert isinstance(events[0], BotUttered)
    assert events[0].text == "Did you mean 'greet'?"
    assert events[0].data["buttons"] == [
        {"title": "Yes", "payload": "/greet"},
        {"title": "No", "payload": "/out_of_scope"},
    ]
    assert events[0].metadata == {"utter_action": "action_default_ask_affirmation"}


async def test_ask_affirmation_for_an_nlu_fallback_asks_about_the_runner_up_intent() -> None:
    ranking = [{"name": "nlu_fallback", "confidence": 0.7}, {"name": "chitchat", "confidence": 0.2}]
    events = await run("action_default_ask_affirmation", [user("nlu_fallback", ranking=ranking)])
    assert texts(events) == ["Did you mean 'chitchat'?"]


async def test_ask_rephrase_says_utter_ask_rephrase() -> None:
    assert texts(await run("action_default_ask_rephrase", [])) == ["Could you say that differently?"]


async def test_revert_fallback_events_after_an_affirmation_puts_back_the_message_with_full_confidence() -> (
    None
):
    history: list[Event] = [
        listen(),
        user("greet", text="helo"),
        ActionExecuted(name="action_default_ask_affirmation"),
        listen(),
        user("greet", text="/greet"),
    ]
    events = await run("action_revert_fallback_events", history)
    assert kinds(events) == ["rewind", "rewind", "action", "user"]
    restored = events[-1]
    assert isinstance(restored, UserUttered) and restored.intent["confidence"] == 1.0


async def test_revert_fallback_events_after_a_rephrasing_removes_the_whole_exchange() -> None:
    history: list[Event] = [
        ActionExecuted(name="action_default_ask_affirmation"),
        listen(),
        user("out_of_scope"),
        ActionExecuted(name="action_default_ask_rephrase"),
        listen(),
        user("greet", text="hello there"),
    ]
    events = await run("action_revert_fallback_events", history)
    assert kinds(events) == ["rewind", "rewind", "rewind", "action", "user"]
    assert await run("action_revert_fallback_events", [user("greet")]) == []


# --- the two-stage fallback ----------------------------------------------------------------------------------


async def fallback_turn(history: list[Event]) -> list[Event]:
    return await run("action_two_stage_fallback", history)


def after_an_unclear_message(answer: Event) -> list[Event]:
    """A conversation in the two-stage fallback: a message not understood, the fallback active, then `answer`."""
    return [
        listen(),
        user("nlu_fallback", text="helo"),
        ActionExecuted(name="action_two_stage_fallback"),
        ActiveLoop(name="action_two_stage_fallback"),
        listen(),
        answer,
    ]


async def test_two_stage_fallback_first_asks_the_user_to_affirm() -> None:
    ranking = [{"name": "nlu_fallback", "confidence": 0.6}, {"name": "greet", "confidence": 0.3}]
    events = await fallback_turn([listen(), user("nlu_fallback", text="helo", ranking=ranking)])
    assert kinds(events) == ["active_loop", "bot"]
    assert texts(events) == ["Did you mean 'greet'?"]


async def test_two_stage_fallback_asks_to_rephrase_after_a_denied_affirmation() -> None:
    history = after_an_unclear_message(user("out_of_scope", text="/out_of_scope"))
    events = await fallback_turn(history)
    assert texts(events) == ["Could you say that differently?"]
    assert not any(isinstance(e, ActiveLoop) for e in events)


async def test_two_stage_fallback_ends_with_the_clarified_message_when_the_user_is_understood() -> None:
    history = after_an_unclear_message(user("greet", text="/greet"))
    events = await fallback_turn(history)
    assert kinds(events) == ["active_loop", "rewind", "action", "user"]
    assert events[0] == ActiveLoop(name=None, timestamp=events[0].timestamp)
    clarified = events[-1]
    assert isinstance(clarified, UserUttered) and clarified.intent == {"name": "greet", "confidence": 1.0}


async def test_the_clarified_message_is_certain_without_changing_the_ranking_it_came_from() -> None:
    """The NLU's intent is its ranking's first entry itself (parses are shared, never changed in place): raising
    the clarified message's confidence must leave the ranking, and the stored message, as they were."""
    ranking = [{"name": "greet", "confidence": 0.55}, {"name": "goodbye", "confidence": 0.45}]
    understood = UserUttered(
        text="/greet", parse_data={"intent": ranking[0], "entities": [], "intent_ranking": ranking}
    )
    history = after_an_unclear_message(understood)
    clarified = (await fallback_turn(history))[-1]
    assert isinstance(clarified, UserUttered)
    assert clarified.intent == {"name": "greet", "confidence": 1.0}
    assert clarified.parse_data["intent_ranking"][0] == {"name": "greet", "confidence": 0.55}
    assert understood.intent is ranking[0] and ranking[0] == {"name": "greet", "confidence": 0.55}


async def test_two_stage_fallback_gives_up_after_two_unclear_messages_in_a_row() -> None:
    history = after_an_unclear_message(user("nlu_fallback", text="hrmpf"))
    events = await fallback_turn(history)
    assert kinds(events) == ["active_loop", "bot", "rewind"]
    assert texts(events) == ["Sorry, I did not get that."]


async def test_two_stage_fallback_gives_up_when_the_second_affirmation_is_denied_too() -> None:
    history: list[Event] = [
        listen(),
        user("nlu_fallback", text="helo"),
        ActiveLoop(name="action_two_stage_fallback"),
        listen(),
        user("out_of_scope"),
        listen(),
        user("nlu_fallback", text="still unclear"),
        listen(),
        user("out_of_scope"),
    ]
    events = await fallback_turn(history)
    assert texts(events) == ["Sorry, I did not get that."]
    assert isinstance(events[-1], UserUtteranceReverted)


# --- the registry -------------------------------------------------------------------------------------------


async def say_hello(tracker: DialogueStateTracker, domain: Domain, context: ActionContext) -> list[Event]:
    return [BotUttered(text=f"hello from {tracker.sender_id}")]


def test_the_registry_resolves_names_in_rasas_order() -> None:
    registry = ActionRegistry()
    the_domain = domain()
    assert registry.resolve("action_listen", the_domain).name == "action_listen"
    assert isinstance(registry.resolve("action_extract_slots", the_domain), ActionExtractSlots)
    assert isinstance(registry.resolve("utter_faq", the_domain), RetrievalAction)
    assert isinstance(registry.resolve("utter_greet", the_domain), UtterAction)
    assert isinstance(registry.resolve("survey_form", the_domain), FormAction)
    assert isinstance(registry.resolve("action_custom", the_domain), MissingAction)
    registry.register_function("action_custom", say_hello)
    assert isinstance(registry.resolve("action_custom", the_domain), FunctionAction)


def test_a_declared_and_registered_action_replaces_a_default_one(caplog: pytest.LogCaptureFixture) -> None:
    registry = ActionRegistry()
    with caplog.at_level(logging.WARNING):
        builtin = registry.resolve("action_default_fallback", domain())
    assert type(builtin).__name__ == "ActionDefaultFallback"
    assert "action_default_fallback" in caplog.text
    custom = registry.register_function("action_default_fallback", say_hello)
    assert registry.resolve("action_default_fallback", domain()) is custom
    # a registered action the domain does not declare does not replace a default one
    registry.register_function("action_restart", say_hello)
    assert type(registry.resolve("action_restart", domain())).__name__ == "ActionRestart"


def test_two_actions_under_one_name_are_an_error() -> None:
    registry = ActionRegistry([FunctionAction("action_a", say_hello)])
    with pytest.raises(ConductorError, match="action_a"):
        registry.register(FunctionAction("action_a", say_hello))
    assert registry.names == ["action_a"] and "action_a" in registry


async def test_an_action_nothing_provides_logs_an_error_and_says_utter_default(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.ERROR):
        events = await run("action_custom", [])
    assert texts(events) == ["Sorry, I did not get that."]
    assert "action_custom" in caplog.text


async def test_a_registered_function_action_runs_with_the_tracker() -> None:
    registry = ActionRegistry()
    registry.register_function("action_custom", say_hello)
    assert texts(await run("action_custom", [], registry)) == ["hello from user-1"]


def test_actions_log_their_run_with_the_prediction() -> None:
    action: Action = UtterAction("utter_greet")
    logged = action.executed_event("RulePolicy", 1.0, hide_rule_turn=True)
    assert logged.as_dict() == {
        "event": "action",
        "timestamp": logged.timestamp,
        "name": "utter_greet",
        "policy": "RulePolicy",
        "confidence": 1.0,
        "action_text": None,
        "hide_rule_turn": True,
    }
