"""Checkpoints joined and `or` steps expanded: blocks as written become linear stories.

`expand_or` makes one block per combination of `or` alternatives; `resolve_checkpoints` joins the parts of
stories at their checkpoints (honouring a starting checkpoint's slot conditions) as Rasa's training data
generator does, and stops with an error past `MAX_EXPANDED_STORIES`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Final

from bot.errors import ConductorError, Problem, Severity
from bot.project.stories.model import (
    ANY_VALUE,
    MAX_EXPANDED_STORIES,
    CheckpointStep,
    OrStep,
    SlotWasSetStep,
    Step,
    StoryBlock,
    StoryKind,
    report_warnings,
)


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
    report_warnings(found, warnings)
    return result
