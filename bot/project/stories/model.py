"""What stories are made of: steps and blocks (stories, rules, test stories) as frozen dataclasses.

Also the pieces reading and expansion share: the `ANY_VALUE` marker for a slot or entity named without a
value, the most stories expansion may produce, and `report_warnings`, which hands warnings to the caller's
list or, when it passes none, to the log (the logger keeps the name `bot.project.stories`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Final, Literal

from bot.errors import Problem
from bot.project.nlu_data import EntitySpan

logger = logging.getLogger("bot.project.stories")

MAX_EXPANDED_STORIES: Final = 10_000
"""The most linear stories checkpoints and `or` steps may expand to before it is an error."""


class _AnyValue(Enum):
    ANY = "any value"

    def __repr__(self) -> str:
        return "ANY_VALUE"


ANY_VALUE: Final = _AnyValue.ANY
"""A slot (in `slot_was_set`) or entity (in an intent step) written by name only: "set, to any value"."""

StoryKind = Literal["story", "rule", "test"]


# --- steps ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class StoryEntity:
    """An entity listed under `entities:` of an intent step; `value` is `ANY_VALUE` when only named."""

    name: str
    value: Any = ANY_VALUE
    role: str | None = None
    group: str | None = None


@dataclass(frozen=True)
class UserStep:
    """A user turn: an intent (with listed entities), or a `user:` text (with entities annotated in it)."""

    intent: str | None = None
    entities: list[StoryEntity] = field(default_factory=list)
    user_text: str | None = None
    text_entities: list[EntitySpan] = field(default_factory=list)
    file: str | None = field(default=None, compare=False)
    line: int | None = field(default=None, compare=False)

    @property
    def intent_base(self) -> str | None:
        """The intent without its retrieval part: `faq` for `faq/ask_name`."""
        return self.intent.split("/", 1)[0] if self.intent else None


@dataclass(frozen=True)
class ActionStep:
    name: str
    file: str | None = field(default=None, compare=False)
    line: int | None = field(default=None, compare=False)


@dataclass(frozen=True)
class BotStep:
    """A `bot:` step: the bot says this text (end-to-end stories)."""

    text: str
    file: str | None = field(default=None, compare=False)
    line: int | None = field(default=None, compare=False)


@dataclass(frozen=True)
class ActiveLoopStep:
    """`active_loop: name` (a form became active) or `active_loop: null` (no loop is active)."""

    name: str | None
    file: str | None = field(default=None, compare=False)
    line: int | None = field(default=None, compare=False)


@dataclass(frozen=True)
class SlotWasSetStep:
    """Slots set at this point, in order; a value of `ANY_VALUE` means the slot was named without a value."""

    slots: dict[str, Any]
    file: str | None = field(default=None, compare=False)
    line: int | None = field(default=None, compare=False)


@dataclass(frozen=True)
class CheckpointStep:
    """A named checkpoint; at the start of a story its `slot_was_set` values are conditions."""

    name: str
    slot_was_set: dict[str, Any] = field(default_factory=dict)
    file: str | None = field(default=None, compare=False)
    line: int | None = field(default=None, compare=False)


@dataclass(frozen=True)
class OrStep:
    """Alternatives at one point of a story: intents, or slot values (one slot per alternative)."""

    alternatives: list[UserStep | SlotWasSetStep]
    file: str | None = field(default=None, compare=False)
    line: int | None = field(default=None, compare=False)


Step = UserStep | ActionStep | BotStep | ActiveLoopStep | SlotWasSetStep | CheckpointStep | OrStep
ConditionStep = ActiveLoopStep | SlotWasSetStep


@dataclass(frozen=True)
class StoryBlock:
    """One story, rule or test story as written (or, after expansion, one linear path through them)."""

    name: str
    kind: StoryKind
    steps: list[Step]
    file: str | None = field(default=None, compare=False)
    line: int | None = field(default=None, compare=False)
    metadata: Any = None
    condition: list[ConditionStep] = field(default_factory=list)
    conversation_start: bool = False
    wait_for_user_input: bool = True


def report_warnings(found: list[Problem], warnings: list[Problem] | None) -> None:
    """Add `found` to the caller's `warnings`, or log each of them when the caller collects none."""
    if warnings is not None:
        warnings.extend(found)
        return
    for problem in found:
        logger.warning("%s", problem)
