"""Stories, rules and test stories in Rasa 3.x YAML: reading, checkpoint and `or` expansion, writing.

The format is the one Rasa checks with `rasa/shared/utils/schemas/stories.yml`: a file with `stories:` and/or
`rules:` lists; each item has a name, `steps` and optional `metadata`; a rule may also have a `condition`,
`conversation_start` and `wait_for_user_input`. Anything that schema rejects is an error here, with file,
line and a hint. Things Rasa accepts but skips with a warning (a story without steps, an intent written with
a leading `/`) are warnings, collected in the `warnings` list a caller passes in, or logged when it passes
none.

Slots in `slot_was_set` (and entities in an intent step) may be written by name only, meaning "set to some
value"; that is kept as the `ANY_VALUE` marker, and the domain decides later which value stands for it.
"""

from __future__ import annotations

import difflib
import json
import logging
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from enum import Enum
from pathlib import Path
from typing import Any, Final, Literal

from bot.errors import ConductorError, Problem, Severity
from bot.project.annotations import format_annotated, parse_annotated
from bot.project.nlu_data import EntitySpan
from bot.yamlio import describe_value, iter_yaml_files, line_of, parse_yaml, read_text

__all__ = [
    "ANY_VALUE",
    "MAX_EXPANDED_STORIES",
    "ActionStep",
    "ActiveLoopStep",
    "BotStep",
    "CheckpointStep",
    "OrStep",
    "SlotWasSetStep",
    "Step",
    "StoryBlock",
    "StoryEntity",
    "StoryKind",
    "UserStep",
    "dump_stories",
    "expand_or",
    "is_story_file",
    "load_stories",
    "load_story_file",
    "parse_stories",
    "resolve_checkpoints",
]

logger = logging.getLogger(__name__)

MAX_EXPANDED_STORIES: Final = 10_000
"""The most linear stories checkpoints and `or` steps may expand to before it is an error."""

_FORMAT_VERSION: Final = "3.1"


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


# --- reading --------------------------------------------------------------------------------------------

_BLOCK_KEYS: Final[dict[StoryKind, frozenset[str]]] = {
    "story": frozenset({"story", "steps", "metadata"}),
    "test": frozenset({"story", "steps", "metadata"}),
    "rule": frozenset(
        {"rule", "steps", "metadata", "condition", "conversation_start", "wait_for_user_input"}
    ),
}
_STEP_KIND_OF_KEY: Final = {
    "intent": "intent",
    "user": "intent",
    "entities": "intent",
    "action": "action",
    "bot": "bot",
    "active_loop": "active_loop",
    "slot_was_set": "slot_was_set",
    "checkpoint": "checkpoint",
    "or": "or",
}
_STEP_EXAMPLES: Final = (
    "A step is one of: `- intent: greet`, `- user: hello` (with `intent:`), `- action: utter_greet`, "
    "`- bot: Hi!`, `- active_loop: my_form`, `- slot_was_set: [- my_slot: value]`, `- checkpoint: name`, "
    "`- or: [...]`."
)


def is_story_file(data: Any) -> bool:
    """Whether parsed YAML holds stories or rules (a top-level `stories` or `rules` key), as Rasa decides."""
    return isinstance(data, dict) and ("stories" in data or "rules" in data)


def parse_stories(
    data: Any, source: str | Path, *, test: bool = False, warnings: list[Problem] | None = None
) -> list[StoryBlock]:
    """Read the stories and rules of one parsed YAML document (from `bot.yamlio`, for line numbers).

    `test=True` reads the `stories:` of a test file: they come back with `kind='test'`. Every error found in
    the document is reported at once in one `ConductorError`; warnings go to `warnings` (or the log).
    """
    reader = _Reader(str(source), test)
    blocks = reader.read(data)
    errors = [p for p in reader.problems if p.severity is Severity.ERROR]
    _report_warnings([p for p in reader.problems if p.severity is Severity.WARNING], warnings)
    if errors:
        raise ConductorError(errors)
    return blocks


def load_story_file(
    path: str | Path, *, test: bool = False, warnings: list[Problem] | None = None
) -> list[StoryBlock]:
    """Read one stories/rules/test-stories file."""
    data = parse_yaml(read_text(path, "stories file"), path)
    return parse_stories(data, path, test=test, warnings=warnings)


def load_stories(
    paths: Iterable[str | Path], *, test: bool = False, warnings: list[Problem] | None = None
) -> list[StoryBlock]:
    """Read every stories/rules file at `paths` (files, or folders searched for *.yml / *.yaml).

    YAML files without `stories` or `rules` (NLU data, a domain) are passed over. The errors of all files are
    reported together.
    """
    blocks: list[StoryBlock] = []
    problems: list[Problem] = []
    for root in paths:
        if not Path(root).exists():
            problems.append(Problem("this stories path does not exist", str(root), None, "Check the path."))
            continue
        for path in iter_yaml_files(Path(root)):
            try:
                data = parse_yaml(read_text(path, "stories file"), path)
                if is_story_file(data):
                    blocks.extend(parse_stories(data, path, test=test, warnings=warnings))
            except ConductorError as exc:
                problems.extend(exc.problems)
    if problems:
        raise ConductorError(problems)
    return blocks


def _report_warnings(found: list[Problem], warnings: list[Problem] | None) -> None:
    if warnings is not None:
        warnings.extend(found)
        return
    for problem in found:
        logger.warning("%s", problem)


def _plain(value: Any) -> Any:
    """YAML containers (which remember lines) as plain dicts and lists."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _did_you_mean(key: str, allowed: Iterable[str]) -> str:
    close = difflib.get_close_matches(key, sorted(allowed), n=1)
    return f"Did you mean `{close[0]}`? " if close else ""


class _Reader:
    """Reads one document, collecting every problem instead of stopping at the first."""

    def __init__(self, source: str, test: bool) -> None:
        self.source = source
        self.test = test
        self.problems: list[Problem] = []

    def error(self, message: str, line: int | None, hint: str | None = None) -> None:
        self.problems.append(Problem(message, self.source, line, hint))

    def warn(self, message: str, line: int | None, hint: str | None = None) -> None:
        self.problems.append(Problem(message, self.source, line, hint, Severity.WARNING))

    # document and blocks

    def read(self, data: Any) -> list[StoryBlock]:
        if data is None:
            return []
        if not isinstance(data, dict):
            self.error(
                f"a stories file must be a mapping with `stories:` or `rules:`, found {describe_value(data)}",
                line_of(data),
                'Start the file with `version: "3.1"` and then `stories:` or `rules:`.',
            )
            return []
        if "version" in data and not isinstance(data["version"], str):
            self.error(
                f"`version` must be text, found {describe_value(data['version'])}",
                line_of(data, "version"),
                'Quote it: version: "3.1".',
            )
        blocks: list[StoryBlock] = []
        story_kind: StoryKind = "test" if self.test else "story"
        sections: list[tuple[str, StoryKind]] = [("stories", story_kind), ("rules", "rule")]
        for key, kind in sections:
            items = data.get(key)
            if items is None:
                continue
            if not isinstance(items, list):
                self.error(
                    f"`{key}` must be a list of {kind if kind != 'test' else 'story'} items, "
                    f"found {describe_value(items)}",
                    line_of(data, key),
                    f"Write each as `- {'rule' if kind == 'rule' else 'story'}: <name>` with its `steps:`.",
                )
                continue
            for index, item in enumerate(items):
                block = self.block(item, kind, line_of(items, index))
                if block is not None:
                    blocks.append(block)
        return blocks

    def block(self, item: Any, kind: StoryKind, line: int | None) -> StoryBlock | None:
        title = "rule" if kind == "rule" else "story"
        section = "rules" if kind == "rule" else "stories"
        if not isinstance(item, dict):
            self.error(
                f"each item under `{section}` must be a mapping, found {describe_value(item)}",
                line,
                f"Write `- {title}: <name>` followed by `steps:`.",
            )
            return None
        line = line_of(item) or line
        problems_before = len(self.problems)
        other = "story" if title == "rule" else "rule"
        if title not in item and other in item:
            self.error(
                f"a {other} under `{section}`: {item[other]!r}",
                line_of(item, other),
                f"Move it under `{other}s:`, or rename the key to `{title}`.",
            )
            return None
        name = item.get(title)
        if not isinstance(name, str) or not name.strip():
            if name is not None and not isinstance(name, str):
                hint = f'Write the name as text, in quotes if needed: {title}: "{name}".'
            else:
                hint = f"Give it a name: `- {title}: <what happens in it>`."
            self.error(f"this {title} has no name", line_of(item, title), hint)
            name = ""
        for key in item:
            if key not in _BLOCK_KEYS[kind]:
                if key == "condition":
                    hint = "Only rules have a condition; move this to `rules:` or drop the condition."
                elif key == other:
                    hint = "An item has either `story:` (under `stories:`) or `rule:` (under `rules:`)."
                else:
                    allowed = ", ".join(sorted(_BLOCK_KEYS[kind]))
                    hint = f"{_did_you_mean(str(key), _BLOCK_KEYS[kind])}A {title} may have: {allowed}."
                self.error(f"unknown key `{key}` in {title} {name!r}", line_of(item, key), hint)
        steps_data = item.get("steps")
        if steps_data is not None and not isinstance(steps_data, list):
            self.error(
                f"`steps` of {title} {name!r} must be a list, found {describe_value(steps_data)}",
                line_of(item, "steps"),
                "Write each step on its own line starting with `- `.",
            )
            steps_data = None
        steps = [
            step
            for index, raw in enumerate(steps_data or [])
            if (step := self.step(raw, kind, line_of(steps_data, index), name)) is not None
        ]
        condition: list[ConditionStep] = []
        conversation_start = False
        wait_for_user_input = True
        if kind == "rule":
            condition = self.condition(item.get("condition"), line_of(item, "condition"), name)
            conversation_start = self.flag(item, "conversation_start", False, name)
            wait_for_user_input = self.flag(item, "wait_for_user_input", True, name)
        if any(p.severity is Severity.ERROR for p in self.problems[problems_before:]):
            return None
        if not steps_data:
            self.warn(
                f"{title} {name!r} has no steps and is skipped",
                line,
                "Add `steps:` with its steps, or remove it.",
            )
            return None
        return StoryBlock(
            name=name,
            kind=kind,
            steps=steps,
            file=self.source,
            line=line,
            metadata=_plain(item.get("metadata")),
            condition=condition,
            conversation_start=conversation_start,
            wait_for_user_input=wait_for_user_input,
        )

    def flag(self, item: dict[str, Any], key: str, default: bool, name: str) -> bool:
        value = item.get(key, default)
        if isinstance(value, bool):
            return value
        self.error(
            f"`{key}` of rule {name!r} must be true or false, found {describe_value(value)}",
            line_of(item, key),
            f"Write `{key}: true` or `{key}: false`.",
        )
        return default

    def condition(self, data: Any, line: int | None, name: str) -> list[ConditionStep]:
        if data is None:
            return []
        hint = "A condition lists `- active_loop: <form or null>` and `- slot_was_set: [- <slot>: <value>]`."
        if not isinstance(data, list):
            self.error(f"the condition of rule {name!r} must be a list, found {describe_value(data)}", line, hint)
            return []
        result: list[ConditionStep] = []
        for index, raw in enumerate(data):
            item_line = line_of(data, index)
            if not (isinstance(raw, dict) and len(raw) == 1 and set(raw) <= {"active_loop", "slot_was_set"}):
                what = ", ".join(f"`{k}`" for k in raw) if isinstance(raw, dict) and raw else describe_value(raw)
                self.error(f"rule {name!r} has a condition that is not understood: {what}", item_line, hint)
                continue
            step = self.step(raw, "rule", item_line, name)
            if isinstance(step, ActiveLoopStep | SlotWasSetStep):
                result.append(step)
        return result

    # steps

    def step(self, raw: Any, kind: StoryKind, line: int | None, block_name: str) -> Step | None:
        title = "rule" if kind == "rule" else "story"
        if not isinstance(raw, dict):
            hint = _STEP_EXAMPLES
            if isinstance(raw, str) and raw.strip() != "...":
                hint = f"Did you mean `- action: {raw}` or `- intent: {raw}`? {_STEP_EXAMPLES}"
            found = describe_value(raw)
            self.error(f"a step of {title} {block_name!r} must be a mapping, found {found}", line, hint)
            return None
        line = line_of(raw) or line
        unknown = [key for key in raw if key not in _STEP_KIND_OF_KEY]
        for key in unknown:
            self.error(
                f"unknown key `{key}` in a step of {title} {block_name!r}",
                line_of(raw, key),
                f"{_did_you_mean(str(key), _STEP_KIND_OF_KEY)}{_STEP_EXAMPLES}",
            )
        if unknown:
            return None
        kinds = {_STEP_KIND_OF_KEY[key] for key in raw}
        if "checkpoint" in kinds:
            kinds.discard("slot_was_set")
        if not kinds:
            self.error(f"an empty step in {title} {block_name!r}", line, _STEP_EXAMPLES)
            return None
        if len(kinds) > 1:
            keys = ", ".join(f"`{key}`" for key in raw)
            self.error(
                f"one step of {title} {block_name!r} mixes {keys}",
                line,
                "Each step does one thing; put each of these in its own `- ` item.",
            )
            return None
        step_kind = kinds.pop()
        if kind == "rule" and step_kind in ("bot", "checkpoint"):
            self.error(
                f"rules cannot have `{step_kind}` steps (rule {block_name!r})",
                line,
                "Rules take intents, actions, active_loop, slot_was_set and `or`; write this as a story.",
            )
            return None
        if step_kind == "intent":
            return self.user_step(raw, line, block_name)
        if step_kind == "action":
            name = self.text(raw, "action", line, "an action name", "`- action: utter_greet`")
            return ActionStep(name, self.source, line) if name is not None else None
        if step_kind == "bot":
            text = self.text(raw, "bot", line, "the bot's words", "`- bot: Hello!`")
            return BotStep(text, self.source, line) if text is not None else None
        if step_kind == "active_loop":
            value = raw["active_loop"]
            if value is None:
                return ActiveLoopStep(None, self.source, line)
            loop = self.text(raw, "active_loop", line, "a form name or null", "`- active_loop: my_form`")
            return ActiveLoopStep(loop, self.source, line) if loop is not None else None
        if step_kind == "slot_was_set":
            slots = self.slots(raw["slot_was_set"], line_of(raw, "slot_was_set"), allow_any=True)
            return SlotWasSetStep(slots, self.source, line) if slots else None
        if step_kind == "checkpoint":
            return self.checkpoint(raw, line)
        return self.or_step(raw["or"], line, block_name)

    def text(self, raw: dict[str, Any], key: str, line: int | None, what: str, example: str) -> str | None:
        value = raw[key]
        if isinstance(value, str) and value.strip():
            return value.strip()
        self.error(
            f"`{key}` needs {what}, found {describe_value(value) if value != '' else 'empty text'}",
            line_of(raw, key) or line,
            f"Write it like {example}.",
        )
        return None

    def user_step(self, raw: dict[str, Any], line: int | None, block_name: str) -> UserStep | None:
        intent: str | None = None
        if "intent" in raw:
            intent = self.text(raw, "intent", line, "an intent name", "`- intent: greet`")
            if intent is None:
                return None
            if intent.startswith("/"):
                self.warn(
                    f"the intent {intent!r} starts with '/', which is not needed",
                    line_of(raw, "intent"),
                    f"Write `intent: {intent[1:]}`.",
                )
                intent = intent[1:]
            if "/" in intent and not self.test:
                self.warn(
                    f"the story {block_name!r} uses the full retrieval intent {intent!r}; "
                    f"training uses its base intent {intent.split('/', 1)[0]!r} only",
                    line_of(raw, "intent"),
                    "Write the base intent in stories and rules; full retrieval intents go in test stories.",
                )
        elif "user" not in raw:
            self.error(
                "a step with `entities` needs an `intent` (or `user:` text)",
                line,
                "Write `- intent: <name>` with the `entities:` under it.",
            )
            return None
        if "user" not in raw:
            entities = self.entities(raw.get("entities"), line_of(raw, "entities"))
            if entities is None:
                return None
            return UserStep(intent, entities, None, [], self.source, line)
        text = self.text(raw, "user", line, "the user's words", "`- user: hello there`")
        if text is None:
            return None
        if "entities" in raw:
            self.warn(
                "`entities` is ignored in a step with `user:` text",
                line_of(raw, "entities"),
                "Annotate the entities in the text instead: [Berlin](city).",
            )
        text_line = line_of(raw, "user")
        try:
            plain, spans = parse_annotated(text, self.source, text_line, warnings=self.problems)
        except ConductorError as exc:
            self.problems.extend(exc.problems)
            return None
        return UserStep(intent, [], plain, spans, self.source, line)

    def entities(self, data: Any, line: int | None) -> list[StoryEntity] | None:
        hint = "List entities as `- city` (name only) or `- city: Berlin` (with `role:`/`group:` if needed)."
        if data is None:
            return []
        if not isinstance(data, list):
            self.error(f"`entities` must be a list, found {describe_value(data)}", line, hint)
            return None
        result: list[StoryEntity] = []
        ok = True
        for index, item in enumerate(data):
            item_line = line_of(data, index) or line
            entity = self.entity(item, item_line, hint)
            if entity is None:
                ok = False
            else:
                result.append(entity)
        return result if ok else None

    def entity(self, item: Any, line: int | None, hint: str) -> StoryEntity | None:
        if isinstance(item, str) and item.strip():
            return StoryEntity(item.strip())
        if not isinstance(item, dict):
            self.error(f"an entity must be a name or `name: value`, found {describe_value(item)}", line, hint)
            return None
        for key in ("role", "group"):
            if key in item and not isinstance(item[key], str):
                self.error(f"the entity's `{key}` must be text, found {describe_value(item[key])}", line, hint)
                return None
        role, group = item.get("role"), item.get("group")
        rest = {k: v for k, v in item.items() if k not in ("role", "group")}
        if set(rest) in ({"entity"}, {"entity", "value"}) and isinstance(rest["entity"], str):
            # The explicit form `{entity: city, value: Berlin}`. Rasa 3.x reads each key as an entity name
            # (last one wins: an entity named "value"); what the author meant is the city.
            return StoryEntity(rest["entity"], _plain(rest.get("value", ANY_VALUE)), role, group)
        if len(rest) != 1:
            found = ", ".join(f"`{k}`" for k in rest) or "only role/group"
            self.error(
                f"one entity item must name one entity, found {found}",
                line,
                "Give each entity its own `- ` item: `- city: Berlin` then `- country: Germany`.",
            )
            return None
        (name, value), = rest.items()
        if not isinstance(name, str) or not name.strip():
            self.error(f"an entity name must be text, found {describe_value(name)}", line, hint)
            return None
        return StoryEntity(name, _plain(value), role, group)

    def slots(self, data: Any, line: int | None, *, allow_any: bool) -> dict[str, Any] | None:
        form = "`- <slot>: <value>`" + (" or `- <slot>`" if allow_any else "")
        hint = f"Write `slot_was_set:` with one {form} item per slot on the lines below it."
        if not isinstance(data, list):
            self.error(f"`slot_was_set` must be a list of slots, found {describe_value(data)}", line, hint)
            return None
        slots: dict[str, Any] = {}
        ok = True
        for index, item in enumerate(data):
            item_line = line_of(data, index) or line
            if isinstance(item, str) and allow_any and item.strip():
                slots[item.strip()] = ANY_VALUE
            elif isinstance(item, dict) and all(isinstance(k, str) and k.strip() for k in item):
                slots.update({k.strip(): _plain(v) for k, v in item.items()})
            else:
                what = "a slot name without a value" if isinstance(item, str) else describe_value(item)
                self.error(f"a `slot_was_set` item must be {form}, found {what}", item_line, hint)
                ok = False
        if ok and not slots:
            self.warn("`slot_was_set` lists no slots, so it does nothing", line, hint)
        return slots if ok else None

    def checkpoint(self, raw: dict[str, Any], line: int | None) -> CheckpointStep | None:
        name = self.text(raw, "checkpoint", line, "a checkpoint name", "`- checkpoint: ask_feedback`")
        conditions: dict[str, Any] | None = {}
        if "slot_was_set" in raw:
            conditions = self.slots(raw["slot_was_set"], line_of(raw, "slot_was_set"), allow_any=False)
        if name is None or conditions is None:
            return None
        return CheckpointStep(name, conditions, self.source, line)

    def or_step(self, data: Any, line: int | None, block_name: str) -> OrStep | None:
        hint = "List two or more `- intent: <name>` (or `- slot_was_set: [...]`) items under `or:`."
        if not isinstance(data, list) or not data:
            found = "an empty list" if isinstance(data, list) else describe_value(data)
            self.error(f"`or` in {block_name!r} needs alternatives, found {found}", line, hint)
            return None
        alternatives: list[UserStep | SlotWasSetStep] = []
        ok = True
        for index, raw in enumerate(data):
            item_line = line_of(data, index) or line
            if isinstance(raw, dict) and "intent" in raw and set(raw) <= {"intent", "user", "entities"}:
                user = self.user_step(raw, line_of(raw) or item_line, block_name)
                if user is None:
                    ok = False
                else:
                    alternatives.append(user)
            elif isinstance(raw, dict) and set(raw) == {"slot_was_set"}:
                slots_line = line_of(raw, "slot_was_set") or item_line
                slots = self.slots(raw["slot_was_set"], slots_line, allow_any=True)
                if slots is None:
                    ok = False
                    continue
                # Rasa makes each slot of an `or` alternative an alternative of its own
                alternatives.extend(
                    SlotWasSetStep({slot: value}, self.source, line_of(raw) or item_line)
                    for slot, value in slots.items()
                )
            else:
                what = ", ".join(f"`{k}`" for k in raw) if isinstance(raw, dict) and raw else describe_value(raw)
                self.error(f"an `or` alternative must be an intent or slot_was_set: {what}", item_line, hint)
                ok = False
        return OrStep(alternatives, self.source, line) if ok and alternatives else None


# --- `or` and checkpoint expansion ----------------------------------------------------------------------


def _too_many(limit: int, first: StoryBlock) -> ConductorError:
    return ConductorError.single(
        f"checkpoints and `or` steps expand to more than {limit:,} stories",
        first.file,
        first.line,
        "Each `or` multiplies the stories through it, and each checkpoint joins every story ending in it "
        "to every story starting with it; use fewer alternatives, or split long chains into separate ones.",
    )


def _step_alternatives(steps: Sequence[Step], block: StoryBlock, limit: int) -> list[list[Step]]:
    paths: list[list[Step]] = [[]]
    for step in steps:
        if isinstance(step, OrStep):
            if len(paths) * len(step.alternatives) > limit:
                raise _too_many(limit, block)
            paths = [[*path, alternative] for path in paths for alternative in step.alternatives]
        else:
            for path in paths:
                path.append(step)
    return paths


def expand_or(block: StoryBlock, limit: int = MAX_EXPANDED_STORIES) -> list[StoryBlock]:
    """One block per combination of its `or` alternatives (the block itself when it has no `or`)."""
    if not any(isinstance(step, OrStep) for step in block.steps):
        return [block]
    return [replace(block, steps=steps) for steps in _step_alternatives(block.steps, block, limit)]


@dataclass(eq=False)
class _Part:
    """The piece of a block between checkpoints; with no `starts` it begins a conversation."""

    block: StoryBlock
    starts: list[CheckpointStep]
    steps: list[Step]
    ends: list[CheckpointStep]


def _parts(block: StoryBlock, warnings: list[Problem]) -> list[_Part]:
    parts: list[_Part] = []
    starts: list[CheckpointStep] = []
    steps: list[Step] = []
    run: list[CheckpointStep] = []
    for step in [*block.steps, None]:
        if isinstance(step, CheckpointStep):
            run.append(step)
            continue
        if run:
            if not steps and not parts:
                starts = run
            else:
                for checkpoint in run:
                    if checkpoint.slot_was_set:
                        warnings.append(Problem(
                            f"the slot conditions of checkpoint {checkpoint.name!r} are ignored: conditions "
                            "only apply to checkpoints that start a story",
                            checkpoint.file, checkpoint.line,
                            "Move the `slot_was_set` to the checkpoint at the start of the next story.",
                            Severity.WARNING,
                        ))
                parts.append(_Part(block, starts, steps, run))
                starts = [CheckpointStep(c.name, {}, c.file, c.line) for c in run]
                steps = []
            run = []
        if step is not None:
            steps.append(step)
    if steps:
        parts.append(_Part(block, starts, steps, []))
    return parts


_KIND_WORDS: Final[dict[StoryKind, str]] = {"story": "story", "rule": "rule", "test": "test story"}


def _checkpoint_warnings(parts: list[_Part], warnings: list[Problem]) -> None:
    started = {c.name for p in parts for c in p.starts}
    ended = {c.name for p in parts for c in p.ends}
    reported: set[tuple[str, str]] = set()
    for part in parts:
        what = f"{_KIND_WORDS[part.block.kind]} {part.block.name!r}"
        one_sided = [("starts", c, "End") for c in part.starts if c.name not in ended]
        one_sided += [("ends", c, "Start") for c in part.ends if c.name not in started]
        for verb, checkpoint, remedy in one_sided:
            if (verb, checkpoint.name) in reported:
                continue
            reported.add((verb, checkpoint.name))
            other = "ends" if verb == "starts" else "starts"
            unused = ", so that part is never used" if verb == "starts" else ""
            warnings.append(Problem(
                f"checkpoint {checkpoint.name!r} {verb} {what}, but nothing {other} with it{unused}",
                checkpoint.file,
                checkpoint.line,
                f"{remedy} another {_KIND_WORDS[part.block.kind]} with `- checkpoint: {checkpoint.name}`, "
                "or check the spelling.",
                Severity.WARNING,
            ))


def _slots_after(steps: Iterable[Step], slots: dict[str, Any]) -> dict[str, Any]:
    result = dict(slots)
    for step in steps:
        if isinstance(step, SlotWasSetStep):
            result.update(step.slots)
    return result


def _conditions_hold(conditions: Mapping[str, Any], slots: Mapping[str, Any]) -> bool:
    for slot, wanted in conditions.items():
        value = slots.get(slot)
        if value is ANY_VALUE:
            if wanted is None:
                return False
        elif value != wanted:
            return False
    return True


class _Joiner:
    """Walks the parts of one kind of block from conversation starts through their checkpoints."""

    def __init__(self, parts: list[_Part], limit: int) -> None:
        self.limit = limit
        self.by_start: dict[str, list[tuple[_Part, CheckpointStep]]] = {}
        for part in parts:
            for checkpoint in part.starts:
                self.by_start.setdefault(checkpoint.name, []).append((part, checkpoint))
        self.alternatives = {id(part): _step_alternatives(part.steps, part.block, limit) for part in parts}
        self.found: list[StoryBlock] = []
        self.visits = 0

    def walk_from(self, part: _Part) -> list[StoryBlock]:
        self.found = []
        for steps in self.alternatives[id(part)]:
            self.extend([(part, steps)], _slots_after(steps, {}))
        return self.found

    def extend(self, path: list[tuple[_Part, list[Step]]], slots: dict[str, Any]) -> None:
        self.visits += 1
        if self.visits > 10 * self.limit:  # paths that slot conditions drop still cost time
            raise _too_many(self.limit, path[0][0].block)
        last = path[-1][0]
        if not last.ends:
            self.emit(path)
            return
        on_path = {id(part) for part, _ in path}
        stuck = False
        for end in last.ends:
            starters = self.by_start.get(end.name, [])
            fresh = [(part, start) for part, start in starters if id(part) not in on_path]
            if not fresh:
                stuck = True  # nothing starts here, or only parts already walked (a cycle): the path ends
            for part, start in fresh:
                if not _conditions_hold(start.slot_was_set, slots):
                    continue
                for steps in self.alternatives[id(part)]:
                    self.extend([*path, (part, steps)], _slots_after(steps, slots))
        if stuck:
            self.emit(path)

    def emit(self, path: list[tuple[_Part, list[Step]]]) -> None:
        if len(self.found) >= self.limit:
            raise _too_many(self.limit, path[0][0].block)
        names: list[str] = []
        for part, _ in path:
            if part.block.name not in names:
                names.append(part.block.name)
        first = path[0][0].block
        steps = [step for _, part_steps in path for step in part_steps]
        self.found.append(replace(first, name=" > ".join(names), steps=steps))


def resolve_checkpoints(
    blocks: Sequence[StoryBlock], *, warnings: list[Problem] | None = None, limit: int = MAX_EXPANDED_STORIES
) -> list[StoryBlock]:
    """Linear stories: checkpoints joined and `or` steps expanded, as Rasa's training data generator does.

    A story ending in checkpoint X continues with every story starting with X (whose start conditions the
    slots set so far meet); a story starting with a checkpoint is only reached that way. A path that reaches a
    checkpoint nothing starts with, or that would repeat a part (a cycle), ends there. Joined stories are
    named like Rasa names them, `first > second`. Stories, test stories and rules are joined only with their
    own kind; rules just have their `or` steps expanded. Raises `ConductorError` when the result would
    exceed `limit` stories; checkpoints used at one end only are warnings.
    """
    found: list[Problem] = []
    result: list[StoryBlock] = []
    parts_of_kind: dict[StoryKind, list[_Part]] = {}
    parts_of_block: dict[int, list[_Part]] = {}
    for block in blocks:
        parts = _parts(block, found)
        parts_of_block[id(block)] = parts
        parts_of_kind.setdefault(block.kind, []).extend(parts)
    joiners = {kind: _Joiner(parts, limit) for kind, parts in parts_of_kind.items()}
    for parts in parts_of_kind.values():
        _checkpoint_warnings(parts, found)
    for block in blocks:
        for part in parts_of_block[id(block)]:
            if not part.starts:
                result.extend(joiners[block.kind].walk_from(part))
                if len(result) > limit:
                    raise _too_many(limit, block)
    _report_warnings(found, warnings)
    return result


# --- writing --------------------------------------------------------------------------------------------

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
        self.lines.append("  steps:")
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
