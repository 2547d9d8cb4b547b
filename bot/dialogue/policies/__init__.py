"""Dialogue policies: rules and forms, memorised stories, and a learned policy, combined as Rasa combines them."""

from bot.dialogue.policies.base import (
    DEFAULT_POLICY_PRIORITY,
    MEMOIZATION_POLICY_PRIORITY,
    RULE_POLICY_PRIORITY,
    Policy,
    PolicyPrediction,
    PredictionContext,
)
from bot.dialogue.policies.ensemble import (
    MAX_NUMBER_OF_PREDICTIONS,
    combine_predictions,
    max_number_of_predictions,
)
from bot.dialogue.policies.learned import LearnedPolicy
from bot.dialogue.policies.memoization import AugmentedMemoizationPolicy, MemoizationPolicy
from bot.dialogue.policies.registry import DEFAULT_POLICY_CONFIG, POLICIES, policies_from_config
from bot.dialogue.policies.rule import RulePolicy

__all__ = [
    "DEFAULT_POLICY_CONFIG",
    "DEFAULT_POLICY_PRIORITY",
    "MAX_NUMBER_OF_PREDICTIONS",
    "MEMOIZATION_POLICY_PRIORITY",
    "POLICIES",
    "RULE_POLICY_PRIORITY",
    "AugmentedMemoizationPolicy",
    "LearnedPolicy",
    "MemoizationPolicy",
    "Policy",
    "PolicyPrediction",
    "PredictionContext",
    "RulePolicy",
    "combine_predictions",
    "max_number_of_predictions",
    "policies_from_config",
]
