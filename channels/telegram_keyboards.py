"""Rasa buttons as Telegram keyboards, and the short keys that stand for payloads too long for Telegram.

Telegram carries an inline button's payload in `callback_data`, 1 to 64 bytes. Rasa payloads such as
`/inform{"product": "..."}` can be longer, so a payload that does not fit is replaced by a short key
(`#p:` and 16 characters of its SHA-256), and the key is remembered in memory (the most recent 10,000) to be
turned back into the payload when the button is pressed. A key made by another process, or forgotten since,
cannot be turned back: `CallbackPayloads.payload_for` returns None and the user is asked to type instead.

Layouts follow Rasa's `button_type`: `inline` (the default; all buttons in one row), `vertical` (one button
per row) and `reply` (a one-time reply keyboard: a press sends the button's title as a text message). A
button with a `url` opens that link instead of sending a payload; a list of buttons inside the list is a row.
"""

from __future__ import annotations

import base64
import hashlib
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from typing import Any

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, KeyboardButton, ReplyKeyboardMarkup

__all__ = ["CALLBACK_DATA_LIMIT", "CallbackPayloads", "keyboard_for"]

CALLBACK_DATA_LIMIT = 64
"""Telegram's limit on `callback_data`, in UTF-8 bytes."""

_KEY_PREFIX = "#p:"


class CallbackPayloads:
    """Turns button payloads into `callback_data` and back."""

    def __init__(self, capacity: int = 10_000) -> None:
        self._payloads: OrderedDict[str, str] = OrderedDict()
        self._capacity = capacity

    def data_for(self, payload: str) -> str:
        """The `callback_data` for `payload`: the payload itself when it fits, else a remembered short key."""
        size = len(payload.encode("utf-8"))
        if 0 < size <= CALLBACK_DATA_LIMIT and not payload.startswith(_KEY_PREFIX):
            return payload
        digest = hashlib.sha256(payload.encode("utf-8")).digest()[:12]
        key = _KEY_PREFIX + base64.urlsafe_b64encode(digest).decode("ascii")
        self._payloads[key] = payload
        self._payloads.move_to_end(key)
        if len(self._payloads) > self._capacity:
            self._payloads.popitem(last=False)
        return key

    def payload_for(self, data: str) -> str | None:
        """The payload a pressed button stands for; None for a short key this process does not know."""
        if not data.startswith(_KEY_PREFIX):
            return data
        return self._payloads.get(data)


def keyboard_for(
    buttons: Sequence[Any], button_type: str, payloads: CallbackPayloads
) -> InlineKeyboardMarkup | ReplyKeyboardMarkup:
    """The keyboard showing Rasa `buttons` in the layout `button_type` names."""
    rows = _rows(buttons, one_per_row=button_type in ("vertical", "reply"))
    if button_type == "reply":
        return ReplyKeyboardMarkup(
            [[KeyboardButton(_title(button)) for button in row] for row in rows],
            resize_keyboard=True,
            one_time_keyboard=True,
        )
    return InlineKeyboardMarkup([[_inline_button(button, payloads) for button in row] for row in rows])


def _rows(buttons: Sequence[Any], *, one_per_row: bool) -> list[list[Mapping[str, Any]]]:
    rows: list[list[Mapping[str, Any]]] = []
    current: list[Mapping[str, Any]] = []
    for entry in buttons:
        if isinstance(entry, Mapping):
            if one_per_row:
                rows.append([entry])
            else:
                current.append(entry)
        elif isinstance(entry, Sequence) and not isinstance(entry, str):
            if current:
                rows.append(current)
                current = []
            rows.append([button for button in entry if isinstance(button, Mapping)])
    if current:
        rows.append(current)
    return [row for row in rows if row]


def _title(button: Mapping[str, Any]) -> str:
    return str(button.get("title") or button.get("payload") or button.get("url") or "?")


def _inline_button(button: Mapping[str, Any], payloads: CallbackPayloads) -> InlineKeyboardButton:
    if button.get("url"):
        return InlineKeyboardButton(_title(button), url=str(button["url"]))
    payload = str(button.get("payload") or _title(button))
    return InlineKeyboardButton(_title(button), callback_data=payloads.data_for(payload))
