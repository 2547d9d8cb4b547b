"""The firm's two HTTP services as the legal skill calls them: the intake (with its conflict check) and the
consultation booking. Both take a JSON object by POST and answer a JSON object:

- intake:  -> {"conflict": true | false, "reference": "..." (optional)}
- booking: -> {"slot": "<when, as it should be shown>", "with": "<lawyer>" (optional)}

Anything else (no URL configured, the service down, slow, answering an error or an unexpected body) is a
`ServiceUnavailable`, which the actions turn into a polite message and the offer of a person.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

import aiohttp

__all__ = [
    "REQUEST_TIMEOUT",
    "BookingOffer",
    "IntakeResult",
    "ServiceUnavailable",
    "request_booking",
    "submit_intake",
]

REQUEST_TIMEOUT: Final = 6.0
"""Seconds one request may take: below the action's own timeout, so a slow service still gets the polite
message rather than the generic fallback."""


class ServiceUnavailable(Exception):
    """The service could not be used; the message says why (for the log, never for the client)."""


@dataclass(frozen=True)
class IntakeResult:
    conflict: bool
    reference: str | None


@dataclass(frozen=True)
class BookingOffer:
    slot: str
    lawyer: str | None


async def _post(http: aiohttp.ClientSession, service: str, url: str | None, payload: dict[str, Any]) -> dict[str, Any]:
    if not url:
        raise ServiceUnavailable(f"no {service} URL is configured")
    try:
        async with http.post(url, json=payload, timeout=aiohttp.ClientTimeout(total=REQUEST_TIMEOUT)) as response:
            if response.status >= 400:
                raise ServiceUnavailable(f"the {service} service answered HTTP {response.status}")
            data = await response.json(content_type=None)
    except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
        raise ServiceUnavailable(f"the {service} service could not be reached: {type(exc).__name__}") from None
    if not isinstance(data, dict):
        raise ServiceUnavailable(f"the {service} service answered {type(data).__name__}, not a JSON object")
    return data


def _optional_text(data: dict[str, Any], key: str) -> str | None:
    value = data.get(key)
    return str(value) if isinstance(value, str | int) and str(value).strip() else None


async def submit_intake(http: aiohttp.ClientSession, url: str | None, intake: dict[str, Any]) -> IntakeResult:
    """Send the intake; the conflict check's answer."""
    data = await _post(http, "intake", url, intake)
    conflict = data.get("conflict")
    if not isinstance(conflict, bool):
        raise ServiceUnavailable("the intake service's answer has no true/false `conflict`")
    return IntakeResult(conflict, _optional_text(data, "reference"))


async def request_booking(http: aiohttp.ClientSession, url: str | None, booking: dict[str, Any]) -> BookingOffer:
    """Ask for a consultation; the slot offered."""
    data = await _post(http, "booking", url, booking)
    slot = _optional_text(data, "slot")
    if slot is None:
        raise ServiceUnavailable("the booking service offered no `slot`")
    return BookingOffer(slot, _optional_text(data, "with"))
