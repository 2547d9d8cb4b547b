"""Bot responses from the domain's `responses:`: Rasa 3.x's templated natural language generation.

Choosing a variation follows Rasa 3.6 (`ResponseVariationFilter`): a variation with a `condition` is eligible
when every slot it names holds the given value (text compared case-insensitively); a `channel:` variation only
on that output channel. Among the eligible ones the first non-empty group wins, in this order: conditional for
this channel, unconditional for this channel, conditional without channel, unconditional without channel. One
variation of the group is picked at random (a seedable `random.Random`).

`{slot}` placeholders in `text`, `image`, `custom`, `buttons`, `attachment` and `quick_replies` are filled from
the slot values and any explicit values passed along (those win). As in Rasa an unset slot fills in as `None`,
and a string naming a placeholder that is neither a slot nor a given value is left exactly as written (logged).
`{{` and `}}` stand for literal braces.

The generated message is Rasa's message dict: the variation's keys plus `utter_action`. `bot_utterance` turns it
into the `bot` event (text, `data` with Rasa's keys, the rest as metadata) and `reply_message` turns that event
into what the runtime hands to an output channel's `send_response`.
"""

from __future__ import annotations

import copy
import logging
import random
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from bot.dialogue.events import BOT_DATA_KEYS, BotUttered
from bot.dialogue.tracker import DialogueStateTracker
from bot.project.domain import Domain, ResponseVariation

__all__ = [
    "INTERPOLATED_KEYS",
    "NaturalLanguageGenerator",
    "ResponseGenerator",
    "bot_utterance",
    "interpolate",
    "interpolate_text",
    "reply_message",
]

logger = logging.getLogger(__name__)

INTERPOLATED_KEYS = ("text", "image", "custom", "buttons", "attachment", "quick_replies")
"""The keys of a response whose strings get `{slot}` placeholders filled (Rasa's list)."""


class NaturalLanguageGenerator(Protocol):
    """Produces the message for a response name, or None when there is none (Rasa's NLG interface).

    The keyword arguments are extra placeholder values; the other parameters are positional so that a slot
    called `name` or `channel` can be passed too. Their names start with `_` all the same: compiled (mypyc),
    a positional-only parameter is also taken by keyword, and would clash with a placeholder of its name."""

    async def generate(
        self, _response: str, _tracker: DialogueStateTracker, _channel: str | None, /, **values: Any
    ) -> dict[str, Any] | None: ...


class ResponseGenerator:
    """The NLG over a domain's responses. `rng` (or `seed`) makes the choice among variations repeatable."""

    def __init__(
        self,
        responses: Mapping[str, Sequence[ResponseVariation]],
        *,
        rng: random.Random | None = None,
        seed: int | None = None,
    ) -> None:
        self.responses = {name: list(variations) for name, variations in responses.items()}
        self.rng = rng if rng is not None else random.Random(seed)

    @classmethod
    def from_domain(cls, domain: Domain, *, seed: int | None = None) -> ResponseGenerator:
        return cls(domain.responses, seed=seed)

    def __contains__(self, name: object) -> bool:
        return name in self.responses

    def eligible_variations(
        self, name: str, slots: Mapping[str, Any], channel: str | None = None
    ) -> list[ResponseVariation]:
        """The variations the choice is made from (empty for an unknown response)."""
        # the groups in order of preference: conditional for this channel, unconditional for this channel,
        # conditional without channel, unconditional without channel
        groups: tuple[list[ResponseVariation], ...] = ([], [], [], [])
        for variation in self.responses.get(name, ()):
            if variation.channel == channel:
                group = 0
            elif variation.channel is None:
                group = 2
            else:
                continue
            if not variation.condition:
                group += 1
            elif not _conditions_hold(variation, slots):
                continue
            groups[group].append(variation)
        return next((group for group in groups if group), [])

    def generate_from_slots(
        self, _response: str, _slots: Mapping[str, Any], _channel: str | None = None, /, **values: Any
    ) -> dict[str, Any] | None:
        """The filled message of one randomly chosen eligible variation, or None if there is none. (The `_`
        names: see `NaturalLanguageGenerator`.)"""
        candidates = self.eligible_variations(_response, _slots, _channel)
        if not candidates:
            return None
        message: dict[str, Any] = _copied(self.rng.choice(candidates).as_dict())
        placeholders = {**_slots, **values}
        if placeholders:
            for key in INTERPOLATED_KEYS:
                if key in message:
                    message[key] = interpolate(message[key], placeholders)
        return message

    async def generate(
        self, _response: str, _tracker: DialogueStateTracker, _channel: str | None, /, **values: Any
    ) -> dict[str, Any] | None:
        return self.generate_from_slots(_response, _tracker.current_slot_values(), _channel, **values)


def _copied(value: Any) -> Any:
    """A deep copy of a response's JSON-like value: `copy.deepcopy` costs several times more for the dicts,
    lists and strings a variation is made of (other values still go through it)."""
    if isinstance(value, dict):
        return {key: _copied(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_copied(item) for item in value]
    if value is None or isinstance(value, str | int | float):  # immutable (bool is an int)
        return value
    return copy.deepcopy(value)


def _conditions_hold(variation: ResponseVariation, slots: Mapping[str, Any]) -> bool:
    for condition in variation.condition:
        current = slots.get(condition.name)
        if isinstance(current, str) and isinstance(condition.value, str):
            if current.casefold() != condition.value.casefold():
                return False
        elif current != condition.value:
            return False
    return True


# --- placeholders ----------------------------------------------------------------------------------------


class _MissingValue(Exception):
    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.name = name


class _BadTemplate(Exception):
    pass


def interpolate_text(text: str, values: Mapping[str, Any]) -> str:
    """`text` with each `{name}` replaced by `str(values[name])`; unchanged if a name has no value."""
    if "{" not in text and "}" not in text:
        return text  # nothing to fill (what `_fill` gives back, without going through it character by character)
    try:
        return _fill(text, values)
    except _MissingValue as missing:
        logger.warning(
            "the response %r uses the placeholder {%s}, which is neither a slot nor a value passed to it; "
            "it is sent unfilled",
            text,
            missing.name,
        )
    except _BadTemplate:
        logger.warning("the response %r has an unmatched '{' or '}'; it is sent unfilled", text)
    return text


def _fill(text: str, values: Mapping[str, Any]) -> str:
    parts: list[str] = []
    index = 0
    while index < len(text):
        char = text[index]
        pair = text[index : index + 2]
        if pair in ("{{", "}}"):
            # a placeholder written inside doubled braces, `{{name}}`, reads as the literal text `{name}`
            parts.append(char)
            index += 2
        elif char == "{":
            end = text.find("}", index + 1)
            name = text[index + 1 : end] if end != -1 else ""
            if not name or any(c in name for c in "{\n"):
                raise _BadTemplate
            if name not in values:
                raise _MissingValue(name)
            parts.append(str(values[name]))
            index = end + 1
        elif char == "}":
            raise _BadTemplate
        else:
            parts.append(char)
            index += 1
    return "".join(parts)


def interpolate(value: Any, values: Mapping[str, Any]) -> Any:
    """`value` with placeholders filled in every string inside it (dicts and lists are walked)."""
    if isinstance(value, str):
        return interpolate_text(value, values)
    if isinstance(value, dict):
        return {key: interpolate(item, values) for key, item in value.items()}
    if isinstance(value, list):
        return [interpolate(item, values) for item in value]
    return value


# --- messages and events ---------------------------------------------------------------------------------


def bot_utterance(message: Mapping[str, Any]) -> BotUttered:
    """The `bot` event for a generated message: its text, Rasa's `data` keys, and the rest as metadata.

    As in Rasa an image also fills `attachment` when the message has no attachment of its own. A text that is
    not a string (a number an action server sent) is sent as its string: a `bot` event's text is a string or
    null, and one holding anything else could not be read back from the tracker store.
    """
    rest = dict(message)
    content = {key: rest.pop(key, None) for key in ("text", *BOT_DATA_KEYS)}
    text = content["text"]
    if text is not None and not isinstance(text, str):
        logger.warning("a message's text is %r, not a string; it is sent as %r", text, str(text))
        text = str(text)
    return BotUttered.create(
        text,
        elements=content["elements"],
        quick_replies=content["quick_replies"],
        buttons=content["buttons"],
        attachment=content["attachment"] or content["image"],
        image=content["image"],
        custom=content["custom"],
        metadata=rest,
    )


def reply_message(event: BotUttered, recipient_id: str) -> dict[str, Any]:
    """What goes to an output channel for a `bot` event: `recipient_id`, then `text` and the `data` keys that
    are set, then the event's metadata (`utter_action`, a variation's `button_type`, ...).

    An attachment that only repeats the image (see `bot_utterance`) is left out, as Rasa does.
    """
    reply: dict[str, Any] = {"recipient_id": recipient_id}
    if event.text is not None:
        reply["text"] = event.text
    for key in BOT_DATA_KEYS:
        value = event.data.get(key)
        if value is None or (key == "attachment" and value == event.data.get("image")):
            continue
        reply[key] = copy.deepcopy(value)
    for key, value in event.metadata.items():
        reply.setdefault(key, copy.deepcopy(value))
    return reply
