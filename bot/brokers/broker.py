"""The event broker contract: every event a conversation stores is also published, for other services
(analytics, archives, a Rasa X-style review tool) to consume.

The runtime calls `publish(sender_id, events)` right after the tracker store stored a turn's events (or the
events the HTTP API appended), still under the conversation's lock, so each conversation's events are handed
over in the order they were stored. `publish` returns at once and never raises: a broker keeps the events
and sends them in the background, so an unreachable broker never holds up or fails a turn.

Before each turn, outside the conversation's lock, the runtime awaits `room()`: a broker that is reachable but
slower than the server (behind with events it keeps in memory) makes new turns wait until it has caught up,
instead of dropping events it could have sent. An unreachable broker answers at once.

Brokers are created unstarted by `create_event_broker`; `start()` begins publishing, `close()` sends what it
can within a short deadline and disconnects.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from pathlib import Path

from bot.config import EventBrokerSettings
from bot.dialogue.events import Event
from bot.errors import ConductorError
from bot.service import Service

__all__ = ["EventBroker", "create_event_broker"]


class EventBroker(Service, ABC):
    """Publishes conversation events somewhere else; see the module docstring for the contract. `start` begins
    publishing: an unreachable broker is not an error unless the broker is told to make it one. `close`
    publishes what is still pending within a short deadline, then disconnects."""

    @classmethod
    def from_settings(cls, settings: EventBrokerSettings, source: str | None = None) -> EventBroker:
        """The broker described by an endpoints.yml section; `source` names that file in error messages.

        A custom broker (`type: my_package.MyBroker`) overrides this to read its own keys
        (`settings.extra` holds the keys Conductor does not type).
        """
        del settings, source
        return cls()

    @abstractmethod
    def publish(self, sender_id: str, events: Sequence[Event]) -> None:
        """Hand over the events just stored for `sender_id`, in order. Returns at once; never raises."""

    async def room(self) -> None:
        """Wait while the broker is reachable and behind (see the module docstring); at once otherwise. This
        one never waits: a broker that can fall behind overrides it."""


_UNSUPPORTED_EVENT_BROKERS = {
    "kafka": "Kafka",
    "sql": "SQL",
    "file": "file",
}


def create_event_broker(
    settings: EventBrokerSettings | None, source: str | Path | None = None
) -> EventBroker | None:
    """The broker an endpoints.yml `event_broker` section describes, not started; None when there is none.

    `source` is the endpoints file, named in error messages.
    """
    if settings is None:
        return None
    where = str(source) if source is not None else None
    kind = settings.type
    if kind == "pika":
        from bot.brokers.pika import PikaEventBroker

        return PikaEventBroker.from_settings(settings, where)
    if kind in _UNSUPPORTED_EVENT_BROKERS:
        raise ConductorError.single(
            f"the event broker type {kind!r} ({_UNSUPPORTED_EVENT_BROKERS[kind]}) is not supported by Conductor",
            where,
            hint="Use 'type: pika' (RabbitMQ), or a module.Class path to a custom EventBroker.",
        )
    from bot.stores.tracker_store import import_store_class

    broker_class = import_store_class(kind, EventBroker, "event broker", where)
    broker: EventBroker = broker_class.from_settings(settings, where)
    return broker
