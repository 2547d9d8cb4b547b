"""Test stories, checked the way `rasa test core` checks them (teacher forcing).

Each test story is made linear (checkpoints joined, `or` expanded) and turned into the events a tracker
would hold, as in training. The events are then fed one by one into a fresh tracker; before each action
(including each `action_listen`) the model predicts the next action from the conversation so far, and the
story's own action is recorded whatever was predicted, so one mistake does not spoil the rest. As in Rasa,
when the model predicts the active form but the story runs something else, the form's rejection is emulated
and the model asked again (forms do not run here, so a story's unhappy path cannot be known otherwise).

User messages: a step's `intent:` goes into the tracker as written. With a `parse` function (the NLU
pipeline, returning Rasa's parse JSON) a step's `user:` text is parsed too and (story intent, parsed intent)
recorded, as `rasa test --e2e` does; the story's intent still drives the dialogue. A step with text and no
intent takes the parsed intent and entities (Rasa would leave it to an end-to-end policy, which Conductor has
not). Entities are not compared.

`StoryTestResult.report()` gives the plain data `bot.evaluation.story_report` writes reports from.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from bot.dialogue.events import (
    ACTION_LISTEN_NAME,
    ActionExecuted,
    ActionExecutionRejected,
    UserUttered,
)
from bot.dialogue.model import DialogueModel, Prediction
from bot.dialogue.processor import parse_intent_payload
from bot.dialogue.tracker import DialogueStateTracker
from bot.dialogue.training import tracker_from_block
from bot.errors import Problem
from bot.evaluation.story_report import StoryResult
from bot.project.stories import ActionStep, Step, StoryBlock, dump_stories, resolve_checkpoints

__all__ = ["ActionCheck", "IntentCheck", "ParseFunction", "StoryTestResult", "check_test_story", "run_test_stories"]

ParseFunction = Callable[[str], dict[str, Any]]


@dataclass(frozen=True)
class ActionCheck:
    """One predicted action: `step` is its index in the story's steps (None for an implicit listen)."""

    step: int | None
    expected: str
    predicted: str
    policy: str | None
    confidence: float
    file: str | None = None
    line: int | None = None
    before_step: int | None = None
    """For an implicit `action_listen`: the step it comes before (None: after the last step)."""

    @property
    def correct(self) -> bool:
        return self.expected == self.predicted


@dataclass(frozen=True)
class IntentCheck:
    step: int | None
    expected: str
    predicted: str

    @property
    def correct(self) -> bool:
        return self.expected == self.predicted


@dataclass
class StoryTestResult:
    """One linear test story's checks."""

    story: StoryBlock
    actions: list[ActionCheck] = field(default_factory=list)
    intents: list[IntentCheck] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.story.name

    @property
    def passed(self) -> bool:
        return all(check.correct for check in self.actions) and all(check.correct for check in self.intents)

    def failures(self) -> list[str]:
        """Each wrong prediction as one line: where, what was expected, what was predicted."""
        lines: list[str] = []
        for check in self.actions:
            if not check.correct:
                where = f"{check.file}:{check.line}" if check.file else "after the last step"
                step = f"step {check.step + 1}" if check.step is not None else "implicit action_listen"
                lines.append(
                    f"{self.name}: {step} ({where}): expected '{check.expected}', predicted '{check.predicted}' "
                    f"({check.policy}, {check.confidence:.2f})"
                )
        for intent in self.intents:
            if not intent.correct:
                step = f"step {intent.step + 1}" if intent.step is not None else "a user step"
                lines.append(f"{self.name}: {step}: intent '{intent.expected}', NLU gave '{intent.predicted}'")
        return lines

    def annotated_story(self) -> tuple[StoryBlock, dict[tuple[int, int], str]]:
        """The story with each wrong step marked (an expected `action_listen` the model missed is written as
        an explicit step, where Rasa writes it), for `dump_stories`."""
        wrong = {c.step: c.predicted for c in self.actions if c.step is not None and not c.correct}
        wrong.update({c.step: c.predicted for c in self.intents if c.step is not None and not c.correct})
        listens = [c for c in self.actions if c.step is None and not c.correct]
        steps: list[Step] = []
        predicted: dict[tuple[int, int], str] = {}

        def missed_listens(before: int | None) -> None:
            for check in listens:
                if check.before_step == before:
                    predicted[(0, len(steps))] = check.predicted
                    steps.append(ActionStep(ACTION_LISTEN_NAME))

        for index, step in enumerate(self.story.steps):
            missed_listens(index)
            if index in wrong:
                predicted[(0, len(steps))] = wrong[index]
            steps.append(step)
        missed_listens(None)
        return replace(self.story, kind="test", steps=steps), predicted

    def report(self) -> StoryResult:
        """The plain data the report writers take (`bot.evaluation.story_report.StoryResult`)."""
        block, predicted = self.annotated_story()
        text = dump_stories([block], predicted)
        item = text.split("\nstories:\n", 1)[1] if "\nstories:\n" in text else text
        return StoryResult(
            name=self.name,
            actions=[(c.expected, c.predicted) for c in self.actions],
            yaml=item,
            intents=[(c.expected, c.predicted) for c in self.intents],
        )


def _predict(model: DialogueModel, tracker: DialogueStateTracker, expected: str) -> tuple[str, Prediction]:
    prediction = model.predict_next_action(tracker)
    predicted = prediction.action_name
    loop = tracker.active_loop_name
    if (
        prediction.policy_name
        and predicted != expected
        and loop == predicted
        and predicted in model.domain.forms
    ):
        # the form might have rejected its run: emulate that and ask again (Rasa's test does the same)
        tracker.update(ActionExecutionRejected(name=loop))
        prediction = model.predict_next_action(tracker)
        predicted = prediction.action_name
    return predicted, prediction


def _full_intent(parsed: dict[str, Any]) -> str:
    intent = parsed.get("intent") or {}
    base = intent.get("name") if isinstance(intent, dict) else None
    selector = parsed.get("response_selector") or {}
    if isinstance(selector, dict):
        for key in (base, "default"):
            found = (selector.get(key) or {}).get("response", {}).get("intent_response_key")
            if found:
                return str(found)
    return str(base)


def _user_event_with_parse(event: UserUttered, parsed: dict[str, Any]) -> UserUttered:
    parse_data = {
        **event.parse_data,
        "intent": parsed.get("intent") or {},
        "entities": parsed.get("entities") or [],
        "intent_ranking": parsed.get("intent_ranking") or [],
    }
    return replace(event, parse_data=parse_data)


def check_test_story(
    model: DialogueModel, story: StoryBlock, *, parse: ParseFunction | None = None
) -> StoryTestResult:
    """Check one linear test story."""
    made = tracker_from_block(replace(story, kind="story"), model.domain)
    events = made.tracker.events
    result = StoryTestResult(story)
    partial = DialogueStateTracker.for_domain(story.name, model.domain, events[:1])
    for index in range(1, len(events)):
        event = events[index]
        step = made.event_steps[index]
        if isinstance(event, ActionExecuted):
            expected = event.name or event.action_text or ""
            predicted, prediction = _predict(model, partial, expected)
            file, line = made.event_lines[index] or (None, None)
            before = next((s for s in made.event_steps[index + 1 :] if s is not None), None)
            result.actions.append(ActionCheck(
                step, expected, predicted, prediction.policy_name, prediction.confidence, file, line,
                before if step is None else None,
            ))
            partial.update(
                ActionExecuted(
                    name=event.name,
                    action_text=event.action_text,
                    policy=prediction.policy_name,
                    confidence=prediction.confidence,
                )
            )
        elif isinstance(event, UserUttered) and parse is not None and event.text:
            # a `/intent` payload (a button's) is read as the server reads it, not by the NLU (as in Rasa)
            parsed = parse_intent_payload(event.text, model.domain) or parse(event.text)
            if event.intent_name is None:
                partial.update(_user_event_with_parse(event, parsed))
                continue
            gold = event.intent.get("full_retrieval_intent_name") or event.intent_name
            predicted_intent = (parsed.get("intent") or {}).get("name")
            if gold != predicted_intent:
                predicted_intent = _full_intent(parsed)
            result.intents.append(IntentCheck(step, str(gold), str(predicted_intent)))
            partial.update(event)
        else:
            partial.update(event)
    return result


def run_test_stories(
    model: DialogueModel,
    stories: Sequence[StoryBlock],
    *,
    parse: ParseFunction | None = None,
    warnings: list[Problem] | None = None,
) -> list[StoryTestResult]:
    """Check every test story (checkpoints joined and `or` expanded first, as Rasa does)."""
    linear = resolve_checkpoints(list(stories), warnings=warnings)
    return [check_test_story(model, story, parse=parse) for story in linear]
