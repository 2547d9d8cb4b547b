"""Reading stories, rules and test stories from YAML into `StoryBlock`s.

`_Reader` reads one document, collecting every problem instead of stopping at the first: the errors (what
Rasa's schema rejects) are raised together as one `ConductorError`; the warnings (what Rasa skips with a
warning) go to the caller's list, or to the log.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any, Final

from bot.errors import ConductorError, Problem, Severity, did_you_mean
from bot.project.annotations import parse_annotated
from bot.project.stories.model import (
    ANY_VALUE,
    ActionStep,
    ActiveLoopStep,
    BotStep,
    CheckpointStep,
    ConditionStep,
    OrStep,
    SlotWasSetStep,
    Step,
    StoryBlock,
    StoryEntity,
    StoryKind,
    UserStep,
    report_warnings,
)
from bot.yamlio import describe_value, iter_yaml_files, line_of, parse_yaml, plain, read_text

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
    report_warnings([p for p in reader.problems if p.severity is Severity.WARNING], warnings)
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
                    hint = did_you_mean(key, sorted(_BLOCK_KEYS[kind]), then=f"A {title} may have: {allowed}.")
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
            metadata=plain(item.get("metadata")),
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
                did_you_mean(key, sorted(_STEP_KIND_OF_KEY), then=_STEP_EXAMPLES),
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
            return StoryEntity(rest["entity"], plain(rest.get("value", ANY_VALUE)), role, group)
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
        return StoryEntity(name, plain(value), role, group)

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
                slots.update({k.strip(): plain(v) for k, v in item.items()})
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
