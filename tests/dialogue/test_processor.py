from __future__ import annotations

import logging
import time
from collections.abc import Callable
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
    ConversationPaused,
    Event,
    FollowupAction,
    LoopInterrupted,
    SlotSet,
    UserUttered,
)
from bot.dialogue.model import DialogueModel, train_policies
from bot.dialogue.processor import ActionPrediction, MessageProcessor, Prediction, parse_intent_payload
from bot.dialogue.tracker import DialogueStateTracker
from bot.project.domain import Domain
from bot.project.loader import ProjectPaths, load_project
from channels.base import UserMessage

DOMAIN = """
version: "3.1"
intents: [greet, inform, chitchat, order, stop]
entities: [name, size]
slots:
  name:
    type: text
    mappings: [{type: from_entity, entity: name}]
  size:
    type: text
    mappings: [{type: from_entity, entity: size}]
responses:
  utter_greet: [{text: "Hi {name}!"}, {text: "Hello from Slack", channel: slack}]
  utter_default: [{text: "Sorry?"}]
  utter_chitchat: [{text: "I am fine."}]
  utter_ask_size: [{text: "Which size?"}]
  utter_buttons:
  - text: "Choose"
    buttons: [{title: "Small", payload: '/inform{"size": "small"}'}]
actions: [action_hello, action_boom, action_chain, action_rephrase]
forms:
  order_form: {required_slots: [size]}
session_config: {session_expiration_time: 60, carry_over_slots_to_new_session: true}
"""


def domain() -> Domain:
    return Domain.from_dict(yaml.safe_load(DOMAIN))


class ScriptedPolicy:
    """A stand-in for the dialogue model: answers from a function of the tracker (a test double of
    `predict_next_action`)."""

    def __init__(self, choose: Callable[[DialogueStateTracker], str | ActionPrediction]) -> None:
        self.choose = choose
        self.calls = 0

    def predict_next_action(self, tracker: DialogueStateTracker, domain: Domain) -> ActionPrediction:
        self.calls += 1
        choice = self.choose(tracker)
        return (
            choice
            if isinstance(choice, ActionPrediction)
            else ActionPrediction(choice, 0.9, "ScriptedPolicy")
        )


def greet_then_listen(tracker: DialogueStateTracker) -> str:
    return "utter_greet" if tracker.latest_action_name == ACTION_LISTEN_NAME else ACTION_LISTEN_NAME


def processor(
    choose: Callable[[DialogueStateTracker], str | ActionPrediction] = greet_then_listen,
    registry: ActionRegistry | None = None,
    **options: Any,
) -> MessageProcessor:
    return MessageProcessor(domain(), None, ScriptedPolicy(choose), registry, **options)


def message(text: str, **fields: Any) -> UserMessage:
    return UserMessage(text=text, sender_id="user-1", input_channel="rest", **fields)


def new_tracker() -> DialogueStateTracker:
    return DialogueStateTracker.for_domain("user-1", domain())


def names(events: list[Event]) -> list[str]:
    """Events as short labels: `action:<name>`, `slot:<name>`, or the event type."""
    labels = []
    for event in events:
        if isinstance(event, ActionExecuted):
            labels.append(f"action:{event.name}")
        elif isinstance(event, SlotSet):
            labels.append(f"slot:{event.name}")
        else:
            labels.append(event.type_name)
    return labels


# --- parsing ----------------------------------------------------------------------------------------------


def test_an_intent_payload_is_parsed_as_rasa_parses_button_payloads() -> None:
    parsed = parse_intent_payload('/inform{"name": "Ada", "size": ["small", "large"]}', domain())
    assert parsed is not None
    assert parsed["intent"] == {"name": "inform", "confidence": 1.0}
    assert parsed["intent_ranking"] == [{"name": "inform", "confidence": 1.0}]
    assert [(e["entity"], e["value"]) for e in parsed["entities"]] == [
        ("name", "Ada"),
        ("size", "small"),
        ("size", "large"),
    ]
    assert {(e["start"], e["end"]) for e in parsed["entities"]} == {(7, 50)}


def test_a_payload_may_carry_a_confidence_and_default_intents_are_known() -> None:
    assert parse_intent_payload("/greet@0.25", domain())["intent"] == {"name": "greet", "confidence": 0.25}  # type: ignore[index]
    assert parse_intent_payload("/restart", domain())["intent"]["name"] == "restart"  # type: ignore[index]


def test_payloads_the_domain_does_not_know_go_to_the_nlu(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        assert parse_intent_payload("/dance", domain()) is None
        assert parse_intent_payload("hello", domain()) is None
        unknown_entity = parse_intent_payload('/inform{"color": "red", "name": "Bo"}', domain())
        bad_json = parse_intent_payload("/inform{name: Bo}", domain())
    assert unknown_entity is not None and [e["entity"] for e in unknown_entity["entities"]] == ["name"]
    assert bad_json is not None and bad_json["entities"] == []
    assert "dance" in caplog.text and "color" in caplog.text


async def test_plain_text_goes_to_the_nlu_sync_or_async() -> None:
    def nlu(text: str) -> dict[str, Any]:
        return {"text": text, "intent": {"name": "chitchat", "confidence": 0.8}, "entities": []}

    async def async_nlu(text: str) -> dict[str, Any]:
        return nlu(text)

    for parse in (nlu, async_nlu):
        bot = MessageProcessor(domain(), parse, ScriptedPolicy(greet_then_listen))
        assert (await bot.parse("how are you"))["intent"]["name"] == "chitchat"
        assert (await bot.parse("/greet"))["intent"]["name"] == "greet"
    no_nlu = await processor().parse("how are you")
    assert no_nlu["intent"] == {"name": None, "confidence": 0.0}


# --- one message ------------------------------------------------------------------------------------------


async def test_a_first_message_starts_a_session_then_is_answered() -> None:
    tracker = new_tracker()
    turn = await processor().handle_message(
        tracker, message('/greet{"name": "Ada"}', metadata={"lang": "en"})
    )
    assert names(turn.events) == [
        "slot:session_started_metadata",
        "action:action_session_start",
        "session_started",
        "slot:session_started_metadata",
        "action:action_listen",
        "user",
        "slot:name",
        "action:utter_greet",
        "bot",
        "action:action_listen",
    ]
    assert turn.events == tracker.events
    assert tracker.get_slot("session_started_metadata") == {"lang": "en"}
    assert turn.replies == [{"recipient_id": "user-1", "text": "Hi Ada!", "utter_action": "utter_greet"}]


async def test_the_user_event_carries_rasas_parse_data() -> None:
    tracker = new_tracker()
    await processor().handle_message(tracker, message("/greet", message_id="m-1", metadata={"k": 1}))
    user = next(e for e in tracker.events if isinstance(e, UserUttered))
    assert (user.text, user.input_channel, user.message_id, user.metadata) == (
        "/greet",
        "rest",
        "m-1",
        {"k": 1},
    )
    assert user.parse_data == {
        "intent": {"name": "greet", "confidence": 1.0},
        "entities": [],
        "text": "/greet",
        "message_id": "m-1",
        "metadata": {"k": 1},
        "intent_ranking": [{"name": "greet", "confidence": 1.0}],
    }


async def test_parse_data_given_with_the_message_replaces_the_nlu() -> None:
    def nlu(text: str) -> dict[str, Any]:
        raise AssertionError("the NLU must not run")

    bot = MessageProcessor(domain(), nlu, ScriptedPolicy(greet_then_listen))
    given = {"intent": {"name": "greet", "confidence": 0.7}, "entities": [{"entity": "name", "value": "Bo"}]}
    tracker = new_tracker()
    await bot.handle_message(tracker, message("hi", parse_data=given))
    assert tracker.latest_message.intent == {"name": "greet", "confidence": 0.7}
    assert tracker.get_slot("name") == "Bo"


async def test_channel_specific_responses_follow_the_output_channel() -> None:
    tracker = new_tracker()
    turn = await processor().handle_message(tracker, message("/greet"), output_channel="slack")
    assert [r["text"] for r in turn.replies] == ["Hello from Slack"]


async def test_policy_events_go_before_the_action_they_came_with() -> None:
    def choose(tracker: DialogueStateTracker) -> str | ActionPrediction:
        if tracker.latest_action_name == ACTION_LISTEN_NAME:
            return ActionPrediction(
                "utter_greet", 1.0, "RulePolicy", events=[LoopInterrupted(is_interrupted=True)]
            )
        return ACTION_LISTEN_NAME

    tracker = new_tracker()
    turn = await processor(choose).handle_message(tracker, message("/greet"))
    assert names(turn.events)[-4:] == [
        "loop_interrupted",
        "action:utter_greet",
        "bot",
        "action:action_listen",
    ]
    greet = next(e for e in turn.events if isinstance(e, ActionExecuted) and e.name == "utter_greet")
    assert (greet.policy, greet.confidence) == ("RulePolicy", 1.0)


async def test_the_bot_stops_after_ten_predictions_without_listening(
    caplog: pytest.LogCaptureFixture,
) -> None:
    policy_calls: list[int] = []

    def forever(tracker: DialogueStateTracker) -> str:
        policy_calls.append(1)
        return "utter_greet"

    tracker = new_tracker()
    with caplog.at_level(logging.WARNING):
        turn = await processor(forever).handle_message(tracker, message("/greet"))
    assert names(turn.events).count("action:utter_greet") == 10
    assert len(policy_calls) == 10
    assert "stopped after 10" in caplog.text
    # the next message is answered again, here with a lower limit
    next_turn = await processor(forever, max_predictions=3).handle_message(tracker, message("/greet"))
    assert len(next_turn.replies) == 3


async def test_a_rejected_action_is_logged_and_another_one_predicted() -> None:
    def choose(tracker: DialogueStateTracker) -> str:
        if tracker.latest_action_name != ACTION_LISTEN_NAME:
            return ACTION_LISTEN_NAME
        rejected = isinstance(tracker.events[-1], ActionExecutionRejected)
        return "utter_chitchat" if rejected else "order_form"

    tracker = new_tracker()
    tracker.update_with_events(
        [
            ActionExecuted(name="order_form"),
            ActiveLoop(name="order_form"),
            SlotSet(name="requested_slot", value="size"),
            ActionExecuted(name=ACTION_LISTEN_NAME),
        ]
    )
    turn = await processor(choose).handle_message(tracker, message("/chitchat"))
    assert names(turn.events) == [
        "user",
        "action_execution_rejected",
        "action:utter_chitchat",
        "bot",
        "action:action_listen",
    ]


async def test_a_paused_conversation_is_not_answered_except_a_restart() -> None:
    tracker = new_tracker()

    def choose(tracker: DialogueStateTracker) -> str:
        if (
            tracker.latest_message.intent_name == "restart"
            and tracker.latest_action_name == ACTION_LISTEN_NAME
        ):
            return "action_restart"
        return greet_then_listen(tracker)

    bot = processor(choose)
    await bot.handle_message(tracker, message("/greet"))
    tracker.update(ConversationPaused())
    turn = await bot.handle_message(tracker, message('/inform{"name": "Bo"}'))
    assert names(turn.events) == ["user", "slot:name"]
    assert turn.replies == []
    restart = await bot.handle_message(tracker, message("/restart"))
    assert "restart" in names(restart.events) and "session_started" in names(restart.events)
    assert not tracker.is_paused()


async def test_after_a_restart_the_session_starts_again_as_a_followup() -> None:
    def choose(tracker: DialogueStateTracker) -> str:
        if tracker.latest_action_name == ACTION_LISTEN_NAME:
            return "action_restart"
        raise AssertionError("after a restart the follow-up action runs without asking the model")

    tracker = new_tracker()
    turn = await processor(choose).handle_message(tracker, message("/restart"))
    assert names(turn.events)[-4:] == [
        "restart",
        "action:action_session_start",
        "session_started",
        "action:action_listen",
    ]
    session_start = [e for e in turn.events if isinstance(e, ActionExecuted)][-2]
    assert session_start.policy == "followup_action"


async def test_a_followup_event_runs_that_action_next() -> None:
    async def chain(tracker: DialogueStateTracker, domain: Domain, context: ActionContext) -> list[Event]:
        return [FollowupAction(name="utter_chitchat")]

    registry = ActionRegistry()
    registry.register_function("action_chain", chain)

    def choose(tracker: DialogueStateTracker) -> str:
        return "action_chain" if tracker.latest_action_name == ACTION_LISTEN_NAME else ACTION_LISTEN_NAME

    turn = await processor(choose, registry).handle_message(new_tracker(), message("/greet"))
    assert names(turn.events)[-5:] == [
        "action:action_chain",
        "followup",
        "action:utter_chitchat",
        "bot",
        "action:action_listen",
    ]


async def test_a_failing_action_is_logged_without_its_events_and_the_bot_goes_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def boom(tracker: DialogueStateTracker, domain: Domain, context: ActionContext) -> list[Event]:
        raise RuntimeError("database down")

    registry = ActionRegistry()
    registry.register_function("action_boom", boom)

    def choose(tracker: DialogueStateTracker) -> str:
        return "action_boom" if tracker.latest_action_name == ACTION_LISTEN_NAME else ACTION_LISTEN_NAME

    with caplog.at_level(logging.ERROR):
        turn = await processor(choose, registry).handle_message(new_tracker(), message("/greet"))
    assert names(turn.events)[-2:] == ["action:action_boom", "action:action_listen"]
    assert "database down" in caplog.text


async def test_an_unknown_action_answers_with_utter_default() -> None:
    def choose(tracker: DialogueStateTracker) -> str:
        return "action_hello" if tracker.latest_action_name == ACTION_LISTEN_NAME else ACTION_LISTEN_NAME

    turn = await processor(choose).handle_message(new_tracker(), message("/greet"))
    assert [r["text"] for r in turn.replies] == ["Sorry?"]


async def test_a_user_event_from_an_action_gets_its_slots_extracted() -> None:
    async def rephrase(tracker: DialogueStateTracker, domain: Domain, context: ActionContext) -> list[Event]:
        parse = {"intent": {"name": "inform"}, "entities": [{"entity": "name", "value": "Cy"}]}
        return [ActionExecuted(name=ACTION_LISTEN_NAME), UserUttered(text="Cy", parse_data=parse)]

    registry = ActionRegistry()
    registry.register_function("action_rephrase", rephrase)

    def choose(tracker: DialogueStateTracker) -> str:
        if tracker.latest_message.intent_name == "greet" and tracker.latest_action_name == ACTION_LISTEN_NAME:
            return "action_rephrase"
        return "utter_greet" if tracker.latest_action_name == ACTION_LISTEN_NAME else ACTION_LISTEN_NAME

    tracker = new_tracker()
    turn = await processor(choose, registry).handle_message(tracker, message("/greet"))
    assert "slot:name" in names(turn.events)
    assert [r["text"] for r in turn.replies] == ["Hi Cy!"]


# --- sessions ---------------------------------------------------------------------------------------------


def old_conversation(minutes_ago: float) -> DialogueStateTracker:
    tracker = new_tracker()
    then = time.time() - minutes_ago * 60
    for event in [
        ActionExecuted(name="action_session_start", timestamp=then),
        ActionExecuted(name=ACTION_LISTEN_NAME, timestamp=then),
        UserUttered(text="/greet", parse_data={"intent": {"name": "greet"}}, timestamp=then),
        SlotSet(name="name", value="Ada", timestamp=then),
    ]:
        tracker.update(event)
    return tracker


async def test_a_message_after_the_session_expired_starts_a_new_session_carrying_slots() -> None:
    tracker = old_conversation(minutes_ago=61)
    turn = await processor().handle_message(tracker, message("/greet"))
    assert names(turn.events)[:4] == [
        "action:action_session_start",
        "session_started",
        "slot:name",
        "action:action_listen",
    ]
    assert turn.replies[0]["text"] == "Hi Ada!"


async def test_a_message_within_the_session_continues_it() -> None:
    tracker = old_conversation(minutes_ago=59)
    turn = await processor().handle_message(tracker, message("/greet"))
    assert names(turn.events)[0] == "user"


async def test_the_clock_decides_when_a_session_expires() -> None:
    tracker = old_conversation(minutes_ago=0)
    later = processor(clock=lambda: time.time() + 2 * 3600)
    assert (
        names((await later.handle_message(tracker, message("/greet"))).events)[0]
        == "action:action_session_start"
    )


# --- the HTTP API's helpers ---------------------------------------------------------------------------------


async def test_trigger_intent_logs_an_external_user_message_and_answers() -> None:
    tracker = new_tracker()
    bot = processor()
    await bot.handle_message(tracker, message("/chitchat"))
    turn = await bot.trigger_intent(tracker, "greet", {"name": "Eve"})
    user = turn.events[0]
    assert isinstance(user, UserUttered)
    assert (user.text, user.input_channel, user.metadata) == (
        "EXTERNAL: greet",
        "rest",
        {"is_external": True},
    )
    assert user.entities == [{"entity": "name", "value": "Eve"}]
    assert [r["text"] for r in turn.replies] == ["Hi Eve!"]


async def test_execute_action_runs_exactly_one_action() -> None:
    tracker = new_tracker()
    bot = processor()
    await bot.handle_message(tracker, message("/chitchat"))
    turn = await bot.execute_action(tracker, "utter_buttons", policy="api", confidence=0.5)
    assert names(turn.events) == ["action:utter_buttons", "bot"]
    executed = turn.events[0]
    assert isinstance(executed, ActionExecuted) and (executed.policy, executed.confidence) == ("api", 0.5)
    assert turn.replies == [
        {
            "recipient_id": "user-1",
            "text": "Choose",
            "buttons": [{"title": "Small", "payload": '/inform{"size": "small"}'}],
            "utter_action": "utter_buttons",
        }
    ]


async def test_predict_next_leaves_the_conversation_unchanged() -> None:
    tracker = new_tracker()
    tracker.update(FollowupAction(name="utter_chitchat"))
    before = list(tracker.events)
    prediction: Prediction = await processor().predict_next(tracker)
    assert (prediction.action_name, prediction.policy_name) == ("utter_chitchat", "followup_action")
    assert tracker.events == before and tracker.followup_action == "utter_chitchat"


# --- with the trained dialogue model ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def rasa_init() -> tuple[Domain, DialogueModel]:
    root = (
        Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "rasa-projects" / "rasa-init-3.6.21"
    )
    project = load_project(ProjectPaths.discover(root))
    return project.domain, train_policies(project)


@pytest.fixture(scope="module")
def formbot() -> tuple[Domain, DialogueModel]:
    root = (
        Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "rasa-projects" / "rasa-oss-formbot"
    )
    project = load_project(ProjectPaths.discover(root))
    return project.domain, train_policies(project)


async def chat(
    model: tuple[Domain, DialogueModel], texts: list[str]
) -> tuple[list[list[str]], DialogueStateTracker]:
    the_domain, dialogue = model
    bot = MessageProcessor(the_domain, None, dialogue)
    tracker = DialogueStateTracker.for_domain("user-1", the_domain)
    answers = []
    for text in texts:
        turn = await bot.handle_message(tracker, message(text))
        answers.append([str(reply.get("text")) for reply in turn.replies])
    return answers, tracker


async def test_the_rasa_init_bot_answers_as_its_stories_say(rasa_init: tuple[Domain, DialogueModel]) -> None:
    answers, _ = await chat(rasa_init, ["/greet", "/mood_unhappy", "/deny", "/bot_challenge"])
    assert answers == [
        ["Hey! How are you?"],
        ["Here is something to cheer you up:", "Did that help you?"],
        ["Bye"],
        ["I am a bot, powered by Rasa."],
    ]


async def test_formbot_runs_its_form_over_several_messages_with_an_interruption(
    formbot: tuple[Domain, DialogueModel],
) -> None:
    answers, tracker = await chat(
        formbot,
        [
            '/request_restaurant{"cuisine": "thai"}',
            '/inform{"number": "4"}',
            "/chitchat",
            "/affirm",
            "/deny",
            '/inform{"feedback": "great"}',
        ],
    )
    assert answers[:5] == [
        ["How many people?"],
        ["Do you want to sit outside?"],
        ["chitchat", "Do you want to sit outside?"],
        ["Please provide additional preferences"],
        ["Please give your feedback on your experience so far"],
    ]
    assert answers[5][0] == "All done!"
    assert tracker.current_slot_values() | {"session_started_metadata": None} == {
        "cuisine": "thai",
        "num_people": "4",
        "outdoor_seating": True,
        "preferences": "no additional preferences",
        "feedback": "great",
        "requested_slot": None,
        "session_started_metadata": None,
    }
    assert tracker.active_loop is None
    rejected = [e for e in tracker.events if isinstance(e, ActionExecutionRejected)]
    assert [e.name for e in rejected] == ["restaurant_form"]
