"""The learned policy: generalises from the stories to conversations no story covers, on the CPU in seconds.

It stands in for Rasa's TEDPolicy (config name `TEDPolicy` maps here with a notice; TED's own parameters
such as `epochs` do not apply). Each of the last `max_history` states (5 when not given) becomes a vector
as Rasa's single-state featurizer makes it: one-hot intent, multi-hot entities, the slots' features, one-hot
previous action and active loop. The vectors of the window, oldest first and zero-padded, are joined and a
multinomial logistic regression (numpy, full-batch Adam) learns the next action from the stories (rules are
left to the RulePolicy, as TED leaves them), plus stories glued after other stories (Rasa's augmentation, so
the policy learns that an earlier, unrelated story does not matter). Each example is also learnt with only
its latest states, so the current turn weighs most. It is saved as its weight arrays and predicts with one
matrix product.

At prediction it sees the conversation as the story-based policies do: turns only rules predicted are
hidden, and so are the slots and loops only rules use.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np
import numpy.typing as npt

from bot.dialogue.events import ACTION_LISTEN_NAME, ActionExecuted
from bot.dialogue.policies.base import (
    DEFAULT_POLICY_PRIORITY,
    Arrays,
    Policy,
    PolicyPrediction,
    PredictionContext,
)
from bot.dialogue.policies.memoization import examples_of
from bot.dialogue.states import ACTIVE_LOOP, PREVIOUS_ACTION, SLOTS, USER, State, prediction_states, state_key
from bot.dialogue.tracker import DialogueStateTracker
from bot.dialogue.training import TrainingData, TrainingTracker
from bot.project.domain import Domain

__all__ = ["DEFAULT_LEARNED_MAX_HISTORY", "LearnedPolicy", "StateFeaturizer", "fit_softmax_regression"]

DEFAULT_LEARNED_MAX_HISTORY = 5
DEFAULT_L2 = 1e-4
DEFAULT_AUGMENTATION_FACTOR = 50
_AUGMENTATION_ROUNDS = 2
_SEED = 42
_STEPS = 600
_LEARNING_RATE = 0.1


def fit_softmax_regression(
    x: npt.NDArray[np.float64], y: npt.NDArray[np.int64], classes: int, *, l2: float = DEFAULT_L2
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Multinomial logistic regression by full-batch Adam: (weights [classes x features], bias [classes]).

    Deterministic (starts from zeros) and quick for the few hundred examples stories give.
    """
    weights = np.zeros((classes, x.shape[1]))
    bias = np.zeros(classes)
    if classes < 2:
        return weights, bias
    from scipy import sparse  # only training needs it: a server does not import scipy (22 MB)

    # the features are mostly zeros: sparse products are fast and use no BLAS threads
    rows = sparse.csr_matrix(x)
    columns = sparse.csr_matrix(x.T)
    targets = np.eye(classes)[y]
    moments = [np.zeros_like(weights), np.zeros_like(bias)]
    squares = [np.zeros_like(weights), np.zeros_like(bias)]
    beta1, beta2, epsilon = 0.9, 0.999, 1e-8
    for step in range(1, _STEPS + 1):
        scores = np.asarray(rows @ weights.T) + bias
        scores -= scores.max(axis=1, keepdims=True)
        probabilities = np.exp(scores)
        probabilities /= probabilities.sum(axis=1, keepdims=True)
        error = (probabilities - targets) / len(x)
        gradients = [np.asarray(columns @ error).T + l2 * weights, error.sum(axis=0)]
        for i, (parameter, gradient) in enumerate(zip((weights, bias), gradients, strict=True)):
            moments[i] = beta1 * moments[i] + (1 - beta1) * gradient
            squares[i] = beta2 * squares[i] + (1 - beta2) * gradient**2
            corrected = moments[i] / (1 - beta1**step)
            parameter -= _LEARNING_RATE * corrected / (np.sqrt(squares[i] / (1 - beta2**step)) + epsilon)
    return weights, bias


def augmented_trackers(stories: list[TrainingTracker], domain: Domain, factor: int) -> list[TrainingTracker]:
    """Stories glued after the ends of other stories, as Rasa augments the data of its neural policy: what
    came before a story must not change what the story does. At most `factor * 10` trackers, chosen with a
    fixed seed, in two rounds (so up to three stories in a row)."""
    if factor <= 0 or not stories:
        return []
    chooser = random.Random(_SEED)
    limit = factor * 10
    made: list[TrainingTracker] = []
    ends = list(stories)
    for _ in range(_AUGMENTATION_ROUNDS):
        starts = chooser.sample(ends, min(factor, len(ends)))
        round_made: list[TrainingTracker] = []
        for story in stories:
            for start in starts:
                round_made.append(_glued(start, story, domain))
        made += round_made
        ends = round_made
    if len(made) > limit:
        made = chooser.sample(made, limit)
    return made


def _glued(first: TrainingTracker, second: TrainingTracker, domain: Domain) -> TrainingTracker:
    head = first.tracker.events
    ends_listening = bool(head) and isinstance(head[-1], ActionExecuted) and head[-1].name == ACTION_LISTEN_NAME
    cut = len(head) - 1 if ends_listening else len(head)
    events = [*head[:cut], *second.tracker.events]
    tracker = DialogueStateTracker.for_domain(f"{first.name} > {second.name}", domain, events)
    unpredictable = frozenset(
        {i for i in first.unpredictable if i < cut} | {cut + i for i in second.unpredictable}
    )
    lines = [*first.event_lines[:cut], *second.event_lines]
    steps = [*first.event_steps[:cut], *second.event_steps]
    return TrainingTracker(second.block, tracker, lines, steps, unpredictable)


class StateFeaturizer:
    """Turns windows of states into fixed-length vectors over a vocabulary taken from the domain."""

    def __init__(self, vocabulary: list[str], max_history: int) -> None:
        self.vocabulary = vocabulary
        self.index = {name: position for position, name in enumerate(vocabulary)}
        self.max_history = max_history

    @classmethod
    def for_domain(cls, domain: Domain, max_history: int) -> StateFeaturizer:
        slot_features: list[str] = []
        for name, slot in DialogueStateTracker.for_domain("", domain).slots.items():
            slot_features += [f"slot:{name}:{i}" for i in range(slot.feature_dimensionality())]
        vocabulary = (
            [f"intent:{name}" for name in domain.intent_names]
            + [f"entity:{label}" for label in domain.entity_labels]
            + slot_features
            + [f"prev:{name}" for name in domain.action_names_or_texts]
            + [f"loop:{name}" for name in domain.form_names]
        )
        return cls(vocabulary, max_history)

    @property
    def width(self) -> int:
        return len(self.vocabulary) * self.max_history

    def _state_into(self, state: State, row: npt.NDArray[np.float64], offset: int) -> None:
        def put(name: str, value: float = 1.0) -> None:
            position = self.index.get(name)
            if position is not None:
                row[offset + position] = value

        user = state.get(USER, {})
        if "intent" in user:
            put(f"intent:{user['intent']}")
        for label in user.get("entities", ()):
            put(f"entity:{label}")
        for slot, value in state.get(SLOTS, {}).items():
            if isinstance(value, tuple):
                for i, feature in enumerate(value):
                    put(f"slot:{slot}:{i}", float(feature))
        previous = state.get(PREVIOUS_ACTION, {})
        name = previous.get("action_name") or previous.get("action_text")
        if name:
            put(f"prev:{name}")
        loop = state.get(ACTIVE_LOOP, {}).get("name")
        if loop:
            put(f"loop:{loop}")

    def vector(self, states: list[State]) -> npt.NDArray[np.float64]:
        row = np.zeros(self.width)
        window = states[-self.max_history :]
        padding = self.max_history - len(window)
        size = len(self.vocabulary)
        for position, state in enumerate(window):
            self._state_into(state, row, (padding + position) * size)
        return row


class LearnedPolicy(Policy):
    name = "LearnedPolicy"
    default_priority = DEFAULT_POLICY_PRIORITY
    defaults: ClassVar[dict[str, Any]] = {
        "max_history": None,
        "l2": DEFAULT_L2,
        "augmentation_factor": DEFAULT_AUGMENTATION_FACTOR,
    }

    def __init__(self, config: Mapping[str, Any] | None = None) -> None:
        super().__init__(config)
        self.featurizer: StateFeaturizer | None = None
        self.weights: npt.NDArray[np.float64] = np.zeros((0, 0))
        self.bias: npt.NDArray[np.float64] = np.zeros(0)
        self.labels: list[str] = []

    @property
    def max_history(self) -> int:
        value = self.config.get("max_history")
        return int(value) if isinstance(value, int | float) and value > 0 else DEFAULT_LEARNED_MAX_HISTORY

    def train(self, data: TrainingData, domain: Domain) -> None:
        featurizer = StateFeaturizer.for_domain(domain, self.max_history)
        self.featurizer = featurizer
        factor = self.config.get("augmentation_factor")
        trackers = [*data.stories, *augmented_trackers(data.stories, domain, int(factor) if factor else 0)]
        examples = examples_of(trackers, domain, self.max_history)
        if not examples:
            self.labels = []
            return
        # each example also with only its latest state(s), so the current turn weighs most and an unseen
        # history does not outvote it
        windows = {
            (state_key(states[-size:]), action): (states[-size:], action)
            for states, action in examples
            for size in range(1, self.max_history + 1)
        }
        x = np.stack([featurizer.vector(states) for states, _ in windows.values()])
        labels = sorted({action for _, action in examples})
        y = np.array([labels.index(action) for _, action in windows.values()])
        self.labels = labels
        strength = self.config.get("l2")
        self.weights, self.bias = fit_softmax_regression(
            x, y, len(labels), l2=float(strength) if isinstance(strength, int | float) else DEFAULT_L2
        )

    def predict(self, context: PredictionContext) -> PolicyPrediction:
        probabilities = context.zeros()
        if self.featurizer is None or not self.labels:
            return self.prediction(probabilities)
        states = prediction_states(
            context.tracker,
            context.domain,
            max_history=self.max_history,
            base_states=context.states(ignore_rule_only_turns=True, last=self.max_history),
        )
        scores = self.weights @ self.featurizer.vector(states) + self.bias
        scores = np.exp(scores - scores.max())
        scores /= scores.sum()
        for label, score in zip(self.labels, scores, strict=True):
            index = context.action_index.get(label)
            if index is not None:
                probabilities[index] = float(score)
        return self.prediction(probabilities)

    def persist(self) -> tuple[dict[str, Any], Arrays]:
        vocabulary = self.featurizer.vocabulary if self.featurizer is not None else []
        data = {"labels": self.labels, "vocabulary": vocabulary, "max_history": self.max_history}
        return data, {"weights": self.weights, "bias": self.bias}

    @classmethod
    def restore(cls, config: Mapping[str, Any], data: Mapping[str, Any], arrays: Arrays) -> Policy:
        policy = cls(config)
        policy.labels = list(data.get("labels", []))
        policy.featurizer = StateFeaturizer(list(data.get("vocabulary", [])), int(data.get("max_history", 5)))
        policy.weights = np.asarray(arrays.get("weights", np.zeros((0, 0))), dtype=np.float64)
        policy.bias = np.asarray(arrays.get("bias", np.zeros(0)), dtype=np.float64)
        return policy
