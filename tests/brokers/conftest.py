"""Fixtures of the event broker tests: the rasa-init bot's dialogue (messages are `/intent`), this test's own
exchange and queues on the test RabbitMQ, and runtimes that publish to a broker."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest

from bot.brokers.broker import EventBroker
from bot.model import load_model, train_model
from bot.project.loader import ProjectPaths, load_project
from bot.runtime import Runtime

from .helpers import Rabbit, require_rabbitmq

MakeRuntime = Callable[[EventBroker], Awaitable[Runtime]]


@pytest.fixture(scope="session")
def dialogue_model(tmp_path_factory: pytest.TempPathFactory, shared_data: Path) -> Path:
    project = load_project(ProjectPaths.discover(shared_data / "rasa-projects" / "rasa-init-3.6.21"))
    path, _ = train_model(project, tmp_path_factory.mktemp("models"), parts=("dialogue",))
    return path


@pytest.fixture
async def rabbit() -> AsyncIterator[Rabbit]:
    connection = await require_rabbitmq()
    run = uuid.uuid4().hex[:10]
    channel = await connection.channel()
    yield Rabbit(connection, channel, f"test-{run}", [f"test_{run}_a", f"test_{run}_b"])
    cleanup = await connection.channel()
    for queue in (f"test_{run}_a", f"test_{run}_b"):
        await cleanup.queue_delete(queue)
    await cleanup.exchange_delete(f"test-{run}")
    await connection.close()


@pytest.fixture
async def make_runtime(dialogue_model: Path) -> AsyncIterator[MakeRuntime]:
    """`await make_runtime(broker)`: a started runtime (stores in memory) that publishes to `broker`."""
    started: list[Runtime] = []

    async def make(broker: EventBroker) -> Runtime:
        runtime = Runtime(load_model(dialogue_model), event_broker=broker)
        await runtime.start()
        started.append(runtime)
        return runtime

    yield make
    for runtime in started:
        await runtime.close()
