"""Forms: the loop that asks for the domain's `required_slots` one by one, as Rasa 3.6's `FormAction`.

On each run a form:

1. activates if it is not the active loop (`active_loop: <form>`), re-validating the required slots that are
   already filled (and those a `from_trigger_intent` mapping fills from the activating message);
2. validates what the latest user message filled, when the form runs right after `action_listen` and was not
   interrupted: the `slot` events `action_extract_slots` emitted since the message, for the required slots (a
   `from_entity` mapping shared by several of them counts only for the requested slot);
3. if a slot was requested and nothing was filled, refuses to run (`ActionExecutionRejection`), so the policies
   can pick another action (an interruption); the form runs again later and asks again;
4. otherwise sets `requested_slot` to the first required slot without value and asks for it with the first of
   `action_ask_<form>_<slot>`, `utter_ask_<form>_<slot>`, `action_ask_<slot>`, `utter_ask_<slot>` that exists
   (a registered action, or a response);
5. when every required slot is filled: `requested_slot` null, then `active_loop` null.

Validation: a registered `validate_<form>` action (rasa-sdk's `FormValidationAction`, issue 7) sees the
candidate values on a tracker that already holds them; its `slot` events replace the candidates (a `None`
rejects a value), a `requested_slot` it sets is asked next, an `action_execution_rejected` stops the form from
asking. Without one, every candidate is accepted as it is: Rasa 3.6 checks no values by default (a categorical
slot takes any value; policies see an undeclared one as `__other__`).
"""

from __future__ import annotations

import logging
from typing import Any

from bot.dialogue.actions import Action, ActionContext, ActionExecutionRejection, LoopAction
from bot.dialogue.events import (
    ACTION_LISTEN_NAME,
    ActionExecuted,
    ActionExecutionRejected,
    ActiveLoop,
    Event,
    SlotSet,
    UserUttered,
)
from bot.dialogue.slot_mappings import entity_mapping_is_unique, trigger_intent_values
from bot.dialogue.tracker import DialogueStateTracker
from bot.project.domain import REQUESTED_SLOT, Domain

__all__ = ["FormAction", "validation_action_name"]

logger = logging.getLogger(__name__)


def validation_action_name(form: str) -> str:
    return f"validate_{form}"


class FormAction(LoopAction):
    """A form of the domain, run from its `required_slots`."""

    def __init__(self, name: str) -> None:
        self.name = name

    def required_slots(self, domain: Domain) -> list[str]:
        return domain.required_slots(self.name)

    def slot_to_fill(self, tracker: DialogueStateTracker) -> str | None:
        """The slot this form asked for; None when another loop (or none) is active."""
        if tracker.active_loop_name != self.name:
            return None
        requested = tracker.get_slot(REQUESTED_SLOT)
        return requested if isinstance(requested, str) else None

    # --- the loop -----------------------------------------------------------------------------------------

    async def activate(
        self, tracker: DialogueStateTracker, domain: Domain, context: ActionContext
    ) -> list[Event]:
        candidates = {
            slot: tracker.get_slot(slot)
            for slot in self.required_slots(domain)
            if tracker.get_slot(slot) is not None
        }
        candidates.update(trigger_intent_values(self.name, tracker, domain))
        if not candidates:
            return []
        logger.debug("form %s: validating the slots filled before activation: %s", self.name, candidates)
        return await self.validate_slots(candidates, tracker, domain, context)

    async def do(
        self,
        tracker: DialogueStateTracker,
        domain: Domain,
        context: ActionContext,
        events_so_far: list[Event],
    ) -> list[Event]:
        events = await self._validate_if_required(tracker, domain, context)
        if not _rejected_manually(events):
            events += await self.request_next_slot(tracker, domain, context, events_so_far + events)
        return events

    async def is_done(
        self,
        tracker: DialogueStateTracker,
        domain: Domain,
        context: ActionContext,
        events_so_far: list[Event],
    ) -> bool:
        """Done when the latest `requested_slot` event clears it or the latest loop event ends the loop
        (a validation action may do either to end the form early); never after a manual rejection."""
        if _rejected_manually(events_so_far):
            return False
        latest_request = next(
            (e for e in reversed(events_so_far) if isinstance(e, SlotSet) and e.name == REQUESTED_SLOT), None
        )
        latest_loop = next((e for e in reversed(events_so_far) if isinstance(e, ActiveLoop)), None)
        return (latest_request is not None and latest_request.value is None) or (
            latest_loop is not None and latest_loop.name is None
        )

    # --- validation ---------------------------------------------------------------------------------------

    async def _validate_if_required(
        self, tracker: DialogueStateTracker, domain: Domain, context: ActionContext
    ) -> list[Event]:
        """Validate the user's input when the form is being activated, or runs right after the user spoke and
        was not interrupted; otherwise (returning after an unhappy path) only consult the validation action."""
        loop = tracker.active_loop
        if loop is None or (tracker.latest_action_name == ACTION_LISTEN_NAME and not loop.is_interrupted):
            return await self.validate(tracker, domain, context)
        return await self.validate_slots({}, tracker, domain, context)

    async def validate(
        self, tracker: DialogueStateTracker, domain: Domain, context: ActionContext
    ) -> list[Event]:
        """Validate the slots the latest message filled; refuse to run if the requested one got nothing."""
        events = await self.validate_slots(self._extracted_slots(tracker, domain), tracker, domain, context)
        validated = any(isinstance(e, SlotSet) and e.name != REQUESTED_SLOT for e in events)
        requested = self.slot_to_fill(tracker)
        if requested and not validated and not _rejected_manually(events):
            raise ActionExecutionRejection(
                self.name, f"the form '{self.name}' could not fill the requested slot '{requested}'"
            )
        return events

    def _extracted_slots(self, tracker: DialogueStateTracker, domain: Domain) -> dict[str, Any]:
        """The values `slot` events set since the latest user message, for slots this form fills."""
        if tracker.active_loop is None:
            return {}  # at activation the filled slots were validated already
        requested = self.slot_to_fill(tracker)
        wanted = set(self.required_slots(domain)) | ({requested} if requested else set())
        values: dict[str, Any] = {}
        for event in _events_since_latest_message(tracker):
            if not isinstance(event, SlotSet) or event.name not in wanted:
                continue
            slot = domain.slots.get(event.name)
            mappings = slot.mappings if slot is not None else []
            if any(
                not (
                    m.type == "from_entity"
                    and event.name != requested
                    and not entity_mapping_is_unique(self.name, m, domain)
                )
                for m in mappings
            ):
                values[event.name] = event.value
        return values

    async def validate_slots(
        self,
        candidates: dict[str, Any],
        tracker: DialogueStateTracker,
        domain: Domain,
        context: ActionContext,
    ) -> list[Event]:
        """The `slot` events for the candidates, after the form's validation action if one is registered."""
        events: list[Event] = [SlotSet(name=slot, value=value) for slot, value in candidates.items()]
        validator = self._validator(domain, context)
        if validator is None:
            return events
        checked = await validator.run(self._temporary_tracker(tracker, events, domain), domain, context)
        replaced = {e.name for e in checked if isinstance(e, SlotSet)}
        return [*checked, *(e for e in events if isinstance(e, SlotSet) and e.name not in replaced)]

    def _validator(self, domain: Domain, context: ActionContext) -> Action | None:
        name = validation_action_name(self.name)
        validator = context.actions.find(name)
        if validator is None and name in domain.actions:
            logger.warning(
                "the domain declares '%s' but no code for it is registered; the form '%s' accepts its slots "
                "without validation",
                name,
                self.name,
            )
        return validator

    def _temporary_tracker(
        self, tracker: DialogueStateTracker, events: list[Event], domain: Domain
    ) -> DialogueStateTracker:
        """The conversation as the form sees it: its requested slot, this run, then `events`."""
        return DialogueStateTracker.from_events(
            tracker.sender_id,
            [
                *tracker.events_after_latest_restart(),
                SlotSet(name=REQUESTED_SLOT, value=self.slot_to_fill(tracker)),
                ActionExecuted(name=self.name),
                *events,
            ],
            domain,
        )

    # --- asking -------------------------------------------------------------------------------------------

    async def request_next_slot(
        self,
        tracker: DialogueStateTracker,
        domain: Domain,
        context: ActionContext,
        events_so_far: list[Event],
    ) -> list[Event]:
        """Set `requested_slot` and ask for it; `requested_slot` null when nothing is left to ask."""
        if await self.is_done(tracker, domain, context, events_so_far):
            return [SlotSet(name=REQUESTED_SLOT, value=None)]
        chosen = next(
            (e.value for e in events_so_far if isinstance(e, SlotSet) and e.name == REQUESTED_SLOT), None
        )
        current = self._temporary_tracker(tracker, events_so_far, domain)
        events: list[Event] = []
        if not chosen:
            chosen = next((s for s in self.required_slots(domain) if current.get_slot(s) is None), None)
            events.append(SlotSet(name=REQUESTED_SLOT, value=chosen))
        if not chosen:
            return [SlotSet(name=REQUESTED_SLOT, value=None)]
        return events + await self._ask_for(str(chosen), current, domain, context)

    def question_action(self, slot: str, domain: Domain, context: ActionContext) -> str | None:
        """The action that asks for `slot`: the first of Rasa's four names that exists (an `action_ask_*`
        must be registered: one the domain declares without code is passed over for the next name)."""
        candidates = (
            f"action_ask_{self.name}_{slot}",
            f"utter_ask_{self.name}_{slot}",
            f"action_ask_{slot}",
            f"utter_ask_{slot}",
        )
        return next(
            (
                name
                for name in candidates
                if name in context.actions or (name.startswith("utter_") and name in domain.responses)
            ),
            None,
        )

    async def _ask_for(
        self, slot: str, tracker: DialogueStateTracker, domain: Domain, context: ActionContext
    ) -> list[Event]:
        name = self.question_action(slot, domain, context)
        if name is None:
            logger.debug("form %s: nothing asks for the slot '%s' (no utter_ask_%s)", self.name, slot, slot)
            return []
        return await context.actions.resolve(name, domain).run(tracker, domain, context)


def _rejected_manually(events: list[Event]) -> bool:
    return any(isinstance(event, ActionExecutionRejected) for event in events)


def _events_since_latest_message(tracker: DialogueStateTracker) -> list[Event]:
    """The events from the latest user message on (the tracker's `latest_message`, or the last `user`
    event when that message was changed since, e.g. by added entities)."""
    events = tracker.events
    last_user = None
    for index in range(len(events) - 1, -1, -1):
        event = events[index]
        if isinstance(event, UserUttered):
            if event == tracker.latest_message:
                return events[index:]
            if last_user is None:
                last_user = index
    return events[last_user:] if last_user is not None else list(events)
