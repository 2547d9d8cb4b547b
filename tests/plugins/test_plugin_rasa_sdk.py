"""rasa-sdk actions, unchanged, through the real MessageProcessor: on a real `python -m rasa_sdk` action server
(Rasa's webhook protocol) and the same classes in-process."""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from datetime import datetime
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from bot.config import ActionEndpoint, Endpoints
from bot.dialogue.actions import ActionContext, ActionExecutionRejection
from bot.dialogue.events import ActionExecutionRejected, ReminderCancelled, ReminderScheduled
from bot.dialogue.responses import ResponseGenerator
from bot.plugins.instance import load_instance
from bot.plugins.registry import PluginActionRegistry, build_action_registry
from bot.project.loader import Project, ProjectPaths, load_project
from tests.plugins.plugin_helpers import actions_run, new_tracker, processor_for, say, slots_set, texts, write
from tests.process_helpers import wait_until_healthy_sync

pytest.importorskip("rasa_sdk", reason="the rasa-sdk extra is not installed")

SHOP_ACTIONS = '''\
from datetime import datetime

from rasa_sdk import Action, FormValidationAction, ValidationAction
from rasa_sdk.events import ReminderCancelled, ReminderScheduled, SlotSet
from rasa_sdk.interfaces import ActionExecutionRejection


class ActionGreetShopper(Action):
    def name(self):
        return "action_greet_shopper"

    async def run(self, dispatcher, tracker, domain):
        dispatcher.utter_message(response="utter_welcome", shop="Corner Shop")
        dispatcher.utter_message(
            text=f"Pick a tea, {tracker.sender_id}.", buttons=[{"title": "Tea", "payload": "/order"}]
        )
        return [SlotSet("greeted", True)]


class ValidateOrderForm(FormValidationAction):
    def name(self):
        return "validate_order_form"

    def validate_size(self, slot_value, dispatcher, tracker, domain):
        if slot_value not in ("small", "large"):
            dispatcher.utter_message(text=f"We have no {slot_value} size.")
            return {"size": None}
        return {"size": slot_value}


class ValidateSlotMappings(ValidationAction):
    def validate_loyalty(self, slot_value, dispatcher, tracker, domain):
        return {"loyalty": str(slot_value).upper()}


class ActionBroken(Action):
    def name(self):
        return "action_broken"

    def run(self, dispatcher, tracker, domain):
        raise RuntimeError("kaput")


class ActionRefuse(Action):
    def name(self):
        return "action_refuse"

    def run(self, dispatcher, tracker, domain):
        raise ActionExecutionRejection("action_refuse", "not today")


class ActionRemind(Action):
    def name(self):
        return "action_remind"

    def run(self, dispatcher, tracker, domain):
        due = datetime(2031, 5, 17, 9, 30)
        return [
            ReminderScheduled("EXTERNAL_tea", due, entities={"size": "large"}, name="tea", kill_on_user_message=False),
            ReminderCancelled(name="coffee"),
        ]
'''
MODULE = "conductor_test_shop_actions"
DOMAIN = """\
version: "3.1"
intents: [greet, order, inform, broken, refuse, thanks, member]
entities: [size, loyalty]
slots:
  greeted:
    type: bool
    influence_conversation: false
    mappings: [{type: custom}]
  size:
    type: text
    mappings: [{type: from_entity, entity: size}]
  loyalty:
    type: text
    mappings: [{type: from_entity, entity: loyalty}]
responses:
  utter_member: [{text: "Thanks, {loyalty} member."}]
  utter_welcome: [{text: "Welcome to {shop}!"}]
  utter_ask_size: [{text: "Which size?"}]
  utter_ordered: [{text: "A {size} tea is on its way."}]
  utter_default: [{text: "Sorry, something is off."}]
  utter_after: [{text: "Anything else?"}]
actions: [action_greet_shopper, validate_order_form, action_validate_slot_mappings, action_broken, action_refuse,
          action_remind]
forms:
  order_form:
    required_slots: [size]
"""
RULES = """\
version: "3.1"
rules:
- rule: greet
  steps: [{intent: greet}, {action: action_greet_shopper}]
- rule: broken
  steps: [{intent: broken}, {action: action_broken}, {action: utter_after}]
- rule: thanks
  steps: [{intent: thanks}, {action: utter_after}]
- rule: member
  steps: [{intent: member}, {action: utter_member}]
- rule: start order
  steps: [{intent: order}, {action: order_form}, {active_loop: order_form}]
- rule: finish order
  condition: [{active_loop: order_form}]
  steps:
  - action: order_form
  - active_loop: null
  - slot_was_set: [{requested_slot: null}]
  - action: utter_ordered
"""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="module")
def actions_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("sdk")
    write(folder / f"{MODULE}.py", SHOP_ACTIONS)
    return folder


@pytest.fixture(scope="module")
def action_server(actions_folder: Path) -> Iterator[str]:
    """A real rasa-sdk action server (`python -m rasa_sdk`) serving the shop's actions; its webhook URL."""
    port = free_port()
    log = actions_folder / "server.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "rasa_sdk", "--actions", MODULE, "--port", str(port)],
            cwd=actions_folder,
            env={**os.environ, "SANIC_HOST": "127.0.0.1", "PYTHONPATH": str(actions_folder)},
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # Sanic starts worker processes: stop the whole group afterwards
        )
    try:
        wait_until_healthy_sync(f"http://127.0.0.1:{port}", processes=[process], logs=[log], timeout=90)
        yield f"http://127.0.0.1:{port}/webhook"
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Project:
    root = tmp_path_factory.mktemp("shop")
    write(root / "domain.yml", DOMAIN)
    write(root / "data" / "rules.yml", RULES)
    write(root / "config.yml", "language: en\npolicies:\n  - name: RulePolicy\n")
    return load_project(ProjectPaths.discover(root))


@pytest.fixture(params=["action server", "in-process"])
async def registry(
    request: pytest.FixtureRequest, shop: Project, actions_folder: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[PluginActionRegistry]:
    if request.param == "action server":
        url = request.getfixturevalue("action_server")
        built = build_action_registry(shop, endpoints=Endpoints(action_endpoint=ActionEndpoint(url=url)))
    else:  # the instance's conductor.yml names the module; it is imported from the instance's folder
        write(actions_folder / "conductor.yml", f"base_assistant: false\naction_modules: [{MODULE}]\n")
        monkeypatch.setattr(sys, "path", list(sys.path))
        built = build_action_registry(shop, load_instance(actions_folder))
        assert built.providers["validate_order_form"] == f"module {MODULE}"
    yield built
    await built.close()


async def test_an_action_utters_a_response_with_values_and_buttons_and_sets_a_slot(
    shop: Project, registry: PluginActionRegistry
) -> None:
    processor = processor_for(shop, registry)
    tracker = new_tracker(shop, "ann")
    turn = await processor.handle_message(tracker, say("/greet", "ann"))
    assert texts(turn.events) == ["Welcome to Corner Shop!", "Pick a tea, ann."]
    assert turn.replies[0]["utter_action"] == "utter_welcome"
    assert turn.replies[1]["buttons"] == [{"title": "Tea", "payload": "/order"}]
    assert slots_set(turn.events) == {"greeted": True}
    assert tracker.get_slot("greeted") is True


async def test_a_form_validation_action_rejects_a_value_and_the_form_asks_again(
    shop: Project, registry: PluginActionRegistry
) -> None:
    processor = processor_for(shop, registry)
    tracker = new_tracker(shop)
    assert texts((await processor.handle_message(tracker, say("/order"))).events) == ["Which size?"]
    turn = await processor.handle_message(tracker, say('/inform{"size": "huge"}'))
    assert texts(turn.events) == ["We have no huge size.", "Which size?"]
    assert tracker.get_slot("size") is None and tracker.active_loop_name == "order_form"
    turn = await processor.handle_message(tracker, say('/inform{"size": "large"}'))
    assert texts(turn.events) == ["A large tea is on its way."]
    assert tracker.active_loop_name is None


async def test_a_validation_action_checks_the_slots_extracted_from_every_message(
    shop: Project, registry: PluginActionRegistry
) -> None:
    processor = processor_for(shop, registry)
    tracker = new_tracker(shop)
    turn = await processor.handle_message(tracker, say('/member{"loyalty": "gold"}'))
    assert slots_set(turn.events)["loyalty"] == "GOLD"
    assert texts(turn.events) == ["Thanks, GOLD member."]


async def test_an_action_that_raises_is_answered_with_the_fallback_and_the_conversation_goes_on(
    shop: Project, registry: PluginActionRegistry, caplog: pytest.LogCaptureFixture
) -> None:
    processor = processor_for(shop, registry)
    tracker = new_tracker(shop)
    with caplog.at_level(logging.ERROR):
        turn = await processor.handle_message(tracker, say("/broken"))
    assert texts(turn.events) == ["Sorry, something is off.", "Anything else?"]
    assert actions_run(turn.events)[-3:] == ["action_broken", "utter_after", "action_listen"]
    assert "kaput" in caplog.text
    turn = await processor.handle_message(tracker, say("/greet"))
    assert texts(turn.events)[0] == "Welcome to Corner Shop!"


async def test_a_refusal_is_an_action_execution_rejection(shop: Project, registry: PluginActionRegistry) -> None:
    tracker = new_tracker(shop)
    action = registry.resolve("action_refuse", shop.domain)
    context = ActionContext(nlg=ResponseGenerator.from_domain(shop.domain), actions=registry)
    with pytest.raises(ActionExecutionRejection) as excinfo:
        await action.run(tracker, shop.domain, context)
    assert (excinfo.value.action_name, excinfo.value.message) == ("action_refuse", "not today")
    turn = await processor_for(shop, registry).execute_action(tracker, "action_refuse")
    assert [e.name for e in turn.events if isinstance(e, ActionExecutionRejected)] == ["action_refuse"]


async def test_reminders_of_an_action_arrive_as_the_events_the_runtime_schedules(
    shop: Project, registry: PluginActionRegistry
) -> None:
    """rasa-sdk's `ReminderScheduled` and `ReminderCancelled`, as the runtime reads them (`bot.reminders` runs
    them: tests/server/test_reminders.py)."""
    turn = await processor_for(shop, registry).execute_action(new_tracker(shop), "action_remind")
    [reminder] = [e for e in turn.events if isinstance(e, ReminderScheduled)]
    assert (reminder.intent, reminder.name, reminder.entities, reminder.kill_on_user_msg) == (
        "EXTERNAL_tea", "tea", {"size": "large"}, False
    )
    assert reminder.trigger_date_time == datetime(2031, 5, 17, 9, 30)
    [cancellation] = [e for e in turn.events if isinstance(e, ReminderCancelled)]
    assert (cancellation.name, cancellation.intent) == ("coffee", None)


async def test_a_server_that_is_down_is_logged_and_answered_with_the_fallback(
    shop: Project, caplog: pytest.LogCaptureFixture
) -> None:
    endpoint = ActionEndpoint(url=f"http://127.0.0.1:{free_port()}/webhook")
    registry = build_action_registry(shop, endpoints=Endpoints(action_endpoint=endpoint))
    processor = processor_for(shop, registry)
    tracker = new_tracker(shop)
    with caplog.at_level(logging.ERROR):
        turn = await processor.handle_message(tracker, say("/greet"))
    assert texts(turn.events) == ["Sorry, something is off."]
    assert actions_run(turn.events)[-2:] == ["action_greet_shopper", "action_listen"]
    assert "cannot be reached" in caplog.text and "Traceback" not in caplog.text
    turn = await processor.handle_message(tracker, say("/thanks"))
    assert texts(turn.events) == ["Anything else?"]
    await registry.close()


def test_every_custom_action_of_the_domain_goes_to_the_action_server(shop: Project) -> None:
    registry = build_action_registry(
        shop, endpoints=Endpoints(action_endpoint=ActionEndpoint(url="http://127.0.0.1:5055/webhook"))
    )
    assert sorted(registry.names) == sorted(shop.domain.actions)
    assert set(registry.providers.values()) == {"the action server at http://127.0.0.1:5055/webhook"}


async def test_the_client_sends_the_token_headers_and_basic_auth_and_handles_a_missing_action(
    shop: Project, caplog: pytest.LogCaptureFixture
) -> None:
    """Against a stand-in server that records what Conductor sends (the parts a real server ignores)."""
    seen: list[web.Request] = []
    bodies: list[dict[str, object]] = []

    async def webhook(request: web.Request) -> web.Response:
        seen.append(request)
        bodies.append(await request.json())
        if "domain" not in bodies[-1]:
            return web.json_response({"error": "send the domain", "action_name": "x"}, status=449)
        return web.json_response({"error": "no such action", "action_name": "x"}, status=404)

    app = web.Application()
    app.router.add_post("/webhook", webhook)
    server = TestServer(app)
    await server.start_server()
    endpoint = ActionEndpoint.model_validate(
        {
            "url": str(server.make_url("/webhook")),
            "token": "t0ken",
            "headers": {"X-Shop": "corner"},
            "basic_auth": {"username": "bot", "password": "pw"},
        }
    )
    registry = build_action_registry(shop, endpoints=Endpoints(action_endpoint=endpoint))
    tracker = new_tracker(shop, "bo")
    with caplog.at_level(logging.ERROR):
        turn = await processor_for(shop, registry).handle_message(tracker, say("/greet", "bo"))
    assert texts(turn.events) == ["Sorry, something is off."]
    assert "has no action 'action_greet_shopper' (no such action)" in caplog.text
    # slot validation runs first: asked for the domain (449), it is sent again with it, and from then on always
    assert [(b["next_action"], "domain" in b) for b in bodies] == [
        ("action_validate_slot_mappings", False),
        ("action_validate_slot_mappings", True),
        ("action_greet_shopper", True),
    ]
    last = bodies[-1]
    assert last["domain"] == shop.domain.as_dict() and last["sender_id"] == "bo" and last["version"] == "3.6.21"
    assert isinstance(last["tracker"], dict) and last["tracker"]["sender_id"] == "bo"
    request = seen[-1]
    assert request.query["token"] == "t0ken" and request.headers["X-Shop"] == "corner"
    assert request.headers["Authorization"] == "Basic Ym90OnB3"  # bot:pw
    await registry.close()
    await server.close()
