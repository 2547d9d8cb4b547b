"""Helpers of the tests that start servers or reach the test's service servers: waiting until a server answers
/health, and endpoints.yml for the test PostgreSQL and Redis servers (with the cleanup of what a test stored).

The service servers are found at CONDUCTOR_TEST_POSTGRES_URL (default postgresql://postgres@127.0.0.1:5432/test)
and CONDUCTOR_TEST_REDIS_URL (default redis://127.0.0.1:6379/0).
"""

from __future__ import annotations

import asyncio
import http.client
import json
import os
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import redis.asyncio as redis

from bot.config import load_endpoints
from bot.stores import create_tracker_store

POSTGRES = urlsplit(os.environ.get("CONDUCTOR_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"))
REDIS = urlsplit(os.environ.get("CONDUCTOR_TEST_REDIS_URL", "redis://127.0.0.1:6379/0"))

POLL_SECONDS = 0.05
OUTPUT_TAIL = 5000
"""How much of a server's output (its end) a failure shows."""

_direct = urllib.request.build_opener(urllib.request.ProxyHandler({}))


# --- talking to a local server ---------------------------------------------------------------------------------


def open_local(
    request: str | urllib.request.Request, *, timeout: float, context: ssl.SSLContext | None = None
) -> Any:
    """`urllib.request.urlopen` for the test's own servers: never through a proxy that the environment names
    (`HTTP_PROXY`, which a machine may set for its package registries), and HTTPS verified with `context`."""
    if context is None:
        return _direct.open(request, timeout=timeout)
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}), urllib.request.HTTPSHandler(context=context))
    return opener.open(request, timeout=timeout)


def json_request(url: str, body: Any = None, *, context: ssl.SSLContext | None = None) -> tuple[int, Any]:
    """POST `body` as JSON to a local server (GET without one): the status and the JSON answer, error statuses
    included (None for an empty body)."""
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    try:
        with open_local(request, timeout=15, context=context) as response:
            return int(response.status), json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null")


# --- waiting for a server --------------------------------------------------------------------------------------


def wait_until_healthy_sync(
    *bases: str,
    processes: Sequence[subprocess.Popen[bytes]] = (),
    logs: Sequence[Path] = (),
    timeout: float = 30,
    path: str = "/health",
) -> None:
    """Wait until the server at each base URL (`http://127.0.0.1:8000`) answers GET `path` with 200, all within
    `timeout` seconds; an AssertionError otherwise.

    `processes` and `logs`, when given, hold one entry per base URL: the process serving it, whose exit fails the
    wait at once, and the file it writes its output to, shown on failure. Without a log file, what the process
    piped to its stdout is shown once it has exited.
    """
    for name, given in (("processes", processes), ("logs", logs)):
        if given and len(given) != len(bases):
            raise ValueError(f"wait_until_healthy: {len(given)} {name} for {len(bases)} base URLs; give one each")
    deadline = time.monotonic() + timeout
    for index, base in enumerate(bases):
        process = processes[index] if processes else None
        log = logs[index] if logs else None
        while not _answers(f"{base}{path}"):
            if process is not None and process.poll() is not None:
                raise AssertionError(
                    f"the server at {base} exited with {process.returncode} before it answered {path}:\n"
                    f"{_output(process, log)}"
                )
            if time.monotonic() >= deadline:
                raise AssertionError(
                    f"the server at {base} did not answer {path} with 200 within {timeout:g} s:\n"
                    f"{_output(process, log)}"
                )
            time.sleep(POLL_SECONDS)


async def wait_until_healthy(
    *bases: str,
    processes: Sequence[subprocess.Popen[bytes]] = (),
    logs: Sequence[Path] = (),
    timeout: float = 30,
    path: str = "/health",
) -> None:
    """`wait_until_healthy_sync` for async tests: it polls from a worker thread, so the event loop (which may be
    running the server itself) stays free."""
    await asyncio.to_thread(
        wait_until_healthy_sync, *bases, processes=processes, logs=logs, timeout=timeout, path=path
    )


def _answers(url: str) -> bool:
    try:
        with _direct.open(url, timeout=1) as response:
            return bool(response.status == 200)
    except (OSError, http.client.HTTPException):  # not listening yet, cut off, timed out, or an error status
        return False


def _output(process: subprocess.Popen[bytes] | None, log: Path | None) -> str:
    if log is not None:
        text = log.read_text(errors="replace")
    elif process is not None and process.stdout is not None and process.poll() is not None:
        text = process.stdout.read().decode(errors="replace")
    else:
        return "(no output to show)"
    return text[-OUTPUT_TAIL:]


# --- the test PostgreSQL and Redis servers ---------------------------------------------------------------------


def redis_client() -> redis.Redis:
    """A client of the test Redis server."""
    return redis.Redis(host=REDIS.hostname or "127.0.0.1", port=REDIS.port or 6379,
                       db=int(REDIS.path.strip("/") or 0))


def store_endpoints(folder: Path, tracker_store: str, run: str) -> Path:
    """`folder`/endpoints.yml with the tracker store `tracker_store` ("postgresql" or "redis") and the Redis lock
    store on the test servers, their Redis keys prefixed `test<run>`. `remove_run` removes the run's data."""
    prefix = f"test{run}"
    redis_keys = f"  url: {REDIS.hostname}\n  port: {REDIS.port or 6379}\n  db: {REDIS.path.strip('/') or 0}\n"
    stores = {
        "postgresql": (
            "tracker_store:\n  type: sql\n  dialect: postgresql\n"
            f"  url: {POSTGRES.hostname}\n  port: {POSTGRES.port or 5432}\n  db: {POSTGRES.path.strip('/')}\n"
            f"  username: {POSTGRES.username}\n" + (f"  password: {POSTGRES.password}\n" if POSTGRES.password else "")
        ),
        "redis": f"tracker_store:\n  type: redis\n{redis_keys}  key_prefix: {prefix}tracker\n",
    }[tracker_store]
    path = folder / "endpoints.yml"
    path.write_text(stores + f"lock_store:\n  type: redis\n{redis_keys}  key_prefix: {prefix}lock\n")
    return path


async def remove_run(run: str, endpoints: Path) -> None:
    """Remove what a test stored through `store_endpoints(..., run)`: the conversations whose ids start with
    `run`, and the Redis keys of the run."""
    store = create_tracker_store(load_endpoints(endpoints).tracker_store, endpoints)
    async with store:
        for key in await store.keys():
            if key.startswith(run):
                await store.delete(key)
    client = redis_client()
    keys = [key async for key in client.scan_iter(match=f"test{run}*")]
    if keys:
        await client.delete(*keys)
    await client.aclose()


def run_bot(*args: str, cwd: Path, typed: str | None = None) -> subprocess.CompletedProcess[str]:
    """Run the real console entry point in a subprocess, as a user would (`typed`: what they type at its
    prompts, lines ending in newlines)."""
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", *args], cwd=cwd, input=typed, capture_output=True, text=True, timeout=120
    )


def train_and_test_stories(project: Path, out: Path) -> dict[str, Any]:
    """`bot train`, then `bot test --fail-on-prediction-errors --out out` in `project`, as a user would; both
    must succeed. Returns the story report."""
    trained = run_bot("train", cwd=project)
    assert trained.returncode == 0, trained.stdout + trained.stderr
    tested = run_bot("test", "--fail-on-prediction-errors", "--out", str(out), cwd=project)
    assert tested.returncode == 0, tested.stdout + tested.stderr
    report: dict[str, Any] = json.loads((out / "story_report.json").read_text())
    return report
