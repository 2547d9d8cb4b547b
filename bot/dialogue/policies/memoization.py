"""MemoizationPolicy and AugmentedMemoizationPolicy: recall the next action of a story seen in training.

Each training example is the story's last `max_history` states (all of them when `max_history` is None,
Rasa 3's default) with the action that followed. A state sequence seen with two different actions is
dropped (it cannot be recalled unambiguously). At prediction the conversation's states (without rule-only
turns, slots and loops) are looked up; a hit scores its action 1.0 (or the NLU confidence of the latest
intent with `use_nlu_confidence_as_score`).

The augmented policy, on a miss, forgets the oldest turns one action at a time (after first cutting the
conversation to `max_history` actions, back to a user message) and looks up again, so a story still matches
after slots were set before it began.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, ClassVar

from mypy_extensions import mypyc_attr

from bot.dialogue.events import ACTION_LISTEN_NAME, ActionExecuted, Event
from bot.dialogue.policies.base import (
    MEMOIZATION_POLICY_PRIORITY,
    Arrays,
    Policy,
    PolicyPrediction,
    PredictionContext,
)
from bot.dialogue.states import State, prediction_states, state_key, states_for_tracker, training_examples
from bot.dialogue.training import TrainingData, TrainingTracker
from bot.project.domain import Domain

__all__ = ["AugmentedMemoizationPolicy", "MemoizationPolicy", "lookup_from_examples"]


def lookup_from_examples(examples: list[tuple[str | None, str]]) -> dict[str, str]:
    """Key -> action, leaving out keys seen with more than one action (and empty keys)."""
    lookup: dict[str, str] = {}
    ambiguous: set[str] = set()
    for key, action in examples:
        if key is None or key in ambiguous:
            continue
        known = lookup.get(key)
        if known is None:
            lookup[key] = action
        elif known != action:
            ambiguous.add(key)
            del lookup[key]
    return lookup


def examples_of(
    trackers: list[TrainingTracker], domain: Domain, max_history: int | None, omit_unset_slots: bool = False
) -> list[tuple[list[State], str]]:
    """Training examples of these trackers, without repeats (Rasa's featurizer removes duplicates)."""
    seen: set[tuple[str, str]] = set()
    result: list[tuple[list[State], str]] = []
    for made in trackers:
        for states, action in training_examples(
            made.tracker,
            domain,
            max_history=max_history,
            omit_unset_slots=omit_unset_slots,
            unpredictable=made.unpredictable,
        ):
            marker = (state_key(states), action)
            if marker in seen:
                continue
            seen.add(marker)
            result.append((states, action))
    return result


@mypyc_attr(allow_interpreted_subclasses=True)  # as every policy: a third-party policy may build on it
class MemoizationPolicy(Policy):
    name = "MemoizationPolicy"
    default_priority = MEMOIZATION_POLICY_PRIORITY
    defaults: ClassVar[dict[str, Any]] = {"max_history": None, "use_nlu_confidence_as_score": False}

    def __init__(self, config: Mapping[str, Any] | None = None, lookup: dict[str, str] | None = None) -> None:
        super().__init__(config)
        self._longest: int | None = None
        self._lookup: dict[str, str] = lookup or {}

    @property  # a property rather than a descriptor class: mypyc compiles no custom descriptors
    def lookup(self) -> dict[str, str]:
        """States key -> the action the stories take there. Assigning a new one forgets what was derived from the
        old one."""
        return self._lookup

    @lookup.setter
    def lookup(self, value: dict[str, str]) -> None:
        self._lookup = value
        self._lookups_changed()

    def _lookups_changed(self) -> None:
        self._longest = None

    @property
    def max_history(self) -> int | None:
        value = self.config.get("max_history")
        return int(value) if isinstance(value, int | float) and value > 0 else None

    def train(self, data: TrainingData, domain: Domain) -> None:
        examples = examples_of(data.stories, domain, self.max_history)
        self.lookup = lookup_from_examples([(state_key(states), action) for states, action in examples])

    def _history_needed(self) -> int:
        """How many of the latest states a lookup needs: `max_history`, or without it one more than the
        longest remembered example (a conversation longer than every example matches none of them, and
        neither does its cut to that length)."""
        if self.max_history:
            return self.max_history
        if self._longest is None:
            self._longest = max([0, *(len(json.loads(key)) for key in self.lookup)])
        return self._longest + 1

    def _states(self, context: PredictionContext) -> list[State]:
        needed = self._history_needed()
        return prediction_states(
            context.tracker,
            context.domain,
            max_history=needed,
            base_states=context.states(ignore_rule_only_turns=True, last=needed),
        )

    def recall(self, states: list[State], context: PredictionContext) -> str | None:
        return self.lookup.get(state_key(states))

    def predict(self, context: PredictionContext) -> PolicyPrediction:
        probabilities = context.zeros()
        action = self.recall(self._states(context), context)
        if action is not None and action in context.action_index:
            score = 1.0
            if self.config.get("use_nlu_confidence_as_score"):
                confidence = context.tracker.latest_message.intent.get("confidence", 1.0)
                score = float(confidence) if isinstance(confidence, int | float) else 1.0
            probabilities[context.action_index[action]] = score
        return self.prediction(probabilities)

    def persist(self) -> tuple[dict[str, Any], Arrays]:
        return {"lookup": self.lookup}, {}

    @classmethod
    def restore(cls, config: Mapping[str, Any], data: Mapping[str, Any], arrays: Arrays) -> Policy:
        return cls(config, dict(data.get("lookup", {})))


def _cut_to_max_history(events: list[Event], max_history: int | None) -> list[Event]:
    """The applied events cut to the last `max_history` actions, starting at an `action_listen` (Rasa's cut,
    which keeps the latest user message in view)."""
    if not max_history:
        return events
    actions = 0
    for count, event in enumerate(reversed(events), start=1):
        if isinstance(event, ActionExecuted):
            actions += 1
            if actions > max_history and event.name == ACTION_LISTEN_NAME:
                return events[-count:]
    return events


@mypyc_attr(allow_interpreted_subclasses=True)
class AugmentedMemoizationPolicy(MemoizationPolicy):
    name = "AugmentedMemoizationPolicy"

    def recall(self, states: list[State], context: PredictionContext) -> str | None:
        found = self.lookup.get(state_key(states))
        if found is not None:
            return found
        # forget the oldest turns, one action at a time, and look up again
        events = _cut_to_max_history(context.tracker.applied_events(), self.max_history)
        starts = [index for index, event in enumerate(events) if isinstance(event, ActionExecuted)]
        old_states = states
        for start in starts:
            base = states_for_tracker(
                context.tracker,
                context.domain,
                ignore_rule_only_turns=True,
                rule_only_data=context.rule_only_data,
                events=events[start:],
            )
            new_states = prediction_states(
                context.tracker, context.domain, max_history=self.max_history, base_states=base
            )
            if new_states != old_states:
                found = self.lookup.get(state_key(new_states))
                if found is not None:
                    return found
                old_states = new_states
        return None
