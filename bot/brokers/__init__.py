"""Event brokers: every event the runtime stores is also published elsewhere, chosen in endpoints.yml.

    broker = create_event_broker(endpoints.event_broker, "endpoints.yml")   # None without a section
    runtime = Runtime(model, tracker_store, lock_store, event_broker=broker)

RabbitMQ (`type: pika`) is built in, in Rasa's message format. The names below are imported on first use, so
a server without an event broker never loads the AMQP client.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bot.brokers.broker import EventBroker, create_event_broker
    from bot.brokers.pika import PikaEventBroker

_HOMES = {
    "EventBroker": "broker",
    "create_event_broker": "broker",
    "PikaEventBroker": "pika",
}

__all__ = ["EventBroker", "PikaEventBroker", "create_event_broker"]


def __getattr__(name: str) -> Any:
    if name not in _HOMES:
        raise AttributeError(f"module 'bot.brokers' has no attribute {name!r}")
    return getattr(importlib.import_module(f"bot.brokers.{_HOMES[name]}"), name)
