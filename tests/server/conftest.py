"""Fixtures of the server tests: the rasa-init bot trained once per session, and servers on aiohttp's test
server with a real SQLite tracker store."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from server_helpers import Served, StartServer, nlu_available, slow_actions

from bot.dialogue.actions import ActionRegistry
from bot.model import load_model, train_model
from bot.project.loader import ProjectPaths, load_project
from bot.runtime import Runtime
from bot.server import create_app
from bot.stores.lock_store import InMemoryLockStore, LockStore
from bot.stores.sql import SQLTrackerStore
from bot.stores.tracker_store import TrackerStore


@pytest.fixture(scope="session")
def trained_model(tmp_path_factory: pytest.TempPathFactory, shared_data: Path) -> Path:
    """The rasa-init bot, trained once (with NLU when the pipeline exists; messages are `/intent` otherwise)."""
    project = load_project(ProjectPaths.discover(shared_data / "rasa-projects" / "rasa-init-3.6.21"))
    parts = ("nlu", "dialogue") if nlu_available() else ("dialogue",)
    path, _ = train_model(project, tmp_path_factory.mktemp("models"), parts=parts)
    return path


@pytest.fixture
async def start_server(trained_model: Path, tmp_path: Path) -> AsyncIterator[StartServer]:
    """Starts servers: `await start_server(enable_api=True, ...)` (the keyword arguments go to create_app;
    `store=`, `lock_store=` and `actions=` to the runtime). The default store is SQLite in tmp_path."""
    clients: list[TestClient[Any, Any]] = []

    async def start(
        *,
        store: TrackerStore | None = None,
        lock_store: LockStore | None = None,
        actions: ActionRegistry | None = None,
        **options: Any,
    ) -> Served:
        tracker_store = store or SQLTrackerStore(f"sqlite:///{tmp_path / f'events{len(clients)}.db'}")
        runtime = Runtime(load_model(trained_model), tracker_store, lock_store or InMemoryLockStore(), actions)
        client = TestClient(TestServer(create_app(runtime, **options)))
        await client.start_server()
        clients.append(client)
        return Served(client, runtime, tracker_store)

    yield start
    for client in clients:
        await client.close()


@pytest.fixture
async def api(start_server: StartServer) -> Served:
    """A server with the HTTP API open (no auth) and the slow action registered."""
    return await start_server(enable_api=True, actions=slow_actions())
