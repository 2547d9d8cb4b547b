"""Scale-out: two `bot run` processes share the PostgreSQL tracker store and the Redis lock store; one of them is
killed with SIGKILL halfway through 2,000 messages, and every message a server acknowledged is stored exactly
once, in the order it was sent, its turn whole, its replies given once.

Acknowledged = the webhook answered 200 with the replies. A request cut off by the kill is not acknowledged: its
turn may or may not have been stored, but never twice and never split. The processes get a short lock lifetime
(TICKET_LOCK_LIFETIME) so that a lock the killed process held frees itself within the test's time.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import unused_port

from bot.config import load_endpoints
from bot.stores import create_tracker_store
from tests.conftest import REPO_ROOT
from tests.process_helpers import remove_run, store_endpoints, wait_until_healthy

CONVERSATIONS = 200
MESSAGES_PER_CONVERSATION = 10
KILL_AFTER_ACKNOWLEDGED = 1_000
CONCURRENCY = 32
INTENTS = ("/greet", "/mood_great", "/goodbye")
LOCK_LIFETIME_SECONDS = 3
REQUEST_TIMEOUT_SECONDS = 15
SENDING_TIMEOUT_SECONDS = 45


@dataclass
class Sent:
    """One message: its number (in `metadata`), conversation, text, and the replies when acknowledged."""

    n: int
    sender: str
    text: str
    server: int = -1
    replies: list[dict[str, Any]] | None = None


@dataclass
class Servers:
    processes: list[subprocess.Popen[bytes]]
    bases: list[str]
    logs: list[Path]
    alive: list[bool] = field(default_factory=lambda: [True, True])

    def log_tail(self, index: int) -> str:
        return self.logs[index].read_text(errors="replace")[-3000:]


@pytest.fixture
def run_and_endpoints(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """(run id, endpoints.yml): PostgreSQL tracker store, Redis lock store; the run's data goes afterwards."""
    run = uuid.uuid4().hex[:10]
    path = store_endpoints(tmp_path, "postgresql", run)
    yield run, path
    asyncio.run(remove_run(run, path))


@pytest.fixture
def servers(trained_model: Path, run_and_endpoints: tuple[str, Path], tmp_path: Path) -> Iterator[Servers]:
    _, endpoints = run_and_endpoints
    credentials = tmp_path / "credentials.yml"
    credentials.write_text("rest:\n")
    environment = {**os.environ, "TICKET_LOCK_LIFETIME": str(LOCK_LIFETIME_SECONDS)}
    started = Servers([], [], [])
    try:
        for index in range(2):
            port = unused_port()
            log = tmp_path / f"server{index}.log"
            with log.open("wb") as output:
                started.processes.append(subprocess.Popen(
                    [sys.executable, "-m", "bot.cli", "run", "--model", str(trained_model), "--endpoints",
                     str(endpoints), "--credentials", str(credentials), "--port", str(port),
                     "--interface", "127.0.0.1"],
                    cwd=REPO_ROOT, stdout=output, stderr=subprocess.STDOUT, env=environment,
                ))
            started.bases.append(f"http://127.0.0.1:{port}")
            started.logs.append(log)
        yield started
    finally:
        for process in started.processes:
            if process.poll() is None:
                process.kill()
            process.wait(10)


def _plan(run: str) -> list[list[Sent]]:
    """Each conversation's messages in sending order, numbered uniquely across the run."""
    return [
        [
            Sent(n=c * MESSAGES_PER_CONVERSATION + k, sender=f"{run}-c{c}", text=INTENTS[k % len(INTENTS)])
            for k in range(MESSAGES_PER_CONVERSATION)
        ]
        for c in range(CONVERSATIONS)
    ]


async def _send_all(session: aiohttp.ClientSession, served: Servers, plan: list[list[Sent]]) -> None:
    """Each conversation sends its messages one after another, alternating servers while both live; at most
    CONCURRENCY requests are in flight. After KILL_AFTER_ACKNOWLEDGED acknowledgements server 1 is killed."""
    slots = asyncio.Semaphore(CONCURRENCY)
    acknowledged = 0

    async def post(message: Sent, offset: int) -> None:
        nonlocal acknowledged
        message.server = offset % 2 if served.alive[1] else 0
        body = {"sender": message.sender, "message": message.text, "metadata": {"n": message.n}}
        try:
            async with session.post(
                f"{served.bases[message.server]}/webhooks/rest/webhook",
                json=body,
                timeout=aiohttp.ClientTimeout(total=REQUEST_TIMEOUT_SECONDS),
            ) as response:
                if response.status != 200:
                    assert message.server == 1 and not served.alive[1], (response.status, await response.text())
                    return
                message.replies = await response.json()
        except (TimeoutError, aiohttp.ClientError):
            assert message.server == 1 and not served.alive[1], (
                f"a request to a live server {message.server} failed:\n{served.log_tail(message.server)}"
            )
            return
        acknowledged += 1
        if acknowledged == KILL_AFTER_ACKNOWLEDGED:
            served.alive[1] = False
            served.processes[1].kill()

    async def converse(conversation: int, messages: list[Sent]) -> None:
        for k, message in enumerate(messages):
            async with slots:
                await post(message, conversation + k)

    await asyncio.wait_for(
        asyncio.gather(*(converse(c, messages) for c, messages in enumerate(plan))), SENDING_TIMEOUT_SECONDS
    )


def _turns(events: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """The events from each user event up to the next one."""
    starts = [i for i, event in enumerate(events) if event["event"] == "user"]
    return [events[start:end] for start, end in zip(starts, [*starts[1:], len(events)], strict=True)]


async def test_two_processes_one_killed_keep_every_acknowledged_turn_once_and_in_order(
    servers: Servers, run_and_endpoints: tuple[str, Path]
) -> None:
    run, endpoints = run_and_endpoints
    plan = _plan(run)
    started = time.monotonic()
    await wait_until_healthy(*servers.bases, processes=servers.processes, logs=servers.logs)
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=CONCURRENCY * 2)) as session:
        await _send_all(session, servers, plan)
    sending_seconds = time.monotonic() - started
    assert servers.processes[1].wait(5) == -9
    assert servers.processes[0].poll() is None, servers.log_tail(0)

    sent = [message for messages in plan for message in messages]
    acknowledged = [message for message in sent if message.replies is not None]
    assert len(acknowledged) > KILL_AFTER_ACKNOWLEDGED + 800, len(acknowledged)
    assert {m.server for m in acknowledged[:KILL_AFTER_ACKNOWLEDGED]} == {0, 1}

    store = create_tracker_store(load_endpoints(endpoints).tracker_store, endpoints)
    async with store:
        for messages in plan:
            sender = messages[0].sender
            stored = [event.as_dict() for event in await store.retrieve(sender) or []]
            turns = _turns(stored)
            numbers = [turn[0]["metadata"].get("n") for turn in turns]
            assert len(numbers) == len(set(numbers)), f"{sender}: a message stored twice: {numbers}"
            assert set(numbers) <= {m.n for m in messages}, f"{sender}: unknown messages stored: {numbers}"
            acknowledged_here = [m.n for m in messages if m.replies is not None]
            assert [n for n in numbers if n in set(acknowledged_here)] == acknowledged_here, (
                f"{sender}: acknowledged messages missing or out of order; stored {numbers}, "
                f"acknowledged {acknowledged_here}"
            )
            by_number = {m.n: m for m in messages}
            for turn in turns:
                message = by_number[turn[0]["metadata"]["n"]]
                assert turn[0]["text"] == message.text, turn[0]
                assert turn[-1]["event"] == "action" and turn[-1]["name"] == "action_listen", (
                    f"{sender}: turn of message {message.n} is not whole: {turn}"
                )
                bot_texts = [event.get("text") for event in turn if event["event"] == "bot"]
                assert bot_texts, f"{sender}: turn of message {message.n} has no bot events: {turn}"
                if message.replies is not None:
                    assert [reply.get("text") for reply in message.replies] == bot_texts, (
                        f"{sender}: message {message.n} replied {message.replies}, stored {bot_texts}"
                    )
                    assert all(reply["recipient_id"] == sender for reply in message.replies)
    print(f"sent {len(sent)} messages in {sending_seconds:.1f} s, {len(acknowledged)} acknowledged")
