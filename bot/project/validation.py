"""Cross-file checks of a project: what Rasa's `rasa data validate` checks, and a little more.

Severity follows one rule: what makes the bot fail at run time (an intent, action, response, slot or form that
a story uses but the domain lacks) is an error; what is merely unused or untidy is a warning, which fails
validation only with `--fail-on-warnings`.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from bot.errors import Problem, Severity
from bot.project.domain import DEFAULT_ACTIONS, DEFAULT_INTENTS, MESSAGE_REFUSED_RESPONSE, REQUESTED_SLOT
from bot.project.loader import Project
from bot.project.stories import (
    ActionStep,
    ActiveLoopStep,
    CheckpointStep,
    OrStep,
    SlotWasSetStep,
    Step,
    StoryBlock,
    UserStep,
    expand_or,
)

__all__ = ["validate_project"]

UTTER_PREFIX = "utter_"
RULE_SNIPPET = "..."


def validate_project(project: Project) -> list[Problem]:
    """Every problem found across the project's files, errors first, each with file:line and a hint."""
    checks = (
        _intents,
        _actions_and_responses,
        _slots_and_forms,
        _entities,
        _nlu_examples,
        _rule_story_contradictions,
    )
    problems = [p for check in checks for p in check(project)]
    return sorted(problems, key=lambda p: (p.severity is not Severity.ERROR, p.file or "", p.line or 0))


def _training_blocks(project: Project) -> list[StoryBlock]:
    return project.stories + project.rules


def _steps(blocks: Iterable[StoryBlock]) -> Iterator[tuple[StoryBlock, Step]]:
    """Every step of the blocks, with `or` alternatives and rule conditions included."""
    for block in blocks:
        for step in [*block.condition, *block.steps]:
            if isinstance(step, OrStep):
                for alternative in step.alternatives:
                    yield block, alternative
            else:
                yield block, step


def _problem(message: str, where: Step | StoryBlock, hint: str, severity: Severity = Severity.ERROR) -> Problem:
    return Problem(message, where.file, where.line, hint, severity)


def _intents(project: Project) -> Iterator[Problem]:
    domain = project.domain
    known = set(domain.intent_names)
    used: set[str] = set()
    for block, step in _steps([*_training_blocks(project), *project.test_stories]):
        if isinstance(step, UserStep) and step.intent:
            used.add(step.intent_base or step.intent)
            if (step.intent_base or step.intent) not in known:
                kind = "test story" if block.kind == "test" else block.kind
                yield _problem(
                    f"the intent '{step.intent}' is used in the {kind} '{block.name}' but is not in the domain",
                    step,
                    f"Add '{step.intent_base}' to the intents of domain.yml, or fix the spelling.",
                )
    for intent in project.nlu.intents:
        base = intent.split("/", 1)[0]
        if base not in known:
            first = next(m for m in project.nlu.examples if m.intent == intent)
            yield Problem(
                f"the intent '{base}' has NLU examples but is not in the domain",
                first.file,
                first.line,
                f"Add '{base}' to the intents of domain.yml, or remove its examples.",
                Severity.WARNING,
            )
    nlu_intents = {i.split("/", 1)[0] for i in project.nlu.intents}
    for name, declared in domain.intents.items():
        if name in DEFAULT_INTENTS:
            continue
        if name not in nlu_intents:
            yield Problem(
                f"the intent '{name}' is in the domain but has no NLU examples",
                declared.file,
                declared.line,
                "Add examples for it to the NLU data, or remove it from the domain.",
                Severity.WARNING,
            )
        if name not in used:
            yield Problem(
                f"the intent '{name}' is not used in any story or rule",
                declared.file,
                declared.line,
                "Add a rule or story for it, or the bot will have no learned answer to it.",
                Severity.WARNING,
            )


def _actions_and_responses(project: Project) -> Iterator[Problem]:
    domain = project.domain
    actions = set(domain.action_names)
    used: set[str] = set()
    for block, step in _steps([*_training_blocks(project), *project.test_stories]):
        if isinstance(step, ActionStep):
            name = step.name
            used.add(name)
            if name == RULE_SNIPPET or name in actions or name in domain.forms:
                continue
            if name.startswith(UTTER_PREFIX) and not _is_retrieval_utterance(name, project):
                yield _problem(
                    f"the response '{name}' is used in '{block.name}' but is not defined",
                    step,
                    f"Add '{name}' to the responses of domain.yml (or fix the spelling).",
                )
            elif not name.startswith(UTTER_PREFIX):
                yield _problem(
                    f"the action '{name}' is used in '{block.name}' but is not in the domain",
                    step,
                    f"Add '{name}' under `actions:` in domain.yml.",
                )
        elif isinstance(step, ActiveLoopStep) and step.name is not None:
            used.add(step.name)
            if step.name not in domain.forms and step.name not in actions:
                yield _problem(
                    f"the form '{step.name}' is used in '{block.name}' but is not in the domain",
                    step,
                    f"Add '{step.name}' under `forms:` in domain.yml.",
                )
    used |= {f"{UTTER_PREFIX}ask_{slot}" for form in domain.forms.values() for slot in form.required_slots}
    used |= {f"{UTTER_PREFIX}ask_{form}_{slot}" for form in domain.forms for slot in domain.required_slots(form)}
    for name, variations in domain.responses.items():
        if "/" in name or name in used or name in DEFAULT_ACTIONS or not name.startswith(UTTER_PREFIX):
            continue
        if name.startswith(f"{UTTER_PREFIX}ask_") or name in _responses_used_by_defaults():
            continue
        first = variations[0] if variations else None
        yield Problem(
            f"the response '{name}' is not used in any story or rule",
            first.file if first else None,
            first.line if first else None,
            "Use it in a rule or story, or from a custom action; otherwise it can be removed.",
            Severity.WARNING,
        )
    for variations in domain.responses.values():
        for variation in variations:
            for condition in variation.condition:
                if condition.name not in domain.all_slots:
                    yield Problem(
                        f"a response condition names the slot '{condition.name}', which is not in the domain",
                        variation.file,
                        variation.line,
                        f"Declare the slot '{condition.name}' under `slots:`, or fix the condition.",
                    )


def _responses_used_by_defaults() -> set[str]:
    """Responses that Rasa's default actions send (fallback, two-stage fallback, restart...), and the one the
    runtime sends when it refuses a message."""
    return {
        "utter_default",
        "utter_ask_rephrase",
        "utter_ask_affirmation",
        "utter_restart",
        "utter_back",
        "utter_submit",
        MESSAGE_REFUSED_RESPONSE,
    }


def _is_retrieval_utterance(name: str, project: Project) -> bool:
    """`utter_faq` answers a retrieval intent `faq` whose responses `utter_faq/...` are in the domain or in
    the NLU files."""
    intent = name[len(UTTER_PREFIX) :]
    prefix = f"{name}/"
    return project.domain.is_retrieval_intent(intent) or any(r.startswith(prefix) for r in project.nlu.responses)


def _slots_and_forms(project: Project) -> Iterator[Problem]:
    domain = project.domain
    slots = domain.all_slots
    for block, step in _steps([*_training_blocks(project), *project.test_stories]):
        values: dict[str, object] = {}
        if isinstance(step, SlotWasSetStep):
            values = step.slots
        elif isinstance(step, CheckpointStep):
            values = step.slot_was_set
        for name in values:
            if name not in slots:
                yield _problem(
                    f"the slot '{name}' is set in '{block.name}' but is not in the domain",
                    step,
                    f"Declare '{name}' under `slots:` in domain.yml (with a type and mappings).",
                )
    for form in domain.forms.values():
        for required in form.required_slots:
            declared = domain.slots.get(required)
            if declared is None:
                yield Problem(
                    f"the form '{form.name}' requires the slot '{required}', which is not in the domain",
                    form.file,
                    form.line,
                    f"Declare '{required}' under `slots:` with mappings that fill it.",
                )
            elif not declared.mappings:
                yield Problem(
                    f"the form '{form.name}' requires the slot '{required}', which has no mappings",
                    declared.file,
                    declared.line,
                    "Give the slot a mapping (from_entity, from_text, ...) so the form can fill it.",
                )
    for slot in domain.slots.values():
        for mapping in slot.mappings:
            for condition in mapping.conditions:
                if condition.active_loop and condition.active_loop not in domain.forms:
                    yield Problem(
                        f"a mapping of the slot '{slot.name}' has the condition active_loop "
                        f"'{condition.active_loop}', which is not a form in the domain",
                        mapping.file or slot.file,
                        mapping.line or slot.line,
                        "Name a form declared under `forms:`.",
                    )
                if condition.requested_slot and condition.requested_slot not in slots:
                    yield Problem(
                        f"a mapping of the slot '{slot.name}' has the condition requested_slot "
                        f"'{condition.requested_slot}', which is not a slot in the domain",
                        mapping.file or slot.file,
                        mapping.line or slot.line,
                        "Name a slot declared under `slots:`.",
                    )
            if mapping.type == "from_entity" and mapping.entity and mapping.entity not in domain.entities:
                yield Problem(
                    f"the slot '{slot.name}' is mapped from the entity '{mapping.entity}', "
                    "which is not in the domain",
                    mapping.file or slot.file,
                    mapping.line or slot.line,
                    f"Add '{mapping.entity}' under `entities:` in domain.yml.",
                )


def _entities(project: Project) -> Iterator[Problem]:
    domain = project.domain
    reported: set[str] = set()
    for message in project.nlu.examples:
        for span in message.entities:
            if span.entity in domain.entities or span.entity in reported:
                continue
            reported.add(span.entity)
            yield Problem(
                f"the entity '{span.entity}' is annotated in the NLU data but is not in the domain",
                message.file,
                message.line,
                f"Add '{span.entity}' under `entities:` in domain.yml, or the dialogue will not see it.",
                Severity.WARNING,
            )
            continue
    for message in project.nlu.examples:
        for span in message.entities:
            declared = domain.entities.get(span.entity)
            if declared is None:
                continue
            if span.role and span.role not in declared.roles:
                yield Problem(
                    f"the role '{span.role}' of the entity '{span.entity}' is not declared in the domain",
                    message.file,
                    message.line,
                    f"Add `roles: [{span.role}]` to the entity '{span.entity}' in domain.yml.",
                    Severity.WARNING,
                )
            if span.group and span.group not in declared.groups:
                yield Problem(
                    f"the group '{span.group}' of the entity '{span.entity}' is not declared in the domain",
                    message.file,
                    message.line,
                    f"Add `groups: [{span.group}]` to the entity '{span.entity}' in domain.yml.",
                    Severity.WARNING,
                )


def _nlu_examples(project: Project) -> Iterator[Problem]:
    first_seen: dict[str, tuple[str, str | None, int | None]] = {}
    for message in project.nlu.examples:
        if message.intent is None:
            continue
        key = message.text.strip().lower()
        earlier = first_seen.get(key)
        if earlier is None:
            first_seen[key] = (message.intent, message.file, message.line)
        elif earlier[0] != message.intent:
            yield Problem(
                f"the example '{message.text}' is labelled '{message.intent}' here and '{earlier[0]}' at "
                f"{earlier[1]}:{earlier[2]}",
                message.file,
                message.line,
                "Keep it under one intent: the classifier cannot learn two answers for the same text.",
                Severity.WARNING,
            )


# --- contradictions between rules and stories ---------------------------------------------------------


@dataclass
class _Moment:
    """The state of a story just before one of its actions, as far as rules can see it."""

    index: int
    slots: dict[str, object]
    active_loop: str | None


def _linear(block: StoryBlock) -> list[StoryBlock]:
    try:
        return expand_or(block, limit=64)
    except Exception:  # an `or` explosion is reported by the reader; contradictions are skipped then
        return []


def _events(steps: list[Step]) -> list[Step]:
    return [s for s in steps if isinstance(s, UserStep | ActionStep)]


def _rule_predictions(rule: StoryBlock) -> list[tuple[list[Step], str]]:
    """(the user/action steps before, the action the rule predicts) for each action of the rule."""
    predictions: list[tuple[list[Step], str]] = []
    events = _events(rule.steps)
    for index, step in enumerate(events):
        if isinstance(step, ActionStep) and step.name != RULE_SNIPPET:
            predictions.append((events[:index], step.name))
    if rule.wait_for_user_input and events and isinstance(events[-1], ActionStep):
        predictions.append((events, "action_listen"))
    return predictions


def _same_event(rule_step: Step, story_step: Step) -> bool:
    if isinstance(rule_step, UserStep) and isinstance(story_step, UserStep):
        if rule_step.intent != story_step.intent:
            return False
        wanted = {e.name for e in rule_step.entities}
        present = {e.name for e in story_step.entities} | {e.entity for e in story_step.text_entities}
        return wanted <= present
    if isinstance(rule_step, ActionStep) and isinstance(story_step, ActionStep):
        return rule_step.name == story_step.name
    return False


def _story_moments(block: StoryBlock) -> Iterator[tuple[list[Step], _Moment, str, Step | StoryBlock]]:
    """For each action of a linear story: the user/action steps before it, the state, the action."""
    events: list[Step] = []
    slots: dict[str, object] = {}
    active_loop: str | None = None
    for step in block.steps:
        if isinstance(step, SlotWasSetStep):
            slots.update(step.slots)
        elif isinstance(step, ActiveLoopStep):
            active_loop = step.name
        elif isinstance(step, ActionStep):
            yield list(events), _Moment(len(events), dict(slots), active_loop), step.name, step
            events.append(step)
        elif isinstance(step, UserStep):
            events.append(step)
    if events and isinstance(events[-1], ActionStep):
        yield list(events), _Moment(len(events), dict(slots), active_loop), "action_listen", block


def _rule_applies(rule: StoryBlock, before: list[Step], history: list[Step], moment: _Moment) -> bool:
    if moment.active_loop is not None:
        return False  # forms take over while active; their handling is checked at training time
    if len(before) > len(history) or not before or not isinstance(before[0], UserStep):
        return False
    if rule.conversation_start and len(before) != len(history):
        return False
    tail = history[len(history) - len(before) :]
    if not all(_same_event(r, s) for r, s in zip(before, tail, strict=True)):
        return False
    for condition in rule.condition:
        if isinstance(condition, ActiveLoopStep) and condition.name is not None:
            return False
        if isinstance(condition, SlotWasSetStep):
            for name, value in condition.slots.items():
                if name not in moment.slots or (value is not ... and moment.slots[name] != value):
                    return False
    return True


def _rule_story_contradictions(project: Project) -> Iterator[Problem]:
    """A rule that predicts one action where a story, in the same visible state, takes another.

    Only states a rule can see without training are compared: a story point where a form is active, or a rule
    with conditions on forms, is left to the dialogue trainer's full check.
    """
    rules = [(linear, _rule_predictions(linear)) for block in project.rules for linear in _linear(block)]
    if not rules:
        return
    reported: set[tuple[str, str]] = set()
    for story in project.stories:
        for linear in _linear(story):
            for history, moment, action, where in _story_moments(linear):
                for rule, predictions in rules:
                    for before, predicted in predictions:
                        if predicted in (action, REQUESTED_SLOT):
                            continue
                        if not _rule_applies(rule, before, history, moment):
                            continue
                        key = (rule.name, story.name)
                        if key in reported:
                            continue
                        reported.add(key)
                        yield _problem(
                            f"the rule '{rule.name}' ({rule.file}:{rule.line}) predicts '{predicted}' here, "
                            f"but the story '{story.name}' continues with '{action}'",
                            where,
                            "Make the story follow the rule, or narrow the rule with a condition.",
                        )


def count_by_kind(blocks: Iterable[StoryBlock]) -> dict[str, int]:
    counts: dict[str, int] = defaultdict(int)
    for block in blocks:
        counts[block.kind] += 1
    return dict(counts)
