"""The legal skill (plugins/legal): its data against the skill's bar, the readers of the client's answers, and its
actions in real conversations.

Conversations run through the dialogue engine (`MessageProcessor`) over the base assistant merged with the plugin
by the plugin machinery (an instance's conductor.yml), with the Rule and Memoization policies trained on the merged
rules and stories. Messages come with their parse (intent, entities and the text), so no NLU model is trained. The
firm's intake and booking services are a local aiohttp server that records what it receives.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer, unused_port

from bot.dialogue.events import ActionExecuted, BotUttered, SlotSet
from bot.dialogue.model import DialogueModel
from bot.dialogue.processor import MessageProcessor, Turn
from bot.dialogue.tracker import DialogueStateTracker
from bot.errors import ConductorError
from bot.plugins import build_action_registry, enable_plugins, load_instance, load_project_with_plugins
from bot.plugins.manifest import load_manifest, validate_settings
from bot.plugins.registry import PluginActionRegistry
from bot.project.domain import load_domain
from bot.project.loader import Project, ProjectPaths
from bot.project.nlu_data import load_nlu
from bot.project.stories import ActionStep, StoryBlock, load_stories
from channels.base import UserMessage
from plugins.legal.answers import (
    NO_DEADLINE,
    THIS_WEEK,
    URGENT,
    UrgencyReading,
    clean_name,
    clean_place,
    describe_list,
    description_problem,
    find_contact,
    is_pressing,
    match_choice,
    parse_urgency,
)
from tests.plugins.plugin_helpers import policies_for

REPO = Path(__file__).resolve().parents[2]
PLUGIN = REPO / "plugins" / "legal"
BASE_INTENTS = {
    "greet", "goodbye", "thanks", "affirm", "deny", "help", "bot_challenge", "out_of_scope", "human_handoff",
}
FIRM = "Smith & Jones LLP"
PRACTICE_AREAS = ["family", "employment", "immigration"]
JURISDICTIONS = ["Ontario", "Quebec"]
FAR_DATE = "12 June 2099"
DISCLAIMER = (
    "Please note: this is general information, not legal advice. For advice on your situation, speak with one of "
    "our lawyers."
)
HANDOFF = ("utter_legal_handoff", "action_legal_handoff", "action_handoff", "action_listen")
HANDOFF_IN_FORM = ("action_deactivate_loop", *HANDOFF)


# --- the data: the skill's bar ------------------------------------------------------------------------------------


def _normalised(text: str) -> str:
    return " ".join(re.sub(r"[^\w\s]", " ", text.casefold()).split())


def test_at_least_15_intents_with_20_examples_each_all_the_plugins_own() -> None:
    nlu = load_nlu([PLUGIN / "data" / "nlu.yml"])
    counts: dict[str, int] = {}
    for example in nlu.examples:
        assert example.intent is not None
        counts[example.intent] = counts.get(example.intent, 0) + 1
    assert len(counts) >= 15
    assert min(counts.values()) >= 20, {i: n for i, n in counts.items() if n < 20}
    assert all(intent.startswith("legal_") for intent in counts)
    assert not BASE_INTENTS & set(counts)
    assert set(load_domain([PLUGIN / "domain.yml"]).intents) == set(counts)


def test_no_example_is_repeated_within_the_skill_or_with_the_base_assistant() -> None:
    legal = load_nlu([PLUGIN / "data" / "nlu.yml"]).examples
    base = load_nlu([REPO / "domain" / "data" / "nlu.yml"]).examples
    seen: dict[str, str] = {}
    for example in [*base, *legal]:
        key = _normalised(example.text)
        assert key not in seen, f"{example.text!r} ({example.intent}) repeats an example of {seen[key]}"
        seen[key] = str(example.intent)


def test_entities_are_annotated_and_practice_areas_have_synonyms() -> None:
    nlu = load_nlu([PLUGIN / "data" / "nlu.yml"])
    annotated = {span.entity for example in nlu.examples for span in example.entities}
    assert {"practice_area", "jurisdiction", "date", "email", "phone_number"} <= annotated
    assert nlu.synonyms["divorce"] == "family"
    assert nlu.synonyms["wrongful termination"] == "employment"
    default_areas = load_manifest(PLUGIN / "plugin.yml").settings["practice_areas"].default
    assert set(default_areas) <= set(nlu.synonyms.values())


def _answer_steps(block: StoryBlock) -> Iterator[tuple[str, str | None]]:
    """Each substantive answer of a block and the action right after it."""
    actions = [step.name for step in block.steps if isinstance(step, ActionStep)]
    for index, name in enumerate(actions):
        if name.startswith(("utter_legal_answer_", "action_legal_answer_")):
            yield name, actions[index + 1] if index + 1 < len(actions) else None


def test_every_substantive_answer_is_followed_by_the_not_legal_advice_note(legal_project: Project) -> None:
    blocks = [
        *load_stories([PLUGIN / "data"]),
        *load_stories([PLUGIN / "tests"], test=True),
    ]
    answers = [(block.name, name, after) for block in blocks for name, after in _answer_steps(block)]
    assert len({name for _, name, _ in answers}) == 11, "every common question is answered in the rules"
    assert [a for a in answers if a[2] != "utter_legal_disclaimer"] == []
    domain = legal_project.domain
    assert "not legal advice" in str(domain.responses["utter_legal_disclaimer"][0].text)


def test_the_manifest_requires_a_firm_name() -> None:
    manifest = load_manifest(PLUGIN / "plugin.yml")
    settings: Any = validate_settings(manifest, {"firm_name": FIRM}, Path("conductor.yml"), 3)
    assert settings.practice_areas[:2] == ["family", "employment"] and settings.jurisdictions == []
    with pytest.raises(ConductorError, match="firm_name"):
        validate_settings(manifest, {}, Path("conductor.yml"), 3)


def test_the_skill_merges_with_the_base_assistant_and_tech_support(tmp_path: Path) -> None:
    _write_instance(tmp_path, f'  legal:\n    firm_name: "{FIRM}"\n  tech_support:\n    product_names: [RouterX]\n')
    project = load_project_with_plugins(ProjectPaths.discover(tmp_path))
    assert {"legal_start_intake", "greet", "human_handoff"} <= set(project.domain.intents)
    assert {"intake_form", "consultation_form"} <= set(project.domain.forms)
    assert any(block.name.startswith("intake from start to finish") for block in project.test_stories)


# --- reading the client's answers -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("answer", "name"),
    [
        ("my name is Priya Raman", "Priya Raman"),
        ("it's Dr. Helen Moreau", "Dr. Helen Moreau"),
        ("Aisha Bello here", "Aisha Bello"),
        ("hi, my name is José Núñez", "José Núñez"),
        ("Jonathan O'Neill", "Jonathan O'Neill"),
        ("it's about my divorce", None),
        ("jane@example.com", None),
        ("R2D2", None),
    ],
)
def test_a_name_is_read_from_an_answer(answer: str, name: str | None) -> None:
    assert clean_name(answer) == name


@pytest.mark.parametrize(
    ("answer", "contact"),
    [
        ("you can email me at M.Chen@Outlook.com", "m.chen@outlook.com"),
        ("my number is +1 415 555 0132", "+1 415 555 0132"),
        ("(312) 555-0199", "(312) 555-0199"),
        ("call me on 12345", None),
        ("jane at example dot com", None),
    ],
)
def test_an_email_or_phone_number_is_read_from_an_answer(answer: str, contact: str | None) -> None:
    assert find_contact(answer) == contact


def test_a_choice_is_matched_by_name_inside_an_answer_or_by_keyword() -> None:
    areas = ["Family Law", "employment", "criminal defense"]
    keywords = {"family": ("divorce",), "criminal defense": ("arrested",)}
    assert match_choice("family", areas) == "Family Law"
    assert match_choice("it's an EMPLOYMENT matter", areas) == "employment"
    assert match_choice("my divorce", areas, keywords) == "Family Law"
    assert match_choice("my son was arrested", areas, keywords) == "criminal defense"
    assert match_choice("tax", areas, keywords) is None
    assert match_choice("I live in ontario, canada", JURISDICTIONS) == "Ontario"
    assert clean_place("we're based in alberta") == "Alberta"
    assert clean_place("I live in 221B") is None


@pytest.mark.parametrize(
    ("answer", "reading"),
    [
        ("it's urgent!", UrgencyReading(URGENT)),
        ("as soon as possible", UrgencyReading(URGENT)),
        ("not urgent at all", UrgencyReading(NO_DEADLINE)),
        ("no", UrgencyReading(NO_DEADLINE)),
        ("sometime this week", UrgencyReading(THIS_WEEK)),
        ("by Friday", UrgencyReading("2025-06-13")),
        ("12 June", UrgencyReading("2025-06-12")),
        ("June 12th, 2026", UrgencyReading("2026-06-12")),
        ("the 3rd of May", UrgencyReading("2026-05-03")),
        ("14/06/2025", UrgencyReading("2025-06-14")),
        ("the hearing is on 2025-07-01", UrgencyReading("2025-07-01")),
        ("tomorrow", UrgencyReading("2025-06-11")),
        ("end of the month", UrgencyReading("2025-06-30")),
        ("within two weeks", UrgencyReading("2025-06-24")),
        ("03/04", UrgencyReading(problem="ambiguous date")),
        ("2025-06-01", UrgencyReading(problem="past date")),
        ("June 31", UrgencyReading(problem="unclear")),
        ("hmm, hard to say", UrgencyReading(problem="unclear")),
    ],
)
def test_a_deadline_is_read_as_urgent_this_week_a_date_or_none(answer: str, reading: UrgencyReading) -> None:
    tuesday = date(2025, 6, 10)
    assert parse_urgency(answer, tuesday) == reading


def test_pressing_deadlines_and_descriptions_and_lists() -> None:
    today = date(2025, 6, 10)
    assert is_pressing(URGENT, today) and is_pressing(THIS_WEEK, today) and is_pressing("2025-06-15", today)
    assert not is_pressing("2025-08-01", today) and not is_pressing(NO_DEADLINE, today)
    assert description_problem("my boss") == "too short"
    assert description_problem("x" * 1001) == "too long"
    assert description_problem("my landlord kept my whole deposit") is None
    assert describe_list(["a", "b", "c"]) == "a, b and c" and describe_list(["a"]) == "a"


# --- conversations: the processor, the actions and the firm's services ---------------------------------------------


@dataclass
class FirmServices:
    """A local stand-in for the firm's intake and booking services, recording every request."""

    url: str
    received: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    intake_answer: dict[str, Any] = field(default_factory=lambda: {"conflict": False, "reference": "M-1042"})
    booking_answer: dict[str, Any] = field(
        default_factory=lambda: {"slot": "Tuesday 14 October at 10:00", "with": "Ms Jones"}
    )


@pytest.fixture
async def services() -> AsyncIterator[FirmServices]:
    stand_in = FirmServices("")

    async def intake(request: web.Request) -> web.Response:
        stand_in.received.setdefault("intake", []).append(await request.json())
        return web.json_response(stand_in.intake_answer)

    async def booking(request: web.Request) -> web.Response:
        stand_in.received.setdefault("booking", []).append(await request.json())
        return web.json_response(stand_in.booking_answer)

    async def broken(request: web.Request) -> web.Response:
        stand_in.received.setdefault("broken", []).append(await request.json())
        return web.Response(status=500, text="internal error")

    async def not_json(request: web.Request) -> web.Response:
        return web.Response(text="<html>maintenance</html>", content_type="text/html")

    app = web.Application()
    app.router.add_post("/intake", intake)
    app.router.add_post("/booking", booking)
    app.router.add_post("/broken", broken)
    app.router.add_post("/maintenance", not_json)
    server = TestServer(app)
    await server.start_server()
    stand_in.url = str(server.make_url("")).rstrip("/")
    yield stand_in
    await server.close()


def _write_instance(root: Path, plugins: str) -> None:
    root.mkdir(parents=True, exist_ok=True)
    (root / "conductor.yml").write_text(f"plugins:\n{plugins}", encoding="utf-8")
    (root / "domain.yml").write_text('version: "3.1"\n', encoding="utf-8")
    (root / "data").mkdir(exist_ok=True)
    (root / "data" / "nlu.yml").write_text('version: "3.1"\nnlu: []\n', encoding="utf-8")


def _legal_settings(**settings: Any) -> str:
    values = {
        "firm_name": FIRM,
        "practice_areas": PRACTICE_AREAS,
        "jurisdictions": JURISDICTIONS,
        "office_hours": "Monday to Friday, 8:30 to 18:00",
        **settings,
    }
    lines = "".join(f"    {key}: {_yaml(value)}\n" for key, value in values.items() if value is not None)
    return f"  legal:\n{lines}"


def _yaml(value: Any) -> str:
    if isinstance(value, list):
        return "[" + ", ".join(f'"{item}"' for item in value) + "]"
    return f'"{value}"'


@pytest.fixture(scope="module")
def legal_project(tmp_path_factory: pytest.TempPathFactory) -> Project:
    """The base assistant merged with the legal skill by the plugin machinery."""
    root = tmp_path_factory.mktemp("legal-instance")
    _write_instance(root, _legal_settings())
    return load_project_with_plugins(ProjectPaths.discover(root))


@pytest.fixture(scope="module")
def legal_policies(legal_project: Project) -> DialogueModel:
    """Rule and Memoization policies trained on the merged rules and stories."""
    return policies_for(legal_project)


@dataclass
class Chat:
    """One conversation with the legal skill; `say` sends a message with its parse."""

    processor: MessageProcessor
    registry: PluginActionRegistry
    tracker: DialogueStateTracker

    async def say(self, intent: str, text: str | None = None, **entities: str) -> Turn:
        parse = {
            "intent": {"name": intent, "confidence": 1.0},
            "entities": [{"entity": name, "value": value} for name, value in entities.items()],
        }
        message = UserMessage(text=text or f"/{intent}", sender_id="client-7", input_channel="web", parse_data=parse)
        return await self.processor.handle_message(self.tracker, message)

    def slot(self, name: str) -> Any:
        return self.tracker.get_slot(name)


@pytest.fixture
async def chat_with(
    tmp_path: Path, legal_project: Project, legal_policies: DialogueModel
) -> AsyncIterator[Callable[..., Chat]]:
    """Starts a conversation with the legal skill enabled with these settings (on top of `_legal_settings`)."""
    registries: list[PluginActionRegistry] = []

    def start(**settings: Any) -> Chat:
        root = tmp_path / f"instance-{len(registries)}"
        _write_instance(root, _legal_settings(**settings))
        instance = load_instance(root)
        plugins, _ = enable_plugins(instance)
        registry = build_action_registry(legal_project.domain, instance, plugins=plugins)
        registries.append(registry)
        processor = MessageProcessor(legal_project.domain, None, legal_policies, registry)
        return Chat(processor, registry, DialogueStateTracker.for_domain("client-7", legal_project.domain))

    yield start
    for registry in registries:
        await registry.close()


def texts(turn: Turn) -> list[str]:
    return [event.text or "" for event in turn.events if isinstance(event, BotUttered)]


def actions(turn: Turn) -> list[str]:
    return [event.name or "" for event in turn.events if isinstance(event, ActionExecuted)]


def slots(turn: Turn) -> dict[str, Any]:
    return {event.name: event.value for event in turn.events if isinstance(event, SlotSet)}


def assert_filled(turn: Turn) -> None:
    """No reply of the turn has a placeholder left unfilled."""
    assert not [text for text in texts(turn) if re.search(r"\{\w+\}", text)]


async def fill_intake(chat: Chat) -> None:
    await chat.say("legal_start_intake", "I need a lawyer for my divorce", practice_area="family")
    await chat.say("legal_inform", "my name is Eleanor Vance")
    await chat.say("legal_inform", "eleanor.vance@fastmail.com", email="eleanor.vance@fastmail.com")
    await chat.say("legal_inform", "I live in Ontario", jurisdiction="Ontario")
    await chat.say("legal_describe_matter", "we separated a year ago and cannot agree about the house")


async def test_the_intake_is_filled_checked_sent_and_a_consultation_is_booked(
    chat_with: Callable[..., Chat], services: FirmServices
) -> None:
    chat = chat_with(intake_url=f"{services.url}/intake", booking_url=f"{services.url}/booking")
    turn = await chat.say("legal_start_intake", "I need a lawyer for my divorce", practice_area="family")
    assert texts(turn)[0].startswith("I'll take a few details")
    assert texts(turn)[1] == "First, what's your full name?"
    assert chat.slot("practice_area") == "family"
    turn = await chat.say("legal_inform", "my name is Eleanor Vance")
    assert chat.slot("client_name") == "Eleanor Vance"
    assert texts(turn) == ["How can we reach you? An email address or a phone number is fine."]
    await chat.say("legal_inform", "Eleanor.Vance@Fastmail.com", email="Eleanor.Vance@Fastmail.com")
    assert chat.slot("client_contact") == "eleanor.vance@fastmail.com"
    turn = await chat.say("legal_inform", "I live in Ontario", jurisdiction="Ontario")
    assert texts(turn) == ["In a few sentences, what is the matter about? Please don't include anything you'd "
                           "rather tell a lawyer in person."]
    await chat.say("legal_describe_matter", "we separated a year ago and cannot agree about the house")
    turn = await chat.say("legal_urgent_matter", "it's urgent, the hearing is soon")
    assert actions(turn)[-2:] == ["action_submit_intake", "action_listen"]
    assert_filled(turn)
    assert texts(turn) == [
        "Because you told me it's urgent, your enquiry has been marked as a priority.",
        f"Thank you, Eleanor Vance. I've passed your details to {FIRM} (reference M-1042). No conflict of "
        "interest came up, so we can look at your matter. Would you like to book a consultation now?",
    ]
    assert services.received["intake"] == [
        {
            "client_name": "Eleanor Vance",
            "client_contact": "eleanor.vance@fastmail.com",
            "jurisdiction": "Ontario",
            "practice_area": "family",
            "matter_description": "we separated a year ago and cannot agree about the house",
            "matter_urgency": "urgent",
            "pressing": True,
            "conversation_id": "client-7",
            "channel": "web",
        }
    ]
    assert (chat.slot("intake_status"), chat.slot("intake_reference")) == ("submitted", "M-1042")
    turn = await chat.say("affirm", "yes please")
    assert texts(turn) == [
        "Great, let's find you a time for a consultation.",
        "When would suit you for the consultation (for example \"weekday mornings\" or \"Tuesday afternoon\")?",
    ]
    turn = await chat.say("legal_inform", "Tuesday mornings")
    assert_filled(turn)
    assert texts(turn) == [
        "I can offer you a consultation on Tuesday 14 October at 10:00 with Ms Jones. We'll confirm it at "
        "eleanor.vance@fastmail.com; if it doesn't suit, just reply to that message."
    ]
    booking = services.received["booking"][0]
    assert booking["preferred_time"] == "Tuesday mornings" and booking["intake_reference"] == "M-1042"
    assert (chat.slot("booking_status"), chat.slot("consultation_time")) == ("offered", "Tuesday 14 October at 10:00")


async def test_each_answer_is_checked_and_asked_again_when_it_cannot_be_used(chat_with: Callable[..., Chat]) -> None:
    chat = chat_with()
    await chat.say("legal_start_intake", "I'm looking for a lawyer")
    turn = await chat.say("legal_inform", "my name is 42")
    assert texts(turn) == [
        'Sorry, I need just your name there (letters only), for example "Maria Gonzalez".',
        "First, what's your full name?",
    ]
    await chat.say("legal_inform", "I'm Marcus Reid")
    turn = await chat.say("legal_inform", "marcus at home")
    assert texts(turn)[0].startswith("That doesn't look like an email address or a phone number.")
    assert chat.slot("client_contact") is None
    await chat.say("legal_inform", "call me on +1 212 555 0147", phone_number="+1 212 555 0147")
    assert chat.slot("client_contact") == "+1 212 555 0147"
    turn = await chat.say("legal_inform", "Texas", jurisdiction="Texas")
    assert texts(turn)[0].startswith("I'm sorry, we only take matters in Ontario and Quebec.")
    await chat.say("legal_inform", "we're in quebec")
    assert chat.slot("jurisdiction") == "Quebec"
    turn = await chat.say("legal_inform", "tax law", practice_area="tax")
    assert texts(turn)[0].startswith("I'm sorry, that isn't one of our areas. We handle: family, employment and")
    await chat.say("legal_inform", "my boss fired me")
    assert chat.slot("practice_area") == "employment"
    turn = await chat.say("legal_describe_matter", "fired")
    assert texts(turn)[0].startswith("Could you tell me a little more")
    await chat.say("legal_describe_matter", "I was dismissed the day after I reported a safety problem")
    turn = await chat.say("legal_inform", "03/04")
    assert texts(turn)[0].startswith("Sorry, I didn't catch the timing.")
    turn = await chat.say("legal_inform", "the 1st of January 2020")
    assert texts(turn)[0].startswith("That date seems to have passed already.")
    turn = await chat.say("legal_inform", f"the deadline is {FAR_DATE}")
    assert chat.slot("matter_urgency") == "2099-06-12"
    assert "action_submit_intake" in actions(turn)


async def test_no_to_the_deadline_question_means_no_deadline(chat_with: Callable[..., Chat]) -> None:
    chat = chat_with()
    await fill_intake(chat)
    turn = await chat.say("deny", "no")
    assert chat.slot("matter_urgency") == NO_DEADLINE
    assert "action_submit_intake" in actions(turn)


async def test_a_question_in_the_middle_of_the_intake_is_answered_with_the_note_then_the_form_asks_again(
    chat_with: Callable[..., Chat],
) -> None:
    chat = chat_with()
    await chat.say("legal_start_intake", "I need an attorney")
    turn = await chat.say("legal_ask_fees", "how much do you charge per hour?")
    assert chat.slot("client_name") is None
    assert actions(turn) == ["utter_legal_answer_fees", "utter_legal_disclaimer", "intake_form", "action_listen"]
    said = texts(turn)
    assert said[0].startswith("Our fees depend on the kind of matter.")
    assert said[1] == DISCLAIMER
    assert said[2] == "First, what's your full name?"
    turn = await chat.say("legal_ask_office_hours", "when are you open?")
    assert texts(turn)[0] == (
        "Our office is open Monday to Friday, 8:30 to 18:00. Messages sent outside those hours are answered on "
        "the next working day."
    )
    assert texts(turn)[-1] == "First, what's your full name?"
    await chat.say("legal_inform", "my name is Tariq Hassan")
    assert chat.slot("client_name") == "Tariq Hassan"
    assert chat.tracker.active_loop_name == "intake_form"


async def test_a_filled_answer_is_corrected_with_its_new_value_and_the_form_goes_on(
    chat_with: Callable[..., Chat],
) -> None:
    chat = chat_with()
    await chat.say("legal_start_intake", "I need a lawyer")
    await chat.say("legal_inform", "my name is Oskar Lindqvist")
    await chat.say("legal_inform", "oskar.l@example.org", email="oskar.l@example.org")
    turn = await chat.say(
        "legal_correct_info", "sorry, my email is actually oskar.lindqvist@example.org",
        email="oskar.lindqvist@example.org",
    )
    assert chat.slot("client_contact") == "oskar.lindqvist@example.org"
    assert texts(turn) == [
        "Thanks, I've updated your contact details to oskar.lindqvist@example.org.",
        "Which state, province or country is your matter in?",
    ]
    turn = await chat.say("legal_inform", "my email is o.lindqvist@example.org", email="o.lindqvist@example.org")
    assert chat.slot("jurisdiction") is None, "an answer to another question is not taken as the place"
    assert chat.slot("client_contact") == "o.lindqvist@example.org"
    assert texts(turn)[-1] == "Which state, province or country is your matter in?"


async def test_a_correction_without_the_new_value_asks_for_that_answer_again(chat_with: Callable[..., Chat]) -> None:
    chat = chat_with()
    await chat.say("legal_start_intake", "I need a lawyer")
    await chat.say("legal_inform", "my name is Jon Snowe")
    turn = await chat.say("legal_correct_info", "hang on, I spelled my name wrong")
    assert "action_legal_correct_slot" in actions(turn)
    assert texts(turn) == ["Sure, let's fix your name.", "First, what's your full name?"]
    await chat.say("legal_inform", "my name is Jon Snow")
    assert chat.slot("client_name") == "Jon Snow"
    turn = await chat.say("legal_correct_info", "I made a mistake somewhere")
    assert texts(turn)[0].startswith("No problem. Tell me the corrected detail")
    assert chat.slot("client_name") == "Jon Snow"


async def test_saying_no_in_the_middle_of_the_intake_stops_it(chat_with: Callable[..., Chat]) -> None:
    chat = chat_with()
    await chat.say("legal_start_intake", "I need a solicitor")
    turn = await chat.say("deny", "no")
    assert chat.tracker.active_loop_name is None
    assert texts(turn) == [
        'All right, I\'ve stopped there and nothing has been sent. If you change your mind, just say "I need a '
        'lawyer" or "book a consultation".'
    ]


@pytest.mark.parametrize(
    ("intent", "text", "reason"),
    [
        ("legal_urgent_matter", "I'm being evicted this afternoon", "urgent matter"),
        ("human_handoff", "can I speak to a human please", "asked for a person"),
    ],
)
async def test_an_urgent_matter_or_a_request_for_a_person_ends_the_form_and_hands_over(
    chat_with: Callable[..., Chat], intent: str, text: str, reason: str
) -> None:
    chat = chat_with()
    await chat.say("legal_start_intake", "I need a lawyer")
    turn = await chat.say(intent, text)
    assert actions(turn) == [*HANDOFF_IN_FORM]
    assert chat.tracker.active_loop_name is None
    assert (chat.slot("handoff_requested"), chat.slot("handoff_reason")) == (True, reason)
    assert texts(turn)[0].startswith("I'm passing you to a member of our team now.")


async def test_an_existing_client_asking_about_their_case_is_handed_over(chat_with: Callable[..., Chat]) -> None:
    chat = chat_with()
    turn = await chat.say("legal_ask_case_status", "any news on my case?")
    assert actions(turn)[-4:] == ["utter_legal_case_status", "action_legal_handoff", "action_handoff", "action_listen"]
    assert chat.slot("handoff_reason") == "existing client asking about their case"


@pytest.mark.parametrize("endpoint", ["broken", "maintenance", "down", None])
async def test_an_intake_service_that_fails_gets_a_polite_message_and_the_offer_of_a_person(
    chat_with: Callable[..., Chat], services: FirmServices, endpoint: str | None
) -> None:
    urls = {None: None, "down": f"http://127.0.0.1:{unused_port()}/intake"}
    url = urls.get(endpoint, f"{services.url}/{endpoint}")
    chat = chat_with(intake_url=url)
    await fill_intake(chat)
    turn = await chat.say("legal_inform", "no deadline")
    assert texts(turn) == [
        "I'm sorry, I couldn't send your details to our team just now. Would you like me to pass you to a person "
        "instead?"
    ]
    assert chat.slot("intake_status") == "failed"
    if endpoint == "broken":
        assert services.received["broken"][0]["client_name"] == "Eleanor Vance"
    turn = await chat.say("affirm", "yes please")
    assert actions(turn) == [*HANDOFF]
    assert chat.slot("handoff_reason") == "the intake service was unavailable"


async def test_a_conflict_is_reported_and_the_booking_service_down_offers_a_person(
    chat_with: Callable[..., Chat], services: FirmServices
) -> None:
    services.intake_answer = {"conflict": True}
    chat = chat_with(intake_url=f"{services.url}/intake", booking_url=f"{services.url}/broken")
    await fill_intake(chat)
    turn = await chat.say("legal_inform", f"by {FAR_DATE}")
    assert_filled(turn)
    assert texts(turn) == [
        f"Thank you, Eleanor Vance. Our conflict check flagged something we need to review before we can discuss "
        f"your matter. A member of {FIRM} will contact you at eleanor.vance@fastmail.com, usually within one "
        "business day."
    ]
    assert services.received["intake"][0]["pressing"] is False
    assert (chat.slot("intake_status"), chat.slot("intake_reference")) == ("conflict", None)
    await chat.say("legal_book_consultation", "can I book a consultation?")
    turn = await chat.say("legal_inform", "Friday afternoon")
    assert texts(turn) == [
        "I'm sorry, I couldn't reach our booking system just now. Would you like me to pass you to a person who "
        "can book it for you?"
    ]
    assert chat.slot("booking_status") == "failed"
    turn = await chat.say("deny", "no thanks")
    assert texts(turn)[0].startswith("All right. Please try again a little later")


async def test_answers_built_from_the_settings(chat_with: Callable[..., Chat]) -> None:
    chat = chat_with(office_address="12 King Street West, Toronto")
    turn = await chat.say("legal_ask_location", "where is your office?")
    assert texts(turn) == [
        f"You'll find {FIRM} at 12 King Street West, Toronto. If you'd prefer, consultations can also be held by "
        "video or phone.",
        DISCLAIMER,
    ]
    turn = await chat.say("legal_ask_practice_areas", "do you do immigration?", practice_area="immigration")
    assert texts(turn)[0] == (
        "Yes, immigration matters are one of our areas. We handle: family, employment and immigration."
    )
    turn = await chat.say("legal_ask_practice_areas", "do you cover tax law?", practice_area="tax")
    assert texts(turn)[0].startswith("I'm sorry, tax isn't one of our areas.")
    turn = await chat.say("legal_ask_practice_areas", "what areas of law do you practise?")
    assert texts(turn)[0] == f"{FIRM} handles these areas of law: family, employment and immigration."
    turn = await chat.say("legal_ask_jurisdictions", "do you practise in Florida?", jurisdiction="Florida")
    assert texts(turn)[0] == "I'm sorry, we don't take matters in Florida. We work in: Ontario and Quebec."
    turn = await chat.say("legal_ask_jurisdictions", "are you licensed in Quebec?", jurisdiction="Quebec")
    assert texts(turn) == ["Yes, we take matters in Quebec.", DISCLAIMER]


async def test_without_an_address_or_jurisdictions_the_answers_stay_general(chat_with: Callable[..., Chat]) -> None:
    chat = chat_with(jurisdictions=[])
    turn = await chat.say("legal_ask_location", "what's your address?")
    assert texts(turn)[0] == (
        f"Our address and directions are on the {FIRM} website. Consultations can also be held by video or phone."
    )
    turn = await chat.say("legal_ask_jurisdictions", "which states do you cover?")
    assert texts(turn)[0].startswith("Tell us where your matter is")
    await chat.say("legal_start_intake", "I need a lawyer")
    await chat.say("legal_inform", "my name is Ada Byron")
    await chat.say("legal_inform", "ada@example.com", email="ada@example.com")
    await chat.say("legal_inform", "I live in nevada")
    assert chat.slot("jurisdiction") == "Nevada"


async def test_the_area_question_offers_a_button_for_each_area(chat_with: Callable[..., Chat]) -> None:
    chat = chat_with()
    await chat.say("legal_start_intake", "I need a lawyer")
    await chat.say("legal_inform", "my name is Ada Byron")
    await chat.say("legal_inform", "ada@example.com", email="ada@example.com")
    turn = await chat.say("legal_inform", "Ontario", jurisdiction="Ontario")
    question = turn.replies[-1]
    assert question["text"].startswith("Which area of law is this about")
    assert [b["payload"] for b in question["buttons"]] == [
        f'/legal_inform{{"practice_area": "{area}"}}' for area in PRACTICE_AREAS
    ]


async def test_a_service_that_drops_the_connection_gets_the_polite_message(chat_with: Callable[..., Chat]) -> None:
    server = await asyncio.start_server(lambda r, w: w.close(), "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    chat = chat_with(intake_url=f"http://127.0.0.1:{port}/intake")
    await fill_intake(chat)
    turn = await chat.say("legal_inform", "in two weeks")
    assert chat.slot("matter_urgency") == (date.today() + timedelta(days=14)).isoformat()
    assert chat.slot("intake_status") == "failed" and texts(turn)[0].startswith("I'm sorry, I couldn't send")
    server.close()
    await server.wait_closed()
