"""`GET /conversations/{id}/story`: a conversation as Rasa 3.x YAML test stories (`bot.dialogue.story_events`),
read back by Conductor's story reader and replayed against the model that had the conversation."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import jwt
import pytest
from aiohttp.test_utils import TestClient, TestServer
from server_helpers import Served, StartServer, say

from bot.dialogue.events import (
    ActionExecuted,
    ActiveLoop,
    BotUttered,
    Event,
    SessionStarted,
    SlotSet,
    UserUtteranceReverted,
    UserUttered,
)
from bot.dialogue.story_events import conversation_stories, split_sessions, story_steps
from bot.dialogue.story_test import StoryTestResult, run_test_stories
from bot.dialogue.tracker import DialogueStateTracker
from bot.errors import Problem
from bot.model import load_model, train_model
from bot.project.loader import ProjectPaths, load_project
from bot.project.nlu_data import EntitySpan
from bot.project.stories import (
    ANY_VALUE,
    ActionStep,
    ActiveLoopStep,
    BotStep,
    SlotWasSetStep,
    StoryEntity,
    UserStep,
    dump_stories,
    parse_stories,
)
from bot.runtime import Runtime
from bot.server import create_app
from bot.stores.lock_store import InMemoryLockStore
from bot.stores.sql import SQLTrackerStore
from bot.yamlio import parse_yaml

SESSION_START: list[dict[str, Any]] = [
    {"event": "action", "name": "action_session_start"},
    {"event": "session_started"},
    {"event": "action", "name": "action_listen"},
]
"""The events a new session starts with (what `action_session_start` writes)."""

SAD_PATH = [
    {"intent": "greet", "user": "/greet"},
    {"action": "utter_greet"},
    {"intent": "mood_unhappy", "user": "/mood_unhappy"},
    {"action": "utter_cheer_up"},
    {"action": "utter_did_that_help"},
    {"intent": "affirm", "user": "/affirm"},
    {"action": "utter_happy"},
]


async def _story_text(served: Served, path: str) -> str:
    response = await served.client.get(path)
    text = await response.text()
    assert response.status == 200, text
    assert response.headers["Content-Type"] == "text/plain; charset=utf-8"
    return text


def _stories(text: str) -> list[dict[str, Any]]:
    document = parse_yaml(text, "story response")
    assert document["version"] == "3.1"
    return list(document.get("stories") or [])


def _replay(served: Served, text: str) -> list[StoryTestResult]:
    """The exported stories, read as test stories and checked against the served model (the story checker reads
    an `/intent` payload by itself and anything else with the NLU, as `rasa test` does)."""
    model = served.runtime.model
    assert model.dialogue is not None
    warnings: list[Problem] = []
    blocks = parse_stories(parse_yaml(text, "story response"), "story response", test=True, warnings=warnings)
    assert warnings == []
    return run_test_stories(model.dialogue, blocks, parse=model.parse)


async def _post_events(served: Served, sender: str, events: list[dict[str, Any]]) -> None:
    response = await served.client.post(f"/conversations/{sender}/tracker/events", json=events)
    assert response.status == 200, await response.text()


# --- over HTTP, on the rasa-init bot ------------------------------------------------------------------------


async def test_a_conversation_comes_back_as_its_story(api: Served) -> None:
    for message in ("/greet", "/mood_unhappy", "/affirm"):
        await say(api, "sad", message)
    stories = _stories(await _story_text(api, "/conversations/sad/story"))
    assert [story["story"] for story in stories] == ["sad"]
    assert stories[0]["steps"] == SAD_PATH


async def test_the_story_passes_as_a_test_story_of_the_same_model(api: Served) -> None:
    for message in ("/greet", "/mood_unhappy", "/affirm"):
        await say(api, "replayed", message)
    results = _replay(api, await _story_text(api, "/conversations/replayed/story"))
    assert len(results) == 1
    assert results[0].passed, results[0].failures()
    checked = [check.expected for check in results[0].actions if check.expected != "action_listen"]
    assert checked == ["utter_greet", "utter_cheer_up", "utter_did_that_help", "utter_happy"]
    assert [(check.expected, check.predicted) for check in results[0].intents] == [
        ("greet", "greet"), ("mood_unhappy", "mood_unhappy"), ("affirm", "affirm")
    ]


async def test_one_story_per_session_or_the_latest_only(api: Served) -> None:
    await say(api, "two", "/greet")
    first_session_end = (await api.stored("two"))[-1]["timestamp"]
    await asyncio.sleep(0.01)
    await _post_events(api, "two", SESSION_START)
    await say(api, "two", "/goodbye")
    first = [{"intent": "greet", "user": "/greet"}, {"action": "utter_greet"}]
    second = [{"intent": "goodbye", "user": "/goodbye"}, {"action": "utter_goodbye"}]
    every = _stories(await _story_text(api, "/conversations/two/story?all_sessions=true"))
    assert [(story["story"], story["steps"]) for story in every] == [("two, story 1", first), ("two, story 2", second)]
    for query in ("", "?all_sessions=false", "?all_sessions="):
        latest = _stories(await _story_text(api, f"/conversations/two/story{query}"))
        assert [(story["story"], story["steps"]) for story in latest] == [("two", second)]
    # `until` cuts the conversation first: the latest session then is the first one
    then = _stories(await _story_text(api, f"/conversations/two/story?until={first_session_end}"))
    assert [(story["story"], story["steps"]) for story in then] == [("two", first)]
    assert all(result.passed for result in _replay(api, await _story_text(
        api, "/conversations/two/story?all_sessions=true"
    )))


async def test_until_cuts_the_story(api: Served) -> None:
    await say(api, "cut", "/greet")
    first_turn_end = (await api.stored("cut"))[-1]["timestamp"]
    await asyncio.sleep(0.01)
    await say(api, "cut", "/mood_great")
    assert len(_stories(await _story_text(api, "/conversations/cut/story"))[0]["steps"]) == 4
    cut = _stories(await _story_text(api, f"/conversations/cut/story?until={first_turn_end}"))
    assert cut[0]["steps"] == [{"intent": "greet", "user": "/greet"}, {"action": "utter_greet"}]
    assert await _story_text(api, "/conversations/cut/story?until=0") == 'version: "3.1"\n'


async def test_bad_parameters_and_unknown_conversations(api: Served) -> None:
    await say(api, "known", "/greet")
    bad = [("until=yesterday", "until"), ("until=nan", "until"), ("all_sessions=maybe", "all_sessions"),
           ("all_sessions=1", "all_sessions"), ("all_sessions=%20true", "all_sessions")]  # as the description says
    for query, parameter in bad:
        response = await api.client.get(f"/conversations/known/story?{query}")
        assert response.status == 400, query
        body = await response.json()
        assert (body["status"], body["reason"], body["code"]) == ("failure", "BadRequest", 400)
        assert body["details"] == {"parameter": parameter, "in": "query"}
    unknown = await api.client.get("/conversations/nobody/story")
    assert unknown.status == 404
    body = await unknown.json()
    assert (body["message"], body["code"]) == ("Conversation ID not found.", 404)
    assert await api.store.keys() == ["known"]


SECRET = "a-secret-long-enough-for-every-hmac-method-" + "x" * 32


async def test_the_story_needs_the_same_credentials_as_the_tracker(start_server: StartServer) -> None:
    served = await start_server(enable_api=True, auth_token="t0ken", jwt_secret=SECRET)
    await say(served, "alice", "/greet")
    await say(served, "bob", "/greet")
    client = served.client
    refused = await client.get("/conversations/alice/story")
    assert refused.status == 401
    assert (await refused.json())["reason"] == "NotAuthenticated"
    assert (await client.get("/conversations/alice/story?token=wrong")).status == 401
    assert (await client.get("/conversations/alice/story?token=t0ken")).status == 200
    alice = {"Authorization": "Bearer " + jwt.encode({"user": {"username": "alice", "role": "user"}}, SECRET)}
    assert (await client.get("/conversations/alice/story", headers=alice)).status == 200
    assert (await client.get("/conversations/bob/story", headers=alice)).status == 403


# --- over HTTP, on formbot: entities, slots and a form -------------------------------------------------------


@pytest.fixture(scope="module")
def formbot_model(tmp_path_factory: pytest.TempPathFactory, shared_data: Path) -> Path:
    project = load_project(ProjectPaths.discover(shared_data / "rasa-projects" / "rasa-oss-formbot"))
    path, _ = train_model(project, tmp_path_factory.mktemp("formbot"), parts=("dialogue",))
    return path


@pytest.fixture
async def formbot(formbot_model: Path, tmp_path: Path) -> AsyncIterator[Served]:
    store = SQLTrackerStore(f"sqlite:///{tmp_path / 'formbot.db'}")
    runtime = Runtime(load_model(formbot_model), store, InMemoryLockStore())
    client: TestClient[Any, Any] = TestClient(TestServer(create_app(runtime, enable_api=True)))
    await client.start_server()
    yield Served(client, runtime, store)
    await client.close()


async def test_entities_slots_and_the_form_are_in_the_story(formbot: Served) -> None:
    for message in ('/request_restaurant', '/inform{"cuisine": "greek"}', '/inform{"number": 2}', '/affirm',
                    '/deny', '/inform{"feedback": "great"}', '/thankyou'):
        await say(formbot, "diner", message)
    text = await _story_text(formbot, "/conversations/diner/story")
    steps = _stories(text)[0]["steps"]
    assert steps[:6] == [
        {"intent": "request_restaurant", "user": "/request_restaurant"},
        {"action": "restaurant_form"},
        {"active_loop": "restaurant_form"},
        {"slot_was_set": [{"requested_slot": "cuisine"}]},
        {"intent": "inform", "user": '/inform[{"cuisine": "greek"}]{"entity": "cuisine", "value": "greek"}'},
        {"slot_was_set": [{"cuisine": "greek"}]},
    ]
    assert {"slot_was_set": [{"outdoor_seating": True}]} in steps
    assert steps[-6:] == [
        {"slot_was_set": [{"requested_slot": None}]},
        {"active_loop": None},
        {"action": "utter_submit"},
        {"action": "utter_slots_values"},
        {"intent": "thankyou", "user": "/thankyou"},
        {"action": "utter_noworries"},
    ]
    results = _replay(formbot, text)
    assert len(results) == 1
    assert results[0].passed, results[0].failures()
    assert [check.expected for check in results[0].actions].count("restaurant_form") == 6


# --- the conversion itself, on hand-built trackers ---------------------------------------------------------


def _user(text: str | None, intent: str | None, entities: list[dict[str, Any]] | None = None,
          **extra: Any) -> UserUttered:
    parse_data = {"intent": {"name": intent, "confidence": 0.9, **extra}, "entities": entities or [], "text": text}
    return UserUttered(text=text, parse_data=parse_data, metadata={})


def test_the_steps_of_a_conversation_with_an_entity_a_slot_and_a_loop() -> None:
    berlin = {"entity": "city", "value": "Berlin", "start": 10, "end": 16}
    synonym = {"entity": "when", "value": "2024-05-01", "start": 17, "end": 25, "role": "arrival"}
    events: list[Event] = [
        ActionExecuted(name="action_session_start"),
        SessionStarted(),
        ActionExecuted(name="action_listen"),
        _user("a trip to Berlin tomorrow", "book", [berlin, synonym]),
        SlotSet(name="city", value="Berlin"),
        ActionExecuted(name="trip_form"),
        ActiveLoop(name="trip_form"),
        SlotSet(name="requested_slot", value="when"),
        BotUttered(text="When?"),
        ActionExecuted(name="action_listen"),
        _user("oops", "chitchat"),
        UserUtteranceReverted(),
        ActionExecuted(action_text="Say that again?"),
        ActiveLoop(name=None),
        ActionExecuted(name="action_restart"),
    ]
    steps = story_steps(events)
    assert steps == [
        UserStep("book", user_text="a trip to Berlin tomorrow", text_entities=[
            EntitySpan(10, 16, "Berlin", "city", "Berlin"),
            EntitySpan(17, 25, "tomorrow", "when", "2024-05-01", role="arrival"),
        ]),
        SlotWasSetStep({"city": "Berlin"}),
        ActionStep("trip_form"),
        ActiveLoopStep("trip_form"),
        SlotWasSetStep({"requested_slot": "when"}),
        UserStep("chitchat", user_text="oops"),  # written although rewound, as Rasa writes it
        BotStep("Say that again?"),
        ActiveLoopStep(None),
        ActionStep("action_restart"),
    ]
    [block] = conversation_stories(DialogueStateTracker.from_events("trip", events))
    text = dump_stories([block])
    assert "    user: |-\n      a trip to [Berlin](city) [tomorrow]{" in text
    [read] = parse_stories(parse_yaml(text, "exported"), "exported", test=True)
    assert (read.name, read.kind, read.steps) == ("trip", "test", steps)


def test_entities_that_cannot_be_annotated_are_listed() -> None:
    events: list[Event] = [
        UserUttered(
            text="EXTERNAL: remind",
            parse_data={"intent": {"name": "remind"}, "entities": [{"entity": "task", "value": "call"}]},
            metadata={"is_external": True},
        ),
        _user("call mum", "remind", [{"entity": "task", "value": "call", "start": 0, "end": 4},
                                     {"entity": "who", "value": "mum"}]),
        _user(None, "faq", [{"entity": "topic"}], full_retrieval_intent_name="faq/ask_name"),
        _user("hmm", None, [{"entity": "mood", "value": "unsure"}]),
        _user(None, None),
    ]
    assert story_steps(events) == [
        UserStep("remind", [StoryEntity("task", "call")]),
        UserStep("remind", [StoryEntity("task", "call"), StoryEntity("who", "mum")]),
        UserStep("faq/ask_name", [StoryEntity("topic", ANY_VALUE)]),
        UserStep(None, user_text="hmm"),
    ]
    text = dump_stories(conversation_stories(DialogueStateTracker.from_events("x", events)))
    [read] = parse_stories(parse_yaml(text, "exported"), "exported", test=True)
    assert read.steps == story_steps(events)


def test_sessions_start_at_action_session_start() -> None:
    events: list[Event] = [
        _user("/greet", "greet"),
        ActionExecuted(name="action_session_start"),
        SessionStarted(),
        _user("/greet", "greet"),
        SessionStarted(),  # without action_session_start, as Rasa splits: the same session
        ActionExecuted(name="utter_greet"),
        ActionExecuted(name="action_session_start"),
        SlotSet(name="name", value="Ada"),
    ]
    events = [event.at(float(second)) for second, event in enumerate(events)]
    assert [len(session) for session in split_sessions(events)] == [1, 5, 2]
    tracker = DialogueStateTracker.from_events("s", events)
    every = conversation_stories(tracker, all_sessions=True)
    assert [block.name for block in every] == ["s, story 1", "s, story 2", "s, story 3"]
    assert every[1].steps == [UserStep("greet", user_text="/greet"), ActionStep("utter_greet")]
    [latest] = conversation_stories(tracker)
    assert (latest.name, latest.steps) == ("s", [SlotWasSetStep({"name": "Ada"})])
    assert conversation_stories(DialogueStateTracker.from_events("empty", []), all_sessions=True) == []
    [until_the_first] = conversation_stories(tracker.travel_back_in_time(0.0), all_sessions=True)
    assert (until_the_first.name, until_the_first.steps) == ("s", [UserStep("greet", user_text="/greet")])
