"""Writing stories, rules and test stories back as Rasa 3.x YAML (`dump_stories`).

Scalars are written so that they read back, with YAML 1.2 as Rasa and `bot.yamlio` read, as the same
values; user texts keep their entity annotations.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence
from typing import Any, Final

from bot.project.annotations import format_annotated
from bot.project.stories.model import (
    ANY_VALUE,
    ActionStep,
    ActiveLoopStep,
    BotStep,
    CheckpointStep,
    SlotWasSetStep,
    Step,
    StoryBlock,
    StoryEntity,
    UserStep,
)

_FORMAT_VERSION: Final = "3.1"

_PLAIN_TEXT = re.compile(r"[A-Za-z_][A-Za-z0-9_./'()!?&+@$%-]*(?: [A-Za-z0-9_./'()!?&+@$%-]+)*")
_RESERVED = frozenset({"null", "true", "false", "yes", "no", "on", "off", "y", "n"})


def _scalar(value: Any) -> str:
    """A YAML scalar that reads back (with YAML 1.2, as Rasa and `bot.yamlio` read) as the same value."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return ".nan"
        if math.isinf(value):
            return ".inf" if value > 0 else "-.inf"
        return repr(value)
    text = str(value)
    if _PLAIN_TEXT.fullmatch(text) and text.lower() not in _RESERVED:
        return text
    return json.dumps(text, ensure_ascii=False)


def _flow(value: Any) -> str:
    """Any plain value (lists and mappings nested) on one line."""
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_scalar(k)}: {_flow(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_flow(v) for v in value) + "]"
    return _scalar(value)


def _comment(text: str | None) -> str:
    if text is None:
        return ""
    return "  # predicted: " + " ".join(text.split())


def _text_block(text: str, indent: str) -> str:
    """Text as a `|-` literal block (as Rasa writes `user:`), or quoted when a block cannot hold it."""
    printable = all(ch.isprintable() or ch == "\n" for ch in text)
    if text and printable and text == text.strip():
        return "|-\n" + "\n".join(indent + line if line else "" for line in text.split("\n"))
    return json.dumps(text, ensure_ascii=False)


class _Writer:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def user(self, step: UserStep, pad: str, comment: str) -> None:
        first = True

        def put(text: str) -> None:
            nonlocal first
            self.lines.append((pad + "- " if first else pad + "  ") + text)
            first = False

        if step.intent is not None:
            put(f"intent: {_scalar(step.intent)}{comment}")
            comment = ""
        if step.entities:
            put("entities:")
            for entity in step.entities:
                self.entity(entity, pad + "  ")
        if step.user_text is not None:
            markup = format_annotated(step.user_text, step.text_entities)
            put(f"user: {_text_block(markup, pad + '    ')}{comment}")

    def entity(self, entity: StoryEntity, pad: str) -> None:
        extras = [f"{key}: {_scalar(v)}" for key, v in (("role", entity.role), ("group", entity.group)) if v]
        reserved_name = entity.name in ("entity", "value", "role", "group")
        explicit = reserved_name or (bool(extras) and entity.value is ANY_VALUE)
        if explicit:
            fields = [f"entity: {_scalar(entity.name)}"]
            if entity.value is not ANY_VALUE:
                fields.append(f"value: {_flow(entity.value)}")
        elif entity.value is ANY_VALUE:
            fields = [_scalar(entity.name)]
        else:
            fields = [f"{_scalar(entity.name)}: {_flow(entity.value)}"]
        for index, text in enumerate([*fields, *extras]):
            self.lines.append((pad + "- " if index == 0 else pad + "  ") + text)

    def slots(self, slots: Mapping[str, Any], pad: str) -> None:
        for slot, value in slots.items():
            text = _scalar(slot) if value is ANY_VALUE else f"{_scalar(slot)}: {_flow(value)}"
            self.lines.append(f"{pad}- {text}")

    def step(self, step: Step, pad: str, predicted: str | None = None) -> None:
        comment = _comment(predicted)
        if isinstance(step, UserStep):
            self.user(step, pad, comment)
        elif isinstance(step, ActionStep):
            self.lines.append(f"{pad}- action: {_scalar(step.name)}{comment}")
        elif isinstance(step, BotStep):
            self.lines.append(f"{pad}- bot: {_text_block(step.text, pad + '    ')}{comment}")
        elif isinstance(step, ActiveLoopStep):
            self.lines.append(f"{pad}- active_loop: {_scalar(step.name)}{comment}")
        elif isinstance(step, SlotWasSetStep):
            self.lines.append(f"{pad}- slot_was_set:{comment}")
            self.slots(step.slots, pad + "  ")
        elif isinstance(step, CheckpointStep):
            self.lines.append(f"{pad}- checkpoint: {_scalar(step.name)}{comment}")
            if step.slot_was_set:
                self.lines.append(f"{pad}  slot_was_set:")
                self.slots(step.slot_was_set, pad + "  ")
        else:
            self.lines.append(f"{pad}- or:{comment}")
            for alternative in step.alternatives:
                self.step(alternative, pad + "  ")

    def block(self, block: StoryBlock, index: int, predicted: Mapping[tuple[int, int], str]) -> None:
        title = "rule" if block.kind == "rule" else "story"
        self.lines.append(f"- {title}: {_scalar(block.name)}")
        if block.metadata is not None:
            self.lines.append(f"  metadata: {_flow(block.metadata)}")
        if block.condition:
            self.lines.append("  condition:")
            for condition in block.condition:
                self.step(condition, "  ")
        if block.conversation_start:
            self.lines.append("  conversation_start: true")
        self.lines.append("  steps:" if block.steps else "  steps: []")  # a bare `steps:` would read as null
        for position, step in enumerate(block.steps):
            self.step(step, "  ", predicted.get((index, position)))
        if not block.wait_for_user_input:
            self.lines.append("  wait_for_user_input: false")


def dump_stories(blocks: Sequence[StoryBlock], predicted: Mapping[tuple[int, int], str] | None = None) -> str:
    """Rasa 3.x YAML for `blocks` (stories and test stories under `stories:`, rules under `rules:`).

    `predicted` maps (index of a block in `blocks`, index of a step in its `steps`) to what was predicted
    there instead; that step gets the comment `# predicted: <text>`, as in Rasa's `failed_test_stories.yml`
    (an action name for an action step; Rasa writes `<intent>: <text>` for a user step).
    """
    writer = _Writer()
    writer.lines.append(f'version: "{_FORMAT_VERSION}"')
    for section, kinds in (("stories", ("story", "test")), ("rules", ("rule",))):
        chosen = [(index, block) for index, block in enumerate(blocks) if block.kind in kinds]
        if chosen:
            writer.lines.append(f"{section}:")
            for index, block in chosen:
                writer.block(block, index, predicted or {})
    return "\n".join(writer.lines) + "\n"
