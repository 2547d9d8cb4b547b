"""Message ids: shaped as Rasa's (`uuid4().hex`), unique, and different in a forked server process."""

from __future__ import annotations

import os
import uuid

from channels.base import UserMessage, new_message_id


def test_message_ids_are_version_4_uuids_in_hex_and_unique() -> None:
    ids = [new_message_id() for _ in range(20_000)]
    assert len(set(ids)) == len(ids)
    for value in ids[:2_000]:
        parsed = uuid.UUID(hex=value)
        assert parsed.hex == value  # 32 lowercase hex digits, no dashes
        assert parsed.version == 4 and parsed.variant == uuid.RFC_4122
    assert UserMessage("hi", "s", "rest").message_id != UserMessage("hi", "s", "rest").message_id


def test_a_forked_process_makes_other_ids() -> None:
    read, write = os.pipe()
    child = os.fork()
    if child == 0:  # pragma: no cover - runs in the child
        os.write(write, "".join(new_message_id() for _ in range(4)).encode())
        os._exit(0)
    os.close(write)
    theirs = os.read(read, 1024).decode()
    os.close(read)
    os.waitpid(child, 0)
    ours = "".join(new_message_id() for _ in range(4))
    assert len(theirs) == len(ours) == 128 and theirs != ours
