"""The HTTP API (`--enable-api`): Rasa 3.x's routes, answers and effects on the store."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
import yaml
from server_helpers import SLOW_ACTION, Served, StartServer, say

from bot import __version__
from bot.model import train_model
from bot.project.loader import ProjectPaths, load_project


async def _json(served: Served, method: str, path: str, body: Any = None, status: int = 200) -> Any:
    response = await served.client.request(method, path, json=body)
    assert response.status == status, await response.text()
    return await response.json()


async def test_hello_version_and_status(api: Served, trained_model: Path) -> None:
    response = await api.client.get("/")
    assert await response.text() == f"Hello from Conductor: {__version__}"
    assert await _json(api, "GET", "/version") == {"version": __version__, "minimum_compatible_version": "0.1.0"}
    status = await _json(api, "GET", "/status")
    assert status["model_file"] == str(trained_model)
    assert status["model_id"] == trained_model.name
    assert len(status["fingerprint"]) == 64
    assert status["num_active_training_jobs"] == 0


async def test_the_tracker_of_an_unknown_conversation_is_empty_and_not_stored(api: Served) -> None:
    tracker = await _json(api, "GET", "/conversations/nobody/tracker?include_events=ALL")
    assert tracker["sender_id"] == "nobody"
    assert tracker["events"] == []
    assert tracker["latest_message"]["intent"] == {}
    assert await api.store.keys() == []


async def test_the_tracker_with_each_verbosity(api: Served) -> None:
    await say(api, "u1", "/greet")
    await say(api, "u1", "/mood_great")
    stored = await api.stored("u1")
    everything = await _json(api, "GET", "/conversations/u1/tracker?include_events=ALL")
    assert everything["events"] == stored
    assert everything["latest_message"]["intent"]["name"] == "mood_great"
    assert everything["latest_action_name"] == "action_listen"
    assert everything["latest_input_channel"] == "rest"
    default = await _json(api, "GET", "/conversations/u1/tracker")
    assert default["events"] == stored  # AFTER_RESTART: no restart yet
    assert (await _json(api, "GET", "/conversations/u1/tracker?include_events=none"))["events"] is None
    applied = await _json(api, "GET", "/conversations/u1/tracker?include_events=APPLIED")
    assert [e["event"] for e in applied["events"]].count("user") == 2
    bad = await _json(api, "GET", "/conversations/u1/tracker?include_events=SOME", status=400)
    assert bad["details"] == {"parameter": "include_events", "in": "query"}


async def test_until_goes_back_in_time(api: Served) -> None:
    await say(api, "u2", "/greet")
    first_turn_end = (await api.stored("u2"))[-1]["timestamp"]
    await asyncio.sleep(0.01)
    await say(api, "u2", "/mood_great")
    tracker = await _json(api, "GET", f"/conversations/u2/tracker?include_events=ALL&until={first_turn_end}")
    assert tracker["latest_message"]["intent"]["name"] == "greet"
    assert len(tracker["events"]) < len(await api.stored("u2"))
    await _json(api, "GET", "/conversations/u2/tracker?until=yesterday", status=400)


async def test_events_are_appended_one_or_many(api: Served) -> None:
    await say(api, "u3", "/greet")
    before = len(await api.stored("u3"))
    one = {"event": "slot", "name": "session_started_metadata", "value": {"a": 1}, "timestamp": 1.0}
    tracker = await _json(api, "POST", "/conversations/u3/tracker/events", one)
    assert tracker["slots"]["session_started_metadata"] == {"a": 1}
    many = [{"event": "action", "name": "utter_happy"}, {"event": "bot", "text": "Great, carry on!"}]
    tracker = await _json(api, "POST", "/conversations/u3/tracker/events?include_events=ALL", many)
    stored = await api.stored("u3")
    assert len(stored) == before + 3
    assert tracker["events"] == stored
    assert stored[-1]["event"] == "bot" and stored[-1]["text"] == "Great, carry on!"


async def test_events_are_replaced(api: Served) -> None:
    await say(api, "u4", "/greet")
    replacement = [
        {"event": "action", "name": "action_listen", "timestamp": 10.0},
        {"event": "user", "text": "/goodbye", "timestamp": 11.0,
         "parse_data": {"intent": {"name": "goodbye", "confidence": 1.0}, "entities": []}},
    ]
    tracker = await _json(api, "PUT", "/conversations/u4/tracker/events?include_events=ALL", replacement)
    stored = await api.stored("u4")
    assert [(e["event"], e["timestamp"]) for e in stored] == [("action", 10.0), ("user", 11.0)]
    assert tracker["events"] == stored
    assert tracker["latest_message"]["intent"]["name"] == "goodbye"


async def test_a_logged_message_is_stored_but_not_answered(api: Served) -> None:
    tracker = await _json(api, "POST", "/conversations/u5/messages", {"text": "/greet", "sender": "user"})
    assert tracker["latest_message"]["intent"]["name"] == "greet"
    stored = await api.stored("u5")
    assert [e["event"] for e in stored][-1] == "user"
    assert not any(e["event"] == "bot" for e in stored)
    given = {"intent": {"name": "goodbye", "confidence": 0.7}, "entities": []}
    tracker = await _json(
        api, "POST", "/conversations/u5/messages", {"text": "ciao", "sender": "user", "parse_data": given}
    )
    assert tracker["latest_message"]["intent"] == {"name": "goodbye", "confidence": 0.7}
    refused = await _json(api, "POST", "/conversations/u5/messages", {"text": "hi", "sender": "bot"}, 400)
    assert refused["details"] == {"parameter": "sender", "in": "body"}


async def test_trigger_intent_answers_and_stores(api: Served) -> None:
    result = await _json(api, "POST", "/conversations/u6/trigger_intent", {"name": "greet", "entities": {}})
    assert result["messages"] == [{"recipient_id": "u6", "text": "Hey! How are you?"}]
    user = next(e for e in result["tracker"]["events"] if e["event"] == "user")
    assert user["text"] == "EXTERNAL: greet"
    assert result["tracker"]["events"] == await api.stored("u6")
    latest = await _json(
        api, "POST", "/conversations/u6/trigger_intent?output_channel=latest", {"name": "mood_great"}
    )
    assert latest["messages"] == [{"recipient_id": "u6", "text": "Great, carry on!"}]
    unknown = await _json(api, "POST", "/conversations/u6/trigger_intent", {"name": "order_pizza"}, 404)
    assert unknown["message"] == "The intent order_pizza does not exist in the domain."
    await _json(api, "POST", "/conversations/u6/trigger_intent", {"entities": []}, 400)


async def test_trigger_intent_takes_a_list_of_entity_objects(api: Served) -> None:
    body = {"name": "greet", "entities": [{"entity": "name", "value": "Ada"}]}
    result = await _json(api, "POST", "/conversations/u6b/trigger_intent", body)
    user = next(e for e in result["tracker"]["events"] if e["event"] == "user")
    assert user["parse_data"]["entities"] == [{"entity": "name", "value": "Ada"}]


async def test_predict_scores_the_next_action_without_running_it(api: Served) -> None:
    await say(api, "u7", "/greet")
    before = await api.stored("u7")
    await _json(api, "POST", "/conversations/u7/tracker/events", {"event": "user", "text": "/mood_great",
                "parse_data": {"intent": {"name": "mood_great", "confidence": 1.0}, "entities": []}})
    prediction = await _json(api, "POST", "/conversations/u7/predict")
    scores = prediction["scores"]
    assert scores[0]["action"] == "utter_happy"
    assert [s["score"] for s in scores] == sorted((s["score"] for s in scores), reverse=True)
    assert prediction["policy"] and 0 < prediction["confidence"] <= 1
    assert prediction["tracker"]["sender_id"] == "u7"
    assert len(await api.stored("u7")) == len(before) + 1
    missing = await _json(api, "POST", "/conversations/nobody/predict", status=404)
    assert missing["message"] == "Conversation ID not found."


async def test_execute_runs_one_action(api: Served) -> None:
    await say(api, "u8", "/greet")
    result = await _json(api, "POST", "/conversations/u8/execute", {"name": "utter_happy", "policy": "manual",
                                                                   "confidence": 0.5})
    assert result["messages"] == [{"recipient_id": "u8", "text": "Great, carry on!"}]
    action = [e for e in await api.stored("u8") if e["event"] == "action"][-1]
    assert (action["name"], action["policy"], action["confidence"]) == ("utter_happy", "manual", 0.5)
    await _json(api, "POST", "/conversations/nobody/execute", {"name": "utter_happy"}, 404)
    await _json(api, "POST", "/conversations/u8/execute", {"name": "action_launch_rocket"}, 404)
    await _json(api, "POST", "/conversations/u8/execute", {"name": "utter_happy", "confidence": "high"}, 400)


async def test_parse(api: Served) -> None:
    parsed = await _json(api, "POST", "/model/parse", {"text": "/mood_great", "message_id": "m-1"})
    assert parsed["intent"] == {"name": "mood_great", "confidence": 1.0}
    assert parsed["text"] == "/mood_great"
    assert parsed["message_id"] == "m-1"
    await _json(api, "POST", "/model/parse", {"message_id": "m-1"}, 400)
    empty = await _json(api, "POST", "/model/parse", {"text": ""})  # as in Rasa: parsed, with no intent
    assert empty["text"] == "" and empty["entities"] == [] and empty["intent"].get("name") is None


async def test_the_domain_as_json_or_yaml(api: Served) -> None:
    as_json = await _json(api, "GET", "/domain")
    assert as_json == api.runtime.domain.as_dict()
    assert "greet" in as_json["intents"]
    response = await api.client.get("/domain", headers={"Accept": "application/x-yaml"})
    assert response.headers["Content-Type"].startswith("application/x-yaml")
    assert yaml.safe_load(await response.text()) == as_json
    refused = await api.client.get("/domain", headers={"Accept": "text/html"})
    assert refused.status == 406
    assert (await refused.json())["reason"] == "NotAcceptable"


@pytest.fixture(scope="module")
def second_model(tmp_path_factory: pytest.TempPathFactory, shared_data: Path) -> Path:
    project = load_project(ProjectPaths.discover(shared_data / "rasa-projects" / "rasa-oss-moodbot"))
    path, _ = train_model(project, tmp_path_factory.mktemp("second"), parts=("dialogue",))
    return path


async def test_put_model_swaps_while_a_turn_is_in_flight(api: Served, second_model: Path) -> None:
    await say(api, "u9", "/greet")
    in_flight = asyncio.create_task(api.client.post("/conversations/u9/execute", json={"name": SLOW_ACTION}))
    await asyncio.sleep(0.1)
    swapped = await api.client.put("/model", json={"model_file": str(second_model)})
    assert swapped.status == 204
    assert (await _json(api, "GET", "/status"))["model_file"] == str(second_model)
    slow = await in_flight
    assert slow.status == 200
    assert (await slow.json())["messages"] == [{"recipient_id": "u9", "text": "done slowly"}]
    assert [e["name"] for e in await api.stored("u9") if e["event"] == "action"][-1] == SLOW_ACTION
    bad = await _json(api, "PUT", "/model", {"model_file": "/no/such/models"}, 400)
    assert bad["reason"] == "LoadingError"
    assert (await _json(api, "GET", "/status"))["model_file"] == str(second_model)


@pytest.mark.parametrize("sender", ["slack/T01/C02 ümlaut", "two\nlines"])
async def test_conversation_ids_may_hold_slashes_and_any_text(api: Served, sender: str) -> None:
    await say(api, sender, "/greet")
    tracker = await _json(api, "GET", f"/conversations/{quote(sender)}/tracker")
    assert tracker["sender_id"] == sender
    assert tracker["events"] == await api.stored(sender)


async def test_without_enable_api_only_the_public_routes_exist(start_server: StartServer) -> None:
    served = await start_server()
    for path in ("/", "/version", "/health", "/metrics", "/openapi.json", "/webhooks/rest/"):
        assert (await served.client.get(path)).status == 200, path
    for method, path in (("GET", "/status"), ("GET", "/conversations/x/tracker"), ("POST", "/model/parse"),
                         ("GET", "/domain"), ("PUT", "/model")):
        response = await served.client.request(method, path, json={})
        assert response.status in (404, 405), path
        assert (await response.json())["status"] == "failure"


async def test_health_and_metrics(api: Served) -> None:
    health = await _json(api, "GET", "/health")
    assert health["status"] == "ok"
    assert health["tracker_store"] == health["lock_store"] == {"status": "ok"}
    await say(api, "m1", "/greet")
    response = await api.client.get("/metrics")
    assert response.headers["Content-Type"].startswith("text/plain")
    text = await response.text()
    assert 'conductor_messages_received_total{channel="rest"} 1.0' in text
    assert 'conductor_turn_duration_seconds_count{channel="rest"} 1.0' in text
    assert "conductor_turns_in_flight 0.0" in text
