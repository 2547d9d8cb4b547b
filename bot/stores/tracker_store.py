"""The tracker store contract: each conversation is an append-only list of events, numbered from 1.

Stores work at the level of events, not trackers: `append` adds events at the end of a conversation and never
rewrites what is stored, so saving a turn costs the same however long the conversation already is (Rasa's
stores read, merge and rewrite the whole tracker on every save). Each stored event has a sequence number,
its position in the conversation (1, 2, 3, ... with no gaps); `retrieve_since(sender_id, n)` returns the
events after position n, and `count_events` the position of the last one.

The one way to change history is `replace` (the HTTP API's tracker replacement), which swaps a
conversation's events for new ones in one step: a reader sees either the old list or the new one.

Stores are created unstarted by `create_tracker_store` and opened with `start()` (which connects, creates
tables and reports an unreachable server as a `ConductorError`); `close()` releases their connections.
"""

from __future__ import annotations

import importlib
import json
import logging
from abc import ABC, abstractmethod
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, NamedTuple

from mypy_extensions import mypyc_attr

from bot.config import TrackerStoreSettings
from bot.dialogue.events import Event, events_from_dicts
from bot.errors import ConductorError, Problem
from bot.jsonio import compact, loads
from bot.service import Service

__all__ = [
    "EncodedEvent",
    "TrackerStore",
    "create_tracker_store",
    "decode_events",
    "encode_events",
    "import_store_class",
    "warn_unused_settings",
]

logger = logging.getLogger(__name__)


class EncodedEvent(NamedTuple):
    """An event ready to store: its kind, its timestamp and its Rasa-format dict as compact JSON text."""

    type_name: str
    timestamp: float
    data: str


def encode_events(events: Sequence[Event]) -> list[EncodedEvent]:
    """Every event as JSON text, all checked before anything is written.

    An event holding something JSON cannot express (a slot set to a `datetime` by custom code) is refused
    here, so a store never writes half of a turn.
    """
    encoded = []
    for index, event in enumerate(events):
        try:
            text = compact(event.as_shared_dict())
        except (TypeError, ValueError) as exc:
            raise ConductorError(
                Problem(
                    f"event #{index + 1} ({event.type_name!r}) cannot be stored: {exc}",
                    hint="Events hold JSON values only (text, numbers, true/false, null, lists, objects); "
                    "convert other values (dates, sets, objects) before putting them in an event.",
                )
            ) from None
        encoded.append(EncodedEvent(event.type_name, event.timestamp, text))
    return encoded


def decode_events(texts: Iterable[str | bytes], sender_id: str) -> list[Event]:
    """Stored JSON texts back as events (a damaged one is reported with the conversation it belongs to)."""
    try:
        dicts = [loads(text) for text in texts]
    except json.JSONDecodeError as exc:
        raise ConductorError.single(
            f"a stored event of conversation {sender_id!r} is not valid JSON: {exc}",
            hint="The store was changed by something other than Conductor; repair or delete the conversation.",
        ) from None
    return events_from_dicts(dicts, source=f"conversation {sender_id!r}", owned=True)


@mypyc_attr(allow_interpreted_subclasses=True)  # the stores, and custom ones (`type: module.Class`), subclass it
class TrackerStore(Service, ABC):
    """Where conversations are kept: `sender_id` -> the events of that conversation, in order.

    `start` connects and prepares the storage (tables, indexes): a server that cannot be reached is an error.
    `close` finishes pending writes, then releases the connections.

    Every method may be called concurrently from many tasks; two appends to one conversation never mix their
    events, and none is lost (the lock store normally keeps them apart, but a store stays consistent on its
    own). A conversation without events does not exist.
    """

    @classmethod
    def from_settings(cls, settings: TrackerStoreSettings, source: str | None = None) -> TrackerStore:
        """The store described by an endpoints.yml section; `source` names that file in error messages.

        A custom store (`type: my_package.MyStore`) overrides this to read its own keys
        (`settings.extra` holds the keys Conductor does not type).
        """
        del settings, source
        return cls()

    @abstractmethod
    async def append(self, sender_id: str, events: Sequence[Event]) -> int:
        """Add `events` at the end of the conversation, together; return the number of the last one.

        Nothing already stored is read or rewritten. Appending no events changes nothing.
        """

    @abstractmethod
    async def retrieve_since(self, sender_id: str, after_seq: int) -> list[Event]:
        """The events numbered after `after_seq`, in order (all of them for 0; [] for an unknown id)."""

    async def retrieve(self, sender_id: str) -> list[Event] | None:
        """All events of the conversation in order, or None when there is no such conversation."""
        events = await self.retrieve_since(sender_id, 0)
        return events or None

    @abstractmethod
    async def count_events(self, sender_id: str) -> int:
        """How many events the conversation has (the number of its last event); 0 for an unknown id."""

    async def exists(self, sender_id: str) -> bool:
        return await self.count_events(sender_id) > 0

    @abstractmethod
    async def keys(self) -> list[str]:
        """The ids of all stored conversations, sorted."""

    @abstractmethod
    async def delete(self, sender_id: str) -> bool:
        """Forget the conversation; return whether there was one."""

    @abstractmethod
    async def replace(self, sender_id: str, events: Sequence[Event]) -> None:
        """Swap all of the conversation's events for `events` (numbered from 1 again), atomically."""


def import_store_class(path: str, base: type[Any], what: str, source: str | None) -> type[Any]:
    """The class named by a `module.Class` store type, checked to be a subclass of `base`."""
    module_name, _, class_name = path.rpartition(".")
    hint = (
        f"Set 'type' to a built-in {what} or to the import path of a class that subclasses "
        f"{base.__module__}.{base.__name__}, with its package installed."
    )
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ConductorError.single(
            f"the {what} type {path!r} names the module {module_name!r}, which cannot be imported: {exc}",
            source,
            hint=hint,
        ) from None
    found = getattr(module, class_name, None)
    if not isinstance(found, type) or not issubclass(found, base):
        problem = "has no class" if found is None else "has something that is not a subclass of " + base.__name__
        raise ConductorError.single(
            f"the {what} type {path!r}: module {module_name!r} {problem} named {class_name!r}", source, hint=hint
        )
    return found


def warn_unused_settings(settings: Any, used: Iterable[str], store_name: str, source: str | None) -> None:
    """Log each key set in a store section that this store does not read (a Rasa key for another store)."""
    used_keys = {"type", *used}
    unused = [
        key for key in type(settings).model_fields if key not in used_keys and getattr(settings, key) is not None
    ]
    unused += [key for key in settings.extra if key not in used_keys]
    where = f"{source}: " if source else ""
    for key in unused:
        logger.warning("%sthe %s does not use the key '%s'; it is ignored", where, store_name, key)


_UNSUPPORTED_TRACKER_STORES = {
    "mongod": "MongoDB",
    "dynamo": "DynamoDB",
}


def create_tracker_store(
    settings: TrackerStoreSettings | None, source: str | Path | None = None
) -> TrackerStore:
    """The tracker store an endpoints.yml `tracker_store` section describes (None: in memory), not started.

    `source` is the endpoints file, named in error messages. Call `await store.start()` before use.
    """
    where = str(source) if source is not None else None
    if settings is None:
        settings = TrackerStoreSettings()
    kind = settings.type
    if kind == "in_memory":
        from bot.stores.memory import InMemoryTrackerStore

        warn_unused_settings(settings, (), "in-memory tracker store", where)
        return InMemoryTrackerStore()
    if kind == "sql":
        from bot.stores.sql import SQLTrackerStore

        return SQLTrackerStore.from_settings(settings, where)
    if kind == "redis":
        from bot.stores.redis_store import RedisTrackerStore

        return RedisTrackerStore.from_settings(settings, where)
    if kind in _UNSUPPORTED_TRACKER_STORES:
        raise ConductorError.single(
            f"the tracker store type {kind!r} ({_UNSUPPORTED_TRACKER_STORES[kind]}) is not supported by Conductor",
            where,
            hint="Use 'type: sql' (SQLite or PostgreSQL) or 'type: redis', or a module.Class path to a "
            "custom TrackerStore.",
        )
    store_class = import_store_class(kind, TrackerStore, "tracker store", where)
    store: TrackerStore = store_class.from_settings(settings, where)
    return store
