"""One message, start to finish: lock the conversation, load its tracker, run NLU and dialogue, append the new
events, send the replies on the channel the message came from, release the lock.

Trackers are cached per conversation together with the sequence number of their last stored event. Under the
conversation's lock, only the events stored after that number are read (normally none; events another process
appended when several share one store), so a turn costs the same in a conversation of 10,000 events as in a new
one. That read is skipped when the lock store says this process held the conversation's lock last
(`HeldLock.unchanged`: always with an in-memory lock store, which serves one process; with Redis, when no other
process has taken it since), because every writer holds the lock. The store stays the truth: a cache miss
rebuilds the tracker from it.

Swapping the model (`swap_model`, `serve_model_from`) never disturbs a turn in flight. What is served is one
*generation*: the model, its processor, its actions and its tracker cache. A turn takes the current generation
when it starts and keeps it to the end; a swap makes a new generation current (with an empty cache, since
trackers carry their domain's slots), and the old one's actions are closed once its last turn has finished.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot.brokers.broker import EventBroker
from bot.dialogue.actions import ActionRegistry
from bot.dialogue.events import Event, ReminderScheduled
from bot.dialogue.policies.ensemble import max_number_of_predictions
from bot.dialogue.processor import MessageProcessor, Turn
from bot.dialogue.tracker import DialogueStateTracker
from bot.errors import ConductorError
from bot.model import LoadedModel, load_model
from bot.project.domain import MESSAGE_REFUSED_RESPONSE
from bot.reminders import Reminders, still_due
from bot.stores.lock_store import HeldLock, InMemoryLockStore, LockStore
from bot.stores.memory import InMemoryTrackerStore
from bot.stores.tracker_store import TrackerStore
from channels.base import (
    MAX_TEXT_CHARS,
    CollectingOutputChannel,
    OutputChannel,
    RefusedMessage,
    TextRefusal,
    UserMessage,
    send_replies,
    text_refusal,
)

__all__ = ["ActionsFactory", "Runtime", "TurnResult"]

logger = logging.getLogger(__name__)

DEFAULT_CACHE_SIZE = 1_000
"""Conversations whose trackers stay in memory between turns (the most recently active). A cached tracker holds
the conversation's events and the dialogue states kept for the next prediction (measured on the rasa-init bot,
1,000 conversations against a cache of 1: about 6 KB of RSS for one message and 2.5 KB for each further one;
equal states, empty metadata and a bot message's empty data are shared between conversations), and every full
garbage collection walks it: with 10,000 cached, a server of the rasa-init bot grew to
400 MB and stalled for up to 300 ms at a time. A conversation that is not cached is read back from the store."""

ActionsFactory = Callable[[LoadedModel], ActionRegistry]
"""Builds the actions a model runs (the server's is `bot.plugins.build_action_registry` for its instance)."""


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


class _Generation:
    """One served model: its processor and actions, the trackers cached for its domain, and how many turns
    are using it."""

    def __init__(self, model: LoadedModel, actions: ActionRegistry, cache_size: int) -> None:
        if model.dialogue is None:
            raise ConductorError.single(
                "this model has no dialogue part (it was trained with `bot train nlu`)",
                model.path,
                hint="Train the whole model with `bot train`.",
            )
        self.model = model
        self.actions = actions
        self.processor = MessageProcessor(
            model.domain,
            model.parse if model.nlu is not None else None,
            model.dialogue,
            actions,
            max_predictions=max_number_of_predictions(),
        )
        self.cache = _TrackerCache(cache_size)
        self.turns = 0
        self.retired = False


class Runtime:
    """The bot at run time: a loaded model, the stores, and the actions it may run.

    `actions` serve the first model. With `actions_for`, every model swapped in later gets its own actions
    built by it (the old ones are closed when the last turn using them ends); without, all models share
    `actions`.
    """

    def __init__(
        self,
        model: LoadedModel,
        tracker_store: TrackerStore | None = None,
        lock_store: LockStore | None = None,
        actions: ActionRegistry | None = None,
        *,
        cache_size: int = DEFAULT_CACHE_SIZE,
        event_broker: EventBroker | None = None,
        actions_for: ActionsFactory | None = None,
    ) -> None:
        self.tracker_store = tracker_store if tracker_store is not None else InMemoryTrackerStore()
        self.lock_store = lock_store if lock_store is not None else InMemoryLockStore()
        self.event_broker = event_broker  # told of every event once it is stored
        if actions is None:
            actions = actions_for(model) if actions_for is not None else ActionRegistry()
        self._actions_for = actions_for
        self._cache_size = cache_size
        self._served = _Generation(model, actions, cache_size)
        self._closing: set[asyncio.Task[None]] = set()
        self._reminders = Reminders(self._fire_reminder)
        self._unclosed: list[ActionRegistry] = []

    # --- the served model ---------------------------------------------------------------------------------

    @property
    def model(self) -> LoadedModel:
        return self._served.model

    @property
    def processor(self) -> MessageProcessor:
        return self._served.processor

    @property
    def actions(self) -> ActionRegistry:
        return self._served.actions

    @property
    def domain(self) -> Any:
        return self._served.model.domain

    def _generation(self, model: LoadedModel) -> _Generation:
        actions = self._actions_for(model) if self._actions_for is not None else self._served.actions
        return _Generation(model, actions, self._cache_size)

    def swap_model(self, model: LoadedModel) -> None:
        """Serve `model` from the next turn on; turns in flight finish with the model (and actions) they
        started with. Raises `ConductorError` (and keeps serving the old model) when `model` cannot be served.
        Builds the new actions on the calling thread; `serve_model_from` does all of it off the event loop."""
        self._make_current(self._generation(model))

    async def serve_model_from(self, path: Path | str) -> LoadedModel:
        """Load the model at `path` and build its actions in a worker thread, then serve it (as `swap_model`).
        A model that cannot be read or served raises `ConductorError`; the old one is served on."""
        generation = await asyncio.to_thread(self._load_generation, path)
        self._make_current(generation)
        return generation.model

    def _load_generation(self, path: Path | str) -> _Generation:
        try:
            model = load_model(path)
        except ConductorError:
            raise
        except Exception as exc:  # a damaged file (a truncated array, a missing part): reading runs no code
            raise ConductorError.single(
                f"the model cannot be read: {type(exc).__name__}: {exc}",
                path,
                hint="The model is damaged or incomplete; train it again with `bot train`, or give another model.",
            ) from None
        return self._generation(model)

    def _make_current(self, generation: _Generation) -> None:
        old, self._served = self._served, generation
        old.retired = True
        if old.turns == 0:
            self._retire(old)

    @contextmanager
    def _in_flight(self) -> Iterator[_Generation]:
        """The current generation, kept (and its actions left open) until the block ends."""
        generation = self._served
        generation.turns += 1
        try:
            yield generation
        finally:
            generation.turns -= 1
            if generation.retired and generation.turns == 0:
                self._retire(generation)

    def _retire(self, generation: _Generation) -> None:
        """Close a generation's actions once no turn uses them (unless the served model shares them)."""
        actions = generation.actions
        if actions is self._served.actions:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self._unclosed.append(actions)  # swapped outside the event loop: closed by `close`
            return
        task = loop.create_task(self._close_actions(actions), name="close the actions of a replaced model")
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)

    @staticmethod
    async def _close_actions(actions: ActionRegistry) -> None:
        close_actions = getattr(actions, "close", None)
        if close_actions is None:
            return
        try:
            await close_actions()
        except Exception:
            logger.exception("closing the actions of a replaced model failed")

    async def start(self) -> None:
        await self.tracker_store.start()
        await self.lock_store.start()
        if self.event_broker is not None:
            await self.event_broker.start()

    async def close(self) -> None:
        await self._reminders.close()
        await self.tracker_store.close()
        await self.lock_store.close()
        if self.event_broker is not None:
            await self.event_broker.close()
        if self._closing:
            await asyncio.gather(*self._closing)
        unclosed, self._unclosed = self._unclosed, []
        for actions in unclosed:
            await self._close_actions(actions)
        close_actions = getattr(self.actions, "close", None)
        if close_actions is not None:
            await close_actions()

    # --- trackers -----------------------------------------------------------------------------------------

    async def _load(
        self, served: _Generation, sender_id: str, held: HeldLock
    ) -> tuple[DialogueStateTracker, int]:
        """The conversation's tracker, up to date with the store (`held`: the conversation's lock)."""
        cached = served.cache.get(sender_id)
        if cached is None:
            events = await self.tracker_store.retrieve_since(sender_id, 0)
            tracker = DialogueStateTracker.for_domain(sender_id, served.model.domain, events)
            return tracker, len(events)
        tracker, seq = cached
        if held.unchanged:  # nobody else has held the lock since this process stored `seq`
            return tracker, seq
        newer = await self.tracker_store.retrieve_since(sender_id, seq)
        for event in newer:
            tracker.update(event)
        return tracker, seq + len(newer)

    async def tracker(self, sender_id: str) -> DialogueStateTracker:
        """A copy of the conversation's current tracker (for the HTTP API)."""
        return (await self._current(self._served, sender_id)).copy()

    async def _current(self, served: _Generation, sender_id: str) -> DialogueStateTracker:
        """The conversation's tracker as stored (read after any turn in flight, under its lock), kept in the
        cache. The lock is released on return: copy it to read it while turns may go on."""
        async with self.lock_store.lock(sender_id) as held:
            tracker, seq = await self._load(served, sender_id, held)
            served.cache.put(sender_id, tracker, seq)
            return tracker

    async def _commit(
        self, served: _Generation, tracker: DialogueStateTracker, seq: int, events: Sequence[Event]
    ) -> None:
        try:
            stored = await self.tracker_store.append(tracker.sender_id, list(events)) if events else seq
        except BaseException:
            served.cache.drop(tracker.sender_id)  # the tracker holds events the store does not
            raise
        served.cache.put(tracker.sender_id, tracker, stored)
        if events and self.event_broker is not None:
            self.event_broker.publish(tracker.sender_id, events)

    # --- turns --------------------------------------------------------------------------------------------

    async def _turn(
        self,
        sender_id: str,
        channel: OutputChannel,
        run: Callable[[MessageProcessor, DialogueStateTracker], Awaitable[Turn]],
    ) -> TurnResult:
        """Under the conversation's lock: load its tracker, `run` the processor on it, store the new events,
        send the replies. The generation served at the start serves the whole turn. An event broker that is
        behind makes the turn wait for it first (`EventBroker.room`)."""
        if self.event_broker is not None:
            await self.event_broker.room()
        with self._in_flight() as served:
            async with self.lock_store.lock(sender_id) as held:
                tracker, seq = await self._load(served, sender_id, held)
                try:
                    turn = await run(served.processor, tracker)
                except BaseException:
                    served.cache.drop(sender_id)  # the processor may have changed the cached tracker
                    raise
                await self._commit(served, tracker, seq, turn.events)
                # a platform failure is logged and never loses the turn's stored events
                await send_replies(channel, sender_id, turn.replies)
                self._reminders.take(sender_id, turn.events, channel)
        return TurnResult(list(turn.events), list(turn.replies))

    async def handle_message(self, message: UserMessage) -> TurnResult:
        """Handle one user message and send the replies through its output channel. A text that no channel
        may pass on (`channels.base.text_refusal`) raises `RefusedMessage` before anything is stored, holding
        the replies that tell the user why (`_refusal_replies`) for the channel to send."""
        if message.text is not None:
            refusal = text_refusal(message.text)
            if refusal is not None:
                raise RefusedMessage(refusal, await self._refusal_replies(message, refusal))
        started = time.perf_counter()
        channel = message.output_channel
        result = await self._turn(
            message.sender_id,
            channel,
            lambda processor, tracker: processor.handle_message(tracker, message, output_channel=channel.name),
        )
        logger.debug("turn of %s took %.1f ms", message.sender_id, (time.perf_counter() - started) * 1000)
        return result

    async def _refusal_replies(self, message: UserMessage, refusal: TextRefusal) -> list[dict[str, Any]]:
        """What to tell the user whose message is refused: the domain's `utter_message_refused`, rendered as
        any response for the message's output channel (the conversation's slots and the placeholders
        `{length}` and `{limit}` filled), or else the built-in text. Reads the conversation under its lock
        (after a turn in flight) and stores nothing; if that fails, the built-in text is the answer."""
        sender_id = message.sender_id
        with self._in_flight() as served:
            if MESSAGE_REFUSED_RESPONSE in served.model.domain.responses:
                try:
                    replies = await served.processor.render_response(
                        (await self._current(served, sender_id)).copy(),  # a turn may begin while it renders
                        MESSAGE_REFUSED_RESPONSE,
                        output_channel=message.output_channel.name,
                        values={"length": refusal.length, "limit": MAX_TEXT_CHARS},
                    )
                except Exception:
                    logger.exception("'%s' for %s could not be rendered; the built-in text is sent instead",
                                     MESSAGE_REFUSED_RESPONSE, sender_id)
                else:
                    if replies:
                        return replies
        return [{"recipient_id": sender_id, "text": refusal.default_reply()}]

    async def trigger_intent(
        self,
        sender_id: str,
        intent: str,
        entities: Sequence[Mapping[str, Any]] | Mapping[str, Any] | None = None,
        output_channel: OutputChannel | None = None,
    ) -> TurnResult:
        """Act as if the user expressed `intent` (see `MessageProcessor.trigger_intent`); `entities` is a list
        of entity dicts or `{type: value}`."""
        channel = output_channel or CollectingOutputChannel()
        return await self._turn(
            sender_id,
            channel,
            lambda processor, tracker: processor.trigger_intent(
                tracker, intent, entities or {}, output_channel=channel.name
            ),
        )

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
        return await self._turn(
            sender_id,
            channel,
            lambda processor, tracker: processor.execute_action(
                tracker, action, policy=policy, confidence=confidence, output_channel=channel.name
            ),
        )

    def pending_reminders(self, sender_id: str) -> list[ReminderScheduled]:
        """The conversation's reminders that this process will run (see `bot.reminders`)."""
        return self._reminders.pending(sender_id)

    async def _fire_reminder(self, sender_id: str, reminder: ReminderScheduled, channel: OutputChannel) -> None:
        """A due reminder's turn: its intent triggered, unless the conversation has moved on (`still_due`)."""
        entities = reminder.entities if isinstance(reminder.entities, list | dict) else None

        async def run(processor: MessageProcessor, tracker: DialogueStateTracker) -> Turn:
            if not still_due(tracker, reminder):
                logger.debug("the reminder %r of %s is no longer due", reminder.name, sender_id)
                return Turn([], [])
            return await processor.trigger_intent(tracker, reminder.intent, entities, output_channel=channel.name)

        await self._turn(sender_id, channel, run)

    async def append_events(self, sender_id: str, events: Sequence[Event]) -> DialogueStateTracker:
        served = self._served
        async with self.lock_store.lock(sender_id) as held:
            tracker, seq = await self._load(served, sender_id, held)
            for event in events:
                tracker.update(event)
            await self._commit(served, tracker, seq, events)
            return tracker.copy()

    async def replace_events(self, sender_id: str, events: Sequence[Event]) -> DialogueStateTracker:
        served = self._served
        async with self.lock_store.lock(sender_id):
            await self.tracker_store.replace(sender_id, list(events))
            tracker = DialogueStateTracker.for_domain(sender_id, served.model.domain, events)
            served.cache.put(sender_id, tracker, len(events))
            return tracker.copy()
