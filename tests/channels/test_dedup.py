"""Redeliveries across processes: with a Redis lock store, two channel instances (as two server processes would
have, each with its own Redis client) share one record of what was received, so a Slack event or a Telegram
update delivered to both is handled once; Redis being down never drops a message.

The channels run against the local stand-ins of Slack and Telegram; the Redis server is the real one.
"""

from __future__ import annotations

import asyncio
import json
import logging
import signal
import sqlite3
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as redis
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer, unused_port
from telegram_api_standin import TelegramApiStandin

from bot.config import LockStoreSettings, load_credentials, load_endpoints
from bot.model import train_model
from bot.project.loader import ProjectPaths, load_project
from channels.base import UserMessage
from channels.dedup import RedisSeenRecord, share_redeliveries
from channels.telegram import SECRET_HEADER, TelegramInput
from tests.channels.slack_api_standin import (
    BOT_TOKEN,
    DM_CHANNEL,
    SIGNING_SECRET,
    SlackStandIn,
    message_event,
)
from tests.channels.test_slack import RunningChannel, ScriptedBot, running_channel
from tests.conftest import REPO_ROOT
from tests.process_helpers import REDIS, redis_client, wait_until_healthy

TELEGRAM_TOKEN = "123456789:AAHc0nductor-stand-in_token-for-tests"
TELEGRAM_SECRET = "conductor-dedup-secret_1"


@dataclass
class RedisLockStore:
    """endpoints.yml's `lock_store` on the test Redis, with a key prefix of its own for this test."""

    settings: LockStoreSettings
    path: Path
    prefix: str
    client: redis.Redis

    async def keys(self) -> dict[str, int]:
        """This test's keys with their time to live."""
        return {key.decode(): await self.client.ttl(key) async for key in self.client.scan_iter(f"{self.prefix}*")}


@pytest.fixture
async def lock_store(tmp_path: Path) -> AsyncIterator[RedisLockStore]:
    prefix = f"test{uuid.uuid4().hex[:10]}"
    path = tmp_path / "endpoints.yml"
    path.write_text(
        f"lock_store:\n  type: redis\n  url: {REDIS.hostname}\n  port: {REDIS.port or 6379}\n"
        f"  db: {REDIS.path.strip('/') or 0}\n  key_prefix: {prefix}\n"
    )
    settings = load_endpoints(path).lock_store
    assert settings is not None
    client = redis_client()
    await client.ping()  # the test needs the Redis server: it fails here when it is not running
    found = RedisLockStore(settings, path, prefix, client)
    yield found
    keys = list(await found.keys())
    if keys:
        await client.delete(*keys)
    await client.aclose()


def _unreachable_redis(tmp_path: Path) -> LockStoreSettings:
    path = tmp_path / "endpoints-down.yml"
    path.write_text(f"lock_store:\n  type: redis\n  url: 127.0.0.1\n  port: {unused_port()}\n  key_prefix: down\n")
    settings = load_endpoints(path).lock_store
    assert settings is not None
    return settings


# --- Slack --------------------------------------------------------------------------------------------------


async def _finish(*running: RunningChannel) -> None:
    for each in running:
        await each.channel.finish_turns(5)


async def test_a_slack_event_delivered_to_two_processes_makes_one_turn(
    standin: SlackStandIn, lock_store: RedisLockStore
) -> None:
    bot = ScriptedBot()
    async with running_channel(standin, bot) as first, running_channel(standin, bot) as second:
        records = [share_redeliveries([running.channel], lock_store.settings, lock_store.path)
                   for running in (first, second)]
        envelope = message_event("hi", event_id="Ev0CROSSPROC1", ts="1700000100.000100")
        answers = await asyncio.gather(
            standin.deliver_event(first.webhook_url, envelope),
            standin.deliver_event(second.webhook_url, envelope, retry_num=1, retry_reason="http_error"),
        )
        await _finish(first, second)
        assert [answer.status for answer in answers] == [200, 200]
        assert [m.text for m in bot.received] == ["hi"]
        assert len(standin.posted) == 1

        later = message_event("menu", event_id="Ev0CROSSPROC2", ts="1700000101.000100")
        await standin.deliver_event(second.webhook_url, later)
        await standin.deliver_event(first.webhook_url, later, retry_num=2, retry_reason="http_error")
        await _finish(first, second)
        assert [m.text for m in bot.received] == ["hi", "menu"]
        for record in records:
            assert record is not None
            await record.close()
    keys = await lock_store.keys()
    prefix = f"{lock_store.prefix}:seen:slack:"
    assert set(keys) == {
        f"{prefix}event:Ev0CROSSPROC1", f"{prefix}message:{DM_CHANNEL}:1700000100.000100",
        f"{prefix}event:Ev0CROSSPROC2", f"{prefix}message:{DM_CHANNEL}:1700000101.000100",
    }
    assert all(0 < ttl <= 3600 for ttl in keys.values())


async def test_without_a_redis_lock_store_each_process_keeps_its_own_record(standin: SlackStandIn) -> None:
    bot = ScriptedBot()
    async with running_channel(standin, bot) as first, running_channel(standin, bot) as second:
        assert share_redeliveries([first.channel, second.channel], LockStoreSettings()) is None
        envelope = message_event("hi", event_id="Ev0LOCALONLY1")
        await standin.deliver_event(first.webhook_url, envelope)
        await standin.deliver_event(first.webhook_url, envelope, retry_num=1, retry_reason="http_error")
        await standin.deliver_event(second.webhook_url, envelope, retry_num=2, retry_reason="http_error")
        await _finish(first, second)
    assert [m.text for m in bot.received] == ["hi", "hi"]  # once per process


async def test_slack_with_redis_down_handles_every_event_and_warns_once(
    standin: SlackStandIn, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    bot = ScriptedBot()
    async with running_channel(standin, bot) as slack:
        record = share_redeliveries([slack.channel], _unreachable_redis(tmp_path))
        assert record is not None
        with caplog.at_level(logging.WARNING, logger="channels.dedup"):
            await standin.deliver_event(slack.webhook_url, message_event("hi", event_id="Ev0DOWN1"))
            await standin.deliver_event(slack.webhook_url, message_event("menu", event_id="Ev0DOWN2"))
            await standin.deliver_event(slack.webhook_url, message_event("hi", event_id="Ev0DOWN1"), retry_num=1,
                                        retry_reason="http_error")
            await slack.channel.finish_turns(10)
        await record.close()
    assert sorted(m.text or "" for m in bot.received) == ["hi", "menu"]  # the retry to this process is dropped
    warnings = [r.getMessage() for r in caplog.records if r.name == "channels.dedup"]
    assert len(warnings) == 1
    assert warnings[0].startswith("Could not check the Redis server at 127.0.0.1:")


# --- Telegram -----------------------------------------------------------------------------------------------


@dataclass
class TelegramProcess:
    """One Telegram channel in webhook mode, its routes served as the server serves them."""

    channel: TelegramInput
    client: TestClient[web.Request, web.Application]
    received: list[UserMessage]

    async def deliver(self, update: dict[str, Any]) -> int:
        response = await self.client.post(
            "/webhooks/telegram/webhook", json=update, headers={SECRET_HEADER: TELEGRAM_SECRET}
        )
        return response.status


@pytest.fixture
async def telegram_api() -> AsyncIterator[TelegramApiStandin]:
    async with TelegramApiStandin(TELEGRAM_TOKEN) as standin:
        yield standin


@pytest.fixture
async def telegram_processes(
    telegram_api: TelegramApiStandin, tmp_path: Path
) -> AsyncIterator[list[TelegramProcess]]:
    started: list[TelegramProcess] = []
    for number in range(2):
        port = unused_port()
        credentials = tmp_path / f"credentials-{number}.yml"
        credentials.write_text(
            f"telegram:\n  access_token: '{TELEGRAM_TOKEN}'\n  base_url: '{telegram_api.base_url}'\n"
            f"  webhook_url: 'http://127.0.0.1:{port}/webhooks/telegram/webhook'\n"
            f"  secret_token: '{TELEGRAM_SECRET}'\n"
        )
        channel = TelegramInput.from_credentials(load_credentials(credentials)["telegram"])
        received: list[UserMessage] = []

        async def handle(message: UserMessage, received: list[UserMessage] = received) -> None:
            received.append(message)
            await message.output_channel.send_response(message.sender_id, {"text": f"got {message.text}"})

        routes = web.Application()
        routes.add_routes(channel.routes(handle))
        app = web.Application()
        app.add_subapp("/webhooks/telegram/", routes)
        client = TestClient(TestServer(app, host="127.0.0.1", port=port))
        await client.start_server()
        await channel.initialize()
        await channel.start(handle)
        started.append(TelegramProcess(channel, client, received))
    yield started
    for process in started:
        await process.channel.stop()
        await process.channel.shutdown()
        await process.client.close()


async def test_a_telegram_update_delivered_to_two_processes_makes_one_turn(
    telegram_api: TelegramApiStandin, telegram_processes: list[TelegramProcess], lock_store: RedisLockStore
) -> None:
    records = [share_redeliveries([process.channel], lock_store.settings, lock_store.path)
               for process in telegram_processes]
    first, second = telegram_processes
    update = telegram_api.message_update("hello")
    assert list(await asyncio.gather(first.deliver(update), second.deliver(update))) == [200, 200]
    assert await second.deliver(update) == 200
    other = telegram_api.message_update("again")
    assert await second.deliver(other) == 200
    assert await first.deliver(other) == 200
    assert sorted(m.text or "" for m in [*first.received, *second.received]) == ["again", "hello"]
    assert len(telegram_api.calls_to("sendMessage")) == 2
    keys = await lock_store.keys()
    assert sorted(keys) == sorted(
        f"{lock_store.prefix}:seen:telegram:{telegram_api.bot_user['id']}:{u['update_id']}" for u in (update, other)
    )
    for record in records:
        assert isinstance(record, RedisSeenRecord)
        await record.close()


async def test_telegram_with_redis_down_handles_the_update(
    telegram_api: TelegramApiStandin, telegram_processes: list[TelegramProcess], tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    process = telegram_processes[0]
    record = share_redeliveries([process.channel], _unreachable_redis(tmp_path))
    assert record is not None
    update = telegram_api.message_update("hello")
    with caplog.at_level(logging.WARNING, logger="channels.dedup"):
        assert await process.deliver(update) == 200
        assert await process.deliver(update) == 200
    await record.close()
    assert [m.text for m in process.received] == ["hello"]
    assert [r.levelno for r in caplog.records if r.name == "channels.dedup"] == [logging.WARNING]


# --- two `bot run` processes behind one proxy -----------------------------------------------------------------


@pytest.fixture(scope="module")
def greeting_model(tmp_path_factory: pytest.TempPathFactory, shared_data: Path) -> Path:
    """The rasa-init bot without NLU (messages are `/intent` payloads): a second to train."""
    project = load_project(ProjectPaths.discover(shared_data / "rasa-projects" / "rasa-init-3.6.21"))
    path, _ = train_model(project, tmp_path_factory.mktemp("models"), parts=("dialogue",))
    return path


async def test_two_bot_run_processes_sharing_redis_answer_a_redelivered_slack_event_once(
    standin: SlackStandIn, lock_store: RedisLockStore, greeting_model: Path, tmp_path: Path
) -> None:
    database = tmp_path / "events.db"
    endpoints = tmp_path / "endpoints-run.yml"
    store = f"tracker_store:\n  type: sql\n  dialect: sqlite\n  db: {database}\n"
    endpoints.write_text(lock_store.path.read_text() + store)
    credentials = tmp_path / "credentials.yml"
    credentials.write_text(
        f"slack:\n  slack_token: {BOT_TOKEN}\n  slack_signing_secret: {SIGNING_SECRET}\n  api_url: {standin.api_url}\n"
    )
    processes: list[tuple[subprocess.Popen[bytes], str, Path]] = []
    try:
        for number in range(2):
            port, log = unused_port(), tmp_path / f"server-{number}.log"
            with log.open("wb") as output:
                process = subprocess.Popen(
                    [sys.executable, "-m", "bot.cli", "run", "--model", str(greeting_model), "--endpoints",
                     str(endpoints), "--credentials", str(credentials), "--port", str(port), "--interface",
                     "127.0.0.1"],
                    cwd=REPO_ROOT, stdout=output, stderr=subprocess.STDOUT,
                )
            processes.append((process, f"http://127.0.0.1:{port}", log))
        for process, base, log in processes:
            await wait_until_healthy(base, processes=[process], logs=[log])
        envelope = message_event("/greet", event_id="Ev0TWOSERVERS1", ts="1700000200.000100")
        (_, first, _), (_, second, _) = processes
        answers = await asyncio.gather(
            standin.deliver_event(f"{first}/webhooks/slack/webhook", envelope),
            standin.deliver_event(f"{second}/webhooks/slack/webhook", envelope, retry_num=1,
                                  retry_reason="http_error"),
        )
        assert [answer.status for answer in answers] == [200, 200]
        await standin.wait_for_posts(1, timeout=15)
        for process, _, _ in processes:
            process.send_signal(signal.SIGTERM)
        for process, _, log in processes:
            assert process.wait(30) == 0, log.read_text(errors="replace")
    finally:
        for process, _, _ in processes:
            if process.poll() is None:
                process.kill()
                process.wait()
    assert [posted.args.get("text") for posted in standin.posted] == ["Hey! How are you?"]
    with sqlite3.connect(database) as connection:
        events = [json.loads(row[0]) for row in connection.execute("SELECT data FROM events ORDER BY id")]
    assert [event["text"] for event in events if event["event"] == "user"] == ["/greet"]
    for _, _, log in processes:
        assert "Traceback" not in log.read_text(errors="replace")
