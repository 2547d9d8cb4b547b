"""What a support ticket's fields may hold, and how a user's words become a valid value.

The ticket form (`ticket_form`) asks for an email, a product, a severity and a description. The NLU finds most
values as entities; when it does not (an operator's own product name, a typo, a sentence around an email), the
form takes the whole message and these functions find the value in it. Each returns None when there is none.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Sequence

__all__ = [
    "DESCRIPTION_MIN_WORDS",
    "SEVERITIES",
    "TICKET_SLOTS",
    "field_named_in",
    "find_email",
    "find_error_code",
    "find_ticket_id",
    "match_product",
    "match_severity",
    "valid_description",
]

TICKET_SLOTS = ("ts_email", "ts_product", "ts_severity", "ts_description")
"""The ticket form's slots, in the order it asks for them."""
SEVERITIES = ("low", "medium", "high", "critical")
DESCRIPTION_MIN_WORDS = 3

_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
_ERROR_CODE = re.compile(r"\b(?:(?:E|ERR)[-_]?\d{2,5}|0x[0-9A-Fa-f]{4,8})\b", re.IGNORECASE)
_TICKET_ID = re.compile(r"\bTCK-?(\d{4,8})\b", re.IGNORECASE)

# Words for each severity, checked longest phrase first so that "not urgent" is low, not critical.
_SEVERITY_WORDS: dict[str, str] = {
    "not urgent": "low",
    "not serious": "low",
    "no rush": "low",
    "low priority": "low",
    "top priority": "critical",
    "low": "low",
    "minor": "low",
    "trivial": "low",
    "cosmetic": "low",
    "medium": "medium",
    "moderate": "medium",
    "normal": "medium",
    "average": "medium",
    "high": "high",
    "major": "high",
    "serious": "high",
    "important": "high",
    "severe": "high",
    "critical": "critical",
    "urgent": "critical",
    "blocker": "critical",
    "showstopper": "critical",
    "emergency": "critical",
}

# Words that name a ticket field in a request to change it ("the email is wrong", "change the product").
_FIELD_WORDS: dict[str, tuple[str, ...]] = {
    "ts_email": ("email", "e-mail", "mail", "address"),
    "ts_product": ("product", "device", "router", "camera", "app", "software"),
    "ts_severity": ("severity", "priority", "urgency", "serious", "urgent"),
    "ts_description": ("description", "describe", "problem", "wording"),
}


def find_email(text: str) -> str | None:
    """The first email address in `text`, lower-cased."""
    found = _EMAIL.search(text)
    return found.group(0).lower() if found else None


def find_error_code(text: str) -> str | None:
    """The first error code in `text` (E-1042, ERR_503, 0x80070005), upper-cased with an `x` kept lower."""
    found = _ERROR_CODE.search(text)
    if not found:
        return None
    code = found.group(0).upper()
    return "0x" + code[2:] if code.startswith("0X") else code


def find_ticket_id(text: str) -> str | None:
    """The first ticket number in `text`, written as TCK-<digits>."""
    found = _TICKET_ID.search(text)
    return f"TCK-{found.group(1)}" if found else None


def _squashed(text: str) -> str:
    return re.sub(r"[^0-9a-z]", "", text.lower())


def match_product(text: str, products: Sequence[str]) -> str | None:
    """The product of `products` that `text` names, as the operator spells it.

    Case, spaces and punctuation do not matter ("router x" is RouterX); a name inside a sentence is found;
    a small typo in a word or two is forgiven ("routr x"). With no products configured any text is taken.
    """
    cleaned = text.strip()
    if not products:
        return cleaned or None
    squashed_text = _squashed(cleaned)
    if not squashed_text:
        return None
    by_squashed = {_squashed(product): product for product in products if _squashed(product)}
    if squashed_text in by_squashed:
        return by_squashed[squashed_text]
    for squashed in sorted(by_squashed, key=len, reverse=True):
        if squashed in squashed_text:
            return by_squashed[squashed]
    words = re.findall(r"[0-9A-Za-z]+", cleaned)
    candidates = [_squashed(" ".join(words[i : i + n])) for n in (1, 2, 3) for i in range(len(words) - n + 1)]
    for candidate in candidates:
        close = difflib.get_close_matches(candidate, list(by_squashed), n=1, cutoff=0.8)
        if close:
            return by_squashed[close[0]]
    return None


def match_severity(text: str) -> str | None:
    """low, medium, high or critical, from the words of `text`."""
    lowered = " ".join(re.findall(r"[a-z]+", text.lower()))
    padded = f" {lowered} "
    for phrase in sorted(_SEVERITY_WORDS, key=len, reverse=True):
        if f" {phrase} " in padded:
            return _SEVERITY_WORDS[phrase]
    close = difflib.get_close_matches(lowered, SEVERITIES, n=1, cutoff=0.75)
    return close[0] if close else None


def valid_description(text: str) -> str | None:
    """`text`, tidied, when it says enough to act on (at least `DESCRIPTION_MIN_WORDS` words)."""
    tidied = " ".join(text.split())
    return tidied if len(re.findall(r"\w+", tidied)) >= DESCRIPTION_MIN_WORDS else None


def field_named_in(text: str) -> str | None:
    """The ticket slot a request to change something names ("the email is wrong" -> ts_email), if exactly one."""
    words = set(re.findall(r"[a-z][a-z-]*", text.lower()))
    named = [slot for slot, names in _FIELD_WORDS.items() if words & set(names)]
    return named[0] if len(named) == 1 else None
