"""Instructions per message of the runtime, counted by valgrind: a figure that other load on the machine does
not move, for telling whether a change made the runtime cheaper.

Run: `.venv/bin/python benchmarks/instructions.py [--long] [--server]` (needs valgrind; about 2 minutes, 7 with
--long, 5 more with --server).

Wall-clock and CPU-time figures of this machine kind vary by ±10 % from run to run (a shared virtual machine),
which hides most single changes. valgrind's callgrind counts the instructions a process executes instead. The
rasa-init bot runs in process as in `benchmarks/runtime.py` (32 conversations at a time of "hello", "I am feeling
great", "bye", stores in memory, the server's garbage-collector settings, then collection off so that when it
runs does not count), once with SHORT and once with LONG conversations per sender; the difference divided by the
extra messages leaves out start-up (imports, loading the model). Both run with OPENBLAS_NUM_THREADS=1: under
valgrind OpenBLAS's idle worker thread spins and was counted (about 79,000 instructions a message of noise
between two runs of nearly the same code; outside valgrind it uses no CPU here). Repeated runs agree within
about 1 % (addresses, and so the hashing of objects, differ between runs). Printed: instructions per message.

`--server` counts the whole `bot run` process instead (`bot.server.run` with the SQLite tracker store, as
`benchmarks/server.py` starts it), its threads included, while an aiohttp client in this process sends the
same conversations over the REST channel (SERVER_ROUNDS more conversations per sender in the second run): the
runtime plus HTTP, the REST channel, the store and the event loop. Its difference from the runtime's figure is
what serving costs on top of the runtime.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parent))

from server import (
    CONVERSATION_PAYLOADS,
    CONVERSATION_TEXT,
    REPO,
    SERVER,
    Users,
    endpoints_for,
    first_answer,
    free_port,
    nlu_available,
    train,
)

from bot import compiled

SENDERS = 32
SHORT = 2
LONG = 7
"""Conversations per sender in the two counted runs: (LONG - SHORT) * SENDERS * 3 messages are compared."""
LONG_EVENTS = 10_000
"""With --long: the same number of messages counted in one conversation that already holds this many events
(building it takes about 2 minutes under valgrind)."""
SERVER_ROUNDS = (1, 6)
"""With --server: conversations per sender in the two counted runs of the server process."""


async def run_conversations(model: Path, conversations: int, long_events: int = 0) -> None:
    from runtime import converse, grow, say

    from bot.model import load_model
    from bot.runtime import Runtime
    from bot.server import freeze_startup_heap

    texts = CONVERSATION_TEXT if nlu_available() else CONVERSATION_PAYLOADS
    runtime = Runtime(load_model(model))
    await runtime.start()
    freeze_startup_heap()
    await asyncio.gather(*(converse(runtime, texts, f"warm{i}", 1) for i in range(SENDERS)))
    if long_events:  # one conversation of about `long_events` events, then `conversations` rounds of it
        await grow(runtime, texts, "long", long_events)
        gc.disable()
        for _ in range(conversations * SENDERS):
            for text in texts:
                await say(runtime, "long", text)
    else:
        gc.disable()
        await asyncio.gather(*(converse(runtime, texts, f"s{i}", conversations) for i in range(SENDERS)))
    await runtime.close()


VALGRIND = ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", sys.executable]
QUIET_ENVIRONMENT = {"PYTHONHASHSEED": "0", "OPENBLAS_NUM_THREADS": "1"}
"""What every counted run gets: fixed string hashing, and no spinning OpenBLAS thread (see the docstring)."""


def collected(returncode: int, stderr: str) -> int:
    """The instruction count callgrind printed at the end of a run."""
    found = re.search(r"Collected : (\d+)", stderr)
    if returncode != 0 or found is None:
        raise SystemExit(f"valgrind failed (exit {returncode}):\n{stderr[-2000:]}")
    return int(found.group(1))


def counted(model: Path, conversations: int, long_events: int = 0) -> int:
    """Instructions of a whole run of this script's `--converse` mode, as callgrind reports them."""
    result = subprocess.run(
        [*VALGRIND, __file__, "--converse", str(model), str(conversations), str(long_events)],
        cwd=REPO,
        env={**os.environ, **QUIET_ENVIRONMENT},
        capture_output=True,
        text=True,
        check=False,
    )
    return collected(result.returncode, result.stderr)


async def talk_to_server(base: str, server: subprocess.Popen[bytes], conversations: int) -> None:
    """Waits for the server's first answer, then SENDERS users each hold `conversations` conversations over
    REST (the first answer's message is in both counted runs, so it drops out of the difference)."""
    texts = CONVERSATION_TEXT if nlu_available() else CONVERSATION_PAYLOADS
    await first_answer(base, texts, server)
    async with aiohttp.ClientSession() as session:
        users = Users(session, [base], texts)

        async def user(number: int) -> None:
            for conversation in range(conversations):
                for text in texts:
                    await users.say(f"u{number}-{conversation}", text)

        await asyncio.gather(*(user(number) for number in range(SENDERS)))


def counted_server(model: Path, folder: Path, conversations: int) -> int:
    """Instructions of a whole `bot.server.run` process (SQLite store) that served `conversations` per sender,
    from start to its exit on SIGTERM."""
    run = folder / f"server-{conversations}"
    run.mkdir()
    endpoints, credentials = run / "endpoints.yml", run / "credentials.yml"
    endpoints.write_text(endpoints_for("sqlite", "count").replace("{folder}", str(run)))
    credentials.write_text("rest:\n")
    port = free_port()
    server = subprocess.Popen(
        [*VALGRIND, "-c", SERVER, str(model), str(endpoints), str(credentials), str(port)],
        cwd=REPO,
        env={**os.environ, **QUIET_ENVIRONMENT},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        asyncio.run(talk_to_server(f"http://127.0.0.1:{port}", server, conversations))
    finally:
        server.send_signal(signal.SIGTERM)
        _, stderr = server.communicate()
    return collected(server.returncode, stderr.decode(errors="replace"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--long", action="store_true", help=f"also count a message in one conversation of {LONG_EVENTS:,} events"
    )
    parser.add_argument("--server", action="store_true", help="also count the whole server process per message")
    parser.add_argument("--converse", nargs=3, metavar=("MODEL", "CONVERSATIONS", "LONG"), help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    if arguments.converse:
        model, conversations, long_events = arguments.converse
        asyncio.run(run_conversations(Path(model), int(conversations), int(long_events)))
        return
    if shutil.which("valgrind") is None:
        raise SystemExit("valgrind is needed: `apt-get install valgrind`")
    with tempfile.TemporaryDirectory() as folder:
        model = train(Path(folder) / "models")
        short, long = counted(model, SHORT), counted(model, LONG)
        messages = (LONG - SHORT) * SENDERS * len(CONVERSATION_TEXT)
        print(f"model: {model.name} ({'NLU + dialogue' if nlu_available() else 'dialogue only, /intent messages'}); "
              f"code: {compiled.status().describe()}")
        print(f"runtime instructions per message (callgrind, {messages} messages): {(long - short) / messages:,.0f}")
        if arguments.long:
            short, long = counted(model, SHORT, LONG_EVENTS), counted(model, LONG, LONG_EVENTS)
            print(f"the same in one conversation of {LONG_EVENTS:,} events: {(long - short) / messages:,.0f}")
        if arguments.server:
            few, many = (counted_server(model, Path(folder), rounds) for rounds in SERVER_ROUNDS)
            served = (SERVER_ROUNDS[1] - SERVER_ROUNDS[0]) * SENDERS * len(CONVERSATION_TEXT)
            print(f"server process instructions per message (REST, SQLite store, {served} messages): "
                  f"{(many - few) / served:,.0f}")


if __name__ == "__main__":
    main()
