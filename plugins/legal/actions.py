"""The legal skill's actions: form validation, the intake and booking calls, answers that need the plugin's
settings, corrections and the hand-over to a person.

Hand-over: `action_legal_handoff` records that the conversation waits for a person (`handoff_requested`, and
why in `handoff_reason`); the rules then run the base assistant's `action_handoff`, which pauses the bot for
this conversation and alerts the team. A form in progress is ended by the rules (`action_deactivate_loop`)
before the hand-over.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Final

from bot.dialogue.events import BotUttered, Event, SlotSet, UserUttered
from bot.plugins.sdk import ActionContext, PluginAction, action

from .answers import (
    MAX_DESCRIPTION_LENGTH,
    PRACTICE_AREA_KEYWORDS,
    clean_name,
    clean_place,
    describe_list,
    description_problem,
    find_contact,
    is_pressing,
    match_choice,
    parse_urgency,
)
from .services import ServiceUnavailable, request_booking, submit_intake

__all__ = [
    "AskJurisdiction",
    "AskPracticeArea",
    "ValidateConsultationForm",
    "ValidateIntakeForm",
    "answer_jurisdictions",
    "answer_location",
    "answer_office_hours",
    "answer_practice_areas",
    "book_consultation",
    "correct_slot",
    "mark_handoff",
    "submit_intake_action",
]

logger = logging.getLogger(__name__)

REQUESTED_SLOT: Final = "requested_slot"
SLOT_LABELS: Final = {
    "client_name": "name",
    "client_contact": "contact details",
    "jurisdiction": "jurisdiction",
    "practice_area": "area of law",
    "matter_description": "description",
    "matter_urgency": "deadline",
    "preferred_time": "preferred time",
}
"""How each slot is called when talking to the client."""
FREE_TEXT_SLOTS: Final = frozenset({"client_name", "matter_description", "matter_urgency", "preferred_time"})
MAX_BUTTONS: Final = 10


# --- form validation ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Verdict:
    """A checked value: the value to keep (None rejects it), and what to tell the client if rejected."""

    value: Any
    response: str | None = None
    values: dict[str, Any] = field(default_factory=dict)


def _check_name(value: Any, ctx: ActionContext) -> Verdict:
    name = clean_name(str(value))
    return Verdict(name) if name else Verdict(None, "utter_legal_invalid_name")


def _check_contact(value: Any, ctx: ActionContext) -> Verdict:
    contact = find_contact(str(value))
    return Verdict(contact) if contact else Verdict(None, "utter_legal_invalid_contact")


def _check_jurisdiction(value: Any, ctx: ActionContext) -> Verdict:
    allowed: list[str] = list(ctx.settings.jurisdictions or [])
    place = match_choice(str(value), allowed) if allowed else clean_place(str(value))
    if place:
        return Verdict(place)
    if allowed:
        return Verdict(None, "utter_legal_invalid_jurisdiction", {"jurisdictions": describe_list(allowed)})
    return Verdict(None)  # the form asks again


def _check_practice_area(value: Any, ctx: ActionContext) -> Verdict:
    areas: list[str] = list(ctx.settings.practice_areas or [])
    area = match_choice(str(value), areas, PRACTICE_AREA_KEYWORDS)
    if area:
        return Verdict(area)
    return Verdict(None, "utter_legal_invalid_practice_area", {"practice_areas": describe_list(areas)})


def _check_description(value: Any, ctx: ActionContext) -> Verdict:
    description = " ".join(str(value).split())
    problem = description_problem(description)
    if problem == "too short":
        return Verdict(None, "utter_legal_description_too_short")
    if problem == "too long":
        return Verdict(None, "utter_legal_description_too_long", {"max_length": MAX_DESCRIPTION_LENGTH})
    return Verdict(description)


def _check_urgency(value: Any, ctx: ActionContext) -> Verdict:
    reading = parse_urgency(str(value), date.today())
    if reading.value:
        return Verdict(reading.value)
    return Verdict(None, "utter_legal_past_date" if reading.problem == "past date" else "utter_legal_invalid_urgency")


def _check_preferred_time(value: Any, ctx: ActionContext) -> Verdict:
    text = " ".join(str(value).split())
    return Verdict(text) if 2 <= len(text) <= 200 else Verdict(None)


CHECKS: Final[dict[str, Callable[[Any, ActionContext], Verdict]]] = {
    "client_name": _check_name,
    "client_contact": _check_contact,
    "jurisdiction": _check_jurisdiction,
    "practice_area": _check_practice_area,
    "matter_description": _check_description,
    "matter_urgency": _check_urgency,
    "preferred_time": _check_preferred_time,
}


def _value_before_latest_message(ctx: ActionContext, slot: str) -> Any:
    """The slot's value before the client's latest message (the tracker already holds the new candidates)."""
    events = ctx.tracker.events
    latest = max((i for i, e in enumerate(events) if isinstance(e, UserUttered)), default=len(events))
    return next((e.value for e in reversed(events[:latest]) if isinstance(e, SlotSet) and e.name == slot), None)


def _answered_something_else(ctx: ActionContext, candidates: dict[str, Any], requested: Any) -> bool:
    """True when the message filled another slot (a correction, "my email is ...") and the requested free-text
    slot got the whole message only because it was asked for: that message is no answer to the question."""
    return (
        requested in FREE_TEXT_SLOTS
        and requested in candidates
        and candidates[requested] == ctx.tracker.latest_message.text
        and any(slot != requested for slot in candidates)
    )


async def validate_form(ctx: ActionContext) -> list[Event]:
    """Check each slot the client just filled; reject (None) what cannot be used, saying why, and confirm a
    changed earlier answer."""
    candidates = ctx.slots_to_validate()
    candidates.pop(REQUESTED_SLOT, None)
    requested = ctx.tracker.get_slot(REQUESTED_SLOT)
    events: list[Event] = []
    if _answered_something_else(ctx, candidates, requested):
        events.append(SlotSet(name=str(requested), value=None))
        del candidates[str(requested)]
    for slot, value in candidates.items():
        check = CHECKS.get(slot)
        if check is None or value is None:
            continue
        verdict = check(value, ctx)
        events.append(SlotSet(name=slot, value=verdict.value))
        if verdict.value is None:
            if verdict.response:
                ctx.dispatcher.utter_message(response=verdict.response, **verdict.values)
            continue
        before = _value_before_latest_message(ctx, slot)
        if slot != requested and before is not None and before != verdict.value:
            ctx.dispatcher.utter_message(
                response="utter_legal_slot_corrected", slot_label=SLOT_LABELS[slot], value=verdict.value
            )
    return events


class ValidateIntakeForm(PluginAction):
    name = "validate_intake_form"

    async def run(self, ctx: ActionContext) -> list[Event]:
        return await validate_form(ctx)


class ValidateConsultationForm(PluginAction):
    name = "validate_consultation_form"

    async def run(self, ctx: ActionContext) -> list[Event]:
        return await validate_form(ctx)


def _choice_buttons(choices: list[str], entity: str) -> list[dict[str, str]]:
    return [
        {"title": choice, "payload": f'/legal_inform{{"{entity}": "{choice}"}}'} for choice in choices[:MAX_BUTTONS]
    ]


class AskPracticeArea(PluginAction):
    """Asks for the area of law with a button for each area the firm handles."""

    name = "action_ask_practice_area"

    async def run(self, ctx: ActionContext) -> list[Event]:
        areas = list(ctx.settings.practice_areas or [])
        buttons = _choice_buttons(areas, "practice_area")
        ctx.dispatcher.utter_message(response="utter_ask_practice_area", buttons=buttons)
        return []


class AskJurisdiction(PluginAction):
    """Asks where the matter is, with a button for each jurisdiction the firm takes (if it lists them)."""

    name = "action_ask_jurisdiction"

    async def run(self, ctx: ActionContext) -> list[Event]:
        places = list(ctx.settings.jurisdictions or [])
        buttons = _choice_buttons(places, "jurisdiction")
        ctx.dispatcher.utter_message(response="utter_ask_jurisdiction", buttons=buttons)
        return []


# --- the firm's services -------------------------------------------------------------------------------------------


def _slots(ctx: ActionContext, *names: str) -> dict[str, Any]:
    return {name: ctx.tracker.get_slot(name) for name in names}


@action("action_submit_intake")
async def submit_intake_action(ctx: ActionContext) -> list[Event]:
    """Send the completed intake to the intake service and tell the client what the conflict check found."""
    urgency = ctx.tracker.get_slot("matter_urgency")
    intake = {
        **_slots(ctx, "client_name", "client_contact", "jurisdiction", "practice_area", "matter_description"),
        "matter_urgency": urgency,
        "pressing": is_pressing(urgency, date.today()),
        "conversation_id": ctx.tracker.sender_id,
        "channel": ctx.tracker.get_latest_input_channel(),
    }
    try:
        result = await submit_intake(ctx.http, ctx.settings.intake_url, intake)
    except ServiceUnavailable as problem:
        logger.warning("conversation %s: the intake was not sent: %s", ctx.tracker.sender_id, problem)
        ctx.dispatcher.utter_message(response="utter_legal_intake_unavailable")
        return [SlotSet(name="intake_status", value="failed")]
    if result.conflict:
        ctx.dispatcher.utter_message(response="utter_legal_intake_conflict", firm_name=ctx.settings.firm_name)
    else:
        if intake["pressing"]:
            ctx.dispatcher.utter_message(response="utter_legal_intake_urgent_note")
        note = f" (reference {result.reference})" if result.reference else ""
        ctx.dispatcher.utter_message(
            response="utter_legal_intake_submitted", firm_name=ctx.settings.firm_name, reference_note=note
        )
    return [
        SlotSet(name="intake_status", value="conflict" if result.conflict else "submitted"),
        SlotSet(name="intake_reference", value=result.reference),
    ]


@action("action_book_consultation")
async def book_consultation(ctx: ActionContext) -> list[Event]:
    """Ask the booking service for a consultation and offer the client the slot it proposes."""
    booking = {
        **_slots(ctx, "client_name", "client_contact", "preferred_time", "practice_area", "jurisdiction"),
        "intake_reference": ctx.tracker.get_slot("intake_reference"),
        "conversation_id": ctx.tracker.sender_id,
    }
    try:
        offer = await request_booking(ctx.http, ctx.settings.booking_url, booking)
    except ServiceUnavailable as problem:
        logger.warning("conversation %s: no consultation was booked: %s", ctx.tracker.sender_id, problem)
        ctx.dispatcher.utter_message(response="utter_legal_booking_unavailable")
        return [SlotSet(name="booking_status", value="failed")]
    ctx.dispatcher.utter_message(
        response="utter_legal_booking_offered",
        consultation_time=offer.slot,
        with_lawyer=f" with {offer.lawyer}" if offer.lawyer else "",
    )
    return [SlotSet(name="booking_status", value="offered"), SlotSet(name="consultation_time", value=offer.slot)]


# --- answers that need the settings --------------------------------------------------------------------------------


@action("action_legal_answer_office_hours")
async def answer_office_hours(ctx: ActionContext) -> list[Event]:
    ctx.dispatcher.utter_message(response="utter_legal_answer_office_hours", office_hours=ctx.settings.office_hours)
    return []


@action("action_legal_answer_location")
async def answer_location(ctx: ActionContext) -> list[Event]:
    address = (ctx.settings.office_address or "").strip()
    if address:
        ctx.dispatcher.utter_message(
            response="utter_legal_answer_location", firm_name=ctx.settings.firm_name, office_address=address
        )
    else:
        ctx.dispatcher.utter_message(response="utter_legal_answer_location_unknown", firm_name=ctx.settings.firm_name)
    return []


@action("action_legal_answer_practice_areas")
async def answer_practice_areas(ctx: ActionContext) -> list[Event]:
    """The firm's areas of law; whether it handles the one asked about, if the question names one."""
    areas = list(ctx.settings.practice_areas or [])
    listed = describe_list(areas)
    asked = next(iter(ctx.tracker.get_latest_entity_values("practice_area")), None)
    if asked is None:
        ctx.dispatcher.utter_message(
            response="utter_legal_answer_practice_areas", firm_name=ctx.settings.firm_name, practice_areas=listed
        )
    elif (area := match_choice(str(asked), areas, PRACTICE_AREA_KEYWORDS)) is not None:
        ctx.dispatcher.utter_message(
            response="utter_legal_answer_practice_area_covered", practice_area=area, practice_areas=listed
        )
    else:
        ctx.dispatcher.utter_message(
            response="utter_legal_answer_practice_area_not_covered", practice_area=asked, practice_areas=listed
        )
    return []


@action("action_legal_answer_jurisdictions")
async def answer_jurisdictions(ctx: ActionContext) -> list[Event]:
    """Where the firm takes matters; whether it takes the place asked about, if the question names one."""
    places = list(ctx.settings.jurisdictions or [])
    asked = next(iter(ctx.tracker.get_latest_entity_values("jurisdiction")), None)
    if not places:
        ctx.dispatcher.utter_message(response="utter_legal_answer_jurisdictions_any")
    elif asked is None:
        ctx.dispatcher.utter_message(response="utter_legal_answer_jurisdictions", jurisdictions=describe_list(places))
    elif (place := match_choice(str(asked), places)) is not None:
        ctx.dispatcher.utter_message(response="utter_legal_answer_jurisdiction_covered", jurisdiction=place)
    else:
        ctx.dispatcher.utter_message(
            response="utter_legal_answer_jurisdiction_not_covered",
            jurisdiction=asked,
            jurisdictions=describe_list(places),
        )
    return []


# --- corrections and the hand-over -----------------------------------------------------------------------------------

CORRECTION_WORDS: Final = (
    ("client_contact", ("email", "e-mail", "phone", "number", "contact", "mobile", "cell")),
    ("client_name", ("name", "surname", "spelled", "spelt", "misspelled")),
    ("jurisdiction", ("state", "province", "country", "jurisdiction", "location")),
    ("practice_area", ("area", "type of law", "kind of law", "practice")),
    ("matter_urgency", ("deadline", "urgency", "urgent", "date")),
    ("matter_description", ("description", "describe", "details of", "what happened", "story")),
    ("preferred_time", ("time", "day", "slot", "appointment")),
)
"""Which earlier answer a correction is about, by the words it uses (first match wins)."""


@action("action_legal_correct_slot")
async def correct_slot(ctx: ActionContext) -> list[Event]:
    """The client wants to change an earlier answer of the active form without giving the new value: clear
    that answer so the form asks for it again (or ask which answer, when the message does not say)."""
    form = ctx.tracker.active_loop_name
    required = set(ctx.domain.required_slots(form)) if form else set()
    text = (ctx.tracker.latest_message.text or "").casefold()
    slot = next(
        (
            slot
            for slot, words in CORRECTION_WORDS
            if slot in required and ctx.tracker.get_slot(slot) is not None and any(word in text for word in words)
        ),
        None,
    )
    if slot is None:
        ctx.dispatcher.utter_message(response="utter_legal_ask_correction")
        return []
    ctx.dispatcher.utter_message(response="utter_legal_correcting", slot_label=SLOT_LABELS[slot])
    return [SlotSet(name=slot, value=None)]


HANDOFF_REASONS: Final = {
    "legal_urgent_matter": "urgent matter",
    "legal_ask_case_status": "existing client asking about their case",
    "legal_correct_info": "correction to details already sent",
    "human_handoff": "asked for a person",
}


OFFER_REASONS: Final = {
    "utter_legal_correction_needs_person": "correction to details already sent",
    "utter_legal_intake_unavailable": "the intake service was unavailable",
    "utter_legal_booking_unavailable": "the booking service was unavailable",
}
"""Why a person is wanted when the client accepted the bot's offer of one, by the offer's response."""


def _offer_answered(ctx: ActionContext) -> str | None:
    """The response the bot said last before the client's latest message (what the client answered)."""
    after_latest_message = False
    for event in reversed(ctx.tracker.events):
        if isinstance(event, UserUttered):
            if after_latest_message:
                return None
            after_latest_message = True
        elif after_latest_message and isinstance(event, BotUttered):
            response = event.metadata.get("utter_action")
            return response if isinstance(response, str) else None
    return None


def _handoff_reason(ctx: ActionContext) -> str:
    intent = ctx.tracker.latest_message.intent_name or ""
    if intent in HANDOFF_REASONS:
        return HANDOFF_REASONS[intent]
    return OFFER_REASONS.get(_offer_answered(ctx) or "", "asked for a person")


@action("action_legal_handoff")
async def mark_handoff(ctx: ActionContext) -> list[Event]:
    """Mark the conversation as waiting for a person, and why (the base assistant's action_handoff, run next
    by the rules, pauses the bot and alerts the team)."""
    return [
        SlotSet(name="handoff_requested", value=True),
        SlotSet(name="handoff_reason", value=_handoff_reason(ctx)),
    ]
