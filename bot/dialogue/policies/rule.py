"""RulePolicy: rules, forms (loops) and the fallback, with Rasa 3.x's semantics.

What it predicts, in order (Rasa's `RulePolicy._predict`):

1. a rule written with the user's text (end-to-end), right after a user message;
2. Rasa's default actions: `action_restart` after `/restart`, `action_back` after `/back`,
   `action_session_start` after `/session_start`;
3. an active loop's happy path: the loop again after anything but itself, `action_listen` after the loop ran
   (unless the loop rejected its run) — this beats every other policy (`is_no_user_prediction`);
4. a rule matching the conversation's recent states (the longest one when several match). Inside an active
   loop, a general rule predicting `action_listen` gives way to the loop, and the story/rule data decide
   whether the loop was interrupted (`loop_interrupted` is sent so the form skips validation once);
5. otherwise the fallback action (`core_fallback_action_name`) at `core_fallback_threshold`, when
   `enable_fallback_prediction` is on.

A rule is learnt as the states after its `...` snippet (or from the conversation start): each state's parts
must be present in the conversation's state at the same distance from now; a slot or loop set to `null` in
the rule must be unset. Training checks rules as Rasa does: at most one user message per rule
(`restrict_rules`), rules that leave out a slot or loop their action sets elsewhere, and rules contradicting
stories or other rules (`check_for_contradictions`); each is a `ConductorError` naming the places.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from mypy_extensions import mypyc_attr

from bot.dialogue.events import (
    ACTION_LISTEN_NAME,
    ActionExecuted,
    ActionExecutionRejected,
    ActiveLoop,
    LoopInterrupted,
    SlotSet,
    UserUttered,
)
from bot.dialogue.policies.base import (
    RULE_POLICY_PRIORITY,
    Arrays,
    Policy,
    PolicyPrediction,
    PredictionContext,
)
from bot.dialogue.policies.memoization import examples_of, lookup_from_examples
from bot.dialogue.states import (
    ACTIVE_LOOP,
    PREVIOUS_ACTION,
    SLOTS,
    USER,
    RuleOnlyData,
    State,
    active_loop_in_state,
    is_prev_action_listen_in_state,
    prediction_states,
    prev_action_name_in_state,
)
from bot.dialogue.tracker import SHOULD_NOT_BE_SET, DialogueStateTracker
from bot.dialogue.training import TrainingData, TrainingTracker
from bot.errors import ConductorError, Problem
from bot.project.domain import RULE_SNIPPET_ACTION, Domain

__all__ = ["DEFAULT_CORE_FALLBACK_THRESHOLD", "RulePolicy"]

DEFAULT_CORE_FALLBACK_THRESHOLD = 0.3
DEFAULT_ACTION_MAPPINGS = {
    "restart": "action_restart",
    "back": "action_back",
    "session_start": "action_session_start",
}
LOOP_WAS_INTERRUPTED = "loop_was_interrupted"
DO_NOT_PREDICT_LOOP_ACTION = "do_not_predict_loop_action"
DEFAULT_RULES = "predicting default action with intent "
LOOP_RULES = "handling active loops and forms - "
LOOP_RULES_SEPARATOR = " - "
ALLOWED_USER_MESSAGES_PER_RULE = 1

_RULES_DOCS = "See https://rasa.com/docs/rasa/rules for how rules work."


_RULE_KEY_ENCODER = json.JSONEncoder(sort_keys=True)
"""`json.dumps(..., sort_keys=True)` made once (dumps builds a new encoder for every call with options)."""


def _rule_key(states: list[State]) -> str | None:
    """The states after the latest `...` snippet, as text; None when nothing is left."""
    kept: list[State] = []
    for state in reversed(states):
        if prev_action_name_in_state(state) == RULE_SNIPPET_ACTION:
            break
        kept.insert(0, state)
    if not kept:
        return None
    return _RULE_KEY_ENCODER.encode(kept)


def _key_states(key: str) -> list[State]:
    states: list[State] = json.loads(key)
    for state in states:
        for sub_state in state.values():
            for name, value in sub_state.items():
                if isinstance(value, list):
                    sub_state[name] = tuple(value)
    return states


def _rule_matches_state(rule_state: State, state: State) -> bool:
    for part, rule_sub_state in rule_state.items():
        sub_state = state.get(part, {})
        for name, wanted in rule_sub_state.items():
            found = sub_state.get(name)
            if wanted and wanted != SHOULD_NOT_BE_SET and found != wanted:
                return False
            if wanted == SHOULD_NOT_BE_SET and found and found != SHOULD_NOT_BE_SET:
                return False
    return True


def _rule_applies(reversed_rule: list[State], states: list[State]) -> bool:
    """Whether a rule (its states newest first) fits the conversation's latest states; a conversation
    shorter than the rule is compared as far as it goes, as in Rasa."""
    for turn, rule_state in enumerate(reversed_rule):
        if turn >= len(states):
            return True
        state = states[-1 - turn]
        rule_previous = rule_state.get(PREVIOUS_ACTION)
        previous = state.get(PREVIOUS_ACTION)
        if not rule_previous and not previous:
            continue  # both are conversation starts
        if not rule_previous or not previous:
            return False
        if not _rule_matches_state(rule_state, state):
            return False
    return True


def _may_apply_to_text(rule_state: State) -> bool:
    """Whether a rule state could match the newest state of the pass over the text (`RulePolicy._from_rules`
    with `use_text`): previous action action_listen, a user part of the text alone."""
    previous = _required(rule_state.get(PREVIOUS_ACTION, {}))
    if any(entry != ("action_name", ACTION_LISTEN_NAME) for entry in previous):
        return False
    return all(name == "text" for name, _ in _required(rule_state.get(USER, {})))


def _required(sub_state: Mapping[str, Any]) -> list[tuple[str, Any]]:
    """The entries a rule's sub-state insists on (`_rule_matches_state`: a value, not "should not be set")."""
    return [(name, value) for name, value in sub_state.items() if value and value != SHOULD_NOT_BE_SET]


class _RuleIndex:
    """The keys of a rule lookup grouped by what their newest state asks of the conversation's newest state, so
    a prediction checks the few rules that can apply rather than all of them (a client instance with two skills
    spent half of each turn matching rules). `candidates` may give keys that do not apply, never leaves out one
    that does: `_rule_applies` still decides.

    - `at_start`: the rule's newest state has no previous action, so it fits only a conversation whose newest
      state has none either (`_rule_applies`).
    - `by_action`: the newest state asks for exactly one previous action (`("action_name", "action_listen")`),
      which the conversation's must equal; within, by the user intent it asks for (None: it asks for none).
    - `always`: anything else (checked every time).
    """

    def __init__(self, lookup: Mapping[str, str], parsed: Callable[[str], list[State]]) -> None:
        self.lookup = lookup
        self.size = len(lookup)
        self.always: list[str] = []
        self.at_start: list[str] = []
        self.by_action: dict[tuple[str, Any], dict[Any, list[str]]] = {}
        for key in lookup:
            newest = parsed(key)[0] if parsed(key) else None
            if newest is None:
                self.always.append(key)
                continue
            previous = newest.get(PREVIOUS_ACTION)
            if not previous:
                self.at_start.append(key)
                continue
            asked = _required(previous)
            if len(asked) != 1:
                self.always.append(key)
                continue
            intents = [value for name, value in _required(newest.get(USER, {})) if name == "intent"]
            self.by_action.setdefault(asked[0], {}).setdefault(intents[0] if intents else None, []).append(key)

    def fits(self, lookup: Mapping[str, str]) -> bool:
        """Whether this index was made of `lookup` as it is (training drops rules from it)."""
        return lookup is self.lookup and len(lookup) == self.size

    def candidates(self, state: State) -> list[str]:
        previous = state.get(PREVIOUS_ACTION)
        if not previous:
            return [*self.always, *self.at_start]
        found = list(self.always)
        intent = state.get(USER, {}).get("intent")
        for item in previous.items():
            by_intent = self.by_action.get(item)
            if by_intent:
                found += by_intent.get(None, ())
                if intent is not None:
                    found += by_intent.get(intent, ())
        return found


@dataclass
class _Source:
    """A rule (or built-in behaviour) that predicted `action` at a place of the training data."""

    name: str
    action: str
    file: str | None
    line: int | None

    def describe(self) -> str:
        where = f" ({self.file}:{self.line})" if self.file else ""
        return f"'{self.name}'{where}"


@mypyc_attr(allow_interpreted_subclasses=True)  # as every policy: a third-party policy may build on it
class RulePolicy(Policy):
    name = "RulePolicy"
    default_priority = RULE_POLICY_PRIORITY
    defaults: ClassVar[dict[str, Any]] = {
        "core_fallback_threshold": DEFAULT_CORE_FALLBACK_THRESHOLD,
        "core_fallback_action_name": "action_default_fallback",
        "enable_fallback_prediction": True,
        "restrict_rules": True,
        "check_for_contradictions": True,
        "use_nlu_confidence_as_score": False,
    }

    def __init__(self, config: Mapping[str, Any] | None = None) -> None:
        super().__init__(config)
        self._parsed: dict[str, list[State]] = {}
        """A key's states, newest first: a function of the key alone, so never out of date."""
        self._longest: int | None = None
        self._text_can_match: bool | None = None
        self._indexes: dict[int, _RuleIndex] = {}
        self._rules: dict[str, str] = {}
        self._unhappy_paths: dict[str, str] = {}
        self._rules_not_in_stories: set[str] = set()
        self.rule_only = RuleOnlyData()
        self._sources: dict[str, list[_Source]] = defaultdict(list)

    # --- the lookups, and what is derived from them ---------------------------------------------------------

    # properties rather than a descriptor class: mypyc compiles no custom descriptors

    @property
    def rules(self) -> dict[str, str]:
        """The rules: states key -> action. Assigning this, `unhappy_paths` or `rules_not_in_stories` forgets
        what was derived from them; a rule is taken out with `_drop_rule`, which does the same."""
        return self._rules

    @rules.setter
    def rules(self, value: dict[str, str]) -> None:
        self._rules = value
        self._lookups_changed()

    @property
    def unhappy_paths(self) -> dict[str, str]:
        """The places where a loop's unhappy path goes on: states key -> a loop condition."""
        return self._unhappy_paths

    @unhappy_paths.setter
    def unhappy_paths(self, value: dict[str, str]) -> None:
        self._unhappy_paths = value
        self._lookups_changed()

    @property
    def rules_not_in_stories(self) -> set[str]:
        """The keys of rules (and of places in rules where no rule applied) that no story shows."""
        return self._rules_not_in_stories

    @rules_not_in_stories.setter
    def rules_not_in_stories(self, value: set[str]) -> None:
        self._rules_not_in_stories = value
        self._lookups_changed()

    def _drop_rule(self, key: str) -> None:
        self._rules.pop(key, None)
        self._lookups_changed()

    def _lookups_changed(self) -> None:
        self._longest = None
        self._text_can_match = None
        self._indexes.clear()  # an index of replaced lookups would never fit again

    # --- configuration ------------------------------------------------------------------------------------

    @property
    def fallback_action(self) -> str:
        return str(self.config["core_fallback_action_name"])

    @property
    def fallback_threshold(self) -> float:
        value = self.config["core_fallback_threshold"]
        return float(value) if isinstance(value, int | float) else DEFAULT_CORE_FALLBACK_THRESHOLD

    def _flag(self, name: str) -> bool:
        value = self.config.get(name)
        return value if isinstance(value, bool) else bool(self.defaults[name])

    def rule_only_data(self) -> RuleOnlyData | None:
        return self.rule_only

    # --- training -----------------------------------------------------------------------------------------

    def train(self, data: TrainingData, domain: Domain) -> None:
        if self.fallback_action not in domain.action_names_or_texts:
            raise ConductorError.single(
                f"the RulePolicy's core_fallback_action_name '{self.fallback_action}' is not an action of the "
                "domain",
                hint="Add it under `actions:` in the domain, or set core_fallback_action_name to an action "
                "the domain has.",
            )
        if self._flag("restrict_rules"):
            self._check_rule_restriction(data.rules)
        check = self._flag("check_for_contradictions")
        if check:
            self._check_for_incomplete_rules(data.rules, domain)
        rule_examples = examples_of(data.rules, domain, None, omit_unset_slots=True)
        lookup = lookup_from_examples([(_rule_key(states), action) for states, action in rule_examples])
        self.rules = {key: action for key, action in lookup.items() if action != RULE_SNIPPET_ACTION}
        story_examples = examples_of(data.stories, domain, None)
        if check:
            self.rule_only = _rule_only_data(
                [states for states, _ in rule_examples], [states for states, _ in story_examples]
            )
        self.unhappy_paths = _loop_unhappy_lookup([*rule_examples, *story_examples])
        if check:
            self.rules_not_in_stories = self._analyze_rules(data, domain)

    def _check_rule_restriction(self, rules: list[TrainingTracker]) -> None:
        problems = [
            Problem(
                f"the rule '{made.name}' has more than {ALLOWED_USER_MESSAGES_PER_RULE} user message",
                made.block.file,
                made.block.line,
                "Rules are for short, fixed pieces of conversation; write longer exchanges as stories "
                "(or set `restrict_rules: false` for the RulePolicy).",
            )
            for made in rules
            if sum(isinstance(event, UserUttered) for event in made.tracker.events) > ALLOWED_USER_MESSAGES_PER_RULE
        ]
        if problems:
            raise ConductorError(problems)

    def _check_for_incomplete_rules(self, rules: list[TrainingTracker], domain: Domain) -> None:
        fingerprints = _action_fingerprints(rules, domain)
        if not fingerprints:
            return
        problems: list[Problem] = []
        for made in rules:
            states = made.tracker.past_states(domain)
            following = [prev_action_name_in_state(state) for state in states[1:]] + [ACTION_LISTEN_NAME]
            for state, next_action in zip(states, following, strict=True):
                previous = prev_action_name_in_state(state)
                fingerprint = fingerprints.get(previous or "")
                if (
                    previous is None
                    or fingerprint is None
                    or next_action == RULE_SNIPPET_ACTION
                    or previous == RULE_SNIPPET_ACTION
                ):
                    continue
                slots, loops = fingerprint
                missing = sorted(slots - set(state.get(SLOTS, {})))
                if missing:
                    problems.append(Problem(
                        f"in rule '{made.name}' the action '{previous}' does not set the slot(s) "
                        f"{', '.join(repr(s) for s in missing)}, which it sets in other rules",
                        made.block.file,
                        made.block.line,
                        "Add the slots after the action with `- slot_was_set:`, or, when the action ends the "
                        "rule, add `wait_for_user_input: false` to the rule. Slots that must stay unset are "
                        "written as `null`.",
                    ))
                loop = state.get(ACTIVE_LOOP, {}).get("name")
                if loops and loop not in loops:
                    shown = sorted("null" if name == SHOULD_NOT_BE_SET else name for name in loops)
                    problems.append(Problem(
                        f"in rule '{made.name}' the form '{previous}' does not set `active_loop`, which it sets "
                        f"in other rules ({', '.join(shown)})",
                        made.block.file,
                        made.block.line,
                        f"Add `- active_loop: {previous}` (or `null`) after it, or, when it ends the rule, add "
                        "`wait_for_user_input: false` to the rule.",
                    ))
        if problems:
            raise ConductorError(problems)

    # --- contradictions (Rasa runs its own predictions over the training data) ----------------------------

    def _analyze_rules(self, data: TrainingData, domain: Domain) -> set[str]:
        self._sources = defaultdict(list)
        self._run_on_trackers(data.rules, domain, collect=True)
        problems, used_in_stories = self._run_on_trackers(data.all, domain, collect=False)
        if problems:
            raise ConductorError(problems)
        every_rule = (
            set(self._sources)
            | {DEFAULT_RULES + intent for intent in DEFAULT_ACTION_MAPPINGS}
            | {LOOP_RULES + loop for loop in domain.form_names}
            | {f"{LOOP_RULES}{loop}{LOOP_RULES_SEPARATOR}{ACTION_LISTEN_NAME}" for loop in domain.form_names}
        )
        return every_rule - used_in_stories

    def _run_on_trackers(
        self, trackers: list[TrainingTracker], domain: Domain, *, collect: bool
    ) -> tuple[list[Problem], set[str]]:
        names = domain.action_names_or_texts
        context = PredictionContext(DialogueStateTracker("", None), domain, names, {n: i for i, n in enumerate(names)})
        problems: list[Problem] = []
        used: set[str] = set()
        for made in trackers:
            running = made.tracker.init_copy()
            positions = {id(event): index for index, event in enumerate(made.tracker.events)}
            next_unpredictable = True  # the first action has no history
            for event in made.tracker.applied_events():
                if not isinstance(event, ActionExecuted):
                    running.update(event)
                    continue
                index = positions.get(id(event))
                if event.name == RULE_SNIPPET_ACTION:
                    next_unpredictable = True
                    running.update(event)
                    continue
                if next_unpredictable or index in made.unpredictable:
                    next_unpredictable = False
                    running.update(event)
                    continue
                gold = event.name or event.action_text or ""
                predicted, source = self._predicted_for_training(context.for_tracker(running), gold)
                file, line = made.where(index)
                if collect:
                    if source is not None:
                        self._collect_source(made, predicted, gold, source, file, line)
                else:
                    if not made.is_rule and predicted == gold and source is not None:
                        used.add(source)
                    problems += self._check_prediction(made, predicted, gold, source, file, line)
                running.update(event)
        return problems, used

    def _predicted_for_training(self, context: PredictionContext, gold: str) -> tuple[str | None, str | None]:
        predicted, source = self._predict_name(context)
        tracker = context.tracker
        loop = tracker.active_loop_name
        if loop and predicted != gold and predicted == loop:
            tracker.update(ActionExecutionRejected(name=loop))  # as Rasa's test emulates a rejection
            predicted, source = self._predict_name(context.for_tracker(tracker))
        return predicted, source

    def _predict_name(self, context: PredictionContext) -> tuple[str | None, str | None]:
        prediction, source = self._predict(context)
        # for stories nothing predicted is no contradiction; for rules the fallback counts
        if prediction.probabilities == self._default_probabilities(context) and not context.tracker.is_rule_tracker:
            return None, source
        return context.action_names[prediction.max_confidence_index], source

    def _collect_source(
        self, made: TrainingTracker, predicted: str | None, gold: str, source: str, file: str | None, line: int | None
    ) -> None:
        name = made.name
        if source.startswith(DEFAULT_RULES) or source.startswith(LOOP_RULES):
            gold = predicted or gold
            name = source
            file, line = None, None
        self._sources[source].append(_Source(name, gold, file, line))

    def _should_delete(self, made: TrainingTracker, source: str, predicted: str) -> bool:
        """A story's `action_listen` contradicting a rule only because the rule continues after the user's
        message: the shorter rule is dropped instead (Rasa's rule)."""
        if made.is_rule or source.count(PREVIOUS_ACTION) > 1 or predicted != ACTION_LISTEN_NAME:
            return False
        return any(other.startswith(source[:-2]) and other != source for other in self.rules)

    def _check_prediction(
        self,
        made: TrainingTracker,
        predicted: str | None,
        gold: str,
        source: str | None,
        file: str | None,
        line: int | None,
    ) -> list[Problem]:
        if predicted is None or source is None or predicted == gold:
            return []
        if self._should_delete(made, source, predicted):
            self._drop_rule(source)
            return []
        contradicting = {s.describe(): s for s in self._sources.get(source, []) if s.action != gold}
        if not contradicting:
            return []
        rules = ", ".join(sorted(contradicting))
        message = f"{made.kind} '{made.name}' expects the action '{gold}' here, which contradicts rule(s) {rules}"
        if predicted != self.fallback_action:
            message += f", which predict '{predicted}'"
        return [Problem(
            message,
            file,
            line,
            "Make the stories and rules agree: change the step, or give the rule a `condition` (or more steps) "
            f"so it does not apply here. {_RULES_DOCS}",
        )]

    # --- prediction ---------------------------------------------------------------------------------------

    def _default_probabilities(self, context: PredictionContext) -> list[float]:
        probabilities = context.zeros()
        if self._flag("enable_fallback_prediction") and self.fallback_action in context.action_index:
            probabilities[context.action_index[self.fallback_action]] = self.fallback_threshold
        return probabilities

    def _result(self, action: str, context: PredictionContext) -> list[float]:
        probabilities = self._default_probabilities(context)
        score = 1.0
        if self._flag("use_nlu_confidence_as_score"):
            confidence = context.tracker.latest_message.intent.get("confidence", 1.0)
            score = float(confidence) if isinstance(confidence, int | float) else 1.0
        index = context.action_index.get(action)
        if index is not None:
            probabilities[index] = score
        return probabilities

    def _matching_keys(self, lookup: Mapping[str, str], states: list[State]) -> list[str]:
        if not states:
            return [key for key in lookup if _rule_applies(self._parsed_key(key), states)]
        index = self._indexes.get(id(lookup))
        if index is None or not index.fits(lookup):
            index = self._indexes[id(lookup)] = _RuleIndex(lookup, self._parsed_key)
        return [key for key in index.candidates(states[-1]) if _rule_applies(self._parsed_key(key), states)]

    def _parsed_key(self, key: str) -> list[State]:
        parsed = self._parsed.get(key)
        if parsed is None:
            parsed = self._parsed[key] = list(reversed(_key_states(key)))
        return parsed

    def _longest_key(self) -> int:
        """The most states any key of the training data holds: the rules', the unhappy paths', and those of
        the places in rules where no rule applied (kept among `rules_not_in_stories`, as Rasa does, to tell
        a rule's fallback from a story's)."""
        if self._longest is None:
            keys = [*self.rules, *self.unhappy_paths, *(k for k in self.rules_not_in_stories if k.startswith("["))]
            self._longest = max([1, *(len(self._parsed_key(key)) for key in keys)])
        return self._longest

    def _from_rules(
        self, context: PredictionContext, use_text: bool, *, serving: bool = False
    ) -> tuple[str | None, str | None, bool]:
        """The action the rules predict, the key it came from, and whether a loop resumes after an unhappy
        path. The key, when no rule applies, is the states themselves (as in Rasa), except in the pass over the
        text (`use_text`), whose key serves only when a rule applied.

        `serving` (a prediction for a conversation, not the analysis of the training data) looks at one state
        more than `_longest_key`: rules match the latest states only, and a conversation longer than every
        key equals none of them either way, so its key is not computed (None).
        """
        tracker = context.tracker
        if use_text and tracker.latest_action_name != ACTION_LISTEN_NAME:
            return None, None, False
        if use_text and serving and not self._text_can_match_any():
            return None, None, False  # what the pass would find: no key, no loop condition
        base = context.states(ignore_rule_only_turns=False, last=self._longest_key() + 1 if serving else None)
        states = prediction_states(tracker, context.domain, use_text_for_last_user_input=use_text, base_states=base)
        returning_from_unhappy_path = False
        keys = self._matching_keys(self.rules, states)
        predicted: str | None = None
        best = ""
        if keys:
            # several matching rules mean one is part of another: take the longest (Rasa compares the
            # lengths of the rules' texts; equal lengths are settled here by the text, Rasa's pick is random)
            best = max(keys, key=lambda key: (len(key), key))
            predicted = self.rules[best]
        loop = tracker.active_loop_name
        if loop:
            conditions = {self.unhappy_paths[key] for key in self._matching_keys(self.unhappy_paths, states)}
            general_listen = predicted == ACTION_LISTEN_NAME and not active_loop_in_state(self._parsed_key(best)[0])
            if general_listen:
                if DO_NOT_PREDICT_LOOP_ACTION not in conditions:
                    return loop, best, returning_from_unhappy_path
                predicted = None
            if LOOP_WAS_INTERRUPTED in conditions:
                returning_from_unhappy_path = True
        if best or use_text or (serving and len(states) > self._longest_key()):
            # a text pass that found no rule gives no key: its source is used only when a rule applied
            return predicted, best or None, returning_from_unhappy_path
        return predicted, _rule_key(states), returning_from_unhappy_path

    def _text_can_match_any(self) -> bool:
        """Whether any rule or unhappy path could apply in the pass over the text. That pass runs right after
        the user spoke: the newest state's previous action is action_listen and its user part holds the
        message's text alone (or nothing), so only a key whose newest state asks for that previous action (or
        for none) and nothing of the user but a text can apply. Most projects have no such key (their rules
        follow intents), and the pass, about a fifth of a prediction, is then skipped."""
        if self._text_can_match is None:
            keys = [*self.rules, *self.unhappy_paths]
            newest = [parsed[0] if parsed else {} for parsed in map(self._parsed_key, keys)]
            self._text_can_match = any(_may_apply_to_text(state) for state in newest)
        return self._text_can_match

    def _from_default_actions(self, tracker: DialogueStateTracker) -> tuple[str | None, str | None]:
        if tracker.latest_action_name != ACTION_LISTEN_NAME:
            return None, None
        intent = tracker.latest_message.intent_name
        action = DEFAULT_ACTION_MAPPINGS.get(intent or "")
        if action is None or intent is None:
            return None, None
        return action, DEFAULT_RULES + intent

    @staticmethod
    def _from_loop_happy_path(tracker: DialogueStateTracker) -> tuple[str | None, str | None]:
        loop = tracker.active_loop_name
        if loop is None or tracker.is_active_loop_rejected:
            return None, None
        if tracker.latest_action and tracker.latest_action.get("action_name") != loop:
            return loop, LOOP_RULES + loop
        if tracker.latest_action_name == loop:
            return ACTION_LISTEN_NAME, f"{LOOP_RULES}{loop}{LOOP_RULES_SEPARATOR}{ACTION_LISTEN_NAME}"
        return None, None

    def _rule_prediction(
        self,
        probabilities: list[float],
        source: str | None,
        *,
        returning_from_unhappy_path: bool = False,
        is_end_to_end_prediction: bool = False,
        is_no_user_prediction: bool = False,
    ) -> PolicyPrediction:
        return self.prediction(
            probabilities,
            events=[LoopInterrupted(is_interrupted=True)] if returning_from_unhappy_path else [],
            is_end_to_end_prediction=is_end_to_end_prediction,
            is_no_user_prediction=is_no_user_prediction,
            hide_rule_turn=source is not None and source in self.rules_not_in_stories,
        )

    def _predict(self, context: PredictionContext, *, serving: bool = False) -> tuple[PolicyPrediction, str | None]:
        tracker = context.tracker
        text_action, text_source, text_returning = self._from_rules(context, use_text=True, serving=serving)
        default_action, default_source = self._from_default_actions(tracker)
        if default_action and not text_action:
            return self._rule_prediction(self._result(default_action, context), default_source), default_source
        loop_action, loop_source = self._from_loop_happy_path(tracker)
        if loop_action:
            prediction = self._rule_prediction(
                self._result(loop_action, context), loop_source, is_no_user_prediction=True
            )
            return prediction, loop_source
        if text_action:
            prediction = self._rule_prediction(
                self._result(text_action, context),
                text_source,
                returning_from_unhappy_path=text_returning,
                is_end_to_end_prediction=True,
            )
            return prediction, text_source
        intent_action, intent_source, intent_returning = self._from_rules(context, use_text=False, serving=serving)
        probabilities = (
            self._result(intent_action, context) if intent_action else self._default_probabilities(context)
        )
        prediction = self._rule_prediction(
            probabilities, intent_source, returning_from_unhappy_path=text_returning or intent_returning
        )
        return prediction, intent_source

    def predict(self, context: PredictionContext) -> PolicyPrediction:
        return self._predict(context, serving=True)[0]

    # --- persistence --------------------------------------------------------------------------------------

    def persist(self) -> tuple[dict[str, Any], Arrays]:
        data = {
            "rules": self.rules,
            "rules_for_loop_unhappy_path": self.unhappy_paths,
            "rules_not_in_stories": sorted(self.rules_not_in_stories),
            **self.rule_only.as_dict(),
        }
        return data, {}

    @classmethod
    def restore(cls, config: Mapping[str, Any], data: Mapping[str, Any], arrays: Arrays) -> Policy:
        policy = cls(config)
        policy.unhappy_paths = dict(data.get("rules_for_loop_unhappy_path", {}))
        policy.rules = dict(data.get("rules", {}))
        policy.rules_not_in_stories = set(data.get("rules_not_in_stories", []))
        policy.rule_only = RuleOnlyData.from_dict(dict(data))
        return policy


# --- training helpers ---------------------------------------------------------------------------------------


def _rule_only_data(rule_states: list[list[State]], story_states: list[list[State]]) -> RuleOnlyData:
    def slots_and_loops(examples: list[list[State]]) -> tuple[set[str], set[str]]:
        slots: set[str] = set()
        loops: set[str] = set()
        for states in examples:
            for state in states:
                slots.update(state.get(SLOTS, {}))
                loop = state.get(ACTIVE_LOOP, {}).get("name")
                if loop:
                    loops.add(loop)
        return slots, loops

    rule_slots, rule_loops = slots_and_loops(rule_states)
    story_slots, story_loops = slots_and_loops(story_states)
    return RuleOnlyData(
        frozenset(rule_slots - story_slots - {SHOULD_NOT_BE_SET}),
        frozenset(rule_loops - story_loops - {SHOULD_NOT_BE_SET}),
    )


def _loop_unhappy_lookup(examples: list[tuple[list[State], str]]) -> dict[str, str]:
    """For states inside a loop: whether the loop ran after an interruption, or must not run (Rasa's
    auxiliary "unhappy path" rules, from rules and stories alike)."""
    lookup: dict[str, str] = {}
    for states, action in examples:
        loop = active_loop_in_state(states[-1])
        if not loop:
            continue
        if len(states) == 1 or not states[-2].get(PREVIOUS_ACTION):
            recent = [states[-1]]
        else:
            recent = [{PREVIOUS_ACTION: states[-2][PREVIOUS_ACTION]}, states[-1]]
        key = _rule_key(recent)
        if key is None:
            continue
        after_listen = is_prev_action_listen_in_state(states[-1])
        if after_listen and action == loop:
            lookup[key] = LOOP_WAS_INTERRUPTED
        elif not after_listen and action != loop:
            lookup[key] = DO_NOT_PREDICT_LOOP_ACTION
    return lookup


def _action_fingerprints(
    trackers: list[TrainingTracker], domain: Domain
) -> dict[str, tuple[set[str], set[str]]]:
    """Per action: the featurised slots and the loops set right after it somewhere in these trackers."""
    after: dict[str, list[Any]] = defaultdict(list)
    for made in trackers:
        action: str | None = None
        for event in made.tracker.events:
            if isinstance(event, ActionExecuted):
                action = event.name or event.action_text
            elif isinstance(event, UserUttered):
                action = None
            elif action:
                after[action].append(event)
    tracker = DialogueStateTracker.for_domain("", domain)
    featurised = {name for name, slot in tracker.slots.items() if slot.feature_dimensionality() > 0}
    fingerprints: dict[str, tuple[set[str], set[str]]] = {}
    for action, events in after.items():
        slots = {e.name for e in events if isinstance(e, SlotSet)} & featurised
        loops = {e.name for e in events if isinstance(e, ActiveLoop) and e.name is not None}
        fingerprints[action] = (slots, loops)
    return fingerprints
