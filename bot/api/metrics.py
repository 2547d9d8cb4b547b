"""Prometheus metrics of the running bot, served at `/metrics`.

Per channel (the channel that received the message, so a client cannot invent label values):

| metric                                    | kind      | what                                            |
|-------------------------------------------|-----------|-------------------------------------------------|
| `conductor_messages_received_total`       | counter   | user messages handed to the runtime             |
| `conductor_turn_duration_seconds`         | histogram | time from the message to its stored turn        |
| `conductor_nlu_confidence`                | histogram | the confidence of the intent the NLU chose      |
| `conductor_fallbacks_total{kind}`         | counter   | `nlu_fallback` intents, `action_default_fallback` runs |
| `conductor_turn_errors_total`             | counter   | turns that failed with an error                 |
| `conductor_messages_refused_total{reason}`| counter   | messages refused before a turn: `too_long`, `not_text` |
| `conductor_turns_in_flight`               | gauge     | turns being handled now (all channels)          |

A refused message (`channels.base.RefusedMessage`) is not a turn error: the user is told why, and nothing is
stored. Each server has its own registry (two apps in one process, as in tests, do not share counts). The label
children of a channel are bound once, so recording a turn costs a few microseconds.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final, get_args

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest

from bot.dialogue.actions import ACTION_DEFAULT_FALLBACK_NAME, NLU_FALLBACK_INTENT
from bot.dialogue.events import ActionExecuted, Event, UserUttered
from channels.base import RefusalKind

__all__ = ["CONTENT_TYPE", "ChannelMetrics", "ServerMetrics"]

CONTENT_TYPE: Final = CONTENT_TYPE_LATEST

_TURN_BUCKETS: Final = (0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0)
_CONFIDENCE_BUCKETS: Final = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99, 1.0)


class ChannelMetrics:
    """The metrics of one channel, bound to its label."""

    def __init__(self, server: ServerMetrics, channel: str) -> None:
        self._received = server.messages_received.labels(channel)
        self._duration = server.turn_duration.labels(channel)
        self._confidence = server.nlu_confidence.labels(channel)
        self._nlu_fallbacks = server.fallbacks.labels(channel, NLU_FALLBACK_INTENT)
        self._action_fallbacks = server.fallbacks.labels(channel, ACTION_DEFAULT_FALLBACK_NAME)
        self._errors = server.turn_errors.labels(channel)
        self._refused = {kind: server.messages_refused.labels(channel, kind) for kind in get_args(RefusalKind)}
        self._in_flight = server.turns_in_flight

    def turn_started(self) -> None:
        self._received.inc()
        self._in_flight.inc()

    def turn_failed(self) -> None:
        self._errors.inc()
        self._in_flight.dec()

    def turn_refused(self, reason: RefusalKind) -> None:
        """The runtime refused the message before its turn (`channels.base.RefusedMessage`): not an error."""
        self._refused[reason].inc()
        self._in_flight.dec()

    def turn_finished(self, events: Sequence[Event], seconds: float) -> None:
        """Record a handled turn from the events it added."""
        self._in_flight.dec()
        self._duration.observe(seconds)
        for event in events:
            if isinstance(event, UserUttered):
                intent = event.parse_data.get("intent") or {}
                confidence = intent.get("confidence")
                typed_payload = (event.text or "").startswith("/")
                if isinstance(confidence, int | float) and not typed_payload:
                    self._confidence.observe(confidence)
                if intent.get("name") == NLU_FALLBACK_INTENT:
                    self._nlu_fallbacks.inc()
            elif isinstance(event, ActionExecuted) and event.name == ACTION_DEFAULT_FALLBACK_NAME:
                self._action_fallbacks.inc()


class ServerMetrics:
    """All metrics of one server, in a registry of their own."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=False)
        self.messages_received = Counter(
            "conductor_messages_received", "User messages received.", ["channel"], registry=self.registry
        )
        self.turn_duration = Histogram(
            "conductor_turn_duration_seconds",
            "Seconds from receiving a user message to storing its turn.",
            ["channel"],
            buckets=_TURN_BUCKETS,
            registry=self.registry,
        )
        self.nlu_confidence = Histogram(
            "conductor_nlu_confidence",
            "Confidence of the intent the NLU chose (messages typed as /intent payloads are left out).",
            ["channel"],
            buckets=_CONFIDENCE_BUCKETS,
            registry=self.registry,
        )
        self.fallbacks = Counter(
            "conductor_fallbacks",
            "Fallbacks: the nlu_fallback intent, or action_default_fallback run.",
            ["channel", "kind"],
            registry=self.registry,
        )
        self.turn_errors = Counter(
            "conductor_turn_errors", "Turns that failed with an error.", ["channel"], registry=self.registry
        )
        self.messages_refused = Counter(
            "conductor_messages_refused",
            "User messages refused before their turn (too long, or not text); the user is told why.",
            ["channel", "reason"],
            registry=self.registry,
        )
        self.turns_in_flight = Gauge(
            "conductor_turns_in_flight", "Turns being handled right now.", registry=self.registry
        )
        self._channels: dict[str, ChannelMetrics] = {}

    def channel(self, name: str) -> ChannelMetrics:
        found = self._channels.get(name)
        if found is None:
            found = self._channels[name] = ChannelMetrics(self, name)
        return found

    def exposition(self) -> bytes:
        """The metrics in Prometheus' text format."""
        return generate_latest(self.registry)
