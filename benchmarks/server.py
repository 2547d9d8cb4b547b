"""Server figures: throughput and latency of the REST channel, cold start, and memory, per tracker store.

Run: `.venv/bin/python benchmarks/server.py [sqlite|postgresql|redis|memory ...]` (default: the first three).
The rasa-init bot (NLU included when the pipeline exists, else `/intent` messages) runs as one
`bot.server.run` process on loopback; an aiohttp client in this process plays the users. Per store:

- cold start: from starting the process to the first answered message;
- 32 concurrent senders: messages/s and p50/p99 latency over at most MESSAGES messages or SECONDS seconds;
- one sender: p50 latency of sequential messages;
- RSS of the server after its first answer, and after 10,000 conversations (one message each, 32 at a time).

PostgreSQL and Redis are found at CONDUCTOR_BENCH_POSTGRES_URL (default postgresql://postgres@127.0.0.1:5432)
and CONDUCTOR_BENCH_REDIS_URL (default redis://127.0.0.1:6379/0); the benchmark uses a database
`conductor_bench` (created through `login_db: postgres`, dropped afterwards) and Redis keys under
`bench<run>:` (deleted afterwards). The figures depend on the machine and its load; the targets are printed
beside them.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import aiohttp

REPO = Path(__file__).resolve().parents[1]
RASA_INIT = REPO / ".." / "shared" / "data" / "rasa-projects" / "rasa-init-3.6.21"
POSTGRES = urlsplit(os.environ.get("CONDUCTOR_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432"))
REDIS = urlsplit(os.environ.get("CONDUCTOR_BENCH_REDIS_URL", "redis://127.0.0.1:6379/0"))
BENCH_DATABASE = "conductor_bench"

STORES = ("sqlite", "postgresql", "redis", "memory")
"""`memory` (not run by default) keeps conversations in the process: the server and runtime without a store."""

CONCURRENCY = 32
MESSAGES = 20_000
SECONDS = 20.0
SINGLE_SENDER_MESSAGES = 500
CONVERSATIONS_FOR_RSS = 10_000

TARGETS = {
    "throughput": "≥ 2,500 msg/s",
    "p99": "≤ 50 ms",
    "single_p50": "≤ 2 ms",
    "cold_start": "≤ 1.5 s",
    "rss": "≤ 150 MB",
}

SERVER = (
    "import sys; from bot.server import run; "
    "run(sys.argv[1], sys.argv[2], sys.argv[3], port=int(sys.argv[4]), interface='127.0.0.1')"
)


def nlu_available() -> bool:
    try:
        from bot.nlu import NLUPipeline  # noqa: F401
    except ImportError:
        return False
    return True


CONVERSATION_TEXT = ("hello", "I am feeling great", "bye")
CONVERSATION_PAYLOADS = ("/greet", "/mood_great", "/goodbye")


def train(folder: Path) -> Path:
    from bot.model import train_model
    from bot.project.loader import ProjectPaths, load_project

    parts = ("nlu", "dialogue") if nlu_available() else ("dialogue",)
    path, _ = train_model(load_project(ProjectPaths.discover(RASA_INIT.resolve())), folder, parts=parts)
    return path


def endpoints_for(store: str, run: str) -> str:
    if store == "memory":
        return ""
    redis_keys = f"  url: {REDIS.hostname}\n  port: {REDIS.port or 6379}\n  db: {REDIS.path.strip('/') or 0}\n"
    if store == "sqlite":
        return f"tracker_store:\n  type: sql\n  dialect: sqlite\n  db: {{folder}}/bench-{run}.db\n"
    if store == "postgresql":
        password = f"  password: {POSTGRES.password}\n" if POSTGRES.password else ""
        return (
            f"tracker_store:\n  type: sql\n  dialect: postgresql\n  url: {POSTGRES.hostname}\n"
            f"  port: {POSTGRES.port or 5432}\n  db: {BENCH_DATABASE}\n  login_db: postgres\n"
            f"  username: {POSTGRES.username}\n{password}"
        )
    return (
        f"tracker_store:\n  type: redis\n{redis_keys}  key_prefix: bench{run}:tracker\n"
        f"lock_store:\n  type: redis\n{redis_keys}  key_prefix: bench{run}:lock\n"
    )


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def percentile(values: Sequence[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


@dataclass
class Figures:
    store: str
    cold_start: float
    throughput: float
    p50: float
    p99: float
    sent: int
    single_p50: float
    rss_start: float
    rss_after: float


class Users:
    """The client side: posts messages to the REST webhook and times each answer."""

    def __init__(self, session: aiohttp.ClientSession, base: str, messages: Sequence[str]) -> None:
        self.session = session
        self.url = f"{base}/webhooks/rest/webhook"
        self.messages = messages

    async def say(self, sender: str, text: str) -> float:
        started = time.perf_counter()
        async with self.session.post(self.url, json={"sender": sender, "message": text}) as response:
            await response.read()
            if response.status != 200:
                raise RuntimeError(f"the server answered {response.status}: {await response.text()}")
        return time.perf_counter() - started

    async def converse(self, prefix: str, budget: int, deadline: float, latencies: list[float]) -> None:
        """Whole conversations, one message at a time, until the budget or the time runs out."""
        number = 0
        while len(latencies) < budget and time.perf_counter() < deadline:
            sender = f"{prefix}-{number}"
            number += 1
            for text in self.messages:
                latencies.append(await self.say(sender, text))

    async def concurrent(self, run: str, concurrency: int, budget: int, seconds: float) -> tuple[float, list[float]]:
        latencies: list[float] = []
        deadline = time.perf_counter() + seconds
        started = time.perf_counter()
        await asyncio.gather(
            *(self.converse(f"{run}-c{i}", budget, deadline, latencies) for i in range(concurrency))
        )
        return time.perf_counter() - started, latencies

    async def many_conversations(self, run: str, count: int, concurrency: int) -> None:
        queue = iter(range(count))

        async def worker() -> None:
            for number in queue:
                await self.say(f"{run}-rss-{number}", self.messages[0])

        await asyncio.gather(*(worker() for _ in range(concurrency)))


async def first_answer(base: str, messages: Sequence[str], process: subprocess.Popen[bytes]) -> None:
    async with aiohttp.ClientSession() as session:
        while True:
            if process.poll() is not None:
                output = process.stdout.read().decode() if process.stdout else ""
                raise RuntimeError(f"the server exited with {process.returncode}:\n{output}")
            try:
                async with session.post(
                    f"{base}/webhooks/rest/webhook", json={"sender": "cold", "message": messages[0]}
                ) as response:
                    if response.status == 200:
                        return
            except aiohttp.ClientConnectionError:
                pass
            await asyncio.sleep(0.005)


async def measure(store: str, model: Path, folder: Path, messages: Sequence[str]) -> Figures:
    run = uuid.uuid4().hex[:8]
    endpoints = folder / f"endpoints-{store}.yml"
    endpoints.write_text(endpoints_for(store, run).replace("{folder}", str(folder)))
    credentials = folder / "credentials.yml"
    credentials.write_text("rest:\n")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    started = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "-c", SERVER, str(model), str(endpoints), str(credentials), str(port)],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        await first_answer(base, messages, process)
        cold_start = time.perf_counter() - started
        rss_start = rss_mb(process.pid)
        connector = aiohttp.TCPConnector(limit=CONCURRENCY * 2)
        async with aiohttp.ClientSession(connector=connector) as session:
            users = Users(session, base, messages)
            await users.concurrent(f"warm{run}", CONCURRENCY, 600, 5.0)
            elapsed, latencies = await users.concurrent(run, CONCURRENCY, MESSAGES, SECONDS)
            single: list[float] = []
            await users.converse(f"{run}-single", SINGLE_SENDER_MESSAGES, time.perf_counter() + SECONDS, single)
            await users.many_conversations(run, CONVERSATIONS_FOR_RSS, CONCURRENCY)
        return Figures(
            store=store,
            cold_start=cold_start,
            throughput=len(latencies) / elapsed,
            p50=statistics.median(latencies),
            p99=percentile(latencies, 0.99),
            sent=len(latencies),
            single_p50=statistics.median(single),
            rss_start=rss_start,
            rss_after=rss_mb(process.pid),
        )
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
        await cleanup(store, run)


async def cleanup(store: str, run: str) -> None:
    if store == "postgresql":
        import asyncpg

        connection = await asyncpg.connect(
            host=POSTGRES.hostname, port=POSTGRES.port or 5432, user=POSTGRES.username, password=POSTGRES.password,
            database="postgres",
        )
        try:
            await connection.execute(f'DROP DATABASE IF EXISTS "{BENCH_DATABASE}"')
        finally:
            await connection.close()
    elif store == "redis":
        import redis.asyncio as redis

        client = redis.Redis(host=REDIS.hostname or "127.0.0.1", port=REDIS.port or 6379,
                             db=int(REDIS.path.strip("/") or 0))
        keys = [key async for key in client.scan_iter(match=f"bench{run}:*", count=1000)]
        for start in range(0, len(keys), 1000):
            await client.delete(*keys[start : start + 1000])
        await client.aclose()


def report(figures: Figures) -> None:
    print(f"\n== {figures.store} tracker store ==")
    rows = [
        ("cold start (process start -> first answer)", f"{figures.cold_start:.2f} s", TARGETS["cold_start"]),
        (f"{CONCURRENCY} concurrent senders: throughput", f"{figures.throughput:,.0f} msg/s "
         f"({figures.sent:,} messages)", TARGETS["throughput"]),
        (f"{CONCURRENCY} concurrent senders: p50 latency", f"{figures.p50 * 1000:.1f} ms", ""),
        (f"{CONCURRENCY} concurrent senders: p99 latency", f"{figures.p99 * 1000:.1f} ms", TARGETS["p99"]),
        ("one sender: p50 latency", f"{figures.single_p50 * 1000:.2f} ms", TARGETS["single_p50"]),
        ("RSS after the first answer", f"{figures.rss_start:.0f} MB", ""),
        (f"RSS after {CONVERSATIONS_FOR_RSS:,} conversations", f"{figures.rss_after:.0f} MB", TARGETS["rss"]),
    ]
    for name, value, target in rows:
        print(f"  {name:48s} {value:>28s}   target {target}" if target else f"  {name:48s} {value:>28s}")


async def main(stores: Sequence[str]) -> None:
    messages = CONVERSATION_TEXT if nlu_available() else CONVERSATION_PAYLOADS
    with tempfile.TemporaryDirectory() as temporary:
        folder = Path(temporary)
        model = train(folder / "models")
        print(f"model: {model.name} ({'NLU + dialogue' if nlu_available() else 'dialogue only, /intent messages'})")
        print(f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} (client and server share them)")
        for store in stores:
            report(await measure(store, model, folder, messages))


if __name__ == "__main__":
    chosen = sys.argv[1:] or ["sqlite", "postgresql", "redis"]
    unknown = [store for store in chosen if store not in STORES]
    if unknown:
        sys.exit(f"unknown store {unknown[0]!r}; choose from {', '.join(STORES)}")
    asyncio.run(main(chosen))
