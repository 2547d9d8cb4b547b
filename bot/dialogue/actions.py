"""Actions: what the bot does when a policy picks a name, and the registry that finds an action by name.

An action is `async run(tracker, domain, context) -> list[Event]`; it never touches the tracker itself, the
processor appends the events. `ActionContext` carries what an action may use while it runs: the response
generator, the output channel's name (for channel-specific responses) and the registry (so a form can ask with
`action_ask_<slot>` or validate with `validate_<form>`).

`ActionRegistry.resolve(name, domain)` finds the action the way Rasa 3.6 does (`action_for_name_or_text`):

1. a default action (`action_listen`, `action_restart`, ...), unless the domain declares an action of that name
   and one is registered, which then replaces it;
2. `utter_<retrieval intent>`: the response the response selector chose;
3. an end-to-end bot text of the domain (`e2e_actions`): that text;
4. `utter_*`: the response of that name;
5. a form not overridden by a declared action: the form (`bot.dialogue.forms.FormAction`);
6. an action registered by name (plugins, rasa-sdk classes: issue 7);
7. anything else: `MissingAction`, which logs an error and answers with `utter_default` if there is one.

The default actions behave as Rasa 3.6's, event for event; the two-stage fallback is a loop (`LoopAction`).
"""

from __future__ import annotations

import copy
import logging
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any, ClassVar

from bot.dialogue.events import (
    ACTION_LISTEN_NAME,
    NO_METADATA,
    ActionExecuted,
    ActiveLoop,
    Event,
    Restarted,
    SessionStarted,
    SlotSet,
    UserUtteranceReverted,
    UserUttered,
)
from bot.dialogue.responses import NaturalLanguageGenerator, bot_utterance
from bot.dialogue.tracker import DialogueStateTracker, EventVerbosity
from bot.errors import ConductorError, Problem
from bot.project.domain import REQUESTED_SLOT, SESSION_STARTED_METADATA_SLOT, Domain

__all__ = [
    "ACTION_BACK_NAME",
    "ACTION_DEACTIVATE_LOOP_NAME",
    "ACTION_DEFAULT_ASK_AFFIRMATION_NAME",
    "ACTION_DEFAULT_ASK_REPHRASE_NAME",
    "ACTION_DEFAULT_FALLBACK_NAME",
    "ACTION_EXTRACT_SLOTS_NAME",
    "ACTION_RESTART_NAME",
    "ACTION_REVERT_FALLBACK_EVENTS_NAME",
    "ACTION_SESSION_START_NAME",
    "ACTION_TWO_STAGE_FALLBACK_NAME",
    "ACTION_UNLIKELY_INTENT_NAME",
    "NLU_FALLBACK_INTENT",
    "OUT_OF_SCOPE_INTENT",
    "Action",
    "ActionBack",
    "ActionContext",
    "ActionDeactivateLoop",
    "ActionDefaultAskAffirmation",
    "ActionDefaultAskRephrase",
    "ActionDefaultFallback",
    "ActionExecutionRejection",
    "ActionFunction",
    "ActionListen",
    "ActionRegistry",
    "ActionRestart",
    "ActionRevertFallbackEvents",
    "ActionSessionStart",
    "ActionUnlikelyIntent",
    "EndToEndAction",
    "FunctionAction",
    "LoopAction",
    "MissingAction",
    "RetrievalAction",
    "TwoStageFallbackAction",
    "UtterAction",
    "utter",
]

logger = logging.getLogger(__name__)

ACTION_RESTART_NAME = "action_restart"
ACTION_SESSION_START_NAME = "action_session_start"
ACTION_DEFAULT_FALLBACK_NAME = "action_default_fallback"
ACTION_DEACTIVATE_LOOP_NAME = "action_deactivate_loop"
ACTION_REVERT_FALLBACK_EVENTS_NAME = "action_revert_fallback_events"
ACTION_DEFAULT_ASK_AFFIRMATION_NAME = "action_default_ask_affirmation"
ACTION_DEFAULT_ASK_REPHRASE_NAME = "action_default_ask_rephrase"
ACTION_TWO_STAGE_FALLBACK_NAME = "action_two_stage_fallback"
ACTION_UNLIKELY_INTENT_NAME = "action_unlikely_intent"
ACTION_BACK_NAME = "action_back"
ACTION_EXTRACT_SLOTS_NAME = "action_extract_slots"

NLU_FALLBACK_INTENT = "nlu_fallback"
OUT_OF_SCOPE_INTENT = "out_of_scope"
UTTER_PREFIX = "utter_"
RESPONSE_SELECTOR_KEY = "response_selector"
RESPONSE_SELECTOR_DEFAULT_INTENT = "default"


class ActionExecutionRejection(Exception):
    """Raised by an action that refuses to run (a form that could not fill its slot): the processor records
    `action_execution_rejected` and lets the policies predict another action."""

    def __init__(self, action_name: str, message: str | None = None) -> None:
        self.action_name = action_name
        self.message = message or f"the action '{action_name}' refused to run"
        super().__init__(self.message)


@dataclass(frozen=True)
class ActionContext:
    """What an action may use while it runs."""

    nlg: NaturalLanguageGenerator
    actions: ActionRegistry
    channel: str | None = None
    """The output channel's name; responses written for this `channel:` are preferred."""


class Action(ABC):
    """Something the bot does. Subclasses set `name` and implement `run`."""

    name: str
    reads_only: ClassVar[bool] = False
    """True when `run` never changes the tracker it is given and is never rejected (built-in actions that only
    read it): the processor then hands it the conversation's tracker instead of a copy. A subclass whose `run`
    may change the tracker or reject must leave (or set) this False."""

    @abstractmethod
    async def run(self, tracker: DialogueStateTracker, domain: Domain, context: ActionContext) -> list[Event]:
        """The events this action causes (bot messages included), given the conversation so far."""

    def executed_event(
        self,
        policy: str | None = None,
        confidence: float | None = None,
        *,
        hide_rule_turn: bool = False,
        metadata: dict[str, Any] | None = None,
    ) -> ActionExecuted:
        """The `action` event logged when this action ran (before the events it returned)."""
        return ActionExecuted(
            name=self.name,
            policy=policy,
            confidence=confidence,
            hide_rule_turn=hide_rule_turn,
            metadata=metadata or NO_METADATA,
        )

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r})"


ActionFunction = Callable[[DialogueStateTracker, Domain, ActionContext], Awaitable[list[Event]]]
"""An action written as an async function."""


class FunctionAction(Action):
    """An action made from an async function."""

    def __init__(self, name: str, function: ActionFunction) -> None:
        self.name = name
        self.function = function

    async def run(self, tracker: DialogueStateTracker, domain: Domain, context: ActionContext) -> list[Event]:
        return list(await self.function(tracker, domain, context))


# --- responses as actions -------------------------------------------------------------------------------


class UtterAction(Action):
    """Sends the response of the same name. With `silent_fail` a missing response is no error."""

    reads_only = True

    def __init__(self, name: str, *, response: str | None = None, silent_fail: bool = False) -> None:
        self.name = name
        self.response = response or name
        self.silent_fail = silent_fail

    async def run(self, tracker: DialogueStateTracker, domain: Domain, context: ActionContext) -> list[Event]:
        return await utter(self.response, tracker, context, silent_fail=self.silent_fail)


async def utter(
    response: str,
    tracker: DialogueStateTracker,
    context: ActionContext,
    *,
    silent_fail: bool = False,
    values: Mapping[str, Any] | None = None,
) -> list[Event]:
    """The `bot` event for one response (none if the domain has no such response). `values` fill placeholders
    besides the slots (they win over a slot of the same name)."""
    message = await context.nlg.generate(response, tracker, context.channel, **(values or {}))
    if message is None:
        if not silent_fail:
            logger.error(
                "there is no response '%s' (or none of its variations fits); add it under `responses:` "
                "in the domain",
                response,
            )
        return []
    message["utter_action"] = response
    return [bot_utterance(message)]


class RetrievalAction(Action):
    """`utter_<retrieval intent>`: sends the response the response selector picked for the latest message
    (`response_selector.<intent>.response.utter_action`, or the `default` selector's)."""

    def __init__(self, name: str) -> None:
        self.name = name

    @property
    def intent(self) -> str:
        return self.name[len(UTTER_PREFIX) :]

    def selected_response(self, tracker: DialogueStateTracker) -> str | None:
        selectors = tracker.latest_message.parse_data.get(RESPONSE_SELECTOR_KEY)
        if not isinstance(selectors, dict):
            return None
        key = self.intent if self.intent in selectors else RESPONSE_SELECTOR_DEFAULT_INTENT
        selected = selectors.get(key)
        response = selected.get("response") if isinstance(selected, dict) else None
        name = response.get("utter_action") if isinstance(response, dict) else None
        return name if isinstance(name, str) else None

    async def run(self, tracker: DialogueStateTracker, domain: Domain, context: ActionContext) -> list[Event]:
        response = self.selected_response(tracker)
        if response is None:
            logger.error(
                "'%s' found no response chosen by a response selector for the latest message; "
                "is a ResponseSelector for the intent '%s' in the NLU pipeline?",
                self.name,
                self.intent,
            )
            return []
        return await utter(response, tracker, context)


class EndToEndAction(Action):
    """A bot text of an end-to-end story, predicted as an action; logged with `action_text`."""

    def __init__(self, text: str) -> None:
        self.name = text

    async def run(self, tracker: DialogueStateTracker, domain: Domain, context: ActionContext) -> list[Event]:
        return [bot_utterance({"text": self.name})]

    def executed_event(
        self,
        policy: str | None = None,
        confidence: float | None = None,
        *,
        hide_rule_turn: bool = False,
        metadata: dict[str, Any] | None = None,
    ) -> ActionExecuted:
        return ActionExecuted(
            action_text=self.name,
            policy=policy,
            confidence=confidence,
            hide_rule_turn=hide_rule_turn,
            metadata=metadata or NO_METADATA,
        )


class MissingAction(Action):
    """Stands in for an action nothing provides: logs an error and says `utter_default` (if defined)."""

    def __init__(self, name: str) -> None:
        self.name = name

    async def run(self, tracker: DialogueStateTracker, domain: Domain, context: ActionContext) -> list[Event]:
        logger.error(
            "conversation %s: no code provides the action '%s'. Register it (a plugin, or "
            "ActionRegistry.register) or remove it from the domain and the stories; the bot answers with "
            "utter_default instead",
            tracker.sender_id,
            self.name,
        )
        return await utter("utter_default", tracker, context, silent_fail=True)


# --- default actions --------------------------------------------------------------------------------------


class ActionListen(Action):
    """The bot waits for the user."""

    reads_only = True

    name = ACTION_LISTEN_NAME

    async def run(self, tracker: DialogueStateTracker, domain: Domain, context: ActionContext) -> list[Event]:
        return []


class ActionRestart(Action):
    """`utter_restart` if defined, then the conversation starts over."""

    name = ACTION_RESTART_NAME

    async def run(self, tracker: DialogueStateTracker, domain: Domain, context: ActionContext) -> list[Event]:
        return [*await utter("utter_restart", tracker, context, silent_fail=True), Restarted()]


class ActionSessionStart(Action):
    """A new session: `session_started`, the slots carried over (when `carry_over_slots_to_new_session`), then
    `action_listen`.

    The processor sets `session_started_metadata` before this runs; it is carried into the new session even
    when other slots are not (Rasa 3.6 drops it then, leaving the slot it documents for this action empty).
    """

    name = ACTION_SESSION_START_NAME
    reads_only = True

    async def run(self, tracker: DialogueStateTracker, domain: Domain, context: ActionContext) -> list[Event]:
        carried: list[Event] = []
        for event in tracker.slot_events_to_carry_over():
            if (
                domain.session_config.carry_over_slots_to_new_session
                or event.name == SESSION_STARTED_METADATA_SLOT
            ):
                carried.append(SlotSet(name=event.name, value=event.value, metadata=dict(event.metadata)))
        return [SessionStarted(), *carried, ActionExecuted(name=ACTION_LISTEN_NAME)]


class ActionDefaultFallback(Action):
    """`utter_default` if defined, then the user's message is taken back (as if never said)."""

    name = ACTION_DEFAULT_FALLBACK_NAME

    async def run(self, tracker: DialogueStateTracker, domain: Domain, context: ActionContext) -> list[Event]:
        return [*await utter("utter_default", tracker, context, silent_fail=True), UserUtteranceReverted()]


class ActionDeactivateLoop(Action):
    """Ends the active loop (form) and clears `requested_slot`."""

    name = ACTION_DEACTIVATE_LOOP_NAME

    async def run(self, tracker: DialogueStateTracker, domain: Domain, context: ActionContext) -> list[Event]:
        return [ActiveLoop(name=None), SlotSet(name=REQUESTED_SLOT, value=None)]


class ActionDefaultAskAffirmation(Action):
    """Asks "Did you mean '<intent>'?" with Yes (`/<intent>`) and No (`/out_of_scope`) buttons. For a message
    classified `nlu_fallback` the intent asked about is the runner-up of the intent ranking."""

    name = ACTION_DEFAULT_ASK_AFFIRMATION_NAME

    async def run(self, tracker: DialogueStateTracker, domain: Domain, context: ActionContext) -> list[Event]:
        intent = tracker.latest_message.intent_name
        ranking = tracker.latest_message.parse_data.get("intent_ranking") or []
        if intent == NLU_FALLBACK_INTENT and len(ranking) > 1 and isinstance(ranking[1], dict):
            intent = ranking[1].get("name")
        message = {
            "text": f"Did you mean '{intent}'?",
            "buttons": [
                {"title": "Yes", "payload": f"/{intent}"},
                {"title": "No", "payload": f"/{OUT_OF_SCOPE_INTENT}"},
            ],
            "utter_action": self.name,
        }
        return [bot_utterance(message)]


class ActionDefaultAskRephrase(UtterAction):
    """Says `utter_ask_rephrase` if defined."""

    def __init__(self) -> None:
        super().__init__(ACTION_DEFAULT_ASK_REPHRASE_NAME, response="utter_ask_rephrase", silent_fail=True)


class ActionUnlikelyIntent(Action):
    """Marks a user message the policies did not expect; does nothing itself."""

    name = ACTION_UNLIKELY_INTENT_NAME

    async def run(self, tracker: DialogueStateTracker, domain: Domain, context: ActionContext) -> list[Event]:
        return []


class ActionBack(Action):
    """`utter_back` if defined, then the last two user messages are taken back."""

    name = ACTION_BACK_NAME

    async def run(self, tracker: DialogueStateTracker, domain: Domain, context: ActionContext) -> list[Event]:
        spoken = await utter("utter_back", tracker, context, silent_fail=True)
        return [*spoken, UserUtteranceReverted(), UserUtteranceReverted()]


class ActionRevertFallbackEvents(Action):
    """After a fallback was resolved (the user affirmed or rephrased), removes the fallback exchange and puts
    the clarified user message back, so the conversation reads as if it had been understood at once."""

    name = ACTION_REVERT_FALLBACK_EVENTS_NAME

    async def run(self, tracker: DialogueStateTracker, domain: Domain, context: ActionContext) -> list[Event]:
        if tracker.last_executed_action_has(ACTION_DEFAULT_ASK_REPHRASE_NAME):
            return [*_revert_rephrasing_events(), _latest_user_event(tracker, certain=False)]
        if tracker.last_executed_action_has(ACTION_DEFAULT_ASK_AFFIRMATION_NAME):
            events = [
                UserUtteranceReverted(),  # the affirmation and the question
                UserUtteranceReverted(),  # the original message, added again below
                ActionExecuted(name=ACTION_LISTEN_NAME),
            ]
            if tracker.last_executed_action_has(ACTION_DEFAULT_ASK_REPHRASE_NAME, skip=1):
                events += _revert_rephrasing_events()
            return [*events, _latest_user_event(tracker, certain=True)]
        return []


def _revert_rephrasing_events() -> list[Event]:
    return [
        UserUtteranceReverted(),  # the rephrased message
        UserUtteranceReverted(),  # the answer to the affirmation question, and the request to rephrase
        UserUtteranceReverted(),  # the question and the message that was not understood
        ActionExecuted(name=ACTION_LISTEN_NAME),
    ]


def _latest_user_event(tracker: DialogueStateTracker, *, certain: bool) -> UserUttered:
    """A copy of the latest user message, its intent confidence raised to 1.0 when `certain`."""
    latest = tracker.get_last_event_for(UserUttered)
    if latest is None:
        raise ValueError("there is no user message to put back after the fallback")
    parse_data = copy.deepcopy(latest.parse_data)
    intent = parse_data.get("intent")
    if certain and isinstance(intent, dict):
        # a new dict: the parse's intent may be its ranking's first entry itself, which keeps its confidence
        parse_data["intent"] = {**intent, "confidence": 1.0}
    return replace(latest, parse_data=parse_data)


# --- loops ------------------------------------------------------------------------------------------------


class LoopAction(Action):
    """An action that keeps control over several turns (forms, the two-stage fallback): activated on first
    run (`active_loop`), then `do` until `is_done`, then deactivated (`active_loop` null)."""

    async def run(self, tracker: DialogueStateTracker, domain: Domain, context: ActionContext) -> list[Event]:
        events: list[Event] = []
        if tracker.active_loop_name != self.name:
            events.append(ActiveLoop(name=self.name))
            events += await self.activate(tracker, domain, context)
        if not await self.is_done(tracker, domain, context, events):
            events += await self.do(tracker, domain, context, events)
        if await self.is_done(tracker, domain, context, events):
            events.append(ActiveLoop(name=None))
            events += await self.deactivate(tracker, domain, context, events)
        return events

    async def activate(
        self, tracker: DialogueStateTracker, domain: Domain, context: ActionContext
    ) -> list[Event]:
        return []

    @abstractmethod
    async def do(
        self,
        tracker: DialogueStateTracker,
        domain: Domain,
        context: ActionContext,
        events_so_far: list[Event],
    ) -> list[Event]: ...

    @abstractmethod
    async def is_done(
        self,
        tracker: DialogueStateTracker,
        domain: Domain,
        context: ActionContext,
        events_so_far: list[Event],
    ) -> bool: ...

    async def deactivate(
        self,
        tracker: DialogueStateTracker,
        domain: Domain,
        context: ActionContext,
        events_so_far: list[Event],
    ) -> list[Event]:
        return []


class TwoStageFallbackAction(LoopAction):
    """Rasa's two-stage fallback: ask the user to affirm the intent, then to rephrase; give up
    (`action_default_fallback`) after two unclear messages in a row or a second denied affirmation.

    When the user clarifies, the loop ends, the unclear message is taken back and the clarified one is
    added again (with confidence 1.0) after an `action_listen`, so the policies continue from it.
    """

    name = ACTION_TWO_STAGE_FALLBACK_NAME

    async def do(
        self,
        tracker: DialogueStateTracker,
        domain: Domain,
        context: ActionContext,
        events_so_far: list[Event],
    ) -> list[Event]:
        just_activated = any(isinstance(event, ActiveLoop) for event in events_so_far)
        if just_activated or tracker.latest_message.intent_name == NLU_FALLBACK_INTENT:
            ask = context.actions.resolve(ACTION_DEFAULT_ASK_AFFIRMATION_NAME, domain)
        else:
            ask = context.actions.resolve(ACTION_DEFAULT_ASK_REPHRASE_NAME, domain)
        return await ask.run(tracker, domain, context)

    async def is_done(
        self,
        tracker: DialogueStateTracker,
        domain: Domain,
        context: ActionContext,
        events_so_far: list[Event],
    ) -> bool:
        clarified = tracker.latest_message.intent_name not in (NLU_FALLBACK_INTENT, OUT_OF_SCOPE_INTENT)
        return clarified or _two_fallbacks_in_a_row(tracker) or _second_affirmation_failed(tracker)

    async def deactivate(
        self,
        tracker: DialogueStateTracker,
        domain: Domain,
        context: ActionContext,
        events_so_far: list[Event],
    ) -> list[Event]:
        if _two_fallbacks_in_a_row(tracker) or _second_affirmation_failed(tracker):
            give_up = context.actions.resolve(ACTION_DEFAULT_FALLBACK_NAME, domain)
            return await give_up.run(tracker, domain, context)
        clarified = _latest_user_event(tracker, certain=True)
        return [UserUtteranceReverted(), ActionExecuted(name=ACTION_LISTEN_NAME), clarified]


def _last_intent_names(tracker: DialogueStateTracker, count: int) -> list[str | None]:
    """Intents of the latest `count` user messages since the restart, rewound ones included (a rewind
    among them counts as a position without an intent, as in Rasa)."""
    names: list[str | None] = []
    for skip in range(count):
        event = tracker.get_last_event_for(
            (UserUttered, UserUtteranceReverted), skip=skip, verbosity=EventVerbosity.AFTER_RESTART
        )
        if isinstance(event, UserUttered):
            names.append(event.intent_name)
    return names


def _two_fallbacks_in_a_row(tracker: DialogueStateTracker) -> bool:
    return _last_intent_names(tracker, 2) == [NLU_FALLBACK_INTENT, NLU_FALLBACK_INTENT]


def _second_affirmation_failed(tracker: DialogueStateTracker) -> bool:
    return _last_intent_names(tracker, 3) == [OUT_OF_SCOPE_INTENT, NLU_FALLBACK_INTENT, OUT_OF_SCOPE_INTENT]


# --- the registry -----------------------------------------------------------------------------------------


def _default_actions() -> dict[str, Action]:
    # imported here: forms and slot mappings build on this module
    from bot.dialogue.slot_mappings import ActionExtractSlots

    actions: list[Action] = [
        ActionListen(),
        ActionRestart(),
        ActionSessionStart(),
        ActionDefaultFallback(),
        ActionDeactivateLoop(),
        ActionRevertFallbackEvents(),
        ActionDefaultAskAffirmation(),
        ActionDefaultAskRephrase(),
        TwoStageFallbackAction(),
        ActionUnlikelyIntent(),
        ActionBack(),
        ActionExtractSlots(),
    ]
    return {action.name: action for action in actions}


class ActionRegistry:
    """Custom actions by name, and the resolution of any action name (see the module docstring)."""

    def __init__(self, actions: Iterable[Action] = ()) -> None:
        self._custom: dict[str, Action] = {}
        self._defaults = _default_actions()
        self._warned: set[str] = set()
        for action in actions:
            self.register(action)

    def register(self, action: Action) -> None:
        """Add a custom action. A second action of the same name is an error (two providers of one name)."""
        existing = self._custom.get(action.name)
        if existing is not None and existing is not action:
            raise ConductorError(
                Problem(
                    f"two actions are registered under the name '{action.name}': {existing!r} and {action!r}",
                    hint="Rename one of them, or enable only one of the plugins that provide it.",
                )
            )
        self._custom[action.name] = action

    def register_function(self, name: str, function: ActionFunction) -> FunctionAction:
        action = FunctionAction(name, function)
        self.register(action)
        return action

    def find(self, name: str) -> Action | None:
        """The custom action registered under `name`, if any."""
        return self._custom.get(name)

    @property
    def names(self) -> list[str]:
        """The names of the registered custom actions."""
        return list(self._custom)

    def __contains__(self, name: object) -> bool:
        return name in self._custom

    def resolve(self, name: str, domain: Domain) -> Action:
        """The action to run for `name` (never fails: an unknown name gives a `MissingAction`)."""
        custom = self._custom.get(name)
        declared = name in domain.actions
        if name in self._defaults:
            if declared and custom is not None:
                return custom
            if declared:
                self._warn_unprovided(name, "the built-in one runs instead")
            return self._defaults[name]
        if name.startswith(UTTER_PREFIX) and name[len(UTTER_PREFIX) :] in domain.retrieval_intents:
            return RetrievalAction(name)
        if name in domain.action_texts:
            return EndToEndAction(name)
        if name.startswith(UTTER_PREFIX):
            return UtterAction(name)
        if name in domain.forms and (custom is None or not declared):
            if declared:
                self._warn_unprovided(name, "the form runs from the domain's required_slots instead")
            from bot.dialogue.forms import FormAction

            return FormAction(name)
        if custom is not None:
            return custom
        return MissingAction(name)

    def _warn_unprovided(self, name: str, consequence: str) -> None:
        if name not in self._warned:
            self._warned.add(name)
            logger.warning(
                "the domain declares '%s' as a custom action, but no code for it is registered; %s",
                name,
                consequence,
            )
