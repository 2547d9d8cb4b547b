"""Reminders, as Rasa's processor runs them: a `reminder` event (`ReminderScheduled`) that a turn stores, from
a custom action most often, triggers its intent in the same conversation at its `date_time`, with its
`entities`, and the bot's answer goes out on the channel of the turn that set it. A `cancel_reminder` event
(`ReminderCancelled`) cancels the conversation's pending reminders it matches: by `name` when it has one, else
by `intent` and `entities` where given (nothing given: all of them).

When one is due, it runs as a turn of its own, under the conversation's lock, unless the conversation has moved
on: the reminder's event is no longer among the applied events (a restart, a new session, an undo), or, with
`kill_on_user_msg` (the default), the user has written since it was set.

Pending reminders live in this process's memory, as Rasa's (APScheduler's in-memory job store): a restart
forgets them, and with several processes each runs those its own turns set. A date and time without a time
zone is the machine's local time; one already past by more than `MISFIRE_GRACE_SECONDS` does not run.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Final

from bot.dialogue.events import Event, ReminderCancelled, ReminderScheduled, UserUttered
from bot.dialogue.tracker import DialogueStateTracker
from channels.base import OutputChannel

__all__ = ["MISFIRE_GRACE_SECONDS", "Reminders", "still_due"]

logger = logging.getLogger(__name__)

MISFIRE_GRACE_SECONDS: Final = 1.0
"""A reminder set for a time this far in the past still runs (at once); one set further back does not
(APScheduler's default grace time, which Rasa's reminders have)."""

Fire = Callable[[str, ReminderScheduled, OutputChannel], Awaitable[None]]
"""Runs a due reminder: the conversation, the reminder, the channel of the turn that set it."""


@dataclass
class _Pending:
    reminder: ReminderScheduled
    channel: OutputChannel
    timer: asyncio.TimerHandle


class Reminders:
    """The pending reminders of this process, by conversation and reminder name."""

    def __init__(self, fire: Fire) -> None:
        self._fire = fire
        self._pending: dict[tuple[str, str], _Pending] = {}
        self._running: set[asyncio.Task[None]] = set()

    def take(self, sender_id: str, events: Sequence[Event], channel: OutputChannel) -> None:
        """Schedule the reminders and apply the cancellations among a stored turn's `events`, in order."""
        for event in events:
            if isinstance(event, ReminderScheduled):
                self._schedule(sender_id, event, channel)
            elif isinstance(event, ReminderCancelled):
                for key, pending in list(self._pending.items()):
                    if key[0] == sender_id and cancels(event, pending.reminder):
                        self._drop(key)

    def pending(self, sender_id: str) -> list[ReminderScheduled]:
        """The conversation's reminders still to run."""
        return [pending.reminder for (sender, _), pending in self._pending.items() if sender == sender_id]

    async def close(self) -> None:
        """Forget the pending reminders; let those already running finish their turns."""
        for key in list(self._pending):
            self._drop(key)
        if self._running:
            await asyncio.gather(*self._running, return_exceptions=True)

    def _schedule(self, sender_id: str, reminder: ReminderScheduled, channel: OutputChannel) -> None:
        key = (sender_id, reminder.name)
        self._drop(key)  # a reminder of the same name replaces the pending one, as in Rasa
        delay = reminder.trigger_date_time.timestamp() - time.time()
        if delay < -MISFIRE_GRACE_SECONDS:
            logger.warning(
                "The reminder %r of conversation %s was due at %s, %.0f s ago; it does not run",
                reminder.name, sender_id, reminder.date_time, -delay,
            )
            return
        timer = asyncio.get_running_loop().call_later(max(delay, 0.0), self._start, key)
        self._pending[key] = _Pending(reminder, channel, timer)

    def _drop(self, key: tuple[str, str]) -> None:
        pending = self._pending.pop(key, None)
        if pending is not None:
            pending.timer.cancel()

    def _start(self, key: tuple[str, str]) -> None:
        pending = self._pending.pop(key, None)
        if pending is None:
            return
        task = asyncio.get_running_loop().create_task(self._run(key[0], pending), name=f"reminder {key[1]}")
        self._running.add(task)
        task.add_done_callback(self._running.discard)

    async def _run(self, sender_id: str, pending: _Pending) -> None:
        try:
            await self._fire(sender_id, pending.reminder, pending.channel)
        except Exception:
            logger.exception("The reminder %r of conversation %s failed", pending.reminder.name, sender_id)


def cancels(cancellation: ReminderCancelled, reminder: ReminderScheduled) -> bool:
    """Whether `cancellation` names `reminder`: by name when it has one, else by the intent and entities it
    gives (Rasa's `ReminderCancelled` matching)."""
    if cancellation.name:
        return cancellation.name == reminder.name
    if cancellation.intent and cancellation.intent != reminder.intent:
        return False
    return not cancellation.entities or cancellation.entities == reminder.entities


def still_due(tracker: DialogueStateTracker, reminder: ReminderScheduled) -> bool:
    """Whether the conversation still wants `reminder` now: its event is among the applied events (no restart,
    new session or undo took it out), and, with `kill_on_user_msg`, the user has not written since."""
    if not any(
        isinstance(event, ReminderScheduled) and event.name == reminder.name for event in tracker.applied_events()
    ):
        return False
    if not reminder.kill_on_user_msg:
        return True
    for event in reversed(tracker.events):
        if isinstance(event, ReminderScheduled) and event.name == reminder.name:
            return True
        if isinstance(event, UserUttered) and not event.metadata.get("is_external"):
            return False
    return True
