"""Slack's text markup both ways, and the Block Kit blocks the bot's replies are built from.

Outgoing text is Slack mrkdwn. Slack gives `&`, `<` and `>` a meaning of their own and asks apps to send them
as `&amp;`, `&lt;` and `&gt;`; a response author may still write Slack's markup on purpose, so links
(`<https://...|label>`, `<mailto:...>`), user and channel mentions (`<@U...>`, `<#C...>`), user-group mentions
and dates are kept. Broadcasts (`<!here>`, `<!channel>`, `<!everyone>`) are escaped: a slot filled from user
input must not be able to ping a whole channel.

Incoming text arrives in the same markup; `plain_text_from_slack` turns it back into what the user saw, minus
mentions of the bot itself, for the NLU.

Limits (Slack's reference docs): 40,000 characters of `text` per message, 3,000 per section block text,
50 blocks per message, 25 elements per actions block, 75 characters per button label, 2,000 per button value.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Collection, Mapping, Sequence
from typing import Any

__all__ = [
    "MAX_ACTIONS_PER_BLOCK",
    "MAX_ALT_TEXT",
    "MAX_BLOCKS",
    "MAX_BUTTON_LABEL",
    "MAX_BUTTON_VALUE",
    "MAX_MESSAGE_TEXT",
    "MAX_SECTION_TEXT",
    "action_blocks",
    "escape_mrkdwn",
    "image_block",
    "plain_text_from_slack",
    "section_blocks",
    "split_text",
]

logger = logging.getLogger(__name__)

MAX_MESSAGE_TEXT = 40_000
MAX_SECTION_TEXT = 3_000
MAX_BLOCKS = 50
MAX_ACTIONS_PER_BLOCK = 25
MAX_BUTTON_LABEL = 75
MAX_BUTTON_VALUE = 2_000
MAX_ALT_TEXT = 2_000

_KEPT_MARKUP = re.compile(
    r"<(?:https?://[^\s<>|]+|mailto:[^\s<>|]+|tel:[^\s<>|]+|@[UW][A-Z0-9]+|#C[A-Z0-9]+"
    r"|!subteam\^[A-Z0-9]+|!date\^[^<>|]+)(?:\|[^<>]*)?>"
)
"""Slack markup a response author may write on purpose; everything else in angle brackets is escaped."""

_ATOM = re.compile(r"<[^<>]*>|&(?:amp|lt|gt);")
"""Pieces of escaped mrkdwn that a split must not cut in two."""


def escape_mrkdwn(text: str) -> str:
    """`text` with `&`, `<` and `>` escaped as Slack asks, except inside the markup kept on purpose."""
    pieces: list[str] = []
    position = 0
    for kept in _KEPT_MARKUP.finditer(text):
        pieces.append(_escape(text[position : kept.start()]))
        pieces.append(kept.group())
        position = kept.end()
    pieces.append(_escape(text[position:]))
    return "".join(pieces)


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def split_text(text: str, limit: int) -> list[str]:
    """`text` in pieces of at most `limit` characters, cut at a paragraph, line or word break when there is one.

    A cut never falls inside a link, a mention or an escaped character. Whitespace at a cut is dropped; no
    piece is empty.
    """
    pieces: list[str] = []
    rest = text.strip()
    while len(rest) > limit:
        cut = _cut_point(rest, limit)
        pieces.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip()
    if rest:
        pieces.append(rest)
    return pieces


def _cut_point(text: str, limit: int) -> int:
    window = text[: limit + 1]
    for separator in ("\n\n", "\n", " "):
        at = window.rfind(separator, 1, limit + 1)
        if at > 0:
            cut = at
            break
    else:
        cut = limit
    for atom in _ATOM.finditer(text):
        if atom.start() >= cut:
            break
        if atom.end() > cut:
            return atom.start() if atom.start() > 0 else min(atom.end(), limit)
    return cut


def section_blocks(mrkdwn: str) -> list[dict[str, Any]]:
    """Section blocks holding already-escaped mrkdwn, split at Slack's 3,000-character section limit."""
    return [
        {"type": "section", "text": {"type": "mrkdwn", "text": piece}}
        for piece in split_text(mrkdwn, MAX_SECTION_TEXT)
    ]


def action_blocks(buttons: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Rasa buttons (`title`, `payload`, optional `url`) as actions blocks of Block Kit button elements.

    A click sends the button's `value` (its payload) back to the bot. A button whose payload is longer than
    Slack allows is left out with a warning: Slack would refuse the whole message.
    """
    elements: list[dict[str, Any]] = []
    for index, button in enumerate(buttons):
        title = str(button.get("title") or button.get("payload") or "")
        value = str(button.get("payload") or title)
        if len(value) > MAX_BUTTON_VALUE:
            logger.warning(
                "The button %r is left out: its payload has %d characters and Slack allows %d",
                title[:MAX_BUTTON_LABEL], len(value), MAX_BUTTON_VALUE,
            )
            continue
        element: dict[str, Any] = {
            "type": "button",
            "action_id": f"button_{index}",
            "text": {"type": "plain_text", "text": _shorten(title, MAX_BUTTON_LABEL) or "…", "emoji": True},
            "value": value,
        }
        if isinstance(button.get("url"), str):
            element["url"] = button["url"]
        elements.append(element)
    return [
        {"type": "actions", "elements": elements[start : start + MAX_ACTIONS_PER_BLOCK]}
        for start in range(0, len(elements), MAX_ACTIONS_PER_BLOCK)
    ]


def image_block(url: str, alt_text: str | None = None) -> dict[str, Any]:
    return {"type": "image", "image_url": url, "alt_text": _shorten(alt_text or url, MAX_ALT_TEXT)}


def _shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


_INBOUND_MARKUP = re.compile(r"<([^<>|]*)(?:\|([^<>]*))?>")
_ESCAPED = re.compile(r"&(?:amp|lt|gt);")
_UNESCAPED = {"&amp;": "&", "&lt;": "<", "&gt;": ">"}


def plain_text_from_slack(text: str, bot_user_ids: Collection[str] = ()) -> str:
    """A user's Slack message as they saw it: mentions of the bot removed, links and mentions as their labels.

    `<@UBOT> hi` -> `hi`; `<https://example.com|our site>` -> `our site`; `<#C1|general>` -> `#general`;
    `<!here>` -> `@here`; `&amp;` -> `&`.
    """

    def readable(markup: re.Match[str]) -> str:
        target, label = markup.group(1), markup.group(2)
        if target.startswith("@") and target[1:] in bot_user_ids:
            return " "
        if label:
            return label if target[:1] not in "@#" or label[:1] in "@#" else target[0] + label
        if target.startswith("!"):
            return "@" + target[1:].split("^", 1)[0]
        return target.removeprefix("mailto:")

    readable_text = _ESCAPED.sub(lambda escaped: _UNESCAPED[escaped.group()], _INBOUND_MARKUP.sub(readable, text))
    return re.sub(r"[ \t]{2,}", " ", readable_text).strip()
