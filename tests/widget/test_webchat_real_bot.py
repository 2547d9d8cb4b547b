"""The web chat widget in a real headless Chromium against the real server and bot: `bot.server`'s application
with the WebSocket and REST channels, the base assistant of `domain/` trained once for this module, and a
SQLite tracker store, so a conversation typed in the browser ends up stored under the widget's session id."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from aiohttp import web
from playwright.async_api import Page, expect

from bot.config import TrackerStoreSettings
from bot.dialogue.events import BotUttered, UserUttered
from bot.model import LoadedModel, load_model, train_model
from bot.plugins import load_project_with_plugins
from bot.project.loader import ProjectPaths
from bot.runtime import Runtime
from bot.server import create_app
from bot.stores import create_tracker_store
from channels.base import OnNewMessage
from channels.rest import RestInput
from channels.websocket import WebSocketInput

from .webchat_server import AppFactory, WebchatServer

REPO_ROOT = Path(__file__).resolve().parents[2]
BOT = ".cw-msg--bot .cw-bubble"
USER = ".cw-msg--user .cw-bubble"


@pytest.fixture(scope="module")
def base_assistant(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The repo's base assistant, trained once for this module (NLU and dialogue)."""
    project = load_project_with_plugins(ProjectPaths.discover(REPO_ROOT / "domain"))
    path, _ = train_model(project, tmp_path_factory.mktemp("models"), parts=("nlu", "dialogue"))
    return path


@pytest.fixture
def model(base_assistant: Path) -> LoadedModel:
    return load_model(base_assistant)


@pytest.fixture
def store_settings(tmp_path: Path) -> TrackerStoreSettings:
    return TrackerStoreSettings(type="sql", dialect="sqlite", db=str(tmp_path / "conversations.db"))


@pytest.fixture
def webchat_app_factory(model: LoadedModel, store_settings: TrackerStoreSettings) -> AppFactory:
    """The real server's application; the conftest's stand-in bot (`on_new_message`) is not used."""

    def build(_: OnNewMessage) -> web.Application:
        runtime = Runtime(model, create_tracker_store(store_settings))
        return create_app(runtime, channels=[RestInput(), WebSocketInput()])

    return build


def any_of(texts: list[str]) -> re.Pattern[str]:
    return re.compile("^Assistant: (?:" + "|".join(re.escape(text) for text in texts) + ")$")


def response_texts(model: LoadedModel, name: str) -> list[str]:
    texts = [variation.text for variation in model.domain.responses[name] if variation.text]
    assert texts, f"the domain's {name} has no text"
    return texts


async def say(page: Page, text: str) -> None:
    await page.get_by_label("Message").fill(text)
    await page.get_by_label("Message").press("Enter")


async def test_a_conversation_with_the_real_bot_is_stored_under_the_widgets_session(
    page: Page, webchat_server: WebchatServer, model: LoadedModel, store_settings: TrackerStoreSettings,
    tmp_path: Path,
) -> None:
    greetings = response_texts(model, "utter_greet")
    bot_answers = response_texts(model, "utter_i_am_a_bot")
    await page.goto(webchat_server.url + "/")
    await expect(page.locator("#conductor-webchat")).to_have_attribute("data-connection", "open")

    await say(page, "hello")
    await expect(page.locator(BOT)).to_have_text([any_of(greetings)])
    await say(page, "are you a bot?")
    await expect(page.locator(BOT)).to_have_text([any_of(greetings), any_of(bot_answers)])
    await expect(page.locator(USER)).to_have_text(["You: hello", "You: are you a bot?"])

    await expect(page.locator(".cw-typing")).to_be_hidden()
    shot = tmp_path / "real-bot.png"
    await page.screenshot(path=str(shot))
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 1000

    raw = await page.evaluate("key => localStorage.getItem(key)", f"conductor-webchat:{webchat_server.url}")
    session_id = json.loads(raw)["sessionId"]
    store = create_tracker_store(store_settings)  # a second connection: what reached the database
    async with store:
        events = await store.retrieve(session_id)
        assert await store.keys() == [session_id]
    assert events is not None
    user_turns = [e for e in events if isinstance(e, UserUttered)]
    assert [(e.text, e.intent_name, e.input_channel) for e in user_turns] == [
        ("hello", "greet", "websocket"),
        ("are you a bot?", "bot_challenge", "websocket"),
    ]
    bot_texts = [e.text for e in events if isinstance(e, BotUttered)]
    assert len(bot_texts) == 2 and bot_texts[0] in greetings and bot_texts[1] in bot_answers
