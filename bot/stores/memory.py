"""The in-memory tracker store: conversations live as long as the process (Rasa's default store).

Events are kept as their JSON text, as the other stores keep them, so what is read back is a copy that the
caller may change freely, and a value JSON cannot hold fails here as it would with a database.
"""

from __future__ import annotations

from collections.abc import Sequence

from bot.dialogue.events import Event
from bot.stores.tracker_store import TrackerStore, decode_events, encode_events

__all__ = ["InMemoryTrackerStore"]


class InMemoryTrackerStore(TrackerStore):
    """Conversations in a dict. No method awaits anything, so each one is atomic within the event loop."""

    def __init__(self) -> None:
        self._conversations: dict[str, list[str]] = {}

    async def append(self, sender_id: str, events: Sequence[Event]) -> int:
        texts = [encoded.data for encoded in encode_events(events)]
        if not texts:
            return len(self._conversations.get(sender_id, ()))
        stored = self._conversations.setdefault(sender_id, [])
        stored.extend(texts)
        return len(stored)

    async def retrieve_since(self, sender_id: str, after_seq: int) -> list[Event]:
        stored = self._conversations.get(sender_id, [])
        return decode_events(stored[max(after_seq, 0):], sender_id)

    async def count_events(self, sender_id: str) -> int:
        return len(self._conversations.get(sender_id, ()))

    async def keys(self) -> list[str]:
        return sorted(self._conversations)

    async def delete(self, sender_id: str) -> bool:
        return self._conversations.pop(sender_id, None) is not None

    async def replace(self, sender_id: str, events: Sequence[Event]) -> None:
        texts = [encoded.data for encoded in encode_events(events)]
        if texts:
            self._conversations[sender_id] = texts
        else:
            self._conversations.pop(sender_id, None)
