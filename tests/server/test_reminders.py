"""Reminders as Rasa runs them: a `reminder` event from an action triggers its intent in the conversation when
it is due, on the channel of the turn that set it; a user message in between (with `kill_on_user_msg`), a
`cancel_reminder` event, a restart or the runtime closing stops it. The runtime is the real one, on the
rasa-init bot, its conversations in SQLite."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.dialogue.actions import ActionRegistry
from bot.dialogue.events import (
    BotUttered,
    Event,
    ReminderCancelled,
    ReminderScheduled,
    Restarted,
    UserUttered,
)
from bot.model import load_model
from bot.runtime import Runtime
from bot.stores.sql import SQLTrackerStore
from channels.base import CollectingOutputChannel, UserMessage

GREETING = "Hey! How are you?"
"""rasa-init's answer to `greet`, the intent the reminders here trigger."""
DUE_IN = 0.3


class ActionEvents:
    """Actions that return the events a test gives them: `action_remind` (a reminder) and `action_forget`."""

    def __init__(self) -> None:
        self.reminder: dict[str, Any] = {}
        self.cancellation: dict[str, Any] = {}

    def registry(self) -> ActionRegistry:
        registry = ActionRegistry()

        async def remind(*_: Any) -> list[Event]:
            fields = {"intent": "greet", "date_time": _in(DUE_IN), "name": "wake", **self.reminder}
            return [ReminderScheduled(**fields)]

        async def forget(*_: Any) -> list[Event]:
            return [ReminderCancelled(**self.cancellation)]

        registry.register_function("action_remind", remind)
        registry.register_function("action_forget", forget)
        return registry


def _in(seconds: float) -> str:
    return (datetime.now() + timedelta(seconds=seconds)).isoformat()


@pytest.fixture
def actions() -> ActionEvents:
    return ActionEvents()


@pytest.fixture
async def runtime(trained_model: Path, tmp_path: Path, actions: ActionEvents) -> AsyncIterator[Runtime]:
    store = SQLTrackerStore(f"sqlite:///{tmp_path / 'events.db'}")
    running = Runtime(load_model(trained_model), store, actions=actions.registry())
    await running.start()
    yield running
    await running.close()


async def _texts_after(channel: CollectingOutputChannel, seconds: float) -> list[str | None]:
    """The texts sent on `channel` once `seconds` have passed (sooner when a greeting arrives)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and not any(m.get("text") == GREETING for m in channel.messages):
        await asyncio.sleep(0.05)
    return [message.get("text") for message in channel.messages]


async def _external_intents(runtime: Runtime, sender: str) -> list[str | None]:
    events = (await runtime.tracker(sender)).events
    return [e.intent_name for e in events if isinstance(e, UserUttered) and e.metadata.get("is_external")]


async def test_a_due_reminder_triggers_its_intent_on_the_channel_that_set_it(runtime: Runtime) -> None:
    channel = CollectingOutputChannel()
    await runtime.execute_action("ann", "action_remind", output_channel=channel)
    await runtime.execute_action("ann", "action_listen")  # the bot waits for the user, as after a turn
    assert [r.name for r in runtime.pending_reminders("ann")] == ["wake"]
    assert channel.messages == []

    assert await _texts_after(channel, 5) == [GREETING]
    assert await _external_intents(runtime, "ann") == ["greet"]
    assert runtime.pending_reminders("ann") == []
    events = (await runtime.tracker("ann")).events
    [triggered] = [i for i, e in enumerate(events) if isinstance(e, UserUttered) and e.metadata.get("is_external")]
    assert GREETING in [e.text for e in events[triggered:] if isinstance(e, BotUttered)]  # stored, not just sent


async def test_a_user_message_before_it_is_due_stops_it_unless_told_otherwise(
    runtime: Runtime, actions: ActionEvents
) -> None:
    for sender, kill in (("bob", True), ("cy", False)):
        actions.reminder = {"kill_on_user_msg": kill}
        channel = CollectingOutputChannel()
        await runtime.execute_action(sender, "action_remind", output_channel=channel)
        await runtime.handle_message(UserMessage("/mood_great", sender, "rest", channel))
    await asyncio.sleep(DUE_IN + 0.5)
    assert await _external_intents(runtime, "bob") == []
    assert await _external_intents(runtime, "cy") == ["greet"]


async def test_a_cancellation_by_name_or_by_intent_stops_pending_reminders(
    runtime: Runtime, actions: ActionEvents
) -> None:
    for sender, cancellation in (("dee", {"name": "wake"}), ("eve", {"intent": "greet"}), ("fay", {})):
        actions.cancellation = cancellation
        await runtime.execute_action(sender, "action_remind")
        assert len(runtime.pending_reminders(sender)) == 1
        await runtime.execute_action(sender, "action_forget")
        assert runtime.pending_reminders(sender) == [], cancellation
    actions.cancellation = {"intent": "goodbye"}  # names another intent: the reminder stays
    await runtime.execute_action("gil", "action_remind")
    await runtime.execute_action("gil", "action_forget")
    assert len(runtime.pending_reminders("gil")) == 1
    await asyncio.sleep(DUE_IN + 0.5)
    for sender in ("dee", "eve", "fay"):
        assert await _external_intents(runtime, sender) == []
    assert await _external_intents(runtime, "gil") == ["greet"]


async def test_a_restart_before_it_is_due_stops_it(runtime: Runtime) -> None:
    await runtime.execute_action("hal", "action_remind")
    await runtime.append_events("hal", [Restarted()])
    await asyncio.sleep(DUE_IN + 0.5)
    assert await _external_intents(runtime, "hal") == []


async def test_a_reminder_of_the_same_name_replaces_the_pending_one(runtime: Runtime, actions: ActionEvents) -> None:
    await runtime.execute_action("ida", "action_remind")
    actions.reminder = {"date_time": _in(60)}
    await runtime.execute_action("ida", "action_remind")
    [pending] = runtime.pending_reminders("ida")
    assert datetime.fromisoformat(pending.date_time) > datetime.now() + timedelta(seconds=30)
    await asyncio.sleep(DUE_IN + 0.5)
    assert await _external_intents(runtime, "ida") == []


async def test_a_reminder_in_the_past_is_logged_and_does_not_run(
    runtime: Runtime, actions: ActionEvents, caplog: pytest.LogCaptureFixture
) -> None:
    actions.reminder = {"date_time": _in(-3600)}
    with caplog.at_level(logging.WARNING, logger="bot.reminders"):
        await runtime.execute_action("jo", "action_remind")
    assert runtime.pending_reminders("jo") == []
    assert "was due at" in caplog.text and "it does not run" in caplog.text


async def test_closing_the_runtime_forgets_pending_reminders(trained_model: Path, actions: ActionEvents) -> None:
    runtime = Runtime(load_model(trained_model), actions=actions.registry())
    await runtime.start()
    channel = CollectingOutputChannel()
    await runtime.execute_action("kim", "action_remind", output_channel=channel)
    await runtime.close()
    assert runtime.pending_reminders("kim") == []
    await asyncio.sleep(DUE_IN + 0.3)
    assert channel.messages == []
