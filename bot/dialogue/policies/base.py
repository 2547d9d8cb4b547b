"""What every policy shares: its prediction, the per-turn context it predicts from, and its lifecycle.

A policy is configured from config.yml parameters, trained on `TrainingData`, saved as JSON plus numpy
arrays (`persist` / `restore`, never pickles) and asked for a `PolicyPrediction` for a `PredictionContext`.
Probabilities are indexed like `Domain.action_names_or_texts` (Rasa's action order).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy.typing as npt
from mypy_extensions import mypyc_attr

from bot.dialogue.events import Event
from bot.dialogue.states import RuleOnlyData, State, StatesSoFar, resumed_states
from bot.dialogue.tracker import DialogueStateTracker
from bot.dialogue.training import TrainingData
from bot.project.domain import Domain

__all__ = [
    "DEFAULT_POLICY_PRIORITY",
    "MEMOIZATION_POLICY_PRIORITY",
    "RULE_POLICY_PRIORITY",
    "UNLIKELY_INTENT_POLICY_PRIORITY",
    "Arrays",
    "Policy",
    "PolicyPrediction",
    "PredictionContext",
]

# Rasa 3.x's priorities (rasa/core/constants.py): higher wins a tie of equal confidence.
DEFAULT_POLICY_PRIORITY = 1
UNLIKELY_INTENT_POLICY_PRIORITY = DEFAULT_POLICY_PRIORITY + 1
MEMOIZATION_POLICY_PRIORITY = UNLIKELY_INTENT_POLICY_PRIORITY + 1
RULE_POLICY_PRIORITY = MEMOIZATION_POLICY_PRIORITY + 1

Arrays = dict[str, npt.NDArray[Any]]


@dataclass
class PolicyPrediction:
    """One policy's scores for every action, and what it adds to the conversation if it wins.

    `events` are added to the tracker whether or not this prediction wins (e.g. `loop_interrupted`);
    `is_no_user_prediction` marks a prediction that does not depend on the user (a loop's happy path) and
    beats all others; `is_end_to_end_prediction` one made from the user's text, which beats those made from
    the intent; `hide_rule_turn` tells the story-based policies to skip this turn later (the rule that made
    it is used in no story).
    """

    probabilities: list[float]
    policy_name: str | None
    policy_priority: int = DEFAULT_POLICY_PRIORITY
    events: list[Event] = field(default_factory=list)
    is_end_to_end_prediction: bool = False
    is_no_user_prediction: bool = False
    hide_rule_turn: bool = False

    @property
    def max_confidence_index(self) -> int:
        """The first index of the highest probability (-1 when there are none)."""
        probabilities = self.probabilities
        if not probabilities:
            return -1
        # ~20 floats: numpy's argmax would spend more converting the list than comparing. max() keeps the first
        # of equal values, so the first index of that value is the one a key-wise max over indexes would give
        return probabilities.index(max(probabilities))

    @property
    def max_confidence(self) -> float:
        return max(self.probabilities) if self.probabilities else 0.0

    def with_events(self, events: list[Event]) -> PolicyPrediction:
        """This prediction with other `events` (the probabilities list is shared)."""
        # made field by field, not by `shallow_replace`: compiled, this is a native class without a __dict__
        return PolicyPrediction(
            self.probabilities,
            self.policy_name,
            self.policy_priority,
            events,
            self.is_end_to_end_prediction,
            self.is_no_user_prediction,
            self.hide_rule_turn,
        )


class PredictionContext:
    """One tracker at one turn, with its states computed once for all policies."""

    def __init__(
        self,
        tracker: DialogueStateTracker,
        domain: Domain,
        action_names: list[str],
        action_index: Mapping[str, int],
        rule_only_data: RuleOnlyData | None = None,
    ) -> None:
        self.tracker = tracker
        self.domain = domain
        self.action_names = action_names
        self.action_index = action_index
        self.rule_only_data = rule_only_data
        self._states: dict[bool, StatesSoFar] = {}

    def states(self, *, ignore_rule_only_turns: bool, last: int | None = None) -> list[State]:
        """The tracker's states, or only the `last` ones, which is all a policy with a bounded history needs
        (the states are shared: copy one before changing it; `prediction_states` does)."""
        cached = self._states.get(ignore_rule_only_turns)
        if cached is None:
            cached = resumed_states(
                self.tracker,
                self.domain,
                ignore_rule_only_turns=ignore_rule_only_turns,
                rule_only_data=self.rule_only_data if ignore_rule_only_turns else None,
            )
            self._states[ignore_rule_only_turns] = cached
        return cached.last(last)

    def for_tracker(self, tracker: DialogueStateTracker) -> PredictionContext:
        """A context for another tracker (a truncated or changed copy) with the same model data."""
        return PredictionContext(tracker, self.domain, self.action_names, self.action_index, self.rule_only_data)

    def zeros(self) -> list[float]:
        return [0.0] * len(self.action_names)


@mypyc_attr(allow_interpreted_subclasses=True)  # third-party policies subclass it
class Policy(ABC):
    """A trainable predictor of the next action."""

    name: ClassVar[str]
    default_priority: ClassVar[int] = DEFAULT_POLICY_PRIORITY
    defaults: ClassVar[dict[str, Any]] = {}

    def __init__(self, config: Mapping[str, Any] | None = None) -> None:
        self.config: dict[str, Any] = {**self.defaults, **dict(config or {})}
        priority = self.config.get("priority", self.default_priority)
        self.priority = int(priority) if isinstance(priority, int | float) else self.default_priority

    @abstractmethod
    def train(self, data: TrainingData, domain: Domain) -> None:
        """Learn from the training trackers; raise `ConductorError` for training data a person must fix."""

    @abstractmethod
    def predict(self, context: PredictionContext) -> PolicyPrediction:
        """Scores for the next action."""

    @abstractmethod
    def persist(self) -> tuple[dict[str, Any], Arrays]:
        """The trained policy as JSON-able data and named numpy arrays."""

    @classmethod
    @abstractmethod
    def restore(cls, config: Mapping[str, Any], data: Mapping[str, Any], arrays: Arrays) -> Policy:
        """The policy `persist` described."""

    def prediction(self, probabilities: list[float], **flags: Any) -> PolicyPrediction:
        return PolicyPrediction(probabilities, self.name, self.priority, **flags)

    def rule_only_data(self) -> RuleOnlyData | None:
        """Slots and loops only rules use (the rule policy knows them; others return None)."""
        return None
