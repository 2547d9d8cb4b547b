"""The web chat widget in a real headless Chromium, talking to a real server over the WebSocket channel (or the
REST channel when the socket is unavailable). The server is in webchat_server.py, the fixtures in conftest.py."""

from __future__ import annotations

import asyncio
import json
import struct
from pathlib import Path

import numpy as np
import pytest
from aiohttp import web
from PIL import Image
from playwright.async_api import Browser, Page, expect

from channels.base import OnNewMessage

from .webchat_server import AppFactory, EchoBot, WebchatServer, build_webchat_app, serve_page

USER = ".cw-msg--user .cw-bubble"
BOT = ".cw-msg--bot .cw-bubble"


async def open_chat(page: Page, server: WebchatServer) -> None:
    await page.goto(server.url + "/")
    await expect(page.locator("#conductor-webchat")).to_have_attribute("data-connection", "open")


async def say(page: Page, text: str) -> None:
    await page.get_by_label("Message").fill(text)
    await page.get_by_label("Message").press("Enter")


async def stored(page: Page, server: WebchatServer) -> dict[str, object]:
    raw = await page.evaluate("key => localStorage.getItem(key)", f"conductor-webchat:{server.url}")
    assert raw is not None, "the widget stored nothing"
    record = json.loads(raw)
    assert isinstance(record, dict)
    return record


async def test_a_message_gets_its_reply(page: Page, webchat_server: WebchatServer, echo_bot: EchoBot) -> None:
    await open_chat(page, webchat_server)
    await expect(page.get_by_role("heading", name="Assistant")).to_be_visible()
    await expect(page.get_by_label("Message")).to_be_focused()

    await say(page, "hello there")

    await expect(page.locator(USER)).to_have_text(["You: hello there"])
    await expect(page.locator(BOT)).to_have_text(["Assistant: echo: hello there"])
    assert echo_bot.texts() == ["hello there"]
    assert echo_bot.received[0].input_channel == "websocket"
    assert echo_bot.received[0].sender_id == (await stored(page, webchat_server))["sessionId"]


async def test_the_typing_indicator_shows_while_the_bot_works(page: Page, webchat_server: WebchatServer) -> None:
    await open_chat(page, webchat_server)
    typing = page.locator(".cw-typing")
    await expect(typing).to_be_hidden()

    await say(page, "slow")

    await expect(typing).to_be_visible()
    await expect(page.get_by_role("status").filter(has_text="The assistant is typing")).to_be_attached()
    await expect(page.locator(BOT)).to_have_text(["Assistant: Sorry for the wait!"])
    await expect(typing).to_be_hidden()


async def test_a_button_sends_its_payload_and_shows_its_title(
    page: Page, webchat_server: WebchatServer, echo_bot: EchoBot
) -> None:
    await open_chat(page, webchat_server)
    await say(page, "buttons")
    red = page.get_by_role("button", name="Red")
    await expect(red).to_be_visible()

    await red.click()

    await expect(page.locator(USER)).to_have_text(["You: buttons", "You: Red"])
    await expect(page.locator(BOT).last).to_have_text("Assistant: You picked red.")
    assert echo_bot.texts() == ["buttons", '/pick{"colour": "red"}']
    await expect(red).to_be_disabled()
    await expect(page.get_by_role("button", name="Blue")).to_be_disabled()
    await expect(page.get_by_label("Message")).to_be_focused()


async def test_an_image_is_shown(page: Page, webchat_server: WebchatServer) -> None:
    await open_chat(page, webchat_server)
    await say(page, "image")

    picture = page.get_by_role("img", name="Image from the assistant")
    await expect(picture).to_be_visible()
    assert await picture.get_attribute("src") == webchat_server.url + "/picture.svg"
    assert await picture.evaluate("img => img.complete && img.naturalWidth") == 240


async def test_bot_text_is_shown_as_text_never_as_html(page: Page, webchat_server: WebchatServer) -> None:
    await open_chat(page, webchat_server)
    attack = '<img src=x onerror="document.title=\'pwned\'"><b>bold</b>'

    await say(page, attack)

    await expect(page.locator(BOT)).to_have_text([f"Assistant: echo: {attack}"])
    assert await page.locator(".cw-log img, .cw-log b").count() == 0
    assert await page.title() != "pwned"

    await say(page, "link")
    link = page.locator(BOT).last.get_by_role("link")
    await expect(link).to_have_count(1)
    await expect(link).to_have_attribute("href", "https://example.com/docs")
    await expect(link).to_have_attribute("rel", "noopener noreferrer")


async def test_the_conversation_survives_a_reload(
    page: Page, webchat_server: WebchatServer, echo_bot: EchoBot
) -> None:
    await open_chat(page, webchat_server)
    await say(page, "first")
    await say(page, "buttons")
    await page.get_by_role("button", name="Blue").click()
    await expect(page.locator(BOT)).to_have_count(3)
    session_id = (await stored(page, webchat_server))["sessionId"]

    await page.reload()
    await expect(page.locator("#conductor-webchat")).to_have_attribute("data-connection", "open")

    await expect(page.locator(USER)).to_have_text(["You: first", "You: buttons", "You: Blue"])
    await expect(page.locator(BOT)).to_have_text(
        ["Assistant: echo: first", "Assistant: Pick a colour", "Assistant: You picked blue."]
    )
    await expect(page.get_by_role("button", name="Red")).to_be_disabled()
    await say(page, "second")
    await expect(page.locator(BOT).last).to_have_text("Assistant: echo: second")
    assert (await stored(page, webchat_server))["sessionId"] == session_id
    assert {m.sender_id for m in echo_bot.received} == {session_id}


async def test_the_widget_reconnects_after_a_server_restart(
    page: Page, webchat_server: WebchatServer, echo_bot: EchoBot
) -> None:
    await open_chat(page, webchat_server)
    await say(page, "before")
    await expect(page.locator(BOT)).to_have_text(["Assistant: echo: before"])
    widget = page.locator("#conductor-webchat")

    await webchat_server.stop()
    await expect(widget).not_to_have_attribute("data-connection", "open")
    await say(page, "while down")
    await expect(page.locator(".cw-pending")).to_have_text("Not sent yet")
    await expect(widget).to_have_attribute("data-connection", "offline")
    await webchat_server.start()

    await expect(widget).to_have_attribute("data-connection", "open", timeout=15_000)
    await expect(page.locator(BOT).last).to_have_text("Assistant: echo: while down")
    await expect(page.locator(".cw-pending")).to_have_count(0)
    await say(page, "after")
    await expect(page.locator(BOT).last).to_have_text("Assistant: echo: after")
    assert echo_bot.texts() == ["before", "while down", "after"]
    assert len({m.sender_id for m in echo_bot.received}) == 1


async def test_a_restart_during_a_turn_loses_no_message(
    page: Page, webchat_server: WebchatServer, echo_bot: EchoBot
) -> None:
    await open_chat(page, webchat_server)
    await say(page, "slow")
    await expect(page.locator(".cw-typing")).to_be_visible()

    stopping = asyncio.create_task(webchat_server.stop())  # waits for the slow turn, refusing new messages
    await asyncio.sleep(0.2)
    await say(page, "sent while stopping")
    await stopping
    await expect(page.locator(BOT)).to_have_text(["Assistant: Sorry for the wait!"])
    await expect(page.locator(".cw-pending")).to_have_text("Not sent yet")
    await webchat_server.start()

    await expect(page.locator(BOT).last).to_have_text("Assistant: echo: sent while stopping", timeout=15_000)
    assert echo_bot.texts() == ["slow", "sent while stopping"]


async def test_keyboard_only(page: Page, webchat_server: WebchatServer, echo_bot: EchoBot) -> None:
    await open_chat(page, webchat_server)
    await page.evaluate("document.activeElement && document.activeElement.blur()")
    message = page.get_by_label("Message")

    for _ in range(5):
        await page.keyboard.press("Tab")
        if await message.evaluate("input => input.getRootNode().activeElement === input"):
            break
    await expect(message).to_be_focused()
    await page.keyboard.type("buttons")
    await page.keyboard.press("Enter")
    await expect(page.get_by_role("button", name="Blue")).to_be_visible()

    await page.keyboard.press("Shift+Tab")  # from the message box back to the last choice
    await expect(page.get_by_role("button", name="Blue")).to_be_focused()
    await page.keyboard.press("Enter")
    await expect(page.locator(BOT).last).to_have_text("Assistant: You picked blue.")
    await expect(message).to_be_focused()

    await page.keyboard.type("buttons")
    await page.keyboard.press("Enter")
    await expect(page.get_by_role("button", name="Red").last).to_be_enabled()
    await page.keyboard.press("Shift+Tab")
    await page.keyboard.press("Shift+Tab")
    await expect(page.get_by_role("button", name="Red").last).to_be_focused()
    await page.keyboard.press("Space")
    await expect(page.locator(BOT).last).to_have_text("Assistant: You picked red.")
    assert echo_bot.texts()[-1] == '/pick{"colour": "red"}'


EMBEDDING_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>A shop</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>* {{ color: red !important; font-size: 40px; }} button {{ display: none; }}</style></head>
<body><h1>Welcome to the shop</h1><a href="#top">Top</a>
<script src="{server}/webchat/widget.js" data-server="{server}" data-title="Shop help"
        data-color="#00695c" data-initial-payload="/greet"></script>
</body></html>"""


async def test_embedded_on_a_page_of_another_origin(
    page: Page, webchat_server: WebchatServer, echo_bot: EchoBot
) -> None:
    url, runner = await serve_page(EMBEDDING_PAGE.format(server=webchat_server.url))
    try:
        await page.goto(url)
        launcher = page.get_by_role("button", name="Open chat: Shop help")
        await expect(launcher).to_be_visible()  # the page's `button {display: none}` does not reach it
        assert await launcher.evaluate("b => getComputedStyle(b).backgroundColor") == "rgb(0, 105, 92)"
        await expect(page.get_by_role("dialog", name="Shop help")).to_be_hidden()

        await page.keyboard.press("Tab")  # the page's link
        await page.keyboard.press("Tab")
        await expect(launcher).to_be_focused()
        await page.keyboard.press("Enter")

        dialog = page.get_by_role("dialog", name="Shop help")
        await expect(dialog).to_be_visible()
        await expect(page.get_by_label("Message")).to_be_focused()
        await expect(page.locator(BOT)).to_have_text(["Assistant: echo: /greet"])  # the initial payload
        await say(page, "hi from the shop")
        await expect(page.locator(BOT).last).to_have_text("Assistant: echo: hi from the shop")
        assert echo_bot.texts() == ["/greet", "hi from the shop"]

        await page.keyboard.press("Escape")
        await expect(dialog).to_be_hidden()
        await expect(page.get_by_role("button", name="Open chat: Shop help")).to_be_focused()
    finally:
        await runner.cleanup()


def _without_websocket(on_new_message: OnNewMessage) -> web.Application:
    return build_webchat_app(on_new_message, websocket=False)


@pytest.mark.parametrize("webchat_app_factory", [_without_websocket])
async def test_falls_back_to_rest_when_the_socket_cannot_connect(
    page: Page, webchat_server: WebchatServer, echo_bot: EchoBot, webchat_app_factory: AppFactory
) -> None:
    url, runner = await serve_page(EMBEDDING_PAGE.format(server=webchat_server.url))
    try:
        await page.goto(url)
        await page.get_by_role("button", name="Open chat: Shop help").click()
        await say(page, "buttons")
        await page.get_by_role("button", name="Red").click()

        await expect(page.locator(BOT)).to_have_text(
            ["Assistant: echo: /greet", "Assistant: Pick a colour", "Assistant: You picked red."]
        )
        assert [m.input_channel for m in echo_bot.received] == ["rest"] * 3
        assert len({m.sender_id for m in echo_bot.received}) == 1
    finally:
        await runner.cleanup()


async def test_small_screens_get_a_full_screen_panel(browser: Browser, webchat_server: WebchatServer) -> None:
    context = await browser.new_context(viewport={"width": 375, "height": 667}, is_mobile=True, has_touch=True)
    try:
        page = await context.new_page()
        url, runner = await serve_page(EMBEDDING_PAGE.format(server=webchat_server.url))
        await page.goto(url)
        await page.get_by_role("button", name="Open chat: Shop help").click()
        await page.wait_for_function(  # the panel fills the screen once its opening animation is over
            """() => {
                const r = document.querySelector('#conductor-webchat').shadowRoot.querySelector('.cw-panel')
                    .getBoundingClientRect();
                return [r.x, r.y, r.width, r.height].map(Math.round).join() === '0,0,375,667';
            }"""
        )
        await expect(page.locator(".cw-launcher")).to_be_hidden()  # it would cover the send button
        await page.get_by_role("button", name="Close chat").click()
        await expect(page.get_by_role("dialog", name="Shop help")).to_be_hidden()
        await runner.cleanup()
    finally:
        await context.close()


async def test_reduced_motion_stops_the_animations(browser: Browser, webchat_server: WebchatServer) -> None:
    context = await browser.new_context(reduced_motion="reduce")
    try:
        page = await context.new_page()
        await open_chat(page, webchat_server)
        animation = "() => getComputedStyle(document.querySelector('#conductor-webchat').shadowRoot" \
                    ".querySelector('.cw-dot')).animationName"
        assert await page.evaluate(animation) == "none"
        await page.emulate_media(reduced_motion="no-preference")
        assert await page.evaluate(animation) == "cw-bounce"
    finally:
        await context.close()


def png_size(path: Path) -> tuple[int, int]:
    header = path.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n" and header[12:16] == b"IHDR", f"{path} is not a PNG"
    width, height = struct.unpack(">II", header[16:24])
    return width, height


async def test_screenshot_of_a_conversation(page: Page, webchat_server: WebchatServer, tmp_path: Path) -> None:
    await open_chat(page, webchat_server)
    for text in ("hello", "buttons"):
        await say(page, text)
    await page.get_by_role("button", name="Blue").click()
    await say(page, "image")
    await expect(page.get_by_role("img", name="Image from the assistant")).to_be_visible()
    await expect(page.locator(".cw-typing")).to_be_hidden()
    await page.wait_for_timeout(400)  # the smooth scroll to the newest message

    shot = tmp_path / "webchat.png"
    await page.screenshot(path=str(shot))

    assert png_size(shot) == (1000, 760)
    box = await page.locator(".cw-panel").bounding_box()
    assert box is not None and box["width"] > 600 and box["height"] > 600
    pixels = np.asarray(Image.open(shot).convert("L"), dtype=float)
    panel = pixels[int(box["y"]):int(box["y"] + box["height"]), int(box["x"]):int(box["x"] + box["width"])]
    assert panel.std() > 20, "the chat panel looks blank"
