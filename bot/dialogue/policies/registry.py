"""Policies by the names config.yml uses (Rasa's names where the behaviour matches), and Rasa's defaults.

`TEDPolicy` is served by the learned policy (with a notice: its neural-network parameters do not apply);
`UnexpecTEDIntentPolicy` is left out with a notice; the policies Rasa 3 removed are errors that say what
replaces them. Third-party policies register under the entry-point group `bot.policies`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from importlib.metadata import entry_points
from typing import Any

from bot.dialogue.policies.base import Policy
from bot.dialogue.policies.learned import LearnedPolicy
from bot.dialogue.policies.memoization import AugmentedMemoizationPolicy, MemoizationPolicy
from bot.dialogue.policies.rule import RulePolicy
from bot.errors import ConductorError, Problem, Severity

__all__ = ["DEFAULT_POLICY_CONFIG", "ENTRY_POINT_GROUP", "POLICIES", "PolicySpec", "policies_from_config"]

ENTRY_POINT_GROUP = "bot.policies"

POLICIES: dict[str, type[Policy]] = {
    cls.name: cls for cls in (RulePolicy, MemoizationPolicy, AugmentedMemoizationPolicy, LearnedPolicy)
}
_ALIASES = {"TEDPolicy": LearnedPolicy.name}
_IGNORED = {
    "UnexpecTEDIntentPolicy": "it only flags unlikely user messages (`action_unlikely_intent`) and is left out",
}
_REMOVED = {
    "FormPolicy": "forms are handled by the RulePolicy",
    "MappingPolicy": "write a rule: `- intent: <intent>` then `- action: <action>`",
    "FallbackPolicy": "use the RulePolicy's `core_fallback_threshold` and an `nlu_fallback` rule",
    "TwoStageFallbackPolicy": "use an `nlu_fallback` rule with `action_two_stage_fallback`",
    "KerasPolicy": "use TEDPolicy",
    "EmbeddingPolicy": "use TEDPolicy",
    "SklearnPolicy": "use TEDPolicy",
}

PolicySpec = tuple[str, dict[str, Any]]

DEFAULT_POLICY_CONFIG: list[PolicySpec] = [
    ("MemoizationPolicy", {}),
    ("RulePolicy", {}),
    ("UnexpecTEDIntentPolicy", {"max_history": 5, "epochs": 100}),
    ("TEDPolicy", {"max_history": 5, "epochs": 100, "constrain_similarities": True}),
]
"""What Rasa 3.x trains when config.yml names no policies."""

_TED_ONLY_KEYS = {"epochs", "constrain_similarities", "model_confidence", "batch_size", "learning_rate"}


def _third_party(name: str) -> type[Policy] | None:
    for entry in entry_points(group=ENTRY_POINT_GROUP):
        if entry.name == name:
            loaded = entry.load()
            if isinstance(loaded, type) and issubclass(loaded, Policy):
                return loaded
    return None


def policies_from_config(
    specs: Sequence[PolicySpec] | None, source: str | None = None
) -> tuple[list[Policy], list[Problem]]:
    """Policies for config.yml's `policies` (Rasa's defaults when None), with notices as warnings."""
    notices: list[Problem] = []
    if specs is None:
        specs = DEFAULT_POLICY_CONFIG
        notices.append(Problem(
            "config.yml names no policies: Rasa's defaults are used (MemoizationPolicy, RulePolicy, TEDPolicy)",
            source,
            severity=Severity.WARNING,
        ))
    policies: list[Policy] = []
    errors: list[Problem] = []
    for given_name, params in specs:
        name = given_name.rsplit(".", 1)[-1]
        if name in _IGNORED:
            notices.append(Problem(f"{name}: {_IGNORED[name]}", source, severity=Severity.WARNING))
            continue
        if name in _REMOVED:
            errors.append(Problem(
                f"the policy {name} was removed in Rasa 3 and is not available",
                source,
                hint=f"Instead, {_REMOVED[name]}.",
            ))
            continue
        if name in _ALIASES:
            unused = sorted(set(params) & _TED_ONLY_KEYS)
            detail = f" (its parameters {', '.join(unused)} do not apply)" if unused else ""
            notices.append(Problem(
                f"{name} is served by Conductor's learned policy{detail}",
                source,
                severity=Severity.WARNING,
            ))
            name = _ALIASES[name]
        cls = POLICIES.get(name) or _third_party(given_name)
        if cls is None:
            errors.append(Problem(
                f"unknown policy '{given_name}'",
                source,
                hint=f"Known policies: {', '.join(sorted([*POLICIES, *_ALIASES]))}; others can be added as "
                f"packages registering the entry point group '{ENTRY_POINT_GROUP}'.",
            ))
            continue
        policies.append(cls(_plain(params)))
    if errors:
        raise ConductorError(errors)
    if not policies:
        raise ConductorError.single(
            "config.yml leaves no policy that can run", source, hint="Add `- name: RulePolicy` under `policies:`."
        )
    return policies, notices


def _plain(params: Mapping[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in params.items() if key != "name"}
