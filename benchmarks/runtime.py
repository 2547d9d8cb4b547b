"""The runtime's own cost per message, without HTTP or a store: what one `bot run` process can never beat.

Run: `.venv/bin/python benchmarks/runtime.py`

The rasa-init bot (NLU and dialogue) in this process, its stores in memory: `Runtime.handle_message` for
conversations of the three messages `benchmarks/server.py` sends ("hello", "I am feeling great", "bye"), 32 at a
time as its senders are. Printed: CPU time per message (the process's, so other load on the machine counts
less than in wall time) for new conversations, and for one conversation once it holds 1,000 and 10,000 events,
beside new conversations of one sender timed in alternate rounds (this machine kind varies by ±10 % from run
to run, so a figure is compared with one measured at the same time). The server adds HTTP, the tracker store
and the event loop's own work to the first figure; its throughput on one core is at most 1 / (this figure).
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from server import CONVERSATION_PAYLOADS, CONVERSATION_TEXT, nlu_available, train

from bot import compiled
from bot.model import load_model
from bot.runtime import Runtime
from bot.server import freeze_startup_heap
from channels.base import CollectingOutputChannel, UserMessage

SENDERS = 32
CONVERSATIONS_EACH = 60
ROUNDS = 3
LONG_EVENTS = (1_000, 10_000)
"""One conversation timed when it holds about this many events: a message must cost the same at both sizes,
and as much as in a new conversation."""
LONG_MESSAGES = 150


async def say(runtime: Runtime, sender: str, text: str) -> None:
    await runtime.handle_message(UserMessage(text, sender, "rest", CollectingOutputChannel()))


async def converse(runtime: Runtime, texts: Sequence[str], prefix: str, count: int) -> None:
    """`count` conversations of `texts`, one after the other, as one sender holds them."""
    for number in range(count):
        for text in texts:
            await say(runtime, f"{prefix}-{number}", text)
        await asyncio.sleep(0)  # the next conversation's messages arrive on their own, as over HTTP


async def grow(runtime: Runtime, texts: Sequence[str], sender: str, events: int) -> int:
    """Talks in conversation `sender` until it holds at least `events` events; returns how many it holds."""
    while len((await runtime.tracker(sender)).events) < events:
        for text in list(texts) * 10:
            await say(runtime, sender, text)
    return len((await runtime.tracker(sender)).events)


async def measure(model: Path) -> tuple[list[float], dict[int, tuple[float, float]]]:
    texts = CONVERSATION_TEXT if nlu_available() else CONVERSATION_PAYLOADS
    runtime = Runtime(load_model(model))
    await runtime.start()
    freeze_startup_heap()  # as `bot run` does once started: the garbage collector's thresholds while serving
    await asyncio.gather(*(converse(runtime, texts, f"warm{i}", 10) for i in range(SENDERS)))
    new: list[float] = []
    for round_number in range(ROUNDS):
        started = time.process_time()
        await asyncio.gather(
            *(converse(runtime, texts, f"r{round_number}-{i}", CONVERSATIONS_EACH) for i in range(SENDERS))
        )
        new.append((time.process_time() - started) / (SENDERS * CONVERSATIONS_EACH * len(texts)))

    async def timed(prefix: str | None) -> float:
        """CPU per message of LONG_MESSAGES messages: all in the long conversation (None), or in new
        conversations of `prefix`."""
        started = time.process_time()
        for number in range(LONG_MESSAGES):
            sender = "long" if prefix is None else f"{prefix}-{number // len(texts)}"
            await say(runtime, sender, texts[number % len(texts)])
        return (time.process_time() - started) / LONG_MESSAGES

    long: dict[int, tuple[float, float]] = {}
    for wanted in LONG_EVENTS:
        events = await grow(runtime, texts, "long", wanted)
        # rounds of the long conversation alternate with rounds of new ones sent the same way (one sender),
        # so that other load on the machine weighs on both alike
        in_long: list[float] = []
        in_new: list[float] = []
        for round_number in range(ROUNDS):
            in_long.append(await timed(None))
            in_new.append(await timed(f"one-{wanted}-{round_number}"))
        long[events] = (statistics.median(in_long), statistics.median(in_new))
    await runtime.close()
    return new, long


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        model = train(Path(folder) / "models")
        new, long = asyncio.run(measure(model))
    print(f"model: {model.name} ({'NLU + dialogue' if nlu_available() else 'dialogue only, /intent messages'}); "
          f"code: {compiled.status().describe()}")
    print(f"runtime CPU per message, new conversations ({SENDERS} at a time, {ROUNDS} rounds): "
          f"median {statistics.median(new) * 1000:.3f} ms (rounds: "
          f"{', '.join(f'{value * 1000:.3f}' for value in new)})")
    for events, (cost, fresh) in long.items():
        print(f"runtime CPU per message, a conversation of {events:,} events: {cost * 1000:.3f} ms "
              f"(new conversations in the same rounds, one sender: {fresh * 1000:.3f} ms)")
    print(f"so one process serves at most {1 / statistics.median(new):,.0f} msg/s on this machine "
          "(before HTTP, the store and the event loop)")


if __name__ == "__main__":
    main()
