from __future__ import annotations

import logging
import random
from typing import Any

import pytest
import yaml

from bot.dialogue.events import BotUttered
from bot.dialogue.responses import (
    ResponseGenerator,
    bot_utterance,
    interpolate,
    interpolate_text,
    reply_message,
)
from bot.dialogue.tracker import DialogueStateTracker
from bot.project.domain import Domain

DOMAIN = """
version: "3.1"
slots:
  name: {type: text, mappings: [{type: custom}]}
  vip: {type: bool, mappings: [{type: custom}]}
  tier: {type: text, mappings: [{type: custom}]}
responses:
  utter_greet:
  - text: "Hello {name}!"
  - text: "Welcome back, {name}."
    condition: [{type: slot, name: vip, value: true}]
  - text: "Hi on Slack"
    channel: slack
  - text: "VIP on Slack"
    channel: slack
    condition: [{type: slot, name: vip, value: true}]
  - text: "Telegram only"
    channel: telegram
  utter_tier:
  - text: "gold member"
    condition: [{type: slot, name: tier, value: Gold}]
  - text: "member"
  utter_rich:
  - text: "Pick one, {name}"
    buttons:
    - {title: "Yes {name}", payload: "/affirm"}
    image: "https://example.com/{tier}.png"
    custom: {card: {title: "{name}", items: ["{tier}", 3]}}
    elements: [{title: "{name}"}]
    button_type: vertical
    id: rich-1
  utter_pic:
  - image: "https://example.com/cat.png"
"""


def domain() -> Domain:
    return Domain.from_dict(yaml.safe_load(DOMAIN))


def generator(seed: int = 0) -> ResponseGenerator:
    return ResponseGenerator.from_domain(domain(), seed=seed)


def texts(name: str, slots: dict[str, Any], channel: str | None = None) -> set[str]:
    return {v.text or "" for v in generator().eligible_variations(name, slots, channel)}


def test_a_conditional_variation_wins_over_the_unconditional_ones_when_its_slots_match() -> None:
    assert texts("utter_greet", {"vip": True}) == {"Welcome back, {name}."}
    assert texts("utter_greet", {"vip": False}) == {"Hello {name}!"}
    assert texts("utter_greet", {}) == {"Hello {name}!"}


def test_condition_values_that_are_text_compare_case_insensitively() -> None:
    assert texts("utter_tier", {"tier": "gold"}) == {"gold member"}
    assert texts("utter_tier", {"tier": "silver"}) == {"member"}


def test_channel_variations_take_precedence_in_rasas_order() -> None:
    # conditional + channel, then unconditional + channel, then conditional, then unconditional
    assert texts("utter_greet", {"vip": True}, "slack") == {"VIP on Slack"}
    assert texts("utter_greet", {"vip": False}, "slack") == {"Hi on Slack"}
    assert texts("utter_greet", {"vip": True}, "telegram") == {"Telegram only"}
    assert texts("utter_greet", {"vip": True}, "rest") == {"Welcome back, {name}."}
    # a variation for another channel is never used elsewhere
    assert "Telegram only" not in texts("utter_greet", {}, None)


def test_the_choice_among_variations_is_random_and_repeatable_with_a_seed() -> None:
    many = Domain.from_dict({"responses": {"utter_x": [{"text": str(i)} for i in range(5)]}})
    first = ResponseGenerator.from_domain(many, seed=7)
    second = ResponseGenerator(many.responses, rng=random.Random(7))
    picks = [first.generate_from_slots("utter_x", {}) for _ in range(40)]
    assert picks == [second.generate_from_slots("utter_x", {}) for _ in range(40)]
    assert {p["text"] for p in picks if p} == {"0", "1", "2", "3", "4"}


def test_slots_fill_placeholders_and_an_unset_slot_fills_in_as_none() -> None:
    message = generator().generate_from_slots("utter_greet", {"name": "Ada", "vip": None})
    assert message == {"text": "Hello Ada!"}
    unset = generator().generate_from_slots("utter_greet", {"name": None})
    assert unset == {"text": "Hello None!"}


def test_values_passed_explicitly_win_over_slots() -> None:
    message = generator().generate_from_slots("utter_greet", {"name": "Ada"}, name="Grace")
    assert message is not None and message["text"] == "Hello Grace!"


def test_an_unknown_placeholder_leaves_the_string_as_written(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        assert interpolate_text("Hi {name}, {nickname}!", {"name": "Ada"}) == "Hi {name}, {nickname}!"
    assert "nickname" in caplog.text


def test_doubled_braces_are_literal_and_a_lone_brace_leaves_the_text_alone() -> None:
    assert interpolate_text("{{name}} is {name}", {"name": "Ada"}) == "{name} is Ada"
    assert interpolate_text('json: {"a": 1}', {"a": 2}) == 'json: {"a": 1}'
    assert interpolate_text("a } b", {"a": 1}) == "a } b"


def test_buttons_image_and_custom_are_interpolated_but_elements_are_not() -> None:
    message = generator().generate_from_slots("utter_rich", {"name": "Ada", "tier": "gold"})
    assert message == {
        "id": "rich-1",
        "text": "Pick one, Ada",
        "image": "https://example.com/gold.png",
        "button_type": "vertical",
        "custom": {"card": {"title": "Ada", "items": ["gold", 3]}},
        "buttons": [{"title": "Yes Ada", "payload": "/affirm"}],
        "elements": [{"title": "{name}"}],
    }


def test_generating_does_not_change_the_domain_responses() -> None:
    responses = generator()
    responses.generate_from_slots("utter_rich", {"name": "Ada", "tier": "gold"})
    assert responses.responses["utter_rich"][0].custom == {
        "card": {"title": "{name}", "items": ["{tier}", 3]}
    }


def test_interpolate_walks_nested_lists_and_dicts() -> None:
    assert interpolate({"a": ["{x}", {"b": "{x}!"}], "n": 1}, {"x": "y"}) == {"a": ["y", {"b": "y!"}], "n": 1}


def test_an_unknown_response_gives_nothing() -> None:
    assert generator().generate_from_slots("utter_nothing", {}) is None
    assert "utter_nothing" not in generator()


async def test_generate_reads_the_slots_of_the_tracker() -> None:
    tracker = DialogueStateTracker.from_events("u", [], domain())
    tracker.slots["name"].value = "Lin"
    assert await generator().generate("utter_greet", tracker, None) == {"text": "Hello Lin!"}


def test_a_message_becomes_a_bot_event_with_rasas_data_and_the_rest_as_metadata() -> None:
    message = generator().generate_from_slots("utter_rich", {"name": "Ada", "tier": "gold"})
    assert message is not None
    message["utter_action"] = "utter_rich"
    event = bot_utterance(message)
    assert event.as_dict()["data"] == {
        "elements": [{"title": "{name}"}],
        "quick_replies": None,
        "buttons": [{"title": "Yes Ada", "payload": "/affirm"}],
        "attachment": "https://example.com/gold.png",  # Rasa also files an image as the attachment
        "image": "https://example.com/gold.png",
        "custom": {"card": {"title": "Ada", "items": ["gold", 3]}},
    }
    assert event.text == "Pick one, Ada"
    assert event.metadata == {"id": "rich-1", "button_type": "vertical", "utter_action": "utter_rich"}


def test_a_text_that_is_not_a_string_is_sent_as_its_string() -> None:
    event = bot_utterance({"text": 42})
    assert event.text == "42"
    assert reply_message(event, "u") == {"recipient_id": "u", "text": "42"}
    assert BotUttered.from_dict(event.as_dict()) == event  # the stored event reads back


def test_the_reply_for_a_channel_drops_unset_keys_and_the_repeated_image() -> None:
    event = bot_utterance({"image": "https://example.com/cat.png", "utter_action": "utter_pic"})
    assert reply_message(event, "user-1") == {
        "recipient_id": "user-1",
        "image": "https://example.com/cat.png",
        "utter_action": "utter_pic",
    }
    with_attachment = BotUttered.create("hi", attachment={"type": "file"}, buttons=[{"title": "A"}])
    assert reply_message(with_attachment, "u") == {
        "recipient_id": "u",
        "text": "hi",
        "buttons": [{"title": "A"}],
        "attachment": {"type": "file"},
    }
