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
from collections.abc import Callable
from functools import partial
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from server import CONVERSATION_PAYLOADS, CONVERSATION_TEXT, nlu_available, train

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


async def measure(model: Path) -> tuple[list[float], dict[int, tuple[float, float]]]:
    texts = CONVERSATION_TEXT if nlu_available() else CONVERSATION_PAYLOADS
    runtime = Runtime(load_model(model))
    await runtime.start()

    async def say(sender: str, text: str) -> None:
        await runtime.handle_message(UserMessage(text, sender, "rest", CollectingOutputChannel()))

    async def converse(prefix: str, count: int) -> None:
        for number in range(count):
            for text in texts:
                await say(f"{prefix}-{number}", text)
            await asyncio.sleep(0)  # the next conversation's messages arrive on their own, as over HTTP

    freeze_startup_heap()  # as `bot run` does once started: the garbage collector's thresholds while serving
    await asyncio.gather(*(converse(f"warm{i}", 10) for i in range(SENDERS)))
    new: list[float] = []
    for round_number in range(ROUNDS):
        started = time.process_time()
        await asyncio.gather(*(converse(f"r{round_number}-{i}", CONVERSATIONS_EACH) for i in range(SENDERS)))
        new.append((time.process_time() - started) / (SENDERS * CONVERSATIONS_EACH * len(texts)))

    async def timed(sender: Callable[[int], str]) -> float:
        started = time.process_time()
        for number in range(LONG_MESSAGES):
            await say(sender(number), texts[number % len(texts)])
        return (time.process_time() - started) / LONG_MESSAGES

    long: dict[int, tuple[float, float]] = {}
    for wanted in LONG_EVENTS:
        while len((await runtime.tracker("long")).events) < wanted:
            for text in texts * 10:
                await say("long", text)
        events = len((await runtime.tracker("long")).events)
        # rounds of the long conversation alternate with rounds of new ones sent the same way (one sender),
        # so that other load on the machine weighs on both alike
        in_long: list[float] = []
        in_new: list[float] = []
        for round_number in range(ROUNDS):
            in_long.append(await timed(lambda _number: "long"))
            in_new.append(await timed(partial(_new_sender, f"one-{wanted}-{round_number}", len(texts))))
        long[events] = (statistics.median(in_long), statistics.median(in_new))
    await runtime.close()
    return new, long


def _new_sender(prefix: str, messages_each: int, number: int) -> str:
    """The sender of message `number` when each conversation of `prefix` has `messages_each` messages."""
    return f"{prefix}-{number // messages_each}"


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        model = train(Path(folder) / "models")
        new, long = asyncio.run(measure(model))
    print(f"model: {model.name} ({'NLU + dialogue' if nlu_available() else 'dialogue only, /intent messages'})")
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
