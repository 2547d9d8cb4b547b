"""The server as its own process: it starts, answers, and on SIGTERM finishes the turns in flight, stores them
and exits with 0."""

from __future__ import annotations

import contextlib
import json
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import unused_port

from tests.conftest import REPO_ROOT
from tests.process_helpers import json_request, wait_until_healthy_sync

SLOW_SERVER = Path(__file__).with_name("slow_action_server.py")


@pytest.fixture
def project_files(tmp_path: Path) -> tuple[Path, Path, Path]:
    """endpoints.yml with a SQLite tracker store, credentials.yml with the rest channel, and the database."""
    database = tmp_path / "events.db"
    endpoints = tmp_path / "endpoints.yml"
    endpoints.write_text(f"tracker_store:\n  type: sql\n  dialect: sqlite\n  db: {database}\n")
    credentials = tmp_path / "credentials.yml"
    credentials.write_text("rest:\n")
    return endpoints, credentials, database


def _events(database: Path, sender: str) -> list[dict[str, Any]]:
    with sqlite3.connect(database) as connection:
        rows = connection.execute("SELECT data FROM events WHERE sender_id = ? ORDER BY id", (sender,))
        return [json.loads(row[0]) for row in rows]


@pytest.fixture
def slow_server(trained_model: Path, project_files: tuple[Path, Path, Path]) -> Iterator[tuple[Any, str, Path]]:
    endpoints, credentials, database = project_files
    port = unused_port()
    process = subprocess.Popen(
        [sys.executable, str(SLOW_SERVER), str(trained_model), str(endpoints), str(credentials), str(port)],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        yield process, f"http://127.0.0.1:{port}", database
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_sigterm_finishes_the_turn_in_flight_and_exits_0(slow_server: tuple[Any, str, Path]) -> None:
    process, base, database = slow_server
    wait_until_healthy_sync(base, processes=[process])
    assert json_request(f"{base}/webhooks/rest/webhook", {"sender": "p1", "message": "/greet"}) == (
        200,
        [{"recipient_id": "p1", "text": "Hey! How are you?"}],
    )
    answers: list[tuple[int, Any]] = []
    in_flight = threading.Thread(
        target=lambda: answers.append(json_request(f"{base}/conversations/p1/execute", {"name": "action_slow"}))
    )
    in_flight.start()
    time.sleep(0.3)
    process.send_signal(signal.SIGTERM)
    in_flight.join(15)
    status, body = answers[0]
    assert status == 200
    assert body["messages"] == [{"recipient_id": "p1", "text": "done slowly"}]
    assert process.wait(15) == 0
    events = _events(database, "p1")
    assert [e.get("name") for e in events if e["event"] == "action"][-1] == "action_slow"
    assert events[-1] == {**events[-1], "event": "bot", "text": "done slowly"}


def test_sigint_when_idle_exits_0(slow_server: tuple[Any, str, Path]) -> None:
    process, base, _ = slow_server
    wait_until_healthy_sync(base, processes=[process])
    process.send_signal(signal.SIGINT)
    assert process.wait(15) == 0
    output = process.stdout.read().decode()
    assert "Stopping" in output


RUN_FUNCTION = (
    "import sys; from bot.server import run; run(*sys.argv[1:4], port=int(sys.argv[4]), interface='127.0.0.1')"
)


@pytest.mark.parametrize("launcher", ["run()", "bot run"])
def test_the_server_answers_and_stops_on_sigterm_with_turns_in_flight(
    launcher: str, trained_model: Path, project_files: tuple[Path, Path, Path]
) -> None:
    endpoints, credentials, database = project_files
    port = unused_port()
    base = f"http://127.0.0.1:{port}"
    if launcher == "bot run":
        command = [sys.executable, "-m", "bot.cli", "run", "--model", str(trained_model), "--endpoints",
                   str(endpoints), "--credentials", str(credentials), "--port", str(port), "--interface", "127.0.0.1"]
    else:
        command = [sys.executable, "-c", RUN_FUNCTION, str(trained_model), str(endpoints), str(credentials), str(port)]
    process = subprocess.Popen(command, cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        wait_until_healthy_sync(base, processes=[process])
        answers: dict[str, tuple[int, Any]] = {}

        def converse(sender: str) -> None:
            with contextlib.suppress(OSError):  # a request sent after the server stopped listening fails
                answers[sender] = json_request(f"{base}/webhooks/rest/webhook", {"sender": sender, "message": "/greet"})

        threads = [threading.Thread(target=converse, args=(f"c{i}",)) for i in range(60)]
        for thread in threads:
            thread.start()
        while not answers:
            time.sleep(0.001)
        process.send_signal(signal.SIGTERM)
        for thread in threads:
            thread.join(15)
        assert process.wait(15) == 0
    finally:
        if process.poll() is None:
            process.kill()
    assert answers
    for sender, (status, replies) in answers.items():
        assert status == 200
        assert replies == [{"recipient_id": sender, "text": "Hey! How are you?"}]
        assert _events(database, sender)[-1]["name"] == "action_listen"


def test_bot_run_without_a_tracker_cache_reads_each_conversation_from_the_store(
    trained_model: Path, project_files: tuple[Path, Path, Path]
) -> None:
    """`--tracker-cache 0`: no conversation stays in memory between turns, so an event another writer stored
    in between is part of the next turn (with a cache, a sole server would not read the store again)."""
    endpoints, credentials, database = project_files
    port = unused_port()
    base = f"http://127.0.0.1:{port}"
    command = [sys.executable, "-m", "bot.cli", "run", "--model", str(trained_model), "--endpoints", str(endpoints),
               "--credentials", str(credentials), "--port", str(port), "--interface", "127.0.0.1", "--enable-api",
               "--tracker-cache", "0"]
    process = subprocess.Popen(command, cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        wait_until_healthy_sync(base, processes=[process])
        say = f"{base}/webhooks/rest/webhook"
        assert json_request(say, {"sender": "nc", "message": "/greet"})[1] == [
            {"recipient_id": "nc", "text": "Hey! How are you?"}
        ]
        with sqlite3.connect(database) as connection:
            (last,) = connection.execute("SELECT MAX(seq) FROM events WHERE sender_id = 'nc'").fetchone()
            connection.execute(
                "INSERT INTO events (sender_id, seq, type_name, timestamp, data) VALUES (?, ?, ?, ?, ?)",
                ("nc", last + 1, "bot", time.time(), json.dumps({"event": "bot", "text": "from another writer"})),
            )
        status, tracker = json_request(f"{base}/conversations/nc/tracker")
        assert status == 200
        assert tracker["latest_message"]["intent"]["name"] == "greet"
        assert "from another writer" in [event.get("text") for event in tracker["events"]]
        # the history read back still drives the dialogue: a sad mood, then "no", ends with a goodbye
        json_request(say, {"sender": "nc", "message": "/mood_unhappy"})
        assert json_request(say, {"sender": "nc", "message": "/deny"})[1] == [{"recipient_id": "nc", "text": "Bye"}]
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
