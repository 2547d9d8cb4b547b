"""The Telegram channel against a local stand-in of the Bot API (tests/channels/telegram_api_standin.py).

python-telegram-bot talks HTTP to the stand-in; updates reach the channel the way Telegram sends them (a
webhook POST with the secret header, or getUpdates). The conversation side is `TinyAssistant`, a stand-in for
the runtime with the same entry point (`async (UserMessage) -> None`, replying through
`message.output_channel`): to run the scenario tests against the real runtime, pass its entry point as
`handler=` to the `telegram` factory and keep the assertions on what reached the Bot API.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer, unused_port
from telegram import InlineKeyboardMarkup, Update
from telegram_api_standin import TelegramApiStandin

from bot.config import load_credentials
from bot.errors import ConductorError
from channels.base import OnNewMessage, UserMessage
from channels.telegram import CHANNEL, SECRET_HEADER, TelegramInput
from channels.telegram_keyboards import CALLBACK_DATA_LIMIT, CallbackPayloads, keyboard_for
from channels.telegram_output import BUTTONS_ONLY_TEXT, message_parts
from channels.telegram_settings import DEFAULT_BASE_URL, TelegramSettings
from channels.telegram_updates import EXPIRED_BUTTON_NOTICE, BotIdentity, Incoming, read_update

TOKEN = "123456789:AAHc0nductor-stand-in_token-for-tests"
SECRET = "conductor-test-secret_1"
PICTURE = "https://example.com/cheer-up.jpg"
MOODS = [{"title": "Great", "payload": "/mood_great"}, {"title": "Sad", "payload": "/mood_unhappy"}]


# --- a runtime stand-in ----------------------------------------------------------------------------------


@dataclass
class TinyAssistant:
    """Greets, offers buttons, shows a picture, runs a two-question form per conversation, echoes the rest."""

    received: list[UserMessage] = field(default_factory=list)
    forms: dict[str, dict[str, str]] = field(default_factory=dict)

    async def __call__(self, message: UserMessage) -> None:
        self.received.append(message)
        reply = self._reply(message.sender_id, message.text or "")
        await message.output_channel.send_response(message.sender_id, reply)

    def _reply(self, sender: str, text: str) -> dict[str, Any]:
        form = self.forms.get(sender)
        if form is not None:
            if "people" not in form:
                form["people"] = text
                return {"text": "For which day?"}
            del self.forms[sender]
            return {"text": f"Booked a table for {form['people']} on {text}."}
        if text in ("/greet", "hello", "hi"):
            return {"text": "Hey! How are you?", "buttons": MOODS}
        if text == "/mood_great":
            return {"text": "Great, carry on!"}
        if text == "show a picture":
            return {"text": "Here is something to cheer you up:", "image": PICTURE}
        if text == "book a table":
            self.forms[sender] = {}
            return {"text": "How many people?"}
        return {"text": f"You said: {text}"}


@dataclass
class Telegram:
    """One channel under test, with its routes served like the server mounts them, and its Bot API."""

    api: TelegramApiStandin
    channel: TelegramInput
    assistant: TinyAssistant
    client: TestClient[web.Request, web.Application]

    def sent_texts(self) -> list[str]:
        return [str(call.params["text"]) for call in self.api.calls_to("sendMessage")]

    async def post(self, body: Any, headers: dict[str, str] | None = None) -> int:
        response = await self.client.post("/webhooks/telegram/webhook", json=body, headers=headers or {})
        return response.status


MakeTelegram = Callable[..., Awaitable[Telegram]]


@pytest.fixture
async def api() -> AsyncIterator[TelegramApiStandin]:
    async with TelegramApiStandin(TOKEN) as standin:
        yield standin


@pytest.fixture
async def telegram(api: TelegramApiStandin, tmp_path: Path) -> AsyncIterator[MakeTelegram]:
    """Build, serve and start a channel from a real credentials.yml; stopped and shut down afterwards."""
    made: list[Telegram] = []

    async def make(
        *, mode: str = "webhook", handler: OnNewMessage | None = None, start: bool = True, **settings: str
    ) -> Telegram:
        port = unused_port()
        values = {"access_token": TOKEN, "base_url": api.base_url, "mode": mode, "secret_token": SECRET}
        if mode == "webhook":
            values["webhook_url"] = f"http://127.0.0.1:{port}/webhooks/telegram/webhook"
        values.update(settings)
        path = tmp_path / f"credentials-{len(made)}.yml"
        lines = [f"  {key}: '{value}'" for key, value in values.items() if value != ""]
        path.write_text("telegram:\n" + "\n".join(lines) + "\n", encoding="utf-8")
        channel = TelegramInput.from_credentials(load_credentials(path)["telegram"])
        assistant = TinyAssistant()
        receiver = handler or assistant
        routes = web.Application()
        routes.add_routes(channel.routes(receiver))
        app = web.Application()
        app.add_subapp("/webhooks/telegram/", routes)
        client = TestClient(TestServer(app, host="127.0.0.1", port=port))
        await client.start_server()
        await channel.initialize()
        found = Telegram(api, channel, assistant, client)
        made.append(found)
        if start:
            await channel.start(receiver)
        return found

    yield make
    for found in made:
        await found.channel.stop()
        await found.channel.shutdown()
        await found.client.close()


async def eventually(check: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("the condition did not come true in time")
        await asyncio.sleep(0.02)


# --- settings from credentials.yml -------------------------------------------------------------------------


def read_settings(tmp_path: Path, body: str) -> TelegramSettings:
    path = tmp_path / "credentials.yml"
    path.write_text(body, encoding="utf-8")
    return TelegramSettings.from_credentials(load_credentials(path)["telegram"])


def test_rasa_keys_are_read_and_defaults_filled(tmp_path: Path) -> None:
    settings = read_settings(
        tmp_path,
        f"telegram:\n  access_token: {TOKEN}\n  verify: '@my_bot'\n"
        "  webhook_url: https://bot.example.com/webhooks/telegram/webhook\n",
    )
    assert settings.mode == "webhook"
    assert settings.verify == "my_bot"
    assert settings.base_url == DEFAULT_BASE_URL
    assert settings.start_message == "/greet"
    assert TOKEN not in repr(settings)


def test_missing_access_token_names_the_key_and_the_file(tmp_path: Path) -> None:
    with pytest.raises(ConductorError) as caught:
        read_settings(tmp_path, "telegram:\n  verify: my_bot\n  mode: polling\n")
    problem = caught.value.problems[0]
    assert "access_token" in problem.message
    assert problem.file == str(tmp_path / "credentials.yml")
    assert problem.line == 2  # the section, which starts at its first key


def test_every_problem_is_reported_at_its_line_without_secrets(tmp_path: Path) -> None:
    body = (
        "telegram:\n"
        "  access_token: not-a-token\n"
        "  mode: push\n"
        "  secret_token: 'has spaces and $ signs'\n"
        "  webhook_url: your_url.com/webhook\n"
    )
    with pytest.raises(ConductorError) as caught:
        read_settings(tmp_path, body)
    lines = {problem.line: problem.message for problem in caught.value.problems}
    assert set(lines) == {2, 3, 4, 5}
    assert "'mode'" in lines[3] and "'push'" in lines[3]
    assert "not-a-token" not in str(caught.value)
    assert "has spaces" not in str(caught.value)


def test_webhook_mode_needs_an_https_webhook_url_on_telegrams_cloud(tmp_path: Path) -> None:
    with pytest.raises(ConductorError, match="webhook_url"):
        read_settings(tmp_path, f"telegram:\n  access_token: {TOKEN}\n")
    with pytest.raises(ConductorError, match="https"):
        read_settings(tmp_path, f"telegram:\n  access_token: {TOKEN}\n  webhook_url: http://bot.example.com/x\n")
    polling = read_settings(tmp_path, f"telegram:\n  access_token: {TOKEN}\n  mode: polling\n")
    assert polling.webhook_url is None


def test_base_url_takes_a_server_root_or_ptbs_bot_form(tmp_path: Path) -> None:
    for written in ("http://localhost:8081", "http://localhost:8081/", "http://localhost:8081/bot"):
        settings = read_settings(
            tmp_path,
            f"telegram:\n  access_token: {TOKEN}\n  mode: polling\n  base_url: {written}\n",
        )
        assert settings.base_url == "http://localhost:8081"
    with pytest.raises(ConductorError, match="base_url"):
        read_settings(tmp_path, f"telegram:\n  access_token: {TOKEN}\n  mode: polling\n  base_url: localhost\n")


def test_unknown_keys_are_warned_about_with_a_suggestion(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    read_settings(tmp_path, f"telegram:\n  access_token: {TOKEN}\n  mode: polling\n  secret_tokn: abc\n")
    assert "Did you mean 'secret_token'?" in caplog.text


def test_the_moodbot_credentials_from_rasa_are_refused_for_their_placeholder_url(shared_data: Path) -> None:
    credentials = load_credentials(shared_data / "rasa-projects" / "rasa-oss-moodbot" / "credentials.yml")
    with pytest.raises(ConductorError) as caught:
        TelegramInput.from_credentials(credentials["telegram"])
    assert [problem.message.split(" ")[0] for problem in caught.value.problems] == ["'webhook_url'"]


def test_the_registry_finds_the_class_by_its_name() -> None:
    assert CHANNEL is TelegramInput
    assert CHANNEL.name == "telegram"


# --- webhook mode -------------------------------------------------------------------------------------------


async def test_start_sets_the_webhook_with_the_secret_and_never_polls(telegram: MakeTelegram) -> None:
    bot = await telegram()
    (call,) = bot.api.calls_to("setWebhook")
    assert call.params["url"].endswith("/webhooks/telegram/webhook")
    assert call.params["secret_token"] == SECRET
    assert call.params["allowed_updates"] == ["message", "callback_query"]
    assert bot.api.calls_to("getMe")
    assert not bot.api.calls_to("getUpdates")
    assert bot.channel.receiving
    await bot.channel.stop()
    assert await bot.api.deliver(bot.api.message_update("hello")) == 503  # Telegram will deliver it again
    assert bot.api.webhook_url  # left in place while the server is away
    assert bot.assistant.received == []


async def test_without_a_configured_secret_one_is_generated_and_used(telegram: MakeTelegram) -> None:
    bot = await telegram(secret_token="")
    secret = bot.api.webhook_secret
    assert secret is not None and len(secret) >= 32 and secret != SECRET
    assert await bot.api.deliver(bot.api.message_update("hi")) == 200
    assert bot.sent_texts() == ["Hey! How are you?"]


async def test_greeting_round_trip(telegram: MakeTelegram) -> None:
    bot = await telegram()
    update = bot.api.message_update("hello")
    assert await bot.api.deliver(update) == 200
    (message,) = bot.assistant.received
    assert message.text == "hello"
    assert message.sender_id == "1001"
    assert message.input_channel == "telegram"
    assert message.message_id == str(update["update_id"])
    assert message.metadata == {
        "update_id": update["update_id"],
        "message_id": update["message"]["message_id"],
        "chat_id": 1001,
        "chat_type": "private",
        "user_id": 1001,
        "username": "ada",
        "language_code": "en",
    }
    (reply,) = bot.api.calls_to("sendMessage")
    assert reply.params["chat_id"] == 1001
    assert reply.params["text"] == "Hey! How are you?"


async def test_start_command_means_the_start_message_and_keeps_the_deep_link(telegram: MakeTelegram) -> None:
    bot = await telegram()
    await bot.api.deliver(bot.api.message_update("/start"))
    await bot.api.deliver(bot.api.message_update("/start campaign42"))
    assert [m.text for m in bot.assistant.received] == ["/greet", "/greet"]
    assert "start_parameter" not in bot.assistant.received[0].metadata
    assert bot.assistant.received[1].metadata["start_parameter"] == "campaign42"
    assert bot.sent_texts() == ["Hey! How are you?", "Hey! How are you?"]


async def test_commands_pass_as_text_without_the_bots_username(telegram: MakeTelegram) -> None:
    bot = await telegram(start_message="/session_start")
    await bot.api.deliver(bot.api.message_update("/help@conductor_test_bot now"))
    await bot.api.deliver(bot.api.message_update("/start@Conductor_Test_Bot"))
    await bot.api.deliver(bot.api.message_update("/help@some_other_bot"))
    assert [m.text for m in bot.assistant.received] == ["/help now", "/session_start"]


async def test_a_form_across_messages_keeps_one_conversation_per_chat(telegram: MakeTelegram) -> None:
    bot = await telegram()
    ada, bob = bot.api.chat(1001), bot.api.chat(2002)
    for chat, text in [(ada, "book a table"), (bob, "hi"), (ada, "4"), (ada, "friday")]:
        assert await bot.api.deliver(bot.api.message_update(text, chat=chat)) == 200
    replies = [(c.params["chat_id"], c.params["text"]) for c in bot.api.calls_to("sendMessage")]
    assert replies == [
        (1001, "How many people?"),
        (2002, "Hey! How are you?"),
        (1001, "For which day?"),
        (1001, "Booked a table for 4 on friday."),
    ]


async def test_buttons_are_an_inline_keyboard_and_a_press_comes_back_as_the_payload(
    telegram: MakeTelegram,
) -> None:
    bot = await telegram()
    await bot.api.deliver(bot.api.message_update("hi"))
    (offer,) = bot.api.calls_to("sendMessage")
    assert offer.params["reply_markup"] == {
        "inline_keyboard": [
            [{"text": "Great", "callback_data": "/mood_great"}, {"text": "Sad", "callback_data": "/mood_unhappy"}]
        ]
    }
    press = bot.api.callback_update("/mood_great")
    assert await bot.api.deliver(press) == 200
    (answer,) = bot.api.calls_to("answerCallbackQuery")
    assert answer.params["callback_query_id"] == press["callback_query"]["id"]
    assert "text" not in answer.params
    pressed = bot.assistant.received[-1]
    assert pressed.text == "/mood_great"
    assert pressed.sender_id == "1001"
    assert pressed.metadata["callback_query_id"] == press["callback_query"]["id"]
    assert bot.sent_texts()[-1] == "Great, carry on!"


async def test_a_payload_over_64_bytes_travels_as_a_short_key(telegram: MakeTelegram) -> None:
    bot = await telegram()
    payload = '/inform{"product": "a laptop with a very long name that does not fit", "count": 2}'
    assert len(payload.encode()) > CALLBACK_DATA_LIMIT
    output = bot.channel.get_output_channel()
    await output.send_response("1001", {"text": "Pick", "buttons": [{"title": "This one", "payload": payload}]})
    assert output.failed_sends == 0  # the stand-in refuses callback_data over 64 bytes
    (sent,) = bot.api.calls_to("sendMessage")
    data = sent.params["reply_markup"]["inline_keyboard"][0][0]["callback_data"]
    assert len(data.encode()) <= CALLBACK_DATA_LIMIT
    await bot.api.deliver(bot.api.callback_update(data))
    assert bot.assistant.received[-1].text == payload


async def test_a_button_key_this_process_does_not_know_is_answered_with_a_notice(telegram: MakeTelegram) -> None:
    bot = await telegram()
    forgotten = CallbackPayloads().data_for("x" * 100)
    await bot.api.deliver(bot.api.callback_update(forgotten))
    (answer,) = bot.api.calls_to("answerCallbackQuery")
    assert answer.params["text"] == EXPIRED_BUTTON_NOTICE
    assert bot.assistant.received == []


async def test_button_layouts_follow_rasas_button_type(telegram: MakeTelegram) -> None:
    bot = await telegram()
    output = bot.channel.get_output_channel()
    await output.send_text_with_buttons("1001", "", MOODS, button_type="vertical")
    await output.send_text_with_buttons("1001", "Choose", MOODS, button_type="reply")
    await output.send_text_with_buttons("1001", "Read", [{"title": "Docs", "url": "https://example.com"}])
    vertical, reply, link = bot.api.calls_to("sendMessage")
    assert vertical.params["text"] == BUTTONS_ONLY_TEXT
    assert [len(row) for row in vertical.params["reply_markup"]["inline_keyboard"]] == [1, 1]
    assert reply.params["reply_markup"]["keyboard"] == [[{"text": "Great"}], [{"text": "Sad"}]]
    assert reply.params["reply_markup"]["one_time_keyboard"] is True
    assert link.params["reply_markup"]["inline_keyboard"] == [[{"text": "Docs", "url": "https://example.com"}]]


async def test_an_image_is_sent_as_a_photo_by_url(telegram: MakeTelegram) -> None:
    bot = await telegram()
    await bot.api.deliver(bot.api.message_update("show a picture"))
    assert bot.sent_texts() == ["Here is something to cheer you up:"]
    (photo,) = bot.api.calls_to("sendPhoto")
    assert photo.params == {"chat_id": 1001, "photo": PICTURE}


async def test_custom_messages_use_rasas_telegram_forms(telegram: MakeTelegram) -> None:
    bot = await telegram()
    output = bot.channel.get_output_channel()
    await output.send_response("1001", {"custom": {"photo": PICTURE, "caption": "Look"}})
    await output.send_response("1001", {"custom": {"latitude": 52.5, "longitude": 13.4, "title": "Office",
                                                   "address": "Main St 1"}})
    await output.send_response("1001", {"custom": {"blocks": ["a Slack payload"]}})
    (photo,) = bot.api.calls_to("sendPhoto")
    assert photo.params["caption"] == "Look"
    assert [call.method for call in bot.api.calls][-2:] == ["sendPhoto", "sendVenue"]
    assert output.failed_sends == 0


def test_lists_inside_the_buttons_are_rows() -> None:
    keyboard = keyboard_for([MOODS[0], [MOODS[1], {"title": "Meh"}], MOODS[0]], "inline", CallbackPayloads())
    assert isinstance(keyboard, InlineKeyboardMarkup)
    rows = [[(b.text, b.callback_data) for b in row] for row in keyboard.inline_keyboard]
    assert rows == [[("Great", "/mood_great")], [("Sad", "/mood_unhappy"), ("Meh", "Meh")], [("Great", "/mood_great")]]


def test_text_is_sent_per_paragraph_and_within_telegrams_limit() -> None:
    assert message_parts("First.\n\nSecond\nline.\n\n\n") == ["First.", "Second\nline."]
    long_parts = message_parts("word " * 2000)
    assert all(len(part) <= 4096 for part in long_parts)
    assert " ".join(long_parts).split() == ["word"] * 2000


# --- groups ---------------------------------------------------------------------------------------------------


async def test_in_a_group_the_bot_answers_only_when_addressed(telegram: MakeTelegram) -> None:
    bot = await telegram()
    api = bot.api
    group = api.chat(-100_777, "supergroup")
    carol = api.user(3003, "Carol", "carol")
    updates = [
        api.message_update("hello everyone", chat=group),
        api.message_update("@conductor_test_bot hello", chat=group),
        api.message_update("thanks @Conductor_Test_Bot!", chat=group),
        api.message_update("hello", chat=group, reply_to=api.bot_user),
        api.message_update("hello", chat=group, reply_to=carol),
        api.message_update("Conductor, hello", chat=group, text_mention=(0, 9)),
        api.message_update("/help", chat=group),
        api.message_update("@some_other_bot hello", chat=group),
    ]
    for update in updates:
        assert await api.deliver(update) == 200
    assert [m.text for m in bot.assistant.received] == ["hello", "thanks !", "hello", ", hello", "/help"]
    assert {m.sender_id for m in bot.assistant.received} == {"-100777"}
    assert {m.metadata["chat_type"] for m in bot.assistant.received} == {"supergroup"}


async def test_mentions_are_cut_at_utf16_offsets(telegram: MakeTelegram) -> None:
    bot = await telegram()
    group = bot.api.chat(-5, "group")
    await bot.api.deliver(bot.api.message_update("🎉🎉 @conductor_test_bot party", chat=group))
    await bot.api.deliver(bot.api.message_update("@conductor_test_bot 🍕 now", chat=group, as_caption=True))
    assert [m.text for m in bot.assistant.received] == ["🎉🎉 party", "🍕 now"]


# --- what is not processed ----------------------------------------------------------------------------------


async def test_a_duplicate_update_is_answered_once(telegram: MakeTelegram) -> None:
    bot = await telegram()
    update = bot.api.message_update("hello")
    assert await bot.api.deliver(update) == 200
    assert await bot.api.deliver(update) == 200
    assert len(bot.assistant.received) == 1
    assert len(bot.api.calls_to("sendMessage")) == 1


async def test_a_missing_or_wrong_secret_is_refused_and_nothing_is_processed(telegram: MakeTelegram) -> None:
    bot = await telegram()
    calls_before = len(bot.api.calls)
    update = bot.api.message_update("hello")
    assert await bot.post(update) == 401
    assert await bot.post(update, {SECRET_HEADER: "guess"}) == 401
    assert await bot.api.deliver(update, secret=SECRET + "x") == 401
    assert bot.assistant.received == []
    assert len(bot.api.calls) == calls_before
    assert await bot.api.deliver(update) == 200  # not remembered as seen by the refused attempts


async def test_edited_messages_and_other_updates_are_ignored(telegram: MakeTelegram) -> None:
    bot = await telegram()
    assert await bot.api.deliver(bot.api.message_update("hello", edited=True)) == 200
    assert await bot.api.deliver({"update_id": 1, "channel_post": {"message_id": 1, "date": 0,
                                                                   "chat": {"id": -1, "type": "channel"}}}) == 200
    assert bot.assistant.received == []


async def test_a_malformed_body_is_a_bad_request(telegram: MakeTelegram) -> None:
    bot = await telegram()
    response = await bot.client.post(
        "/webhooks/telegram/webhook", data=b"{not json", headers={SECRET_HEADER: SECRET}
    )
    assert response.status == 400
    for body in ({"update_id": "x", "message": 5}, None, [1, 2]):
        assert await bot.post(body, {SECRET_HEADER: SECRET}) == 400
    assert bot.assistant.received == []


async def test_a_failing_runtime_is_logged_and_telegram_still_gets_200(
    telegram: MakeTelegram, caplog: pytest.LogCaptureFixture
) -> None:
    async def broken(message: UserMessage) -> None:
        raise RuntimeError("the runtime broke")

    bot = await telegram(handler=broken)
    assert await bot.api.deliver(bot.api.message_update("hello")) == 200
    assert "the runtime broke" in caplog.text


async def test_the_health_route_answers(telegram: MakeTelegram) -> None:
    bot = await telegram()
    response = await bot.client.get("/webhooks/telegram/")
    assert await response.json() == {"status": "ok"}


# --- Telegram's errors --------------------------------------------------------------------------------------


async def test_a_429_is_waited_out_then_the_message_is_sent(telegram: MakeTelegram) -> None:
    bot = await telegram()
    bot.api.fail_next("sendMessage", 429, "Too Many Requests: retry after 1", retry_after=1)
    assert await bot.api.deliver(bot.api.message_update("hello")) == 200
    first, second = bot.api.calls_to("sendMessage")
    assert first.params == second.params
    assert bot.channel.get_output_channel().failed_sends == 0


async def test_rate_limits_beyond_the_bounds_give_up_without_raising(
    telegram: MakeTelegram, caplog: pytest.LogCaptureFixture
) -> None:
    bot = await telegram()
    output = bot.channel.get_output_channel()
    bot.api.fail_next("sendMessage", 429, "Too Many Requests: retry after 3600", retry_after=3600)
    await output.send_text_message("1001", "one")
    assert len(bot.api.calls_to("sendMessage")) == 1  # an hour is not waited for
    assert output.failed_sends == 1
    assert "rate limited" in caplog.text


async def test_the_platform_down_is_logged_not_raised(
    telegram: MakeTelegram, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    bot = await telegram()
    bot.api.fail_next("sendMessage", 502, "Bad Gateway")
    assert await bot.api.deliver(bot.api.message_update("hello")) == 200
    assert len(bot.assistant.received) == 1
    assert bot.channel.get_output_channel().failed_sends == 1
    await bot.api.close()  # now nothing listens at all
    await bot.channel.get_output_channel().send_response("1001", {"text": "anyone?", "image": PICTURE})
    assert bot.channel.get_output_channel().failed_sends == 3
    assert "NetworkError" in caplog.text
    assert TOKEN not in caplog.text


async def test_the_token_never_reaches_the_logs(telegram: MakeTelegram, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    bot = await telegram()
    bot.api.fail_next("sendMessage", 400, "Bad Request: chat not found")
    await bot.api.deliver(bot.api.message_update("hello"))
    await bot.api.deliver(bot.api.callback_update("/mood_great"))
    assert "HTTP Request" in caplog.text  # httpx logged the URLs ...
    assert "<token>" in caplog.text  # ... with the token replaced
    assert TOKEN not in caplog.text
    assert "Chat not found" in caplog.text


async def test_a_rejected_token_stops_start_with_the_key_and_line(
    telegram: MakeTelegram, tmp_path: Path
) -> None:
    other = "987654321:AAHanother-token-nobody-knows_0000"
    with pytest.raises(ConductorError) as caught:
        await telegram(access_token=other)
    (problem,) = caught.value.problems
    assert "access_token" in problem.message
    assert problem.file is not None and problem.file.startswith(str(tmp_path))
    assert problem.line == 2
    assert other not in str(caught.value)


async def test_verify_must_name_the_tokens_bot(telegram: MakeTelegram) -> None:
    with pytest.raises(ConductorError, match="conductor_test_bot"):
        await telegram(verify="someone_elses_bot")
    bot = await telegram(verify="@Conductor_Test_Bot")
    assert bot.channel.receiving


async def test_unreachable_at_start_is_logged_and_retried_in_the_background(
    telegram: MakeTelegram, caplog: pytest.LogCaptureFixture
) -> None:
    bot = await telegram(start=False)
    bot.api.fail_next("getMe", 502, "Bad Gateway")
    await bot.channel.start(bot.assistant)
    assert not bot.channel.receiving
    assert "Could not reach the Telegram Bot API" in caplog.text
    await eventually(lambda: bot.channel.receiving)
    assert len(bot.api.calls_to("setWebhook")) == 1
    assert await bot.api.deliver(bot.api.message_update("hello")) == 200


# --- polling mode -------------------------------------------------------------------------------------------


async def test_polling_deletes_the_webhook_receives_and_answers(telegram: MakeTelegram) -> None:
    bot = await telegram(mode="polling")
    assert bot.api.calls_to("deleteWebhook")
    first = bot.api.message_update("hello")
    bot.api.queue_update(first)
    await eventually(lambda: len(bot.sent_texts()) == 1)
    assert bot.assistant.received[0].text == "hello"
    bot.api.queue_update(bot.api.callback_update("/mood_great"))
    await eventually(lambda: len(bot.sent_texts()) == 2)
    assert bot.sent_texts()[-1] == "Great, carry on!"
    assert not bot.api.calls_to("setWebhook")
    offsets = [call.params.get("offset") for call in bot.api.calls_to("getUpdates")]
    assert offsets[:2] == [None, first["update_id"] + 1]
    assert bot.channel.routes(bot.assistant)[-1].path == "/"  # no webhook route to post to


async def test_stopping_confirms_the_last_batch(telegram: MakeTelegram) -> None:
    bot = await telegram(mode="polling")
    update = bot.api.message_update("hello")
    bot.api.queue_update(update)
    await eventually(lambda: len(bot.sent_texts()) == 1)
    await bot.channel.stop()
    assert not bot.channel.receiving
    confirming = bot.api.calls_to("getUpdates")[-1]
    assert confirming.params["offset"] == update["update_id"] + 1
    assert confirming.params["timeout"] == 0


async def test_a_409_while_polling_is_a_clear_error_and_polling_stops(
    telegram: MakeTelegram, caplog: pytest.LogCaptureFixture
) -> None:
    bot = await telegram(mode="polling", start=False)
    bot.api.fail_next("getUpdates", 409, "Conflict: terminated by other getUpdates request", times=100)
    await bot.channel.start(bot.assistant)
    await eventually(lambda: not bot.channel.receiving and bool(bot.api.calls_to("getUpdates")))
    await asyncio.sleep(0.2)
    assert len(bot.api.calls_to("getUpdates")) == 1
    assert "409 Conflict" in caplog.text and "Polling has stopped" in caplog.text


async def test_a_second_poller_with_the_same_token_ends_the_first(
    telegram: MakeTelegram, caplog: pytest.LogCaptureFixture
) -> None:
    first = await telegram(mode="polling")
    await eventually(lambda: len(first.api.calls_to("getUpdates")) == 1)
    second = await telegram(mode="polling")
    await eventually(lambda: not first.channel.receiving)
    assert second.channel.receiving
    assert "terminated by other getUpdates request" in caplog.text
    second.api.queue_update(second.api.message_update("hello"))
    await eventually(lambda: len(second.assistant.received) == 1)
    assert first.assistant.received == []


# --- reading updates without any I/O ------------------------------------------------------------------------

IDENTITY = BotIdentity(7_000_000_001, "conductor_test_bot")


def read(api: TelegramApiStandin, update: dict[str, Any]) -> Incoming | None:
    return read_update(Update.de_json(update, None), IDENTITY, CallbackPayloads(), "/greet")


def test_a_mention_inside_a_command_is_cut_once() -> None:
    api = TelegramApiStandin(TOKEN)
    update = api.message_update("/help@conductor_test_bot please", chat=api.chat(-9, "group"))
    update["message"]["entities"].append({"type": "mention", "offset": 5, "length": 19})
    found = read(api, update)
    assert found is not None and found.text == "/help please"


def test_a_forum_topic_start_by_the_bot_does_not_count_as_a_reply() -> None:
    api = TelegramApiStandin(TOKEN)
    update = api.message_update("hello", chat=api.chat(-9, "supergroup"), reply_to=api.bot_user)
    update["message"]["reply_to_message"]["forum_topic_created"] = {"name": "Help", "icon_color": 7322096}
    assert read(api, update) is None
    del update["message"]["reply_to_message"]["forum_topic_created"]
    assert read(api, update) is not None


def test_messages_without_text_are_not_for_the_bot() -> None:
    api = TelegramApiStandin(TOKEN)
    update = api.message_update("x")
    del update["message"]["text"]
    update["message"]["sticker"] = {"file_id": "s", "file_unique_id": "s", "type": "regular", "width": 1,
                                    "height": 1, "is_animated": False, "is_video": False}
    assert read(api, update) is None


def test_a_lone_surrogate_reaches_the_runtime_which_refuses_it() -> None:
    """JSON can carry "\\ud800", which is no text; cutting the mention must not fail on it (a 500 would make
    Telegram deliver the update again and again), so the runtime can refuse it and say why."""
    api = TelegramApiStandin(TOKEN)
    found = read(api, api.message_update("@conductor_test_bot hi \ud800 there", chat=api.chat(-9, "group")))
    assert found is not None and found.text == "hi \ud800 there"
