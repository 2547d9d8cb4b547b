"""One user message, start to finish, on a tracker in memory: Rasa 3.6's `MessageProcessor` without network
or stores.

`handle_message(tracker, message)`:

1. starts a session when the tracker has none yet or the latest one expired (`session_config`): the message's
   metadata goes into `session_started_metadata`, then `action_session_start` runs;
2. reads the message: a `/intent@confidence{"entity": "value"}` payload naming a known intent is parsed as
   Rasa does, anything else goes to the NLU (`nlu_parse`), unless the message brings its own parse data;
3. logs the `user` event and runs `action_extract_slots` (its `slot` events, without an `action` event);
4. predicts and runs actions until `action_listen`: a pending `followup` action first, otherwise the policy
   model's choice. Each action is logged as `action` (after the policy's own events, e.g. `loop_interrupted`)
   followed by the events it returned; an action that refuses to run (`ActionExecutionRejection`) is logged as
   `action_execution_rejected` and the model predicts again; an action that fails is logged with no events.
   At most `max_predictions` (10) actions run per user message, then the bot stops with a warning. A paused
   conversation is not answered (except a `restart`).

The tracker is updated in place; the result holds exactly the events that were added (for the tracker store to
append) and the replies for the output channel (`bot.dialogue.responses.reply_message` dicts).

`trigger_intent`, `execute_action` and `predict_next` serve the HTTP API's `/trigger_intent`, `/execute` and
`/predict`.
"""

from __future__ import annotations

import inspect
import json
import logging
import re
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple, Protocol

from bot.dialogue.actions import (
    ACTION_EXTRACT_SLOTS_NAME,
    ACTION_SESSION_START_NAME,
    Action,
    ActionContext,
    ActionExecutionRejection,
    ActionRegistry,
    utter,
)
from bot.dialogue.events import (
    ACTION_LISTEN_NAME,
    NO_METADATA,
    ActionExecuted,
    ActionExecutionRejected,
    BotUttered,
    Event,
    SlotSet,
    UserUttered,
)
from bot.dialogue.responses import NaturalLanguageGenerator, ResponseGenerator, reply_message
from bot.dialogue.tracker import DialogueStateTracker
from bot.project.domain import SESSION_STARTED_METADATA_SLOT, Domain

__all__ = [
    "DEFAULT_MAX_PREDICTIONS",
    "EXTERNAL_MESSAGE_PREFIX",
    "FOLLOWUP_POLICY_NAME",
    "ActionPrediction",
    "IncomingMessage",
    "MessageProcessor",
    "NluParse",
    "PolicyModel",
    "Prediction",
    "Turn",
    "parse_intent_payload",
]

logger = logging.getLogger(__name__)

DEFAULT_MAX_PREDICTIONS = 10
FOLLOWUP_POLICY_NAME = "followup_action"
"""The `policy` of an action run because an event asked for it (`followup`), as Rasa names it."""
EXTERNAL_MESSAGE_PREFIX = "EXTERNAL: "
"""The text of a user event made by `trigger_intent`: this prefix and the intent's name."""
RESTART_INTENT = "restart"


class Prediction(Protocol):
    """The next action as the policies chose it (the dialogue model's prediction).

    `probabilities` follows `Domain.action_names_or_texts`; `events` are added to the conversation before the
    action (e.g. `loop_interrupted`); `is_end_to_end_prediction` means the user's text (not intent) decided,
    after which slots are extracted once more, as Rasa does.
    """

    @property
    def action_name(self) -> str: ...
    @property
    def confidence(self) -> float: ...
    @property
    def policy_name(self) -> str | None: ...
    @property
    def probabilities(self) -> Sequence[float]: ...
    @property
    def events(self) -> Sequence[Event]: ...
    @property
    def hide_rule_turn(self) -> bool: ...
    @property
    def is_end_to_end_prediction(self) -> bool: ...


class PolicyModel(Protocol):
    """What the processor needs from the trained dialogue model."""

    def predict_next_action(
        self, tracker: DialogueStateTracker, domain: Domain
    ) -> Prediction | Awaitable[Prediction]: ...


@dataclass(frozen=True)
class ActionPrediction:
    """A prediction made without the model: a follow-up action, `action_session_start`, `/execute`."""

    action_name: str
    confidence: float = 1.0
    policy_name: str | None = None
    probabilities: Sequence[float] = ()
    events: Sequence[Event] = ()
    hide_rule_turn: bool = False
    is_end_to_end_prediction: bool = False


class IncomingMessage(Protocol):
    """The fields of a user message the processor reads (`channels.base.UserMessage` has them)."""

    @property
    def text(self) -> str | None: ...
    @property
    def sender_id(self) -> str: ...
    @property
    def input_channel(self) -> str | None: ...
    @property
    def message_id(self) -> str | None: ...
    @property
    def metadata(self) -> Mapping[str, Any] | None: ...
    @property
    def parse_data(self) -> Mapping[str, Any] | None: ...


NluParse = Callable[[str], Mapping[str, Any] | Awaitable[Mapping[str, Any]]]
"""The NLU: text to parse data (`intent`, `entities`, `intent_ranking`, ...), sync or async."""


class Turn(NamedTuple):
    """What handling one message added: the new events, and the replies for the output channel."""

    events: list[Event]
    replies: list[dict[str, Any]]


@dataclass
class _Run:
    """One call's working state."""

    tracker: DialogueStateTracker
    context: ActionContext
    replies: list[dict[str, Any]] = field(default_factory=list)


class MessageProcessor:
    """Runs the dialogue for one conversation at a time; keeps no conversation state itself."""

    def __init__(
        self,
        domain: Domain,
        nlu_parse: NluParse | None,
        policy_model: PolicyModel,
        action_registry: ActionRegistry | None = None,
        nlg: NaturalLanguageGenerator | None = None,
        *,
        max_predictions: int = DEFAULT_MAX_PREDICTIONS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.domain = domain
        self.nlu_parse = nlu_parse
        self.policy_model = policy_model
        self.actions = action_registry if action_registry is not None else ActionRegistry()
        self.nlg: NaturalLanguageGenerator = nlg if nlg is not None else ResponseGenerator.from_domain(domain)
        self.max_predictions = max_predictions
        self.clock = clock

    # --- entry points -------------------------------------------------------------------------------------

    async def handle_message(
        self, tracker: DialogueStateTracker, message: IncomingMessage, *, output_channel: str | None = None
    ) -> Turn:
        """Handle one user message. `output_channel` names the channel replies go to (default: the one the
        message came from), which picks channel-specific responses."""
        run = self._start(tracker, output_channel or message.input_channel)
        start = len(tracker.events)
        metadata = dict(message.metadata) if message.metadata else NO_METADATA
        await self._start_session_if_needed(run, metadata)
        parse_data = dict(message.parse_data) if message.parse_data else await self.parse(message.text)
        tracker.update(
            UserUttered(
                text=message.text,
                parse_data=_full_parse_data(parse_data, message.text, message.message_id, metadata),
                input_channel=message.input_channel,
                message_id=message.message_id,
                metadata=metadata,
            )
        )
        await self._extract_slots(run)
        await self._prediction_loop(run)
        return Turn(tracker.events[start:], run.replies)

    async def trigger_intent(
        self,
        tracker: DialogueStateTracker,
        intent: str,
        entities: Sequence[Mapping[str, Any]] | Mapping[str, Any] | None = None,
        *,
        output_channel: str | None = None,
    ) -> Turn:
        """Act as if the user expressed `intent` (a reminder, `/trigger_intent`): an external `user` event,
        slot extraction, then the prediction loop. `entities` is a list of entity dicts or `{type: value}`."""
        channel = tracker.get_latest_input_channel()
        run = self._start(tracker, output_channel or channel)
        start = len(tracker.events)
        await self._start_session_if_needed(run, {})
        entity_list = _entity_list(entities)
        text = f"{EXTERNAL_MESSAGE_PREFIX}{intent}"
        parse_data = _full_parse_data(
            {"intent": {"name": intent}, "entities": entity_list}, text, None, {"is_external": True}
        )
        tracker.update(
            UserUttered(
                text=text, parse_data=parse_data, input_channel=channel, metadata={"is_external": True}
            )
        )
        await self._extract_slots(run)
        await self._prediction_loop(run)
        return Turn(tracker.events[start:], run.replies)

    async def execute_action(
        self,
        tracker: DialogueStateTracker,
        action_name: str,
        *,
        policy: str | None = None,
        confidence: float | None = None,
        output_channel: str | None = None,
    ) -> Turn:
        """Run one action now, as `/execute` does (no prediction loop afterwards)."""
        run = self._start(tracker, output_channel or tracker.get_latest_input_channel())
        start = len(tracker.events)
        await self._start_session_if_needed(run, {})
        prediction = ActionPrediction(
            action_name, confidence if confidence is not None else 1.0, policy_name=policy
        )
        await self._run_action(run, self.actions.resolve(action_name, self.domain), prediction)
        return Turn(tracker.events[start:], run.replies)

    async def predict_next(self, tracker: DialogueStateTracker) -> Prediction:
        """The action that would run next, without running it or changing the tracker (`/predict`)."""
        return await self._predict(tracker.copy())

    async def render_response(
        self,
        tracker: DialogueStateTracker,
        response: str,
        *,
        output_channel: str | None = None,
        values: Mapping[str, Any] | None = None,
    ) -> list[dict[str, Any]]:
        """The replies an `utter_*` action would send for `response` on `output_channel` (its variations chosen
        and filled from the tracker's slots and `values`), without changing the tracker or logging an event;
        none when the domain has no such response or none of its variations fits."""
        run = self._start(tracker, output_channel)
        self._add_replies(run, await utter(response, tracker, run.context, silent_fail=True, values=values))
        return run.replies

    async def parse(self, text: str | None) -> dict[str, Any]:
        """Parse data for a text: an `/intent{...}` payload, else the NLU's result (or no intent)."""
        payload = parse_intent_payload(text, self.domain)
        if payload is not None:
            return payload
        if self.nlu_parse is None or text is None:
            return {"text": text or "", "intent": {"name": None, "confidence": 0.0}, "entities": []}
        result = self.nlu_parse(text)
        parsed = await result if inspect.isawaitable(result) else result
        return dict(parsed)

    # --- the turn -----------------------------------------------------------------------------------------

    def _start(self, tracker: DialogueStateTracker, channel: str | None) -> _Run:
        return _Run(tracker, ActionContext(nlg=self.nlg, actions=self.actions, channel=channel))

    async def _start_session_if_needed(self, run: _Run, metadata: Mapping[str, Any]) -> None:
        tracker = run.tracker
        if tracker.has_applied_events() and not tracker.has_session_expired(
            self.domain.session_config, now=self.clock()
        ):
            return
        if metadata:
            tracker.update(SlotSet(name=SESSION_STARTED_METADATA_SLOT, value=dict(metadata)))
        action = self.actions.resolve(ACTION_SESSION_START_NAME, self.domain)
        await self._run_action(run, action, ActionPrediction(ACTION_SESSION_START_NAME))

    async def _extract_slots(self, run: _Run) -> None:
        action = self.actions.resolve(ACTION_EXTRACT_SLOTS_NAME, self.domain)
        try:
            events = await action.run(run.tracker, self.domain, run.context)
        except Exception:
            logger.exception("conversation %s: extracting slots failed; no slots set", run.tracker.sender_id)
            return
        self._add_replies(run, events)
        run.tracker.update_with_events(events)

    async def _prediction_loop(self, run: _Run) -> None:
        tracker = run.tracker
        predictions = 0
        should_continue = True
        while should_continue and self._should_answer(tracker):
            if (
                predictions >= self.max_predictions
                or self._actions_since_listen(tracker) >= self.max_predictions
            ):
                logger.warning(
                    "conversation %s: stopped after %d predicted actions without action_listen "
                    "(the policies may be stuck in a loop)",
                    tracker.sender_id,
                    self.max_predictions,
                )
                break
            prediction = await self._predict(tracker)
            predictions += 1
            if prediction.is_end_to_end_prediction:
                await self._extract_slots(run)
            action = self.actions.resolve(prediction.action_name, self.domain)
            should_continue = await self._run_action(run, action, prediction)

    async def _predict(self, tracker: DialogueStateTracker) -> Prediction:
        followup = tracker.followup_action
        if followup:
            tracker.followup_action = None  # used up (Rasa clears it the same way, outside the events)
            if followup in self.domain.action_names_or_texts or followup in self.actions:
                return ActionPrediction(followup, 1.0, policy_name=FOLLOWUP_POLICY_NAME)
            logger.error(
                "conversation %s: the follow-up action '%s' is not in the domain; predicting instead",
                tracker.sender_id,
                followup,
            )
        result = self.policy_model.predict_next_action(tracker, self.domain)
        return await result if inspect.isawaitable(result) else result

    async def _run_action(self, run: _Run, action: Action, prediction: Prediction) -> bool:
        """Run one action and log it; whether another action should be predicted after it."""
        tracker = run.tracker
        pending = prediction.events
        if action.reads_only:  # never rejected: it can see the prediction's events in the conversation itself
            tracker.update_with_events(pending)
            working, pending = tracker, []
        else:  # the action sees the prediction's events, which stay out of the conversation if it is rejected
            working = tracker.copy()
            for event in pending:
                working.update(event)
        try:
            events = list(await action.run(working, self.domain, run.context))
        except ActionExecutionRejection as rejection:
            logger.debug("conversation %s: %s", tracker.sender_id, rejection.message)
            tracker.update(
                ActionExecutionRejected(
                    name=action.name, policy=prediction.policy_name, confidence=prediction.confidence
                )
            )
            return _predicts_after(action.name)
        except Exception:
            logger.exception(
                "conversation %s: the action '%s' failed; the bot continues without its events",
                tracker.sender_id,
                action.name,
            )
            events = []
        if not any(isinstance(event, ActionExecutionRejected) for event in events):
            tracker.update_with_events(pending)
            tracker.update_with_events(
                [
                    action.executed_event(
                        prediction.policy_name,
                        prediction.confidence,
                        hide_rule_turn=prediction.hide_rule_turn,
                    )
                ]
            )
        tracker.update_with_events(events)
        if any(isinstance(event, UserUttered) for event in events):
            await self._extract_slots(run)
        self._add_replies(run, events)
        return _predicts_after(action.name)

    def _add_replies(self, run: _Run, events: Sequence[Event]) -> None:
        run.replies.extend(
            reply_message(event, run.tracker.sender_id) for event in events if isinstance(event, BotUttered)
        )

    @staticmethod
    def _should_answer(tracker: DialogueStateTracker) -> bool:
        return not tracker.is_paused() or tracker.latest_message.intent_name == RESTART_INTENT

    @staticmethod
    def _actions_since_listen(tracker: DialogueStateTracker) -> int:
        """Actions run since the bot last listened or the user last spoke. (Rasa counts from `action_listen`
        only, so after the limit stopped a turn every later message went unanswered; the user's next message
        starts a fresh count here.)"""
        count = 0
        for event in reversed(tracker.events):
            if isinstance(event, UserUttered):
                break
            if isinstance(event, ActionExecuted):
                if event.name in (ACTION_LISTEN_NAME, ACTION_SESSION_START_NAME):
                    break
                count += 1
        return count


def _predicts_after(action_name: str) -> bool:
    return action_name not in (ACTION_LISTEN_NAME, ACTION_SESSION_START_NAME)


def _full_parse_data(
    parse_data: Mapping[str, Any], text: str | None, message_id: str | None, metadata: Mapping[str, Any]
) -> dict[str, Any]:
    """The parse data a `user` event carries, in Rasa's key order."""
    full: dict[str, Any] = {
        "intent": parse_data.get("intent") or {},
        "entities": list(parse_data.get("entities") or []),
        "text": text,
        "message_id": message_id,
        "metadata": dict(metadata) if metadata else NO_METADATA,
    }
    full.update({key: value for key, value in parse_data.items() if key not in ("intent", "entities")})
    return full


def _entity_list(entities: Sequence[Mapping[str, Any]] | Mapping[str, Any] | None) -> list[dict[str, Any]]:
    if not entities:
        return []
    if isinstance(entities, Mapping):
        return [{"entity": name, "value": value} for name, value in entities.items()]
    if isinstance(entities, Sequence) and all(isinstance(e, Mapping) for e in entities):
        return [dict(e) for e in entities]
    logger.warning("ignored entities that are neither a list of entities nor {type: value}: %r", entities)
    return []


# --- `/intent` payloads -----------------------------------------------------------------------------------

_PAYLOAD = re.compile(r"^/(?P<intent>[^{@]+)(?P<confidence>@[0-9.]+)?(?P<entities>{.+})?(?P<rest>.*)")


def parse_intent_payload(text: str | None, domain: Domain) -> dict[str, Any] | None:
    """Parse data for `/intent`, `/intent@0.8` or `/intent{"entity": "value"}` (a list value gives one entity
    per item), as Rasa reads button payloads. None when the text is no payload or names an unknown intent."""
    stripped = (text or "").strip()
    if not stripped.startswith("/"):
        return None
    match = _PAYLOAD.match(stripped)
    if match is None:
        logger.warning(
            "the message %r starts with '/' but is no intent payload; it goes to the NLU", stripped
        )
        return None
    intent = match.group("intent").strip()
    if intent not in domain.intent_names:
        logger.warning(
            "the payload %r names the intent '%s', which the domain does not have; it goes to the NLU",
            stripped,
            intent,
        )
        return None
    if match.group("rest"):
        logger.warning("ignored %r after the payload %r", match.group("rest"), stripped)
    confidence = _payload_confidence(match.group("confidence"), stripped)
    return {
        "text": stripped,
        "intent": {"name": intent, "confidence": confidence},
        "intent_ranking": [{"name": intent, "confidence": confidence}],
        "entities": _payload_entities(match, domain),
    }


def _payload_confidence(written: str | None, payload: str) -> float:
    if written is None:
        return 1.0
    try:
        value = float(written[1:])
    except ValueError:
        logger.warning("the confidence in %r is not a number; 0.0 is used", payload)
        return 0.0
    if value > 1.0:
        logger.warning("the confidence in %r is above 1; 1.0 is used", payload)
        return 1.0
    return value


def _payload_entities(match: re.Match[str], domain: Domain) -> list[dict[str, Any]]:
    written = match.group("entities")
    if written is None:
        return []
    try:
        parsed = json.loads(written)
    except json.JSONDecodeError:
        parsed = None
    if not isinstance(parsed, dict):
        logger.warning(
            "the entities in %r are not a JSON object; the payload is read without them", match.string
        )
        return []
    unknown = [name for name in parsed if name not in domain.entities]
    if unknown:
        logger.warning(
            "ignored entities the domain does not have in %r: %s", match.string, ", ".join(unknown)
        )
    entities: list[dict[str, Any]] = []
    for name, values in parsed.items():
        if name in unknown:
            continue
        for value in values if isinstance(values, list) else [values]:
            entities.append(
                {
                    "entity": name,
                    "value": value,
                    "start": match.start("entities"),
                    "end": match.end("entities"),
                }
            )
    return entities
