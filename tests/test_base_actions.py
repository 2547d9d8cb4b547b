"""The base assistant's handoff: the bot answers, then stays quiet until a person resumes the conversation."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.dialogue.events import ConversationResumed
from bot.model import LoadedModel, load_model, train_model
from bot.plugins import build_action_registry, load_project_with_plugins
from bot.project.loader import ProjectPaths
from bot.runtime import Runtime
from channels.base import UserMessage
from tests.conftest import REPO_ROOT


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> LoadedModel:
    project = load_project_with_plugins(ProjectPaths.discover(REPO_ROOT / "domain"))
    path, _ = train_model(project, tmp_path_factory.mktemp("models"), parts=("dialogue",))
    return load_model(path)


@pytest.fixture
async def runtime(model: LoadedModel) -> AsyncIterator[Runtime]:
    """A runtime per test, closed afterwards (its actions' HTTP session belongs to the test's event loop)."""
    running = Runtime(model, actions=build_action_registry(model))
    yield running
    await running.close()


async def test_handoff_pauses_until_a_person_resumes(runtime: Runtime) -> None:
    first = await runtime.handle_message(UserMessage("/human_handoff", "visitor", "rest"))
    assert first.replies, "the bot explains the handoff before going quiet"
    tracker = await runtime.tracker("visitor")
    assert tracker.is_paused
    quiet = await runtime.handle_message(UserMessage("/greet", "visitor", "rest"))
    assert quiet.replies == []
    await runtime.append_events("visitor", [ConversationResumed()])
    again = await runtime.handle_message(UserMessage("/greet", "visitor", "rest"))
    assert again.replies


def test_base_actions_are_provided_only_when_missing(runtime: Runtime) -> None:
    assert "action_handoff" in runtime.actions
    assert Path(runtime.model.path).exists()
