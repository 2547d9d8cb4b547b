"""Choosing one prediction from the policies' predictions, as Rasa's `DefaultPolicyPredictionEnsemble` does.

1. An action the conversation just rejected (`action_execution_rejected` after it) scores 0 everywhere.
2. A "no user" prediction (a loop's happy path) beats all others.
3. Otherwise an end-to-end prediction (from the user's text) beats those from the intent.
4. Then the highest confidence wins, and a tie goes to the higher priority, then to the policy listed first.

The winner carries the events of every prediction (its own optional ones last) and, right after a user
message, a `user_featurization` event telling whether the text or the intent decided.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence

from bot.dialogue.events import (
    ACTION_LISTEN_NAME,
    ActionExecuted,
    ActionExecutionRejected,
    DefinePrevUserUtteredFeaturization,
    Event,
)
from bot.dialogue.policies.base import PolicyPrediction
from bot.dialogue.tracker import DialogueStateTracker
from bot.errors import ConductorError

__all__ = ["MAX_NUMBER_OF_PREDICTIONS", "combine_predictions", "max_number_of_predictions", "rejected_action"]

MAX_NUMBER_OF_PREDICTIONS = 10
"""Actions the bot may run after one user message before it stops (Rasa's default)."""


def max_number_of_predictions() -> int:
    """`MAX_NUMBER_OF_PREDICTIONS` from the environment (as Rasa reads it), else 10."""
    value = os.environ.get("MAX_NUMBER_OF_PREDICTIONS", "")
    return int(value) if value.isdigit() and int(value) > 0 else MAX_NUMBER_OF_PREDICTIONS


def rejected_action(tracker: DialogueStateTracker) -> str | None:
    """The action rejected last, if no action ran since."""
    for event in reversed(tracker.events):
        if isinstance(event, ActionExecutionRejected):
            return event.name
        if isinstance(event, ActionExecuted):
            return None
    return None


def combine_predictions(
    predictions: Sequence[PolicyPrediction], tracker: DialogueStateTracker, action_index: Mapping[str, int]
) -> PolicyPrediction:
    if not predictions:
        raise ConductorError.single(
            "no policy made a prediction", hint="List at least one policy under `policies:` in config.yml."
        )
    rejected = rejected_action(tracker)
    if rejected is not None and rejected in action_index:
        position = action_index[rejected]
        for prediction in predictions:
            if position < len(prediction.probabilities):
                prediction.probabilities[position] = 0.0
    any_no_user = any(p.is_no_user_prediction for p in predictions)

    def score(index: int) -> tuple[bool, bool, float, int]:
        p = predictions[index]
        return (
            p.is_no_user_prediction,
            not any_no_user and p.is_end_to_end_prediction,
            p.max_confidence,
            p.policy_priority,
        )

    best_index = max(range(len(predictions)), key=score)  # the first of equals wins
    best = predictions[best_index]
    events: list[Event] = [event for prediction in predictions for event in prediction.events]
    if tracker.latest_action_name == ACTION_LISTEN_NAME:
        events.append(DefinePrevUserUtteredFeaturization(use_text_for_featurization=best.is_end_to_end_prediction))
    return best.with_events(events)
