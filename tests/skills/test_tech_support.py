"""The tech-support skill (plugins/tech_support): its data, its knowledge base, its ticket fields, and its actions
run against a real tracker and a local ticketing endpoint (an aiohttp server started here), alone and inside
whole conversations run by the real MessageProcessor."""

from __future__ import annotations

import asyncio
import logging
import re
import socket
import textwrap
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from bot.dialogue.events import BotUttered, Event, SlotSet, UserUttered
from bot.dialogue.processor import MessageProcessor
from bot.dialogue.tracker import DialogueStateTracker
from bot.plugins.instance import load_instance
from bot.plugins.manifest import load_manifest
from bot.plugins.merge import load_project_with_plugins
from bot.plugins.registry import build_action_registry
from bot.plugins.sdk import ActionContext, Dispatcher, PluginInfo
from bot.project.domain import Domain, load_domain
from bot.project.loader import Project, ProjectPaths
from bot.project.nlu_data import load_nlu
from channels.base import UserMessage
from plugins.tech_support import actions as ts
from plugins.tech_support import knowledge_base
from plugins.tech_support.knowledge_base import KnowledgeBase, knowledge_base_for, read_article
from plugins.tech_support.ticket_fields import (
    field_named_in,
    find_email,
    find_error_code,
    find_ticket_id,
    match_product,
    match_severity,
    valid_description,
)
from tests.plugins.plugin_helpers import LIGHT_CONFIG, policies_for

REPO = Path(__file__).resolve().parents[2]
PLUGIN = REPO / "plugins" / "tech_support"
BASE = REPO / "domain"
PRODUCTS = ["RouterX", "CloudDrive", "SmartCam", "DeskSuite"]
BASE_INTENTS = {
    "greet", "goodbye", "thanks", "affirm", "deny", "help", "bot_challenge", "out_of_scope", "human_handoff"
}


# --- the skill's data ---------------------------------------------------------------------------------------------


def _normalised(text: str) -> str:
    return " ".join(re.sub(r"[^a-z0-9@.\- ]", " ", text.lower()).split())


def test_intents_are_many_prefixed_and_each_has_twenty_varied_examples() -> None:
    data = load_nlu([PLUGIN / "data" / "nlu.yml"])
    by_intent: dict[str, list[str]] = {}
    for example in data.examples:
        by_intent.setdefault(str(example.intent), []).append(example.text)
    assert len(by_intent) >= 15
    assert all(intent.startswith("ts_") for intent in by_intent)
    assert not BASE_INTENTS & set(by_intent)
    for intent, texts in by_intent.items():
        assert len(texts) >= 20, intent
        assert len({_normalised(t) for t in texts}) == len(texts), f"{intent} repeats an example"


def test_no_example_is_shared_with_another_intent_or_the_base_assistant() -> None:
    data = load_nlu([BASE / "data" / "nlu.yml", PLUGIN / "data" / "nlu.yml"])
    owner: dict[str, str] = {}
    for example in data.examples:
        key = _normalised(example.text)
        assert owner.setdefault(key, str(example.intent)) == example.intent, (example.text, owner[key])


def test_domain_declares_every_intent_and_entity_the_data_uses() -> None:
    domain = load_domain(PLUGIN / "domain.yml")
    data = load_nlu([PLUGIN / "data" / "nlu.yml"])
    assert {str(e.intent) for e in data.examples} == set(domain.intents)
    used_entities = {span.entity for e in data.examples for span in e.entities}
    assert used_entities == {"product", "error_code", "ticket_id", "email", "severity"} == set(domain.entities)
    assert domain.required_slots("ticket_form") == ["ts_email", "ts_product", "ts_severity", "ts_description"]


def test_manifest_settings_have_the_documented_types() -> None:
    manifest = load_manifest(PLUGIN / "plugin.yml")
    assert manifest.name == "tech_support" and manifest.supports()
    types = {name: spec.type for name, spec in manifest.settings.items()}
    assert types == {
        "product_names": "list[str]",
        "ticketing_url": "url",
        "knowledge_base_folder": "path",
        "support_hours": "str",
    }
    assert manifest.settings["product_names"].required
    settings: Any = manifest.settings_model().model_validate({"product_names": ["RouterX"]})
    assert settings.ticketing_url is None and settings.knowledge_base_folder is None
    assert "Monday" in settings.support_hours


# --- the knowledge base -------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def examples_kb() -> KnowledgeBase:
    return KnowledgeBase.from_folder(ts.EXAMPLE_KNOWLEDGE_BASE)


def test_example_articles_have_a_title_and_a_summary(examples_kb: KnowledgeBase) -> None:
    assert 3 <= len(examples_kb.articles) <= 4
    for article in examples_kb.articles:
        assert article.title and not article.title.startswith("#")
        assert 40 < len(article.summary) <= knowledge_base.SUMMARY_LIMIT
        assert "**" not in article.summary


@pytest.mark.parametrize(
    ("question", "title_part"),
    [
        ("how do I turn on two-step verification for my account?", "two-step verification"),
        ("updating the router software", "firmware"),
        ("my files are not syncing", "syncing"),
        ("the installer says access denied", "0x80070005"),
        ("two step verificaton codes are rejected", "two-step verification"),
    ],
)
def test_search_ranks_the_article_that_answers_first(
    examples_kb: KnowledgeBase, question: str, title_part: str
) -> None:
    best = examples_kb.best_match(question)
    assert best is not None and title_part in best.article.title


@pytest.mark.parametrize("question", ["how do I grow tomatoes?", "can the camera print photos?", "   "])
def test_search_finds_nothing_for_unrelated_questions(examples_kb: KnowledgeBase, question: str) -> None:
    assert examples_kb.best_match(question) is None


def test_error_codes_are_matched_whatever_their_spelling(examples_kb: KnowledgeBase) -> None:
    for spelling in ("E-2001", "e2001", "E_2001"):
        found = examples_kb.article_mentioning(spelling)
        assert found is not None and "syncing" in found.title
    assert examples_kb.article_mentioning("0X80070005") is not None
    assert examples_kb.article_mentioning("E-1042") is None


def test_the_index_is_cached_per_folder_and_rebuilt_when_an_article_changes(tmp_path: Path) -> None:
    article = tmp_path / "printing.md"
    article.write_text("# Printing from the app\n\nOpen a photo and choose Print from the share menu.\n")
    first = knowledge_base_for(tmp_path)
    assert knowledge_base_for(tmp_path) is first
    assert first.best_match("how do I print a photo?") is not None
    (tmp_path / "zones.md").write_text("# Motion zones\n\nDraw the zones on the live view to limit alerts.\n")
    second = knowledge_base_for(tmp_path)
    assert second is not first and len(second.articles) == 2
    hit = second.best_match("set up motion zones")
    assert hit is not None and hit.article.title == "Motion zones"


def test_operator_mistakes_in_articles_are_warned_about_not_fatal(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / "no-title.md").write_text("Reset the camera by holding the button for ten seconds.\n")
    (tmp_path / "empty.md").write_text("\n\n")
    (tmp_path / "title-only.md").write_text("# Nothing here\n")
    with caplog.at_level(logging.WARNING):
        loaded = KnowledgeBase.from_folder(tmp_path)
        missing = KnowledgeBase.from_folder(tmp_path / "nowhere")
    assert [a.title for a in loaded.articles] == ["No title"]
    assert missing.articles == [] and missing.best_match("anything") is None
    messages = caplog.text
    assert "no-title.md:1 does not start with a `# Title`" in messages
    assert "empty.md is empty" in messages and "title-only.md has a title but no text" in messages
    assert "knowledge_base_folder" in messages


def test_a_long_first_paragraph_is_cut_at_a_sentence(tmp_path: Path) -> None:
    sentence = "This sentence explains one more detail of the procedure. "
    path = tmp_path / "long.md"
    path.write_text("# Long\n\n## Intro heading\n\n" + sentence * 20 + "\n")
    article = read_article(path)
    assert article is not None and article.summary.endswith(".")
    assert len(article.summary) <= knowledge_base.SUMMARY_LIMIT


# --- ticket fields ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "product"),
    [
        ("RouterX", "RouterX"),
        ("router x", "RouterX"),
        ("it's the cloud-drive app", "CloudDrive"),
        ("routr x", "RouterX"),
        ("my smartcam", "SmartCam"),
        ("a toaster", None),
        ("", None),
    ],
)
def test_products_are_matched_to_the_configured_names(text: str, product: str | None) -> None:
    assert match_product(text, PRODUCTS) == product


def test_without_configured_products_any_name_is_taken() -> None:
    assert match_product(" Widget 3000 ", []) == "Widget 3000"


@pytest.mark.parametrize(
    ("text", "severity"),
    [
        ("critical", "critical"),
        ("it's urgent!", "critical"),
        ("not urgent at all", "low"),
        ("pretty minor", "low"),
        ("Medium", "medium"),
        ("hgih", "high"),
        ("whenever", None),
    ],
)
def test_severity_words_become_one_of_four_levels(text: str, severity: str | None) -> None:
    assert match_severity(text) == severity


def test_values_are_found_inside_sentences() -> None:
    assert find_email("sure, it's Jo.Baker@Example.com thanks") == "jo.baker@example.com"
    assert find_email("jo at example dot com") is None
    assert find_error_code("it says e-1042 now") == "E-1042"
    assert find_error_code("code 0X80070005") == "0x80070005"
    assert find_ticket_id("ticket tck48213 please") == "TCK-48213"
    assert find_ticket_id("ticket 48213") is None
    assert valid_description("it crashes") is None
    assert valid_description("  the app   crashes on start ") == "the app crashes on start"
    assert field_named_in("the email address is wrong") == "ts_email"
    assert field_named_in("I got the product wrong") == "ts_product"
    assert field_named_in("the problem description is wrong") == "ts_description"
    assert field_named_in("something is wrong") is None


# --- actions against a real tracker and a local ticketing endpoint --------------------------------------------------


@dataclass
class Ticketing:
    """A stand-in ticketing system: records requests; `broken` answers 500, `slow` answers after 2 s."""

    url: str
    requests: list[tuple[str, str, Any]] = field(default_factory=list)
    tickets: dict[str, dict[str, str]] = field(default_factory=dict)
    broken: bool = False
    slow: bool = False


@pytest.fixture
async def ticketing() -> AsyncIterator[Ticketing]:
    app = web.Application()
    state = Ticketing(url="")

    async def create(request: web.Request) -> web.Response:
        body = await request.json()
        state.requests.append(("POST", request.path, body))
        if state.slow:
            await asyncio.sleep(2)
        if state.broken:
            return web.json_response({"error": "database down"}, status=500)
        ticket_id = f"TCK-{10001 + len(state.tickets)}"
        state.tickets[ticket_id] = {"status": "open", "note": ""}
        return web.json_response({"id": ticket_id}, status=201)

    async def status(request: web.Request) -> web.Response:
        ticket_id = request.match_info["ticket_id"]
        state.requests.append(("GET", request.path, None))
        if state.broken:
            return web.Response(status=503, text="maintenance")
        if ticket_id not in state.tickets:
            return web.json_response({"error": "no such ticket"}, status=404)
        return web.json_response(state.tickets[ticket_id])

    app.router.add_post("/tickets", create)
    app.router.add_get("/tickets/{ticket_id}", status)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    state.url = str(server.make_url("/tickets"))
    try:
        yield state
    finally:
        await server.close()


@pytest.fixture
def closed_port_url() -> str:
    """A URL where nothing listens: connections are refused."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/tickets"


@pytest.fixture(scope="module")
def domain() -> Domain:
    return load_domain([BASE / "domain.yml", PLUGIN / "domain.yml"])


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=1.0)) as session:
        yield session


def settings(url: str | None = None, **values: Any) -> Any:
    model = load_manifest(PLUGIN / "plugin.yml").settings_model()
    return model.model_validate(
        {"product_names": PRODUCTS, "ticketing_url": url, "support_hours": "Mon-Fri 8:00-18:00", **values}
    )


def said(text: str, intent: str, **entities: str) -> UserUttered:
    found = [{"entity": name, "value": value} for name, value in entities.items()]
    return UserUttered(text=text, parse_data={"intent": {"name": intent, "confidence": 1.0}, "entities": found})


def context(
    domain: Domain, http: aiohttp.ClientSession, events: list[Event], plugin_settings: Any
) -> ActionContext:
    tracker = DialogueStateTracker.for_domain("customer-42", domain, events)
    return ActionContext(tracker, domain, Dispatcher(), plugin_settings, http, PluginInfo("tech_support", "0.1.0"))


def responses(ctx: ActionContext) -> list[str | None]:
    return [message["response"] for message in ctx.dispatcher.messages]


def slot_values(events: list[Event] | None) -> dict[str, Any]:
    return {e.name: e.value for e in events or [] if isinstance(e, SlotSet)}


FILLED_TICKET: list[Event] = [
    SlotSet(name="ts_email", value="jo@example.com"),
    SlotSet(name="ts_product", value="RouterX"),
    SlotSet(name="ts_severity", value="high"),
    SlotSet(name="ts_description", value="the wifi drops every evening"),
    SlotSet(name="ts_issue", value="no connection"),
    said("yes, send it", "affirm"),
]


async def test_a_ticket_is_posted_and_its_number_given(
    domain: Domain, http: aiohttp.ClientSession, ticketing: Ticketing
) -> None:
    ctx = context(domain, http, FILLED_TICKET, settings(ticketing.url))
    events = await ts.send_ticket(ctx)
    assert ticketing.requests == [
        (
            "POST",
            "/tickets",
            {
                "email": "jo@example.com",
                "product": "RouterX",
                "severity": "high",
                "description": "the wifi drops every evening",
                "category": "no connection",
                "error_code": None,
                "conversation_id": "customer-42",
            },
        )
    ]
    assert responses(ctx) == ["utter_ts_ticket_created"]
    message = ctx.dispatcher.messages[0]
    assert (message["ticket_id"], message["email"], message["support_hours"]) == (
        "TCK-10001",
        "jo@example.com",
        "Mon-Fri 8:00-18:00",
    )
    slots = slot_values(events)
    assert slots["ts_ticket_id"] == "TCK-10001" and slots["ts_ticketing_reachable"] is True
    assert slots["ts_product"] is None and slots["ts_description"] is None and "ts_email" not in slots


@pytest.mark.parametrize("failure", ["refused", "error status", "timeout", "no url"])
async def test_an_unusable_ticketing_endpoint_gets_an_apology_and_the_offer_of_a_person(
    domain: Domain,
    http: aiohttp.ClientSession,
    ticketing: Ticketing,
    closed_port_url: str,
    failure: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    url: str | None = ticketing.url
    if failure == "refused":
        url = closed_port_url
    elif failure == "error status":
        ticketing.broken = True
    elif failure == "timeout":
        ticketing.slow = True
    else:
        url = None
    ctx = context(domain, http, FILLED_TICKET, settings(url))
    with caplog.at_level(logging.WARNING):
        events = await ts.send_ticket(ctx)
    assert responses(ctx) == ["utter_ts_ticketing_down"]
    assert slot_values(events) == {"ts_ticketing_reachable": False}  # the details stay for a later try
    assert "the ticket could not be created" in caplog.text


async def test_ticket_status_by_entity_by_text_and_from_the_conversation(
    domain: Domain, http: aiohttp.ClientSession, ticketing: Ticketing
) -> None:
    ticketing.tickets["TCK-48213"] = {"status": "waiting for a part", "note": "The part arrives on Tuesday."}
    by_entity = context(domain, http, [said("any news on TCK-48213", "ts_ticket_status", ticket_id="tck-48213")],
                        settings(ticketing.url))
    events = await ts.ticket_status(by_entity)
    assert ticketing.requests[-1] == ("GET", "/tickets/TCK-48213", None)
    assert responses(by_entity) == ["utter_ts_ticket_status", "utter_ts_ticket_note"]
    assert by_entity.dispatcher.messages[0]["status"] == "waiting for a part"
    assert by_entity.dispatcher.messages[1]["note"] == "The part arrives on Tuesday."
    assert slot_values(events) == {"ts_ticket_id": "TCK-48213", "ts_ticketing_reachable": True}

    by_text = context(domain, http, [said("what about TCK48213?", "ts_ticket_status")], settings(ticketing.url))
    await ts.ticket_status(by_text)
    assert ticketing.requests[-1][1] == "/tickets/TCK-48213"

    remembered = context(
        domain, http, [SlotSet(name="ts_ticket_id", value="TCK-48213"), said("and my ticket?", "ts_ticket_status")],
        settings(ticketing.url),
    )
    await ts.ticket_status(remembered)
    assert len(ticketing.requests) == 3 and responses(remembered)[0] == "utter_ts_ticket_status"


async def test_ticket_status_unknown_missing_and_unreachable(
    domain: Domain, http: aiohttp.ClientSession, ticketing: Ticketing, closed_port_url: str
) -> None:
    unknown = context(domain, http, [said("TCK-99999", "ts_ticket_status", ticket_id="TCK-99999")],
                      settings(ticketing.url))
    assert slot_values(await ts.ticket_status(unknown)) == {"ts_ticketing_reachable": True}
    assert responses(unknown) == ["utter_ts_ticket_not_found"]

    no_number = context(domain, http, [said("has anyone looked at my ticket?", "ts_ticket_status")],
                        settings(ticketing.url))
    assert await ts.ticket_status(no_number) == []
    assert responses(no_number) == ["utter_ts_ask_ticket_id"]

    down = context(domain, http, [said("TCK-12345", "ts_ticket_status", ticket_id="TCK-12345")],
                   settings(closed_port_url))
    assert slot_values(await ts.ticket_status(down))["ts_ticketing_reachable"] is False
    assert responses(down) == ["utter_ts_status_unavailable"]
    assert len(ticketing.requests) == 1


async def test_knowledge_base_answer_and_no_answer(domain: Domain, http: aiohttp.ClientSession) -> None:
    found = context(domain, http, [said("how do I turn on two-step verification?", "ts_how_to")], settings())
    assert slot_values(await ts.search_knowledge_base(found)) == {"ts_kb_article_found": True}
    assert responses(found) == ["utter_ts_kb_answer"]
    assert found.dispatcher.messages[0]["title"] == "Turning on two-step verification"
    assert found.dispatcher.messages[0]["summary"].startswith("Two-step verification protects")

    missing = context(domain, http, [said("how can I print from the camera?", "ts_how_to")], settings())
    assert slot_values(await ts.search_knowledge_base(missing)) == {"ts_kb_article_found": False}
    assert responses(missing) == ["utter_ts_kb_no_match"]


async def test_the_operators_knowledge_base_folder_is_used(
    domain: Domain, http: aiohttp.ClientSession, tmp_path: Path
) -> None:
    (tmp_path / "print.md").write_text("# Printing from the camera app\n\nOpen a snapshot and tap Print.\n")
    ctx = context(domain, http, [said("how can I print from the camera?", "ts_how_to")],
                  settings(knowledge_base_folder=tmp_path))
    await ts.search_knowledge_base(ctx)
    assert ctx.dispatcher.messages[0]["title"] == "Printing from the camera app"


@pytest.mark.parametrize(
    ("message", "entities", "response", "code"),
    [
        ("CloudDrive shows E-2001", {"error_code": "E-2001"}, "utter_ts_error_article", "E-2001"),
        ("it says e2002 now", {}, "utter_ts_error_article", "E2002"),
        ("error E-1042 on the router", {"error_code": "E-1042"}, "utter_ts_error_generic", "E-1042"),
        ("I got an error code", {}, "utter_ts_error_no_code", None),
    ],
)
async def test_error_codes_are_looked_up_in_the_knowledge_base(
    domain: Domain, http: aiohttp.ClientSession, message: str, entities: dict[str, str], response: str,
    code: str | None,
) -> None:
    ctx = context(domain, http, [said(message, "ts_error_code", **entities)], settings())
    events = await ts.look_up_error_code(ctx)
    assert responses(ctx) == [response]
    assert slot_values(events).get("ts_error_code") == code
    if response == "utter_ts_error_article":
        assert "syncing" in ctx.dispatcher.messages[0]["title"]


async def validate(
    domain: Domain, http: aiohttp.ClientSession, message: str = "...", **candidates: Any
) -> tuple[dict[str, Any], ActionContext]:
    """Runs validate_ticket_form as the form does: the candidate slot events at the end of the tracker, after
    the user's `message`."""
    events: list[Event] = [
        said(message, "ts_give_ticket_details"),
        *(SlotSet(name=k, value=v) for k, v in candidates.items()),
    ]
    ctx = context(domain, http, events, settings())
    return slot_values(await ts.ValidateTicketForm().run(ctx)), ctx


async def test_validation_normalises_good_values(domain: Domain, http: aiohttp.ClientSession) -> None:
    slots, ctx = await validate(
        domain, http, ts_email="mail me at Ana@Example.org", ts_product="routr x", ts_severity="it's urgent"
    )
    assert slots == {"ts_email": "ana@example.org", "ts_product": "RouterX", "ts_severity": "critical"}
    assert ctx.dispatcher.messages == []
    slots, _ = await validate(domain, http, ts_description="  the camera   reboots every night ")
    assert slots == {"ts_description": "the camera reboots every night"}


async def test_validation_rejects_bad_values_and_says_why(domain: Domain, http: aiohttp.ClientSession) -> None:
    slots, ctx = await validate(domain, http, ts_email="jo at example", ts_product="Toaster 9000")
    assert slots == {"ts_email": None, "ts_product": None}
    assert responses(ctx) == ["utter_ts_invalid_email", "utter_ts_unknown_product"]
    assert ctx.dispatcher.messages[0]["value"] == "jo at example"
    assert ctx.dispatcher.messages[1]["product_list"] == "RouterX, CloudDrive, SmartCam and DeskSuite"
    slots, ctx = await validate(domain, http, ts_severity="whenever", ts_description="broken")
    assert slots == {"ts_severity": None, "ts_description": None}
    assert responses(ctx) == ["utter_ts_invalid_severity", "utter_ts_description_too_short"]


async def test_a_message_giving_another_detail_is_not_the_description(
    domain: Domain, http: aiohttp.ClientSession
) -> None:
    message = "actually it's critical"
    slots, ctx = await validate(domain, http, message, ts_severity="critical", ts_description=message)
    assert slots == {"ts_severity": "critical", "ts_description": None}
    assert ctx.dispatcher.messages == []
    # re-validated when the form starts again, an earlier description stands beside the other details
    slots, _ = await validate(domain, http, "the email is wrong", ts_severity="low", ts_description=message)
    assert slots == {"ts_severity": "low", "ts_description": message}


async def test_corrections_clear_the_named_detail_or_keep_the_new_value(
    domain: Domain, http: aiohttp.ClientSession
) -> None:
    named = context(domain, http, [*FILLED_TICKET, said("the email address is wrong", "ts_correct_ticket_detail")],
                    settings())
    assert slot_values(await ts.correct_ticket(named)) == {"ts_email": None}
    with_value = context(
        domain, http,
        [*FILLED_TICKET, said("it's SmartCam", "ts_give_ticket_details", product="SmartCam"),
         SlotSet(name="ts_product", value="SmartCam")],
        settings(),
    )
    assert await ts.correct_ticket(with_value) == []
    unclear = context(domain, http, [*FILLED_TICKET, said("that's not right", "ts_correct_ticket_detail")], settings())
    assert await ts.correct_ticket(unclear) == []
    assert responses(unclear) == ["utter_ts_correction_unclear"]


async def test_product_question_hours_products_and_handoff_note(domain: Domain, http: aiohttp.ClientSession) -> None:
    ask = context(domain, http, [], settings())
    await ts.ask_for_product(ask)
    buttons = ask.dispatcher.messages[0]["buttons"]
    assert [b["title"] for b in buttons] == PRODUCTS
    assert buttons[0]["payload"] == '/ts_give_ticket_details{"product": "RouterX"}'

    hours = context(domain, http, [], settings())
    await ts.support_hours(hours)
    assert hours.dispatcher.messages[0]["support_hours"] == "Mon-Fri 8:00-18:00"

    products = context(domain, http, [], settings())
    await ts.list_products(products)
    assert products.dispatcher.messages[0]["product_list"] == "RouterX, CloudDrive, SmartCam and DeskSuite"

    handoff = context(
        domain, http,
        [SlotSet(name="ts_issue", value="device will not start"), SlotSet(name="ts_product", value="SmartCam"),
         said("I want a person", "human_handoff")],
        settings(),
    )
    note = slot_values(await ts.hand_over(handoff))["ts_handoff_note"]
    assert "issue: device will not start; product: SmartCam" in note and "I want a person" in note
    assert responses(handoff) == ["utter_ts_handoff_hours"]


# --- whole conversations: the real processor, the plugin's rules and the registry built from conductor.yml ----------


@pytest.fixture(scope="module")
def instance_root(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    root = tmp_path_factory.mktemp("support-instance")
    (root / "domain.yml").write_text('version: "3.1"\n')
    (root / "data").mkdir()
    (root / "config.yml").write_text(LIGHT_CONFIG)
    (root / "conductor.yml").write_text("plugins:\n  tech_support:\n    product_names: [RouterX]\n")
    yield root


@pytest.fixture(scope="module")
def project(instance_root: Path) -> Project:
    return load_project_with_plugins(ProjectPaths.discover(instance_root))


@pytest.fixture(scope="module")
def policies(project: Project) -> Any:
    return policies_for(project)


@pytest.fixture
async def processor(
    instance_root: Path, project: Project, policies: Any, ticketing: Ticketing
) -> AsyncIterator[MessageProcessor]:
    (instance_root / "conductor.yml").write_text(
        textwrap.dedent(
            f"""\
            plugins:
              tech_support:
                product_names: [RouterX, CloudDrive]
                ticketing_url: "{ticketing.url}"
                support_hours: "weekdays 9 to 5"
            """
        )
    )
    registry = build_action_registry(project.domain, load_instance(instance_root))
    yield MessageProcessor(project.domain, None, policies, registry)
    await registry.close()  # the HTTP session its actions opened in this test's event loop


class Conversation:
    def __init__(self, processor: MessageProcessor, project: Project) -> None:
        self.processor = processor
        self.tracker = DialogueStateTracker.for_domain("visitor", project.domain)

    async def say(self, text: str, intent: str, **entities: str) -> list[str]:
        parse = {
            "intent": {"name": intent, "confidence": 1.0},
            "entities": [{"entity": k, "value": v, "extractor": "test"} for k, v in entities.items()],
        }
        message = UserMessage(text=text, sender_id="visitor", input_channel="rest", parse_data=parse)
        turn = await self.processor.handle_message(self.tracker, message)
        return [str(e.text) for e in turn.events if isinstance(e, BotUttered)]


async def test_steps_fail_then_a_ticket_is_collected_validated_confirmed_and_sent(
    processor: MessageProcessor, project: Project, ticketing: Ticketing
) -> None:
    chat = Conversation(processor, project)
    assert "Restart your router" in (await chat.say("no internet at all", "ts_no_connection"))[0]
    assert "check the basics" in (await chat.say("no", "deny"))[0]
    assert "narrow it down" in (await chat.say("still no internet", "ts_no_connection"))[0]
    assert "open a support ticket" in (await chat.say("no", "deny"))[0]
    assert (await chat.say("yes", "affirm")) == ["What email address should we send updates about this ticket to?"]
    assert "doesn't look like an email" in (await chat.say("jo at example", "ts_give_ticket_details"))[0]
    assert (await chat.say("jo@example.com", "ts_give_ticket_details", email="jo@example.com")) == [
        "Which product is this about?"
    ]
    assert chat.tracker.latest_bot_utterance is not None
    assert [b["title"] for b in chat.tracker.latest_bot_utterance.data["buttons"]] == ["RouterX", "CloudDrive"]
    replies = await chat.say("the cloud drive one", "ts_give_ticket_details")
    assert chat.tracker.get_slot("ts_product") == "CloudDrive" and replies == ["How serious is it?"]
    await chat.say("why do you need that?", "ts_why_needed")  # an interruption: explained, then asked again
    assert chat.tracker.get_slot("requested_slot") == "ts_severity"
    await chat.say("quite urgent", "ts_give_ticket_details")
    replies = await chat.say("sync stops every evening at six", "ts_no_connection")
    assert chat.tracker.get_slot("ts_severity") == "critical"
    assert "• Product: CloudDrive" in replies[-1] and "Shall I send it?" in replies[-1]
    replies = await chat.say("yes", "affirm")
    assert replies == [
        "Done! Your ticket number is TCK-10001. We'll send updates to jo@example.com; our support team works "
        "weekdays 9 to 5. Is there anything else I can help with?"
    ]
    body = ticketing.requests[0][2]
    assert body["product"] == "CloudDrive" and body["category"] == "no connection"
    assert body["description"] == "sync stops every evening at six"


async def test_a_detail_changed_at_the_confirmation_is_asked_again(
    processor: MessageProcessor, project: Project, ticketing: Ticketing
) -> None:
    chat = Conversation(processor, project)
    await chat.say("open a ticket", "ts_open_ticket", product="RouterX")
    await chat.say("a@example.com", "ts_give_ticket_details", email="a@example.com")
    await chat.say("low", "ts_give_ticket_details", severity="low")
    replies = await chat.say("the router reboots twice a day", "ts_device_wont_start")
    assert "Shall I send it?" in replies[-1]
    assert (await chat.say("the email is wrong", "ts_correct_ticket_detail")) == [
        "What email address should we send updates about this ticket to?"
    ]
    replies = await chat.say("b@example.com", "ts_give_ticket_details", email="b@example.com")
    assert "• Email: b@example.com" in replies[-1]
    await chat.say("yes", "affirm")
    assert ticketing.requests[-1][2]["email"] == "b@example.com"


async def test_ticketing_down_offers_a_person_and_the_form_can_be_cancelled(
    processor: MessageProcessor, project: Project, ticketing: Ticketing
) -> None:
    ticketing.broken = True
    chat = Conversation(processor, project)
    for text, intent, entities in [
        ("open a ticket", "ts_open_ticket", {"product": "RouterX"}),
        ("c@example.com", "ts_give_ticket_details", {"email": "c@example.com"}),
        ("high", "ts_give_ticket_details", {"severity": "high"}),
        ("the lights blink red and nothing works", "ts_device_wont_start", {}),
    ]:
        await chat.say(text, intent, **entities)
    assert "isn't responding right now" in (await chat.say("yes", "affirm"))[0]
    replies = await chat.say("yes please", "affirm")
    assert replies[0].startswith("I'll bring in one of our support engineers")
    assert "weekdays 9 to 5" in replies[1]
    assert "product: RouterX" in str(chat.tracker.get_slot("ts_handoff_note"))

    other = Conversation(processor, project)
    await other.say("open a ticket", "ts_open_ticket")
    assert (await other.say("forget it", "ts_cancel_ticket")) == ["Okay, I've dropped the ticket; nothing was sent."]
    assert other.tracker.active_loop_name is None
