"""Fixtures for the web chat widget's browser tests: the server of webchat_server.py, and a real headless
Chromium (Debian's `chromium` package) driven by Playwright.

The application comes from the `webchat_app_factory` fixture: `(on_new_message) -> web.Application`. Override
it (e.g. in an end-to-end module in this folder) with a factory that builds `bot.server`'s application to run
the same scenarios against the real server and bot.

One browser serves every test of a module (starting Chromium takes about two seconds); each test gets a fresh
profile. The tests of this folder therefore run in one event loop per module, as the browser's connection
belongs to the loop that started it.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from playwright.async_api import Browser, Page, async_playwright

from .webchat_server import CHROMIUM, CHROMIUM_ARGS, AppFactory, EchoBot, WebchatServer, build_webchat_app

HERE = Path(__file__).resolve().parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if pytest_asyncio.is_async_test(item) and HERE in item.path.parents:
            item.add_marker(pytest.mark.asyncio(loop_scope="module"), append=False)


@pytest.fixture
def webchat_app_factory() -> AppFactory:
    return build_webchat_app


@pytest.fixture
def echo_bot() -> EchoBot:
    return EchoBot()


@pytest_asyncio.fixture(loop_scope="module")
async def webchat_server(webchat_app_factory: AppFactory, echo_bot: EchoBot) -> AsyncIterator[WebchatServer]:
    server = WebchatServer(webchat_app_factory, echo_bot)
    await server.start()
    yield server
    await server.stop()


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def browser() -> AsyncIterator[Browser]:
    if not CHROMIUM.exists():
        message = f"the browser tests need Chromium at {CHROMIUM}: apt-get install -y chromium"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield launched
        await launched.close()


@pytest_asyncio.fixture(loop_scope="module")
async def page(browser: Browser) -> AsyncIterator[Page]:
    """A fresh browser profile (empty storage) with a desktop-sized window; fails the test on a script error."""
    context = await browser.new_context(viewport={"width": 1000, "height": 760})
    page = await context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    yield page
    await context.close()
    assert not errors, f"the page raised script errors: {errors}"
