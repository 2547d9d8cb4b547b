from __future__ import annotations

import yaml

from bot.dialogue.events import ACTION_LISTEN_NAME, UserUttered
from bot.dialogue.processor import ActionPrediction, MessageProcessor
from bot.dialogue.shell import PROMPT, format_reply, run_shell
from bot.dialogue.tracker import DialogueStateTracker
from bot.project.domain import Domain

DOMAIN = """
version: "3.1"
intents: [greet, choose, stop]
entities: [size]
slots:
  size: {type: text, mappings: [{type: from_entity, entity: size}]}
responses:
  utter_menu:
  - text: "Which size?"
    buttons:
    - {title: Small, payload: '/choose{"size": "small"}'}
    - {title: Large, payload: '/choose{"size": "large"}'}
  utter_chosen: [{text: "A {size} one.", image: "https://example.com/pizza.png"}]
"""


class MenuPolicy:
    """A test double of the dialogue model: shows the menu on greet, confirms on choose."""

    def predict_next_action(self, tracker: DialogueStateTracker, domain: Domain) -> ActionPrediction:
        if tracker.latest_action_name != ACTION_LISTEN_NAME:
            return ActionPrediction(ACTION_LISTEN_NAME)
        return ActionPrediction(
            "utter_chosen" if tracker.latest_message.intent_name == "choose" else "utter_menu"
        )


async def talk(lines: list[str | None]) -> tuple[list[str], list[str], DialogueStateTracker]:
    domain = Domain.from_dict(yaml.safe_load(DOMAIN))
    feed = iter(lines)
    prompts: list[str] = []
    printed: list[str] = []

    def read(prompt: str) -> str | None:
        prompts.append(prompt)
        return next(feed, None)

    tracker = await run_shell(MessageProcessor(domain, None, MenuPolicy()), read, printed.append)
    return prompts, printed, tracker


async def test_buttons_are_numbered_and_a_number_sends_the_payload() -> None:
    prompts, printed, tracker = await talk(["/greet", "2", "/stop", "never read"])
    assert printed[1:] == [
        "Which size?",
        '  1: Small (/choose{"size": "small"})',
        '  2: Large (/choose{"size": "large"})',
        "A large one.",
        "Image: https://example.com/pizza.png",
    ]
    assert prompts == [PROMPT] * 3
    assert tracker.get_slot("size") == "large"


async def test_the_end_of_input_ends_the_shell_and_blank_lines_are_skipped() -> None:
    _, printed, tracker = await talk(["", "   ", "/greet", None])
    assert printed[1] == "Which size?"
    assert sum(1 for e in tracker.events if e.type_name == "user") == 1


async def test_a_number_without_buttons_is_sent_as_typed() -> None:
    _, _, tracker = await talk(["7", "/stop"])
    assert tracker.latest_message.text == "7"


def test_a_reply_shows_quick_replies_elements_and_custom_json() -> None:
    lines, buttons = format_reply(
        {
            "recipient_id": "u",
            "text": "Pick",
            "quick_replies": [{"title": "Yes", "payload": "/affirm"}],
            "elements": [{"title": "Card", "subtitle": "Details"}],
            "custom": {"kind": "map"},
            "attachment": "file.pdf",
        },
        first_number=3,
    )
    assert lines == [
        "Pick",
        "Attachment: file.pdf",
        "  3: Yes (/affirm)",
        "Card : Details",
        "Custom json:",
        '{\n  "kind": "map"\n}',
    ]
    assert buttons == [{"title": "Yes", "payload": "/affirm"}]


async def test_a_line_that_is_not_utf8_is_refused_and_the_shell_goes_on() -> None:
    # Python keeps a byte that is not UTF-8 (0xE9, "é" in Latin-1) as the lone surrogate U+DCE9
    _, printed, tracker = await talk(["caf\udce9", "/greet", "/stop"])
    assert printed[1].startswith("That is not text: the byte 0xE9 is not UTF-8.")
    assert printed[2] == "Which size?"
    assert [e.text for e in tracker.events if isinstance(e, UserUttered)] == ["/greet"]
