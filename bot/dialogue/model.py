"""The trained dialogue model: the project's policies, trained, saved and loaded, and asked what to do next.

`train_policies(project)` builds the training trackers from the stories and rules and trains each policy of
config.yml (Rasa's defaults when it names none). `DialogueModel.predict_next_action(tracker)` answers with
one `Prediction`, chosen as Rasa's ensemble chooses. `save(dir)` writes `dialogue.json` (policy names,
settings and learnt tables), one `.npz` file of numpy arrays per policy that has arrays, and the domain as
`domain.json`; `load(dir)` reads them back without running any code (no pickles).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import numpy as np

from bot.dialogue.events import Event
from bot.dialogue.policies.base import Policy, PolicyPrediction, PredictionContext
from bot.dialogue.policies.ensemble import combine_predictions
from bot.dialogue.policies.learned import LearnedPolicy
from bot.dialogue.policies.memoization import AugmentedMemoizationPolicy, MemoizationPolicy
from bot.dialogue.policies.registry import POLICIES, PolicySpec, policies_from_config
from bot.dialogue.states import RuleOnlyData
from bot.dialogue.tracker import DialogueStateTracker
from bot.dialogue.training import TrainingData, build_training_data
from bot.errors import ConductorError, Problem, Severity
from bot.project.domain import Domain
from bot.project.stories import StoryBlock

if TYPE_CHECKING:
    from bot.project.loader import Project

__all__ = ["FOLLOWUP_ACTION_POLICY", "MODEL_FORMAT", "DialogueModel", "Prediction", "train_policies"]

logger = logging.getLogger(__name__)

MODEL_FORMAT: Final = 1
FOLLOWUP_ACTION_POLICY: Final = "followup_action"
"""The policy name of a prediction that ran the tracker's followup action (as Rasa names it)."""
_MODEL_FILE = "dialogue.json"
_DOMAIN_FILE = "domain.json"


@dataclass
class Prediction:
    """The next action, who chose it, and what to record with it.

    `events` go on the tracker before the action runs (e.g. `loop_interrupted`, `user_featurization`);
    `hide_rule_turn` goes on the action's `action` event. `probabilities` follow `action_names`.
    """

    action_name: str
    confidence: float
    policy_name: str | None
    policy_priority: int = 0
    events: list[Event] = field(default_factory=list)
    is_end_to_end_prediction: bool = False
    is_no_user_prediction: bool = False
    hide_rule_turn: bool = False
    probabilities: list[float] = field(default_factory=list)


class DialogueModel:
    """Trained policies over one domain."""

    def __init__(self, domain: Domain, policies: Sequence[Policy], warnings: Sequence[Problem] = ()) -> None:
        self.domain = domain
        self.policies = list(policies)
        self.warnings = list(warnings)
        self.action_names = domain.action_names_or_texts
        self.action_index = {name: index for index, name in enumerate(self.action_names)}
        self.rule_only_data: RuleOnlyData | None = next(
            (data for policy in self.policies if (data := policy.rule_only_data()) is not None), None
        )
        self._order, self._sure_after = _asking_order(self.policies)

    def context(self, tracker: DialogueStateTracker) -> PredictionContext:
        return PredictionContext(tracker, self.domain, self.action_names, self.action_index, self.rule_only_data)

    def policy_predictions(self, tracker: DialogueStateTracker) -> list[PolicyPrediction]:
        """Every policy's own prediction (for debugging and reports)."""
        context = self.context(tracker)
        return [policy.predict(context) for policy in self.policies]

    def predict_next_action(
        self, tracker: DialogueStateTracker, domain: Domain | None = None, *, use_followup: bool = True
    ) -> Prediction:
        """The next action for this conversation.

        A pending `followup_action` the domain knows is returned as is (policy `followup_action`), as
        Rasa's processor does; logging the action's `action` event clears it. `domain` defaults to the
        model's own (a different one must have the same actions).
        """
        if domain is not None and domain is not self.domain and domain.action_names_or_texts != self.action_names:
            raise ConductorError.single(
                "the domain's actions differ from those the dialogue model was trained with",
                hint="Train the model again with `bot train`.",
            )
        followup = tracker.followup_action
        if use_followup and followup and followup in self.action_index:
            probabilities = [0.0] * len(self.action_names)
            probabilities[self.action_index[followup]] = 1.0
            return Prediction(followup, 1.0, FOLLOWUP_ACTION_POLICY, probabilities=probabilities)
        best = self._best_prediction(tracker)
        index = best.max_confidence_index
        return Prediction(
            action_name=self.action_names[index] if index >= 0 else self.action_names[0],
            confidence=best.max_confidence,
            policy_name=best.policy_name,
            policy_priority=best.policy_priority,
            events=list(best.events),
            is_end_to_end_prediction=best.is_end_to_end_prediction,
            is_no_user_prediction=best.is_no_user_prediction,
            hide_rule_turn=best.hide_rule_turn,
            probabilities=list(best.probabilities),
        )

    def _best_prediction(self, tracker: DialogueStateTracker) -> PolicyPrediction:
        context = self.context(tracker)
        predictions: list[PolicyPrediction | None] = [None] * len(self.policies)
        sure_one = False  # whether a prediction so far is no-user or has confidence 1 (combining can only lower it)
        for position, sure_after in zip(self._order, self._sure_after, strict=True):
            prediction = predictions[position] = self.policies[position].predict(context)
            sure_one = sure_one or prediction.is_no_user_prediction or prediction.max_confidence >= 1.0
            if sure_after and sure_one:
                # every policy still to ask is a built-in one of lower priority (no events, no end-to-end or
                # no-user predictions, confidence at most 1): a sure prediction so far cannot be beaten
                made = [prediction for prediction in predictions if prediction is not None]
                best = combine_predictions(made, tracker, self.action_index)
                if best.is_no_user_prediction or best.max_confidence >= 1.0:
                    return best
        return combine_predictions(
            [prediction for prediction in predictions if prediction is not None], tracker, self.action_index
        )

    # --- persistence ------------------------------------------------------------------------------------

    def save(self, directory: str | Path) -> None:
        """Write the model into `directory` (created if missing)."""
        folder = Path(directory)
        folder.mkdir(parents=True, exist_ok=True)
        entries: list[dict[str, Any]] = []
        for position, policy in enumerate(self.policies):
            data, arrays = policy.persist()
            entry: dict[str, Any] = {"name": policy.name, "config": policy.config, "data": data}
            if arrays:
                array_file = f"policy_{position}_{policy.name}.npz"
                np.savez(folder / array_file, **arrays)  # type: ignore[arg-type]
                entry["arrays"] = array_file
            entries.append(entry)
        manifest = {"format": MODEL_FORMAT, "action_names": self.action_names, "policies": entries}
        (folder / _MODEL_FILE).write_text(json.dumps(manifest, ensure_ascii=False), encoding="utf-8")
        (folder / _DOMAIN_FILE).write_text(json.dumps(self.domain.as_dict(), ensure_ascii=False), encoding="utf-8")

    @classmethod
    def load(cls, directory: str | Path, domain: Domain | None = None) -> DialogueModel:
        """Read a model `save` wrote; `domain` replaces the saved one (its actions must be the same)."""
        folder = Path(directory)
        manifest_path = folder / _MODEL_FILE
        try:
            manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
            if domain is None:
                domain = Domain.from_dict(json.loads((folder / _DOMAIN_FILE).read_text(encoding="utf-8")))
        except (OSError, ValueError) as exc:
            raise ConductorError.single(
                f"cannot read the dialogue model: {exc}", manifest_path, hint="Train the model again with `bot train`."
            ) from None
        if manifest.get("format") != MODEL_FORMAT:
            raise ConductorError.single(
                f"the dialogue model has format {manifest.get('format')!r}, this version reads {MODEL_FORMAT}",
                manifest_path,
                hint="Train the model again with `bot train`.",
            )
        if manifest.get("action_names") != domain.action_names_or_texts:
            raise ConductorError.single(
                "the domain's actions differ from those the dialogue model was trained with",
                manifest_path,
                hint="Train the model again with `bot train`.",
            )
        policies: list[Policy] = []
        for entry in manifest.get("policies", []):
            policy_class = POLICIES.get(entry.get("name"))
            if policy_class is None:
                raise ConductorError.single(
                    f"the dialogue model uses the unknown policy {entry.get('name')!r}", manifest_path
                )
            arrays: dict[str, Any] = {}
            if entry.get("arrays"):
                with np.load(folder / entry["arrays"], allow_pickle=False) as stored:
                    arrays = {name: stored[name] for name in stored.files}
            policies.append(policy_class.restore(entry.get("config", {}), entry.get("data", {}), arrays))
        return cls(domain, policies)


_BUILT_IN_FOLLOWERS: Final = (MemoizationPolicy, AugmentedMemoizationPolicy, LearnedPolicy)
"""Policies whose predictions never carry events, never are end-to-end or no-user ones, and never exceed
confidence 1: asked after a policy of higher priority that is sure, they cannot change the result."""


def _asking_order(policies: Sequence[Policy]) -> tuple[list[int], list[bool]]:
    """The positions of the policies, highest priority first (the listed order among equals), and for each
    whether a sure prediction made so far can no longer be beaten by the policies still to ask (then they
    need not run: same result, less time)."""
    order = sorted(range(len(policies)), key=lambda position: -policies[position].priority)
    sure_after = []
    for rank, position in enumerate(order):
        rest = [policies[later] for later in order[rank + 1 :]]
        sure_after.append(
            bool(rest)
            and all(type(policy) in _BUILT_IN_FOLLOWERS for policy in rest)
            and rest[0].priority < policies[position].priority
        )
    return order, sure_after


def train_policies(
    project: Project | None = None,
    *,
    domain: Domain | None = None,
    stories: Sequence[StoryBlock] = (),
    rules: Sequence[StoryBlock] = (),
    policies: Sequence[PolicySpec] | None = None,
) -> DialogueModel:
    """Train the dialogue policies of a project (or of the given domain, stories, rules and policy specs).

    Raises `ConductorError` for training data a person must fix (contradicting rules and stories, rules
    with more than one user message, ...); notices (defaults used, TEDPolicy served by the learned policy)
    end up in `DialogueModel.warnings`.
    """
    source: str | None = None
    if project is not None:
        domain = project.domain
        stories = project.stories
        rules = project.rules
        configured = project.config.policies
        policies = None if configured is None else [(c.name, c.params) for c in configured]
        source = str(project.paths.config)
    if domain is None:
        raise ValueError("train_policies needs a project or a domain")
    started = time.perf_counter()
    trained, notices = policies_from_config(policies, source)
    data: TrainingData = build_training_data(domain, stories, rules)
    for policy in trained:
        policy.train(data, domain)
    for notice in [*data.warnings, *notices]:
        if notice.severity is Severity.WARNING:
            logger.info("%s", notice)
    logger.debug("trained %d dialogue policies in %.2f s", len(trained), time.perf_counter() - started)
    return DialogueModel(domain, trained, [*data.warnings, *notices])
