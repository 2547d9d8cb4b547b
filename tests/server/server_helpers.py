"""Helpers of the server tests: a slow custom action, the served app under test, and posting a message."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from bot.dialogue.actions import ActionContext, ActionRegistry
from bot.dialogue.events import BotUttered, Event
from bot.dialogue.tracker import DialogueStateTracker
from bot.project.domain import Domain
from bot.runtime import Runtime
from bot.stores.tracker_store import TrackerStore


def nlu_available() -> bool:
    try:
        from bot.nlu import NLUPipeline  # noqa: F401
    except ImportError:
        return False
    return True


needs_nlu = pytest.mark.skipif(not nlu_available(), reason="the NLU pipeline (bot.nlu) is not built yet")

SLOW_ACTION = "action_slow"
SLOW_ACTION_SECONDS = 0.5


async def _slow_action(tracker: DialogueStateTracker, domain: Domain, context: ActionContext) -> list[Event]:
    """A custom action that takes a while, so a test can act while a turn is in flight."""
    await asyncio.sleep(SLOW_ACTION_SECONDS)
    return [BotUttered(text="done slowly")]


def slow_actions() -> ActionRegistry:
    registry = ActionRegistry()
    registry.register_function(SLOW_ACTION, _slow_action)
    return registry


@dataclass
class Served:
    """A server under test: its client, runtime and tracker store (readable while the server runs)."""

    client: TestClient[Any, Any]
    runtime: Runtime
    store: TrackerStore

    async def stored(self, sender_id: str) -> list[dict[str, Any]]:
        """The conversation's events as the store holds them."""
        return [event.as_dict() for event in await self.store.retrieve_since(sender_id, 0)]


StartServer = Callable[..., Awaitable[Served]]
"""`await start_server(**options)`: see the `start_server` fixture."""


async def say(served: Served, sender: str, message: str) -> list[dict[str, Any]]:
    """Post a message to the REST webhook; the bot's replies."""
    response = await served.client.post("/webhooks/rest/webhook", json={"sender": sender, "message": message})
    assert response.status == 200, await response.text()
    replies: list[dict[str, Any]] = await response.json()
    return replies
