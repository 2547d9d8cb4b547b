"""The ticketing endpoint, as the tech-support skill calls it.

- Create: `POST <ticketing_url>` with the ticket as JSON; a 2xx answer carries the new ticket's id as `id`
  (or `ticket_id`).
- Status: `GET <ticketing_url>/<id>`; a 2xx answer carries `status` and optionally `note` (the team's latest
  note); 404 means there is no such ticket.

Anything else (no URL configured, connection refused, a timeout, another status, a body that is not such JSON)
is `TicketingUnavailable`, with the reason for the log; the actions then apologise and offer a person.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import aiohttp

__all__ = ["TicketStatus", "TicketingUnavailable", "create_ticket", "fetch_ticket_status"]


class TicketingUnavailable(Exception):
    """The ticketing endpoint could not be used; the message says why (for the log, not the user)."""


@dataclass(frozen=True)
class TicketStatus:
    """A ticket's status; `found` is False when the endpoint does not know the ticket."""

    ticket_id: str
    found: bool
    status: str = ""
    note: str = ""


def _base(url: str | None) -> str:
    if not url:
        raise TicketingUnavailable("no ticketing_url is configured for the tech_support plugin")
    return url.rstrip("/")


async def _json(response: aiohttp.ClientResponse) -> dict[str, Any]:
    try:
        data = await response.json(content_type=None)
    except (ValueError, aiohttp.ContentTypeError) as exc:
        raise TicketingUnavailable(f"{response.method} {response.url} answered with a body that is not JSON") from exc
    if not isinstance(data, dict):
        raise TicketingUnavailable(f"{response.method} {response.url} answered with JSON that is not an object")
    return data


async def create_ticket(http: aiohttp.ClientSession, url: str | None, ticket: dict[str, Any]) -> str:
    """Send `ticket` to the endpoint; the new ticket's id."""
    target = _base(url)
    try:
        async with http.post(target, json=ticket) as response:
            if response.status // 100 != 2:
                raise TicketingUnavailable(f"POST {target} answered HTTP {response.status}")
            data = await _json(response)
    except (TimeoutError, aiohttp.ClientError) as exc:
        raise TicketingUnavailable(f"POST {target} failed: {type(exc).__name__}: {exc}") from exc
    ticket_id = data.get("id", data.get("ticket_id"))
    if not isinstance(ticket_id, str | int) or isinstance(ticket_id, bool) or not str(ticket_id).strip():
        raise TicketingUnavailable(f"POST {target} answered without the new ticket's `id`")
    return str(ticket_id).strip()


async def fetch_ticket_status(http: aiohttp.ClientSession, url: str | None, ticket_id: str) -> TicketStatus:
    """The status of the ticket `ticket_id`."""
    target = f"{_base(url)}/{quote(ticket_id, safe='')}"
    try:
        async with http.get(target) as response:
            if response.status == 404:
                return TicketStatus(ticket_id, found=False)
            if response.status // 100 != 2:
                raise TicketingUnavailable(f"GET {target} answered HTTP {response.status}")
            data = await _json(response)
    except (TimeoutError, aiohttp.ClientError) as exc:
        raise TicketingUnavailable(f"GET {target} failed: {type(exc).__name__}: {exc}") from exc
    status = data.get("status")
    if not isinstance(status, str) or not status.strip():
        raise TicketingUnavailable(f"GET {target} answered without the ticket's `status`")
    note = data.get("note")
    return TicketStatus(ticket_id, True, status.strip(), note.strip() if isinstance(note, str) else "")
