"""The `event_broker` section of endpoints.yml: what it builds, the clear errors for bad values, and `bot run`
publishing the events of its turns and of its HTTP API (a real server process, a real RabbitMQ)."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import unused_port

from bot.brokers import create_event_broker
from bot.brokers.pika import DEFAULT_EXCHANGE, DEFAULT_QUEUE, PikaEventBroker
from bot.config import load_endpoints
from bot.errors import ConductorError
from tests.conftest import REPO_ROOT
from tests.process_helpers import json_request, wait_until_healthy

from .helpers import RABBITMQ_HOST, RABBITMQ_PORT, RABBITMQ_URL, Rabbit


def broker_from(tmp_path: Path, section: str) -> PikaEventBroker | None:
    path = tmp_path / "endpoints.yml"
    path.write_text(section)
    broker = create_event_broker(load_endpoints(path).event_broker, path)
    assert broker is None or isinstance(broker, PikaEventBroker)
    return broker


def test_no_section_means_no_broker(tmp_path: Path) -> None:
    assert broker_from(tmp_path, "tracker_store:\n  type: in_memory\n") is None


def test_a_rasa_pika_section_builds_the_broker(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                               caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setenv("RABBIT_PASSWORD", "rabbit-pw-4321")
    broker = broker_from(
        tmp_path,
        "event_broker:\n  type: pika\n  url: rabbit.internal\n  port: 5673\n  username: bot\n"
        "  password: ${RABBIT_PASSWORD}\n  queues:\n    - analytics\n    - archive\n  exchange_name: events\n"
        "  raise_on_failure: true\n  retry_delay_in_seconds: 2\n  connection_attempts: 20\n",
    )
    assert broker is not None
    assert broker.describe() == "RabbitMQ at rabbit.internal:5673"
    assert (broker.queues, broker.exchange_name) == (("analytics", "archive"), "events")
    assert (broker.raise_on_failure, broker.retry_delay_in_seconds) == (True, 2.0)
    # a Rasa key Conductor does not use is named, not silently dropped
    assert "does not use the key 'connection_attempts'" in caplog.text


def test_rasas_defaults_apply(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    broker = broker_from(tmp_path, "event_broker:\n  url: localhost\n  queues: one_queue\n")
    assert broker is not None
    assert (broker.queues, broker.exchange_name) == (("one_queue",), DEFAULT_EXCHANGE)
    assert broker.describe() == "RabbitMQ at localhost:5672"
    broker = broker_from(tmp_path, "event_broker:\n  type: pika\n  url: localhost\n")
    assert broker is not None and broker.queues == (DEFAULT_QUEUE,)
    assert f"events go to the queue '{DEFAULT_QUEUE}'" in caplog.text


def test_an_amqp_url_takes_the_place_of_host_and_port(tmp_path: Path) -> None:
    broker = broker_from(tmp_path, "event_broker:\n  url: amqps://bot:pw-in-url@rabbit.example.com/prod\n")
    assert broker is not None and broker.describe() == "RabbitMQ at rabbit.example.com:5671"
    assert "pw-in-url" not in broker.describe()


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        ("  port: lots\n", "'event_broker.port' should be a whole number, not the text 'lots'"),
        ("  queues: [analytics, '']\n", "'event_broker.queues[1]' string should have at least 1 character"),
        ("  retry_delay_in_seconds: -1\n", "'event_broker.retry_delay_in_seconds'"),
        ("  raise_on_failure: sometimes\n", "'event_broker.raise_on_failure' should be true or false"),
        ("  type: rabbit\n", "'event_broker.type' names the event broker type 'rabbit', which is neither built in"),
    ],
)
def test_bad_values_are_clear_errors_at_their_line(tmp_path: Path, lines: str, message: str) -> None:
    path = tmp_path / "endpoints.yml"
    path.write_text("event_broker:\n  url: localhost\n" + lines)
    with pytest.raises(ConductorError) as error:
        load_endpoints(path)
    [problem] = error.value.problems
    assert (problem.file, problem.line) == (str(path), 3)
    assert problem.message.startswith(message), problem.message


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ("  type: kafka\n", "the event broker type 'kafka' (Kafka) is not supported by Conductor"),
        ("  url: http://rabbit:15672/\n", "the event broker 'url' 'http://rabbit:15672/' is neither a host name"),
        ("  type: no_such_package.Broker\n", "the event broker type 'no_such_package.Broker' names the module"),
    ],
)
def test_brokers_that_cannot_be_built_are_clear_errors(tmp_path: Path, section: str, message: str) -> None:
    with pytest.raises(ConductorError) as error:
        broker_from(tmp_path, "event_broker:\n" + section)
    [problem] = error.value.problems
    assert problem.message.startswith(message), problem.message
    assert problem.file == str(tmp_path / "endpoints.yml") and problem.hint


def test_bot_run_reports_a_bad_broker_without_a_traceback(tmp_path: Path, dialogue_model: Path) -> None:
    endpoints = tmp_path / "endpoints.yml"
    endpoints.write_text("event_broker:\n  url: localhost\n  port: 99999\n")
    result = subprocess.run(
        [sys.executable, "-m", "bot.cli", "run", "--model", str(dialogue_model), "--endpoints", str(endpoints),
         "--port", str(unused_port()), "--interface", "127.0.0.1"],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=60,
    )
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert f"{endpoints}:3" in output and "'event_broker.port'" in output
    assert "Traceback" not in output


def _request(url: str, body: Any = None) -> Any:
    status, answer = json_request(url, body)
    assert status == 200, (status, answer)
    return answer


async def test_bot_run_publishes_what_its_turns_and_its_api_store(
    tmp_path: Path, dialogue_model: Path, rabbit: Rabbit
) -> None:
    endpoints = tmp_path / "endpoints.yml"
    endpoints.write_text(
        f"tracker_store:\n  type: sql\n  dialect: sqlite\n  db: {tmp_path / 'events.db'}\n"
        f"event_broker:\n  type: pika\n  url: {RABBITMQ_HOST}\n  port: {RABBITMQ_PORT}\n"
        f"  username: {RABBITMQ_URL.user or 'guest'}\n  password: ${{TEST_RABBIT_PASSWORD}}\n"
        f"  queues: [{rabbit.queues[0]}]\n  exchange_name: {rabbit.exchange}\n"
    )
    (tmp_path / "credentials.yml").write_text("rest:\n")
    port = unused_port()
    base = f"http://127.0.0.1:{port}"
    log = tmp_path / "server.log"
    environment = {**os.environ, "TEST_RABBIT_PASSWORD": RABBITMQ_URL.password or "guest"}
    with log.open("wb") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "bot.cli", "run", "--model", str(dialogue_model), "--endpoints",
             str(endpoints), "--credentials", str(tmp_path / "credentials.yml"), "--port", str(port),
             "--interface", "127.0.0.1", "--enable-api"],
            cwd=tmp_path, stdout=output, stderr=subprocess.STDOUT, env=environment,
        )
    try:
        await wait_until_healthy(base, processes=[process], logs=[log])
        await asyncio.to_thread(_request, f"{base}/webhooks/rest/webhook", {"sender": "hana", "message": "/greet"})
        await asyncio.to_thread(
            _request, f"{base}/conversations/hana/tracker/events", [{"event": "slot", "name": "x", "value": 1}]
        )
        tracker = await asyncio.to_thread(_request, f"{base}/conversations/hana/tracker")
        process.send_signal(signal.SIGTERM)
        assert await asyncio.to_thread(process.wait, 30) == 0, log.read_text()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)
    expected = [{"sender_id": "hana", **event} for event in tracker["events"]]
    assert expected[-1]["event"] == "slot"
    assert await rabbit.bodies(rabbit.queues[0], len(expected)) == expected
    await rabbit.assert_empty(rabbit.queues[0])
    assert "publishing conversation events to RabbitMQ" in log.read_text()


def test_the_broker_module_is_not_loaded_without_an_event_broker() -> None:
    code = "import sys, bot.server, bot.runtime; print('aio_pika' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True)
    assert result.stdout.strip() == "False", result.stderr

