"""Plugin actions run by the real MessageProcessor: settings, the shared HTTP session, responses with
placeholders, form validation, and failures (an exception, a timeout, a wrong return value) answered with the
fallback while the conversation carries on."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from bot.errors import ConductorError, Problem
from bot.plugins.actions import FALLBACK_TEXT
from bot.plugins.discovery import discover_plugins
from bot.plugins.instance import enable_plugins, load_instance
from bot.plugins.merge import load_project_with_plugins
from bot.plugins.registry import PluginActionRegistry, build_action_registry
from bot.project.loader import Project, ProjectPaths
from tests.plugins.plugin_helpers import (
    actions_run,
    new_tracker,
    processor_for,
    say,
    slots_set,
    texts,
    write_instance,
    write_plugin,
)

CLINIC_DOMAIN = """\
intents: [hello, slow, boom, junk, book, inform, lookup]
entities: [day]
slots:
  patient:
    type: text
    mappings: [{type: custom}]
  day:
    type: text
    mappings: [{type: from_entity, entity: day}]
responses:
  utter_welcome: [{text: "Welcome to {clinic}, {patient}!"}]
  utter_ask_day: [{text: "Which day?"}]
  utter_booked: [{text: "Booked for {day}."}]
  utter_after: [{text: "Anything else?"}]
actions: [action_welcome, action_slow, action_boom, action_junk, action_lookup, validate_booking_form]
forms:
  booking_form:
    required_slots: [day]
"""
CLINIC_RULES = """\
rules:
- rule: welcome
  steps: [{intent: hello}, {action: action_welcome}]
- rule: slow
  steps: [{intent: slow}, {action: action_slow}, {action: utter_after}]
- rule: boom
  steps: [{intent: boom}, {action: action_boom}, {action: utter_after}]
- rule: junk
  steps: [{intent: junk}, {action: action_junk}]
- rule: lookup
  steps: [{intent: lookup}, {action: action_lookup}]
- rule: start booking
  steps: [{intent: book}, {action: booking_form}, {active_loop: booking_form}]
- rule: finish booking
  condition: [{active_loop: booking_form}]
  steps:
  - action: booking_form
  - active_loop: null
  - slot_was_set: [{requested_slot: null}]
  - action: utter_booked
"""
CLINIC_ACTIONS = """\
import asyncio

from bot.dialogue.events import Event, SlotSet
from bot.plugins.sdk import ActionContext, PluginAction, action


@action("action_welcome")
async def welcome(ctx: ActionContext) -> list[Event]:
    ctx.dispatcher.utter_message(response="utter_welcome", clinic=ctx.settings.clinic_name, patient="Ada")
    ctx.dispatcher.utter_message(text="Book a visit?", buttons=[{"title": "Yes", "payload": "/book"}])
    return [SlotSet(name="patient", value="Ada")]


@action("action_slow", timeout=0.2)
async def slow(ctx: ActionContext) -> list[Event]:
    ctx.dispatcher.utter_message(text="never said")
    await asyncio.sleep(30)
    return []


@action("action_boom")
async def boom(ctx: ActionContext) -> list[Event]:
    ctx.dispatcher.utter_message(text="never said either")
    raise RuntimeError("the clinic database is down")


@action("action_junk")
async def junk(ctx: ActionContext) -> str:
    return "not a list of events"


@action("action_lookup")
async def lookup(ctx: ActionContext) -> None:
    async with ctx.http.get(ctx.settings.calendar_url, params={"who": ctx.tracker.sender_id}) as response:
        data = await response.json()
    ctx.dispatcher.utter_message(text=f"Next free slot: {data['free']} (plugin {ctx.plugin.name} {ctx.plugin.version})")


class ValidateBookingForm(PluginAction):
    name = "validate_booking_form"

    async def run(self, ctx: ActionContext) -> list[Event]:
        events: list[Event] = []
        for slot, value in ctx.slots_to_validate().items():
            if value == "crash":
                raise RuntimeError("validator crashed")
            if value == "yesterday":
                ctx.dispatcher.utter_message(text="That day has passed.")
                value = None
            events.append(SlotSet(name=slot, value=value))
        return events
"""
CLINIC_SETTINGS = """\
clinic_name: {type: str, required: true}
calendar_url: {type: url, default: "http://127.0.0.1:9/none"}
"""


@pytest.fixture
async def calendar() -> AsyncIterator[str]:
    """A local calendar service the lookup action calls through ctx.http."""

    async def free(request: web.Request) -> web.Response:
        return web.json_response({"free": f"Tuesday 10:00 for {request.query['who']}"})

    app = web.Application()
    app.router.add_get("/free", free)
    server = TestServer(app)
    await server.start_server()
    yield str(server.make_url("/free"))
    await server.close()


def clinic(tmp_path: Path, calendar_url: str, *, base: bool = True) -> tuple[Project, PluginActionRegistry]:
    write_plugin(
        tmp_path / "plugins", "clinic", domain=CLINIC_DOMAIN, rules=CLINIC_RULES, actions=CLINIC_ACTIONS,
        settings=CLINIC_SETTINGS, description="Appointments at a clinic.",
    )
    write_instance(
        tmp_path,
        f"base_assistant: {str(base).lower()}\nplugins:\n  clinic:\n    clinic_name: Riverside Clinic\n"
        f"    calendar_url: {calendar_url}\n",
    )
    instance = load_instance(tmp_path)
    catalog = discover_plugins(instance.plugins_dir, shipped=tmp_path / "none", entry_points=False)
    project = load_project_with_plugins(ProjectPaths.discover(tmp_path), instance, catalog=catalog)
    plugins, _ = enable_plugins(instance, catalog)
    return project, build_action_registry(project, instance, plugins=plugins)


def registry_problems(root: Path) -> list[Problem]:
    """The problems building the action registry of the instance at `root` (its own plugins only) raises."""
    instance = load_instance(root)
    catalog = discover_plugins(instance.plugins_dir, shipped=root / "none", entry_points=False)
    plugins, _ = enable_plugins(instance, catalog)
    with pytest.raises(ConductorError) as excinfo:
        build_action_registry(load_project_with_plugins(ProjectPaths.discover(root), instance, catalog=catalog),
                              plugins=plugins)
    return excinfo.value.problems


async def test_an_action_speaks_with_responses_settings_and_buttons_and_sets_slots(
    tmp_path: Path, calendar: str
) -> None:
    project, registry = clinic(tmp_path, calendar)
    processor = processor_for(project, registry)
    tracker = new_tracker(project)
    turn = await processor.handle_message(tracker, say("/hello"))
    assert texts(turn.events) == ["Welcome to Riverside Clinic, Ada!", "Book a visit?"]
    assert turn.replies[1]["buttons"] == [{"title": "Yes", "payload": "/book"}]
    assert turn.replies[0]["utter_action"] == "utter_welcome"
    assert slots_set(turn.events)["patient"] == "Ada"
    assert registry.providers["action_welcome"] == "plugin 'clinic'"
    await registry.close()


async def test_actions_share_an_http_session_and_see_their_plugin(tmp_path: Path, calendar: str) -> None:
    project, registry = clinic(tmp_path, calendar)
    processor = processor_for(project, registry)
    turn = await processor.handle_message(new_tracker(project, "pat-7"), say("/lookup", "pat-7"))
    assert texts(turn.events) == ["Next free slot: Tuesday 10:00 for pat-7 (plugin clinic 0.1.0)"]
    session = await registry.http.session()
    assert session is await registry.http.session() and not session.closed
    await registry.close()
    assert session.closed


@pytest.mark.parametrize(
    ("intent", "logged"),
    [
        ("slow", "took longer than 0.2 s and was stopped"),
        ("boom", "failed; the bot answers with utter_default"),
    ],
)
async def test_a_failing_or_slow_action_is_answered_with_utter_default_and_the_conversation_goes_on(
    tmp_path: Path, calendar: str, caplog: pytest.LogCaptureFixture, intent: str, logged: str
) -> None:
    project, registry = clinic(tmp_path, calendar)
    processor = processor_for(project, registry)
    tracker = new_tracker(project)
    with caplog.at_level(logging.ERROR):
        turn = await processor.handle_message(tracker, say(f"/{intent}"))
    default_texts = {v.text for v in project.domain.responses["utter_default"]}
    said = texts(turn.events)
    assert len(said) == 2 and said[0] in default_texts and said[1] == "Anything else?"
    assert actions_run(turn.events)[-3:] == [f"action_{intent}", "utter_after", "action_listen"]
    assert [r.getMessage() for r in caplog.records if logged in r.getMessage()]
    assert "plugin 'clinic'" in caplog.text
    if intent == "boom":
        assert "the clinic database is down" in caplog.text
    turn = await processor.handle_message(tracker, say("/hello"))
    assert texts(turn.events)[0] == "Welcome to Riverside Clinic, Ada!"
    await registry.close()


async def test_without_utter_default_the_fallback_is_a_polite_built_in_text(
    tmp_path: Path, calendar: str, caplog: pytest.LogCaptureFixture
) -> None:
    project, registry = clinic(tmp_path, calendar, base=False)
    assert "utter_default" not in project.domain.responses
    processor = processor_for(project, registry)
    tracker = new_tracker(project)
    with caplog.at_level(logging.ERROR):
        turn = await processor.handle_message(tracker, say("/junk"))
    assert texts(turn.events) == [FALLBACK_TEXT]
    assert "returned 'not a list of events'" in caplog.text
    assert actions_run(turn.events)[-1] == "action_listen"
    await registry.close()


async def test_a_plugin_form_validator_rejects_a_value_and_the_form_asks_again(
    tmp_path: Path, calendar: str
) -> None:
    project, registry = clinic(tmp_path, calendar)
    processor = processor_for(project, registry)
    tracker = new_tracker(project)
    turn = await processor.handle_message(tracker, say("/book"))
    assert texts(turn.events) == ["Which day?"]
    turn = await processor.handle_message(tracker, say('/inform{"day": "yesterday"}'))
    assert texts(turn.events) == ["That day has passed.", "Which day?"]
    assert tracker.get_slot("day") is None and tracker.active_loop_name == "booking_form"
    turn = await processor.handle_message(tracker, say('/inform{"day": "Friday"}'))
    assert texts(turn.events) == ["Booked for Friday."]
    assert tracker.active_loop_name is None
    await registry.close()


async def test_a_failing_form_validator_rejects_the_values_it_was_given(
    tmp_path: Path, calendar: str, caplog: pytest.LogCaptureFixture
) -> None:
    project, registry = clinic(tmp_path, calendar)
    processor = processor_for(project, registry)
    tracker = new_tracker(project)
    await processor.handle_message(tracker, say("/book"))
    with caplog.at_level(logging.ERROR):
        turn = await processor.handle_message(tracker, say('/inform{"day": "crash"}'))
    default_texts = {v.text for v in project.domain.responses["utter_default"]}
    said = texts(turn.events)
    assert len(said) == 2 and said[0] in default_texts and said[1] == "Which day?"
    assert tracker.get_slot("day") is None and tracker.active_loop_name == "booking_form"
    assert "validator crashed" in caplog.text
    turn = await processor.handle_message(tracker, say('/inform{"day": "Monday"}'))
    assert texts(turn.events) == ["Booked for Monday."]
    await registry.close()


def test_an_action_name_provided_twice_is_an_error_naming_both(tmp_path: Path) -> None:
    write_plugin(
        tmp_path / "plugins", "one", domain="intents: [ask_one]\n",
        actions='from bot.plugins.sdk import action\n\n@action("action_same")\nasync def a(ctx):\n    return []\n',
    )
    write_plugin(
        tmp_path / "plugins", "two", domain="intents: [ask_two]\n",
        actions='from bot.plugins.sdk import action\n\n@action("action_same")\nasync def b(ctx):\n    return []\n',
    )
    write_instance(tmp_path, "plugins:\n  one:\n  two:\n")
    [problem] = registry_problems(tmp_path)
    assert problem.message == "the action 'action_same' is provided by both plugin 'one' and plugin 'two'"
    assert problem.file == str(tmp_path / "plugins" / "two" / "actions.py")


def test_a_plugin_whose_actions_fail_to_import_is_reported_at_the_line(tmp_path: Path) -> None:
    write_plugin(
        tmp_path / "plugins", "shaky", domain="intents: [ask_shaky]\n",
        actions="import json\n\nVALUE = json.loads('{not json')\n",
    )
    write_instance(tmp_path, "plugins:\n  shaky:\n")
    [problem] = registry_problems(tmp_path)
    assert (problem.file, problem.line) == (str(tmp_path / "plugins" / "shaky" / "actions.py"), 3)
    assert problem.message.startswith("plugin 'shaky': importing its actions failed: JSONDecodeError")


async def test_declared_actions_nothing_provides_are_logged_at_start(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    write_instance(tmp_path, "base_assistant: true\n")
    (tmp_path / "domain.yml").write_text("actions:\n  - action_nobody_wrote\n")
    project = load_project_with_plugins(ProjectPaths.discover(tmp_path))
    with caplog.at_level(logging.WARNING):
        registry = build_action_registry(project, load_instance(tmp_path))
    [warning] = [r.getMessage() for r in caplog.records if "no plugin or actions module provides" in r.getMessage()]
    assert "action_nobody_wrote" in warning
    assert "action_handoff" not in warning  # the base assistant provides its own
    assert "action_handoff" in registry
    await registry.close()


def test_an_action_that_is_not_async_is_refused_at_its_line(tmp_path: Path) -> None:
    write_plugin(
        tmp_path / "plugins", "sync", domain="intents: [ask_sync]\n",
        actions='from bot.plugins.sdk import action\n\n\n@action("action_sync")\ndef blocking(ctx):\n    return []\n',
    )
    write_instance(tmp_path, "plugins:\n  sync:\n")
    [problem] = registry_problems(tmp_path)
    assert (problem.file, problem.line) == (str(tmp_path / "plugins" / "sync" / "actions.py"), 4)
    assert "is not an async function" in problem.message
