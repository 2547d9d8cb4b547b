"""`bot shell`: talk to the bot in a terminal, one conversation kept in memory.

Each line typed is one user message. The bot's replies are printed as Rasa's console prints them (text, image,
attachment, custom JSON); buttons and quick replies become numbered choices, and typing a choice's number sends
its payload. `/stop` (or the end of input) quits; `/restart` is an ordinary message (the `restart` intent,
which the policies answer with `action_restart`).

Input and output are functions, so the loop runs without a terminal in tests.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from bot.dialogue.processor import MessageProcessor
from bot.dialogue.tracker import DialogueStateTracker
from bot.jsonio import typed_not_text

__all__ = [
    "PROMPT",
    "SHELL_CHANNEL",
    "STOP_COMMAND",
    "InputFunction",
    "OutputFunction",
    "ShellMessage",
    "console_input",
    "format_reply",
    "run_shell",
]

PROMPT = "Your input -> "
STOP_COMMAND = "/stop"
SHELL_CHANNEL = "cmdline"

InputFunction = Callable[[str], str | Awaitable[str | None] | None]
"""Shows a prompt and returns the line typed, or None at the end of input."""
OutputFunction = Callable[[str], None]


@dataclass(frozen=True)
class ShellMessage:
    """A line typed in the shell, as a user message."""

    text: str
    sender_id: str
    input_channel: str = SHELL_CHANNEL
    message_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    metadata: dict[str, Any] = field(default_factory=dict)
    parse_data: dict[str, Any] | None = None


async def console_input(prompt: str) -> str | None:
    """Read a line from the terminal without blocking the event loop (None at end of input)."""
    try:
        return await asyncio.to_thread(input, prompt)
    except EOFError:
        return None


async def run_shell(
    processor: MessageProcessor,
    input_fn: InputFunction = console_input,
    output_fn: OutputFunction = print,
    *,
    sender_id: str = "shell",
    tracker: DialogueStateTracker | None = None,
) -> DialogueStateTracker:
    """Chat until `/stop` or the end of input; returns the conversation's tracker."""
    tracker = tracker if tracker is not None else DialogueStateTracker.for_domain(sender_id, processor.domain)
    choices: list[Mapping[str, Any]] = []
    output_fn(f"Bot loaded. Type a message and press enter (use '{STOP_COMMAND}' to exit).")
    while True:
        line = input_fn(PROMPT)
        typed = await line if inspect.isawaitable(line) else line
        if typed is None:
            break
        text = typed.strip()
        if text == STOP_COMMAND:
            break
        if not text:
            continue
        refusal = typed_not_text(text)
        if refusal is not None:
            output_fn(refusal)
            continue
        text = _chosen_payload(text, choices)
        turn = await processor.handle_message(tracker, ShellMessage(text, tracker.sender_id))
        choices = []
        for reply in turn.replies:
            lines, buttons = format_reply(reply, first_number=len(choices) + 1)
            choices += buttons
            for printed in lines:
                output_fn(printed)
    return tracker


def _chosen_payload(text: str, choices: list[Mapping[str, Any]]) -> str:
    """The payload of the button numbered `text`, or `text` itself."""
    if text.isdigit() and 1 <= int(text) <= len(choices):
        chosen = choices[int(text) - 1]
        payload = chosen.get("payload")
        return str(payload) if payload is not None else str(chosen.get("title", text))
    return text


def format_reply(
    reply: Mapping[str, Any], first_number: int = 1
) -> tuple[list[str], list[Mapping[str, Any]]]:
    """The lines that show one reply, and its buttons in the order they are numbered."""
    lines: list[str] = []
    if reply.get("text"):
        lines.append(str(reply["text"]))
    if reply.get("image"):
        lines.append(f"Image: {reply['image']}")
    if reply.get("attachment"):
        lines.append(f"Attachment: {reply['attachment']}")
    offered = [*(reply.get("buttons") or []), *(reply.get("quick_replies") or [])]
    buttons: list[Mapping[str, Any]] = [button for button in offered if isinstance(button, Mapping)]
    for offset, button in enumerate(buttons):
        payload = button.get("payload")
        suffix = f" ({payload})" if payload is not None else ""
        lines.append(f"  {first_number + offset}: {button.get('title', '')}{suffix}")
    for element in reply.get("elements") or []:
        if isinstance(element, dict):
            lines.append(f"{element.get('title', '')} : {element.get('subtitle', '')}")
    if reply.get("custom"):
        lines.append("Custom json:")
        lines.append(json.dumps(reply["custom"], indent=2, ensure_ascii=False))
    return lines, buttons
