"""The tech-support skill's actions: tickets, the knowledge base, error codes and the hand-over to a person.

Settings (plugin.yml): `product_names`, `ticketing_url`, `knowledge_base_folder`, `support_hours`. Every reply
is a domain response (so an instance can reword it); the actions fill its placeholders.
"""

from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path
from typing import Any

from bot.dialogue.events import Event, SlotSet, UserUttered
from bot.plugins.sdk import ActionContext, PluginAction, action

from .knowledge_base import KnowledgeBase, knowledge_base_for
from .ticket_fields import (
    TICKET_SLOTS,
    field_named_in,
    find_email,
    find_error_code,
    find_ticket_id,
    match_product,
    match_severity,
    valid_description,
)
from .ticketing import TicketingUnavailable, create_ticket, fetch_ticket_status

__all__ = [
    "EXAMPLE_KNOWLEDGE_BASE",
    "ValidateTicketForm",
    "ask_for_product",
    "correct_ticket",
    "hand_over",
    "list_products",
    "look_up_error_code",
    "search_knowledge_base",
    "send_ticket",
    "support_hours",
    "ticket_status",
]

logger = logging.getLogger(__name__)

EXAMPLE_KNOWLEDGE_BASE = Path(__file__).resolve().parent / "kb_examples"
"""The articles used when the instance sets no `knowledge_base_folder`."""


# --- helpers ---------------------------------------------------------------------------------------------------


def _products(ctx: ActionContext) -> list[str]:
    return list(getattr(ctx.settings, "product_names", None) or [])


def _product_list(products: list[str]) -> str:
    """"A", "A and B", "A, B and C" (or a neutral phrase when none are configured)."""
    if not products:
        return "our products"
    return products[0] if len(products) == 1 else ", ".join(products[:-1]) + " and " + products[-1]


async def _knowledge_base(ctx: ActionContext) -> KnowledgeBase:
    folder = getattr(ctx.settings, "knowledge_base_folder", None) or EXAMPLE_KNOWLEDGE_BASE
    return await asyncio.to_thread(knowledge_base_for, Path(folder))


def _latest_text(ctx: ActionContext) -> str:
    return ctx.tracker.latest_message.text or ""


def _latest_entity(ctx: ActionContext, entity: str) -> str | None:
    value = next(iter(ctx.tracker.get_latest_entity_values(entity)), None)
    return str(value) if value is not None else None


def _slots_set_since_latest_message(ctx: ActionContext) -> dict[str, Any]:
    """The slots the latest user message filled (through the slot mappings), slot -> value."""
    filled: dict[str, Any] = {}
    for event in reversed(ctx.tracker.events):
        if isinstance(event, UserUttered):
            break
        if isinstance(event, SlotSet) and event.name not in filled:
            filled[event.name] = event.value
    return filled


# --- troubleshooting and the knowledge base ----------------------------------------------------------------------


@action("action_ts_lookup_error_code")
async def look_up_error_code(ctx: ActionContext) -> list[Event]:
    """The first step of the error-code flow: the article that mentions the code, or general first aid."""
    text = _latest_text(ctx)
    code = find_error_code(_latest_entity(ctx, "error_code") or "") or find_error_code(text)
    if code is None:
        ctx.dispatcher.utter_message(response="utter_ts_error_no_code")
        return []
    article = (await _knowledge_base(ctx)).article_mentioning(code, text)
    if article is None:
        ctx.dispatcher.utter_message(response="utter_ts_error_generic", error_code=code)
    else:
        ctx.dispatcher.utter_message(
            response="utter_ts_error_article", error_code=code, title=article.title, summary=article.summary
        )
    return [SlotSet(name="ts_error_code", value=code)]


@action("action_search_knowledge_base")
async def search_knowledge_base(ctx: ActionContext) -> list[Event]:
    """The article closest to the user's question (title, summary, "did that help?"), or a ticket or a person."""
    found = (await _knowledge_base(ctx)).best_match(_latest_text(ctx))
    if found is None:
        ctx.dispatcher.utter_message(response="utter_ts_kb_no_match")
        return [SlotSet(name="ts_kb_article_found", value=False)]
    logger.debug("knowledge base: %r answers %r (%.2f)", found.article.title, _latest_text(ctx), found.score)
    ctx.dispatcher.utter_message(
        response="utter_ts_kb_answer", title=found.article.title, summary=found.article.summary
    )
    return [SlotSet(name="ts_kb_article_found", value=True)]


# --- the ticket form ------------------------------------------------------------------------------------------


class ValidateTicketForm(PluginAction):
    """Checks each value the user gave the ticket form; a value it cannot use is asked for again."""

    name = "validate_ticket_form"

    async def run(self, ctx: ActionContext) -> list[Event]:
        candidates = ctx.slots_to_validate()
        events: list[Event] = []
        for slot, value in candidates.items():
            if slot not in TICKET_SLOTS:
                continue
            if slot == "ts_description" and self._gave_another_detail(value, ctx):
                events.append(SlotSet(name=slot, value=None))
                continue
            events.append(SlotSet(name=slot, value=self._checked(slot, value, ctx)))
        return events

    @staticmethod
    def _gave_another_detail(description: Any, ctx: ActionContext) -> bool:
        """Whether the description is the latest message, which also filled another ticket detail: "it's
        critical" answers the severity, not the question about the problem."""
        if description != _latest_text(ctx):
            return False
        filled = _slots_set_since_latest_message(ctx)
        return any(filled.get(slot) is not None for slot in TICKET_SLOTS if slot != "ts_description")

    @staticmethod
    def _checked(slot: str, value: Any, ctx: ActionContext) -> str | None:
        text = "" if value is None else str(value)
        if slot == "ts_email":
            email = find_email(text)
            if email is None:
                ctx.dispatcher.utter_message(response="utter_ts_invalid_email", value=text.strip())
            return email
        if slot == "ts_product":
            products = _products(ctx)
            product = match_product(text, products)
            if product is None:
                ctx.dispatcher.utter_message(response="utter_ts_unknown_product", product_list=_product_list(products))
            return product
        if slot == "ts_severity":
            severity = match_severity(text)
            if severity is None:
                ctx.dispatcher.utter_message(response="utter_ts_invalid_severity")
            return severity
        description = valid_description(text)
        if description is None:
            ctx.dispatcher.utter_message(response="utter_ts_description_too_short")
        return description


@action("action_ask_ts_product")
async def ask_for_product(ctx: ActionContext) -> list[Event]:
    """Asks which product, with a button for each configured one."""
    buttons = [
        {"title": product, "payload": "/ts_give_ticket_details" + json.dumps({"product": product})}
        for product in _products(ctx)
    ]
    ctx.dispatcher.utter_message(response="utter_ask_ts_product", buttons=buttons)
    return []


@action("action_ts_correct_ticket")
async def correct_ticket(ctx: ActionContext) -> list[Event]:
    """A change to the ticket: a new value the message carried is kept (the form checks it again); a detail the
    user only named ("the email is wrong") is emptied so that the form asks for it again."""
    if any(slot in TICKET_SLOTS for slot in _slots_set_since_latest_message(ctx)):
        return []
    field = field_named_in(_latest_text(ctx))
    if field is None:
        ctx.dispatcher.utter_message(response="utter_ts_correction_unclear")
        return []
    return [SlotSet(name=field, value=None)]


# --- tickets ---------------------------------------------------------------------------------------------------


@action("action_create_ticket")
async def send_ticket(ctx: ActionContext) -> list[Event]:
    """Sends the ticket to the ticketing endpoint and gives the user its number; when the endpoint cannot be
    used, apologises and offers a person (the details stay, so the ticket can be sent later)."""
    tracker = ctx.tracker
    ticket = {
        "email": tracker.get_slot("ts_email"),
        "product": tracker.get_slot("ts_product"),
        "severity": tracker.get_slot("ts_severity"),
        "description": tracker.get_slot("ts_description"),
        "category": tracker.get_slot("ts_issue"),
        "error_code": tracker.get_slot("ts_error_code"),
        "conversation_id": tracker.sender_id,
    }
    try:
        ticket_id = await create_ticket(ctx.http, getattr(ctx.settings, "ticketing_url", None), ticket)
    except TicketingUnavailable as problem:
        logger.warning("conversation %s: the ticket could not be created: %s", tracker.sender_id, problem)
        ctx.dispatcher.utter_message(response="utter_ts_ticketing_down")
        return [SlotSet(name="ts_ticketing_reachable", value=False)]
    ctx.dispatcher.utter_message(
        response="utter_ts_ticket_created",
        ticket_id=ticket_id,
        email=ticket["email"],
        support_hours=ctx.settings.support_hours,
    )
    # the email stays for the next ticket; the rest describes this problem only
    cleared = ("ts_product", "ts_severity", "ts_description", "ts_issue", "ts_error_code")
    return [
        SlotSet(name="ts_ticket_id", value=ticket_id),
        SlotSet(name="ts_ticketing_reachable", value=True),
        *(SlotSet(name=slot, value=None) for slot in cleared),
    ]


@action("action_ticket_status")
async def ticket_status(ctx: ActionContext) -> list[Event]:
    """The status of the ticket the user names (or the one created in this conversation)."""
    text = _latest_text(ctx)
    ticket_id = (
        find_ticket_id(_latest_entity(ctx, "ticket_id") or "")
        or find_ticket_id(text)
        or ctx.tracker.get_slot("ts_ticket_id")
    )
    if not ticket_id:
        ctx.dispatcher.utter_message(response="utter_ts_ask_ticket_id")
        return []
    try:
        status = await fetch_ticket_status(ctx.http, getattr(ctx.settings, "ticketing_url", None), ticket_id)
    except TicketingUnavailable as problem:
        logger.warning(
            "conversation %s: ticket %s could not be looked up: %s", ctx.tracker.sender_id, ticket_id, problem
        )
        ctx.dispatcher.utter_message(response="utter_ts_status_unavailable", ticket_id=ticket_id)
        return [SlotSet(name="ts_ticket_id", value=ticket_id), SlotSet(name="ts_ticketing_reachable", value=False)]
    if not status.found:
        ctx.dispatcher.utter_message(response="utter_ts_ticket_not_found", ticket_id=ticket_id)
        return [SlotSet(name="ts_ticketing_reachable", value=True)]
    ctx.dispatcher.utter_message(response="utter_ts_ticket_status", ticket_id=ticket_id, status=status.status)
    if status.note:
        ctx.dispatcher.utter_message(response="utter_ts_ticket_note", note=status.note)
    return [SlotSet(name="ts_ticket_id", value=ticket_id), SlotSet(name="ts_ticketing_reachable", value=True)]


# --- hours, products, hand-over ---------------------------------------------------------------------------------


@action("action_ts_support_hours")
async def support_hours(ctx: ActionContext) -> list[Event]:
    ctx.dispatcher.utter_message(response="utter_ts_support_hours", support_hours=ctx.settings.support_hours)
    return []


@action("action_ts_list_products")
async def list_products(ctx: ActionContext) -> list[Event]:
    ctx.dispatcher.utter_message(response="utter_ts_products", product_list=_product_list(_products(ctx)))
    return []


@action("action_ts_handoff")
async def hand_over(ctx: ActionContext) -> list[Event]:
    """Before the base assistant's action_handoff: a note for the support engineer (what the user needs, what
    was tried) and, for the user, when the support team works."""
    tracker = ctx.tracker
    details = [
        ("issue", tracker.get_slot("ts_issue")),
        ("product", tracker.get_slot("ts_product")),
        ("error code", tracker.get_slot("ts_error_code")),
        ("ticket", tracker.get_slot("ts_ticket_id")),
        ("email", tracker.get_slot("ts_email")),
    ]
    known = "; ".join(f"{label}: {value}" for label, value in details if value)
    note = f"Tech support hand-over. {known or 'No details collected yet'}. Last message: {_latest_text(ctx)!r}"
    ctx.dispatcher.utter_message(response="utter_ts_handoff_hours", support_hours=ctx.settings.support_hours)
    return [SlotSet(name="ts_handoff_note", value=note)]
