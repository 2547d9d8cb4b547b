"""One message, start to finish: lock the conversation, load its tracker, run NLU and dialogue, append the new
events, send the replies on the channel the message came from, release the lock.

Trackers are cached per conversation together with the sequence number of their last stored event. Under the
conversation's lock, only the events stored after that number are read (normally none; events another process
appended when several share one store), so a turn costs the same in a conversation of 10,000 events as in a new
one. The store stays the truth: a cache miss rebuilds the tracker from it.
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from bot.dialogue.actions import ActionRegistry
from bot.dialogue.events import Event
from bot.dialogue.policies.ensemble import max_number_of_predictions
from bot.dialogue.processor import MessageProcessor
from bot.dialogue.tracker import DialogueStateTracker
from bot.errors import ConductorError
from bot.model import LoadedModel
from bot.stores.lock_store import InMemoryLockStore, LockStore
from bot.stores.memory import InMemoryTrackerStore
from bot.stores.tracker_store import TrackerStore
from channels.base import CollectingOutputChannel, OutputChannel, UserMessage

__all__ = ["Runtime", "TurnResult"]

logger = logging.getLogger(__name__)

DEFAULT_CACHE_SIZE = 10_000


@dataclass
class TurnResult:
    events: list[Event]
    replies: list[dict[str, Any]]


class _TrackerCache:
    """The most recently used trackers, each with the sequence number of the last event it holds."""

    def __init__(self, capacity: int) -> None:
        self._items: OrderedDict[str, tuple[DialogueStateTracker, int]] = OrderedDict()
        self._capacity = capacity

    def get(self, sender_id: str) -> tuple[DialogueStateTracker, int] | None:
        item = self._items.get(sender_id)
        if item is not None:
            self._items.move_to_end(sender_id)
        return item

    def put(self, sender_id: str, tracker: DialogueStateTracker, seq: int) -> None:
        self._items[sender_id] = (tracker, seq)
        self._items.move_to_end(sender_id)
        while len(self._items) > self._capacity:
            self._items.popitem(last=False)

    def drop(self, sender_id: str) -> None:
        self._items.pop(sender_id, None)

    def clear(self) -> None:
        self._items.clear()


class Runtime:
    """The bot at run time: a loaded model, the stores, and the actions it may run."""

    def __init__(
        self,
        model: LoadedModel,
        tracker_store: TrackerStore | None = None,
        lock_store: LockStore | None = None,
        actions: ActionRegistry | None = None,
        *,
        cache_size: int = DEFAULT_CACHE_SIZE,
    ) -> None:
        self.tracker_store = tracker_store if tracker_store is not None else InMemoryTrackerStore()
        self.lock_store = lock_store if lock_store is not None else InMemoryLockStore()
        self.actions = actions if actions is not None else ActionRegistry()
        self._cache = _TrackerCache(cache_size)
        self.model = model
        self.processor = self._processor(model)

    def _processor(self, model: LoadedModel) -> MessageProcessor:
        if model.dialogue is None:
            raise ConductorError.single(
                "this model has no dialogue part (it was trained with `bot train nlu`)",
                model.path,
                hint="Train the whole model with `bot train`.",
            )
        return MessageProcessor(
            model.domain,
            model.parse if model.nlu is not None else None,
            model.dialogue,
            self.actions,
            max_predictions=max_number_of_predictions(),
        )

    def swap_model(self, model: LoadedModel) -> None:
        """Serve `model` from the next turn on; turns in flight finish with the model they started with."""
        processor = self._processor(model)
        self.model, self.processor = model, processor
        self._cache.clear()  # trackers carry the old domain's slots

    @property
    def domain(self) -> Any:
        return self.model.domain

    async def start(self) -> None:
        await self.tracker_store.start()
        await self.lock_store.start()

    async def close(self) -> None:
        await self.tracker_store.close()
        await self.lock_store.close()
        close_actions = getattr(self.actions, "close", None)
        if close_actions is not None:
            await close_actions()

    # --- trackers -----------------------------------------------------------------------------------------

    async def _load(self, sender_id: str) -> tuple[DialogueStateTracker, int]:
        """The conversation's tracker, up to date with the store (call under the conversation's lock)."""
        cached = self._cache.get(sender_id)
        if cached is None:
            events = await self.tracker_store.retrieve_since(sender_id, 0)
            tracker = DialogueStateTracker.for_domain(sender_id, self.model.domain, events)
            return tracker, len(events)
        tracker, seq = cached
        newer = await self.tracker_store.retrieve_since(sender_id, seq)
        for event in newer:
            tracker.update(event)
        return tracker, seq + len(newer)

    async def tracker(self, sender_id: str) -> DialogueStateTracker:
        """A copy of the conversation's current tracker (for the HTTP API)."""
        async with self.lock_store.lock(sender_id):
            tracker, seq = await self._load(sender_id)
            self._cache.put(sender_id, tracker, seq)
            return tracker.copy()

    async def _commit(self, tracker: DialogueStateTracker, seq: int, events: Sequence[Event]) -> None:
        try:
            stored = await self.tracker_store.append(tracker.sender_id, list(events)) if events else seq
        except BaseException:
            self._cache.drop(tracker.sender_id)  # the tracker holds events the store does not
            raise
        self._cache.put(tracker.sender_id, tracker, stored)

    # --- turns --------------------------------------------------------------------------------------------

    async def handle_message(self, message: UserMessage) -> TurnResult:
        """Handle one user message and send the replies through its output channel."""
        started = time.perf_counter()
        processor = self.processor
        async with self.lock_store.lock(message.sender_id):
            tracker, seq = await self._load(message.sender_id)
            try:
                turn = await processor.handle_message(
                    tracker, message, output_channel=message.output_channel.name
                )
            except BaseException:
                self._cache.drop(message.sender_id)
                raise
            await self._commit(tracker, seq, turn.events)
            await self._send(message.output_channel, message.sender_id, turn.replies)
        logger.debug("turn of %s took %.1f ms", message.sender_id, (time.perf_counter() - started) * 1000)
        return TurnResult(list(turn.events), list(turn.replies))

    async def trigger_intent(
        self,
        sender_id: str,
        intent: str,
        entities: dict[str, Any] | None = None,
        output_channel: OutputChannel | None = None,
    ) -> TurnResult:
        channel = output_channel or CollectingOutputChannel()
        processor = self.processor
        async with self.lock_store.lock(sender_id):
            tracker, seq = await self._load(sender_id)
            turn = await processor.trigger_intent(tracker, intent, entities or {}, output_channel=channel.name)
            await self._commit(tracker, seq, turn.events)
            await self._send(channel, sender_id, turn.replies)
        return TurnResult(list(turn.events), list(turn.replies))

    async def execute_action(
        self,
        sender_id: str,
        action: str,
        *,
        policy: str | None = None,
        confidence: float | None = None,
        output_channel: OutputChannel | None = None,
    ) -> TurnResult:
        channel = output_channel or CollectingOutputChannel()
        processor = self.processor
        async with self.lock_store.lock(sender_id):
            tracker, seq = await self._load(sender_id)
            turn = await processor.execute_action(
                tracker, action, policy=policy, confidence=confidence, output_channel=channel.name
            )
            await self._commit(tracker, seq, turn.events)
            await self._send(channel, sender_id, turn.replies)
        return TurnResult(list(turn.events), list(turn.replies))

    async def append_events(self, sender_id: str, events: Sequence[Event]) -> DialogueStateTracker:
        async with self.lock_store.lock(sender_id):
            tracker, seq = await self._load(sender_id)
            for event in events:
                tracker.update(event)
            await self._commit(tracker, seq, events)
            return tracker.copy()

    async def replace_events(self, sender_id: str, events: Sequence[Event]) -> DialogueStateTracker:
        async with self.lock_store.lock(sender_id):
            await self.tracker_store.replace(sender_id, list(events))
            tracker = DialogueStateTracker.for_domain(sender_id, self.model.domain, events)
            self._cache.put(sender_id, tracker, len(events))
            return tracker.copy()

    async def _send(self, channel: OutputChannel, recipient_id: str, replies: Sequence[dict[str, Any]]) -> None:
        """Send replies; a platform failure is logged and never loses the turn's stored events."""
        for reply in replies:
            try:
                await channel.send_response(recipient_id, reply)
            except Exception:
                logger.exception("sending a reply to %s on %s failed", recipient_id, channel.name)
