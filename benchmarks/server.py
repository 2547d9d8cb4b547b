"""Server figures: throughput and latency of the REST channel, cold start, and memory, per tracker store; and
throughput when several server processes share the stores (scale-out).

Run: `.venv/bin/python benchmarks/server.py [sqlite|postgresql|redis|memory|scale ...]` (default: sqlite,
postgresql, redis and scale; `benchmarks/server.py scale` runs the scale-out figures alone).
The rasa-init bot (NLU included when the pipeline exists, else `/intent` messages) runs as one
`bot.server.run` process on loopback. The users are played by wrk (Debian's `wrk` package) when it is
installed: a C client whose own CPU use leaves the second core mostly to the server; each of its 32
connections is one user, sending a conversation's messages one after the other. Without wrk an aiohttp client
in this process plays them, and on a 2-core machine it needs as much CPU as the server: the figures then say
more about the client than about the server (the output says which client ran). Per store:

- cold start: from starting the process to the first answered message;
- 32 concurrent senders: messages/s and p50/p99 latency over at most MESSAGES messages or SECONDS seconds;
- one sender: p50 latency of sequential messages;
- one sender, a long conversation: p50 latency of its messages once it holds about LONG_EVENTS events, beside
  the p50 of the same messages in new conversations, both played by the aiohttp client (events are appended,
  never rewritten, and the dialogue state goes on from where it was: the two should be alike);
- RSS of the server after its first answer, and after 10,000 conversations (one message each, 32 at a time);
- the server's CPU time per message while the 32 senders ran (both its threads: the event loop and SQLite's).

`scale`: 1, then 2 `bot.server.run` processes (same model, each on its own port) sharing the PostgreSQL
tracker store and the Redis lock store, as a scaled-out deployment does. The 32 concurrent senders send each
message to the next process in turn (round-robin per request, as a load balancer without sticky sessions
would; no proxy in between), so consecutive messages of one conversation are answered by different processes.
Printed per process count: messages/s and p50/p99 latency over at most MESSAGES messages or SECONDS seconds.
The aiohttp client plays the users here (wrk cannot send each request to another server). Client, servers,
PostgreSQL and Redis share this machine's CPUs, which bounds what a second process can add.

`broker`: 1 process on PostgreSQL and Redis as in `scale`, without and then with the RabbitMQ event broker
(`event_broker` in endpoints.yml, RabbitMQ at CONDUCTOR_BENCH_RABBITMQ_URL, default
amqp://guest:guest@127.0.0.1:5672/, a queue and exchange of the run's own, deleted afterwards): messages/s and
p50/p99 each, and how many of the stored events reached the queue by the time the server had stopped.

`compiled`: the compiled build against the same code as Python (`CONDUCTOR_COMPILED=0`), on the SQLite store
with wrk: COMPARE_ROUNDS pairs of servers, one of each build in turn, each measured for COMPARE_SECONDS at 32
senders after a 1 s warm-up; prints each run's messages/s and server CPU a message, then the medians. The
machines here drift by a quarter within minutes, so only runs alternated like this show a change of that size.

PostgreSQL and Redis are found at CONDUCTOR_BENCH_POSTGRES_URL (default postgresql://postgres@127.0.0.1:5432)
and CONDUCTOR_BENCH_REDIS_URL (default redis://127.0.0.1:6379/0); the benchmark uses a database
`conductor_bench` (created through `login_db: postgres`, dropped afterwards) and Redis keys under
`bench<run>:` (deleted afterwards). The figures depend on the machine and its load; the targets are printed
beside them, and the machine line gives the machine's speed at a fixed Python loop (`python_speed`), for
comparing figures measured on two machines.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import aiohttp

from bot import compiled

REPO = Path(__file__).resolve().parents[1]
RASA_INIT = REPO / ".." / "shared" / "data" / "rasa-projects" / "rasa-init-3.6.21"
POSTGRES = urlsplit(os.environ.get("CONDUCTOR_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432"))
REDIS = urlsplit(os.environ.get("CONDUCTOR_BENCH_REDIS_URL", "redis://127.0.0.1:6379/0"))
RABBITMQ = urlsplit(os.environ.get("CONDUCTOR_BENCH_RABBITMQ_URL", "amqp://guest:guest@127.0.0.1:5672/"))
BENCH_DATABASE = "conductor_bench"

STORES = ("sqlite", "postgresql", "redis", "memory")
"""`memory` (not run by default) keeps conversations in the process: the server and runtime without a store."""
MODES = (*STORES, "scale", "broker", "compiled")
DEFAULT_MODES = ("sqlite", "postgresql", "redis", "scale")
SCALE_PROCESSES = (1, 2)
COMPARE_ROUNDS = 6
COMPARE_SECONDS = 5.0

CONCURRENCY = 32
MESSAGES = 20_000
SECONDS = 20.0
SINGLE_SENDER_MESSAGES = 500
CONVERSATIONS_FOR_RSS = 10_000
LONG_EVENTS = 10_000
LONG_SAMPLES = 300

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
        f"tracker_store:\n  type: redis\n{redis_keys()}  key_prefix: bench{run}\n"
        f"lock_store:\n  type: redis\n{redis_keys()}  key_prefix: bench{run}\n"
    )


def redis_keys() -> str:
    """The Redis server's keys in an endpoints.yml section."""
    return f"  url: {REDIS.hostname}\n  port: {REDIS.port or 6379}\n  db: {REDIS.path.strip('/') or 0}\n"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def status_mb(pid: int, field: str = "VmRSS") -> float:
    """A memory figure of /proc/PID/status in MB: `VmRSS` (the RSS), or `RssFile`, its part that is pages of
    mapped files (the shared libraries' code, mostly). The kernel decides how much of a library it maps in at
    once, so that part differs between kernels for the same program (62 MB of 156 on one machine of this kind,
    where the process's own memory was 94 MB)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def python_speed() -> float:
    """Millions of iterations a second of a fixed pure-Python loop (dict and list work, as a turn does), the best
    of five: the machines this runs on differ by up to 1.8x in the same code's CPU time per message (the
    instructions per message, `benchmarks/instructions.py`, do not), so printing it lets figures of two machines
    be compared. Whatever else runs on the machine slows it too."""
    best = float("inf")
    for _ in range(5):
        started = time.perf_counter()
        table: dict[int, list[int]] = {}
        for number in range(300_000):
            table.setdefault(number & 1023, []).append(number)
        best = min(best, time.perf_counter() - started)
    return 0.3 / best


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
    rss_files: float
    cpu_per_message: float
    client: str
    long_events: int | None
    long_p50: float
    new_p50: float


class Users:
    """The client side: posts messages to the REST webhook (of each server in turn) and times each answer."""

    def __init__(self, session: aiohttp.ClientSession, bases: Sequence[str], messages: Sequence[str]) -> None:
        self.session = session
        self.urls = [f"{base}/webhooks/rest/webhook" for base in bases]
        self.turn = itertools.count()
        self.messages = messages

    async def say(self, sender: str, text: str) -> float:
        url = self.urls[next(self.turn) % len(self.urls)]
        started = time.perf_counter()
        async with self.session.post(url, json={"sender": sender, "message": text}) as response:
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

    async def long_and_new(
        self, run: str, count_events: Callable[[str], Awaitable[int | None]]
    ) -> tuple[int | None, float, float]:
        """Grows one conversation to LONG_EVENTS events, then times LONG_SAMPLES of its messages and as many in
        new conversations, alternately: (its events, None when they cannot be counted, its p50, the new
        conversations' p50)."""
        sender = f"{run}-long"
        sent = 0
        while True:
            for text in list(self.messages) * 100:
                await self.say(sender, text)
            sent += len(self.messages) * 100
            events = await count_events(sender)
            if (events or 0) >= LONG_EVENTS or (events is None and sent >= LONG_EVENTS // 4):
                break
        long: list[float] = []
        new: list[float] = []
        for number in range(LONG_SAMPLES // len(self.messages)):
            for text in self.messages:
                long.append(await self.say(sender, text))
            for text in self.messages:
                new.append(await self.say(f"{run}-fresh-{number}", text))
        return events, statistics.median(long), statistics.median(new)

    async def many_conversations(self, run: str, count: int, concurrency: int) -> None:
        queue = iter(range(count))

        async def worker() -> None:
            for number in queue:
                await self.say(f"{run}-rss-{number}", self.messages[0])

        await asyncio.gather(*(worker() for _ in range(concurrency)))


WRK_SCRIPT = """
local texts = {%(texts)s}
local counter = 0
local prefix = "w"
local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("user", threads)
end
function init(args)
  prefix = args[1]
end
function request()
  local conversation = math.floor(counter / #texts)
  local text = texts[(counter %% #texts) + 1]
  counter = counter + 1
  local body = '{"sender":"' .. prefix .. user .. '-' .. conversation .. '","message":' .. text .. '}'
  return wrk.format("POST", "/webhooks/rest/webhook", {["Content-Type"] = "application/json"}, body)
end
"""
"""One wrk thread per user with one connection each, so a user's messages go one at a time, in order, and a
conversation is the messages of CONVERSATION_TEXT; then the user starts a new conversation."""


@dataclass
class Load:
    throughput: float
    p50: float
    p99: float
    sent: int


def wrk_available() -> bool:
    return shutil.which("wrk") is not None


def _wrk_seconds(value: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", value).groups()  # type: ignore[union-attr]
    return float(number) * {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0}[unit]


def wrk_load(base: str, messages: Sequence[str], senders: int, seconds: float, prefix: str) -> Load:
    """Runs wrk with one connection (and thread) per sender; its latency distribution gives p50 and p99."""
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(WRK_SCRIPT % {"texts": ", ".join(f"[==[{json.dumps(text)}]==]" for text in messages)})
    try:
        result = subprocess.run(
            ["wrk", f"-t{senders}", f"-c{senders}", f"-d{seconds:.0f}s", "--latency", "-s", script.name,
             f"{base}/webhooks/rest/webhook", "--", prefix],
            capture_output=True, text=True, check=True,
        )
    finally:
        os.unlink(script.name)
    out = result.stdout
    failed = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if failed or "Socket errors" in out:
        raise RuntimeError(f"wrk saw failed requests:\n{out}")
    sent, elapsed = re.search(r"(\d+) requests in ([\d.]+\w+),", out).groups()  # type: ignore[union-attr]
    percentiles = dict(re.findall(r"^\s+(50|99)%\s+(\S+)$", out, re.MULTILINE))
    return Load(
        throughput=int(sent) / _wrk_seconds(elapsed),
        p50=_wrk_seconds(percentiles["50"]),
        p99=_wrk_seconds(percentiles["99"]),
        sent=int(sent),
    )


def cpu_seconds(pid: int) -> float:
    """The process's user and system CPU time so far (all its threads)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


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


@dataclass
class ScaleFigures:
    processes: int
    throughput: float
    p50: float
    p99: float
    sent: int
    published: int | None = None
    """With the event broker: messages in its queue once the servers stopped, and events stored."""
    stored: int | None = None


def start_server(model: Path, endpoints: Path, credentials: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-c", SERVER, str(model), str(endpoints), str(credentials), str(port)],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    return process, f"http://127.0.0.1:{port}"


def stop_servers(processes: Sequence[subprocess.Popen[bytes]]) -> None:
    for process in processes:
        process.send_signal(signal.SIGTERM)
    for process in processes:
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()


async def loaded_cpu(
    process: subprocess.Popen[bytes], base: str, messages: Sequence[str], warm: float, seconds: float, run: str
) -> tuple[Load, float]:
    """`warm` seconds of wrk's 32 senders, then `seconds` of them measured: the load, and the server's CPU seconds
    (both its threads) while it ran."""
    await asyncio.to_thread(wrk_load, base, messages, CONCURRENCY, warm, f"warm{run}-")
    cpu_before = cpu_seconds(process.pid)
    load = await asyncio.to_thread(wrk_load, base, messages, CONCURRENCY, seconds, f"{run}-")
    return load, cpu_seconds(process.pid) - cpu_before


async def measure(store: str, model: Path, folder: Path, messages: Sequence[str]) -> Figures:
    run = uuid.uuid4().hex[:8]
    endpoints = folder / f"endpoints-{store}.yml"
    endpoints.write_text(endpoints_for(store, run).replace("{folder}", str(folder)))
    credentials = folder / "credentials.yml"
    credentials.write_text("rest:\n")
    started = time.perf_counter()
    process, base = start_server(model, endpoints, credentials)
    try:
        await first_answer(base, messages, process)
        cold_start = time.perf_counter() - started
        rss_start = status_mb(process.pid)
        connector = aiohttp.TCPConnector(limit=CONCURRENCY * 2)
        async with aiohttp.ClientSession(connector=connector) as session:
            users = Users(session, [base], messages)
            if wrk_available():
                load, cpu = await loaded_cpu(process, base, messages, 5.0, SECONDS, run)
                single_p50 = (await asyncio.to_thread(wrk_load, base, messages, 1, SECONDS, f"{run}-single-")).p50
            else:
                await users.concurrent(f"warm{run}", CONCURRENCY, 600, 5.0)
                cpu_before = cpu_seconds(process.pid)
                elapsed, latencies = await users.concurrent(run, CONCURRENCY, MESSAGES, SECONDS)
                cpu = cpu_seconds(process.pid) - cpu_before
                load = Load(len(latencies) / elapsed, statistics.median(latencies), percentile(latencies, 0.99),
                            len(latencies))
                single: list[float] = []
                await users.converse(f"{run}-single", SINGLE_SENDER_MESSAGES, time.perf_counter() + SECONDS, single)
                single_p50 = statistics.median(single)
            await users.many_conversations(run, CONVERSATIONS_FOR_RSS, CONCURRENCY)
            rss_after = status_mb(process.pid)  # before the long conversation, which would stay in the cache
            rss_files = status_mb(process.pid, "RssFile")
            long_events, long_p50, new_p50 = await users.long_and_new(
                run, lambda sender: count_events(endpoints, sender)
            )
        return Figures(
            store=store,
            cold_start=cold_start,
            throughput=load.throughput,
            p50=load.p50,
            p99=load.p99,
            sent=load.sent,
            single_p50=single_p50,
            rss_start=rss_start,
            rss_after=rss_after,
            rss_files=rss_files,
            cpu_per_message=cpu / load.sent,
            client="wrk" if wrk_available() else "aiohttp client in the benchmark process",
            long_events=long_events,
            long_p50=long_p50,
            new_p50=new_p50,
        )
    finally:
        stop_servers([process])
        await cleanup(store, run)


async def compare_builds(model: Path, folder: Path, messages: Sequence[str]) -> None:
    """`compiled` mode: the two builds alternated (see the module's docstring)."""
    if not wrk_available():
        print("the compiled mode needs wrk (apt-get install wrk)")
        return
    if not compiled.status().compiled:
        print(f"nothing to compare: the hot modules run {compiled.status().describe()}")
        return
    credentials = folder / "credentials.yml"
    credentials.write_text("rest:\n")
    runs: dict[str, list[tuple[float, float]]] = {"0": [], "1": []}
    print(f"== compiled against interpreted: {COMPARE_ROUNDS} pairs of {COMPARE_SECONDS:.0f} s runs, SQLite, wrk ==")
    for _ in range(COMPARE_ROUNDS):
        for switch in ("0", "1"):
            run = uuid.uuid4().hex[:8]
            endpoints = folder / f"endpoints-compare-{run}.yml"
            endpoints.write_text(endpoints_for("sqlite", run).replace("{folder}", str(folder)))
            os.environ[compiled.SWITCH] = switch  # the server process inherits it
            try:
                process, base = start_server(model, endpoints, credentials)
            finally:
                os.environ.pop(compiled.SWITCH)
            try:
                await first_answer(base, messages, process)
                load, cpu = await loaded_cpu(process, base, messages, 1.0, COMPARE_SECONDS, run)
                cpu /= load.sent
            finally:
                stop_servers([process])
            runs[switch].append((load.throughput, cpu))
            name = "compiled" if switch == "1" else "interpreted"
            print(f"  {name:12s} {load.throughput:7,.0f} msg/s   server CPU {cpu * 1000:.3f} ms a message")
    for switch, name in (("0", "interpreted"), ("1", "compiled")):
        throughput = statistics.median(value for value, _ in runs[switch])
        cpu = statistics.median(value for _, value in runs[switch])
        print(f"  median, {name:12s} {throughput:7,.0f} msg/s   server CPU {cpu * 1000:.3f} ms a message")


async def count_events(endpoints: Path, sender: str) -> int | None:
    """How many events the server has stored for `sender` (read through Conductor's own tracker store)."""
    from bot.config import load_endpoints
    from bot.stores import create_tracker_store

    settings = load_endpoints(endpoints).tracker_store
    if settings is None:  # the memory store lives in the server process
        return None
    store = create_tracker_store(settings, endpoints)
    await store.start()
    try:
        return await store.count_events(sender)
    finally:
        await store.close()


async def measure_scale(
    count: int, model: Path, folder: Path, messages: Sequence[str], *, broker: bool = False
) -> ScaleFigures:
    """`count` server processes sharing PostgreSQL (conversations) and Redis (locks), 32 senders round-robin;
    with `broker`, each also publishes every stored event to RabbitMQ."""
    run = uuid.uuid4().hex[:8]
    endpoints = folder / f"endpoints-scale-{run}.yml"
    endpoints.write_text(
        endpoints_for("postgresql", run) + f"lock_store:\n  type: redis\n{redis_keys()}  key_prefix: bench{run}\n"
        + (broker_section(run) if broker else "")
    )
    credentials = folder / "credentials.yml"
    credentials.write_text("rest:\n")
    processes: list[subprocess.Popen[bytes]] = []
    bases: list[str] = []
    try:
        for _ in range(count):  # one after the other: the first creates the database
            process, base = start_server(model, endpoints, credentials)
            processes.append(process)
            bases.append(base)
            await first_answer(base, messages, process)
        connector = aiohttp.TCPConnector(limit=CONCURRENCY * 2)
        async with aiohttp.ClientSession(connector=connector) as session:
            users = Users(session, bases, messages)
            await users.concurrent(f"warm{run}", CONCURRENCY, 600, 5.0)
            elapsed, latencies = await users.concurrent(run, CONCURRENCY, MESSAGES, SECONDS)
        stop_servers(processes)
        figures = ScaleFigures(
            processes=count,
            throughput=len(latencies) / elapsed,
            p50=statistics.median(latencies),
            p99=percentile(latencies, 0.99),
            sent=len(latencies),
        )
        if broker:
            figures.published = await queue_length(run)
            figures.stored = await stored_events()
        return figures
    finally:
        stop_servers(processes)
        if broker:
            await delete_queue(run)
        await cleanup("postgresql", run)
        await cleanup("redis", run)


def broker_section(run: str) -> str:
    return (
        f"event_broker:\n  type: pika\n  url: {RABBITMQ.hostname}\n  port: {RABBITMQ.port or 5672}\n"
        f"  username: {RABBITMQ.username or 'guest'}\n  password: {RABBITMQ.password or 'guest'}\n"
        f"  queues: [bench_{run}]\n  exchange_name: bench-{run}\n"
    )


async def queue_length(run: str) -> int:
    import aio_pika

    connection = await aio_pika.connect(RABBITMQ.geturl())
    async with connection:
        queue = await (await connection.channel()).declare_queue(f"bench_{run}", passive=True)
        return queue.declaration_result.message_count or 0


async def delete_queue(run: str) -> None:
    import aio_pika

    connection = await aio_pika.connect(RABBITMQ.geturl())
    async with connection:
        channel = await connection.channel()
        await channel.queue_delete(f"bench_{run}")
        await channel.exchange_delete(f"bench-{run}")


async def stored_events() -> int:
    import asyncpg

    connection = await asyncpg.connect(
        host=POSTGRES.hostname, port=POSTGRES.port or 5432, user=POSTGRES.username, password=POSTGRES.password,
        database=BENCH_DATABASE,
    )
    try:
        return int(await connection.fetchval("SELECT count(*) FROM events"))
    finally:
        await connection.close()


def report_scale(title: str, figures: Sequence[tuple[str, ScaleFigures]]) -> None:
    print(f"\n== {title}, {CONCURRENCY} concurrent senders ==")
    for name, row in figures:
        print(f"  {name:22s} {row.throughput:8,.0f} msg/s ({row.sent:,} messages)   p50 {row.p50 * 1000:6.1f} ms"
              f"   p99 {row.p99 * 1000:6.1f} ms")
        if row.published is not None:
            print(f"  {'':22s} {row.published:,} of {row.stored:,} stored events in the broker's queue")
    if len(figures) > 1:
        print(f"  {figures[-1][0]} / {figures[0][0]}: {figures[-1][1].throughput / figures[0][1].throughput:.2f}x "
              "the throughput")


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
    print(f"\n== {figures.store} tracker store (users played by {figures.client}) ==")
    rows = [
        ("cold start (process start -> first answer)", f"{figures.cold_start:.2f} s", TARGETS["cold_start"]),
        (f"{CONCURRENCY} concurrent senders: throughput", f"{figures.throughput:,.0f} msg/s "
         f"({figures.sent:,} messages)", TARGETS["throughput"]),
        (f"{CONCURRENCY} concurrent senders: p50 latency", f"{figures.p50 * 1000:.1f} ms", ""),
        (f"{CONCURRENCY} concurrent senders: p99 latency", f"{figures.p99 * 1000:.1f} ms", TARGETS["p99"]),
        (f"{CONCURRENCY} concurrent senders: server CPU per message", f"{figures.cpu_per_message * 1000:.2f} ms", ""),
        ("one sender: p50 latency", f"{figures.single_p50 * 1000:.2f} ms", TARGETS["single_p50"]),
        (f"one sender, conversation of {figures.long_events or LONG_EVENTS // 4:,} "
         f"{'events' if figures.long_events else 'messages'}: p50", f"{figures.long_p50 * 1000:.2f} ms", ""),
        ("one sender, new conversations, same client: p50", f"{figures.new_p50 * 1000:.2f} ms", ""),
        ("RSS after the first answer", f"{figures.rss_start:.0f} MB", ""),
        (f"RSS after {CONVERSATIONS_FOR_RSS:,} conversations", f"{figures.rss_after:.0f} MB", TARGETS["rss"]),
        ("  of which pages of mapped files (libraries)", f"{figures.rss_files:.0f} MB", ""),
    ]
    for name, value, target in rows:
        print(f"  {name:48s} {value:>28s}   target {target}" if target else f"  {name:48s} {value:>28s}")


async def main(modes: Sequence[str]) -> None:
    messages = CONVERSATION_TEXT if nlu_available() else CONVERSATION_PAYLOADS
    with tempfile.TemporaryDirectory() as temporary:
        folder = Path(temporary)
        model = train(folder / "models")
        print(f"model: {model.name} ({'NLU + dialogue' if nlu_available() else 'dialogue only, /intent messages'}); "
              f"code: {compiled.status().describe()}")
        print(f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} (client and server share them), "
              f"Python speed {python_speed():.1f} (see python_speed)")
        for mode in modes:
            if mode == "scale":
                report_scale(
                    "scale-out: bot.server.run processes sharing PostgreSQL (tracker store) and Redis (lock store), "
                    "each message to the next process",
                    [(f"{count} process{'es' if count > 1 else ''}",
                      await measure_scale(count, model, folder, messages)) for count in SCALE_PROCESSES],
                )
            elif mode == "broker":
                report_scale(
                    "event broker: 1 process on PostgreSQL and Redis, without and with publishing to RabbitMQ",
                    [(name, await measure_scale(1, model, folder, messages, broker=broker))
                     for name, broker in (("no event broker", False), ("RabbitMQ event broker", True))],
                )
            elif mode == "compiled":
                await compare_builds(model, folder, messages)
            else:
                report(await measure(mode, model, folder, messages))


if __name__ == "__main__":
    chosen = sys.argv[1:] or list(DEFAULT_MODES)
    unknown = [mode for mode in chosen if mode not in MODES]
    if unknown:
        sys.exit(f"unknown mode {unknown[0]!r}; choose from {', '.join(MODES)}")
    asyncio.run(main(chosen))
