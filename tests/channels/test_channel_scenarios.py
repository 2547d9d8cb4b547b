"""Slack and Telegram conversations with the real bot: the runtime on a trained model, served by the real
server app (`create_app` from a credentials.yml naming rest, slack and telegram), conversations kept in a
SQLite tracker store. The official SDK clients in the channels talk to the local stand-ins of Slack's Web API
and Telegram's Bot API (tests/channels/*_api_standin.py), which also deliver the platforms' signed requests.

The bot is Rasa's formbot (restaurant_form over five slots) with one change to its domain: the question
about outdoor seating offers two buttons, so a form runs across typed messages *and* a button press. A second
build adds the optional `utter_message_refused` response, to check that a refused message is answered in the
trainer's words instead of the built-in ones.

What is checked is what a user would see at the platform (the stand-ins' records) and what the tracker store
holds afterwards: a retried, duplicated, refused or unanswerable delivery must not store a second turn, and
a platform that is rate limiting or down must not cost the conversation its events.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer, unused_port

from bot.api.state import SERVER_STATE
from bot.config import TrackerStoreSettings
from bot.dialogue.events import BotUttered, Event, UserUttered
from bot.model import LoadedModel, load_model, train_model
from bot.project.loader import ProjectPaths, load_project
from bot.runtime import Runtime
from bot.server import create_app
from bot.stores import create_tracker_store
from bot.stores.lock_store import InMemoryLockStore
from bot.stores.tracker_store import TrackerStore
from channels.base import MAX_TEXT_CHARS
from channels.slack import SlackInput
from channels.telegram import SECRET_HEADER, TelegramInput
from tests.channels.slack_api_standin import (
    BOT_TOKEN,
    BOT_USER_ID,
    DM_CHANNEL,
    PUBLIC_CHANNEL,
    SIGNING_SECRET,
    USER_ID,
    Posted,
    SlackStandIn,
    app_mention_event,
    block_actions_payload,
    message_event,
)
from tests.channels.telegram_api_standin import ApiCall, TelegramApiStandin
from tests.conftest import RASA_PROJECTS

FORMBOT = RASA_PROJECTS / "rasa-oss-formbot"
TELEGRAM_TOKEN = "123456789:AAHc0nductor-scenario_token-for-tests"
TELEGRAM_SECRET = "conductor-scenario-secret_1"
CHAT_ID = 1001
"""The stand-in's default private chat: its id is the Telegram conversation key."""
TURN_TIMEOUT = 10.0

GREETING = "Hello! I am restaurant search assistant! How can I help?"
SEATING_QUESTION = "Do you want to sit outside?"
SEATING_BUTTONS = [("Outside, please", "/affirm"), ("Inside", "/deny")]
_FORMBOT_SEATING = '  utter_ask_outdoor_seating:\n    - text: "Do you want to sit outside?"\n'
_SEATING_WITH_BUTTONS = _FORMBOT_SEATING + (
    "      buttons:\n"
    '        - title: "Outside, please"\n          payload: /affirm\n'
    '        - title: "Inside"\n          payload: /deny\n'
)

FORM_BEFORE_BUTTONS = [
    ("im looking for a restaurant", "What cuisine?"),
    ("thai", "How many people?"),
    ("for 4 people", SEATING_QUESTION),
]
"""Typed messages and the bot's answer to each, up to the question with buttons."""
AFTER_OUTSIDE = "Please provide additional preferences"
FORM_AFTER_BUTTONS = [
    ("no thanks", "Please give your feedback on your experience so far"),
    ("it was lovely", "All done!"),
]
FILLED_FORM = {
    "cuisine": "thai",
    "outdoor_seating": True,
    "preferences": "no additional preferences",
    "feedback": "it was lovely",
}

PASTED_LOG = "".join(f"2026-01-05 03:{i % 60:02d} ERROR disk full on /var/lib/postgresql\n" for i in range(500))
PASTED_LOG_LINE = "disk full on /var/lib/postgresql"
TOO_LONG = PASTED_LOG[:12_000]
"""A log pasted into the chat: 12,000 characters, over the runtime's `MAX_TEXT_CHARS`."""
TOO_LONG_REPLY = (
    "Sorry, that message is too long for me (12,000 characters). Please send at most 10,000 characters at a time."
)
NOT_TEXT_REPLY = "Sorry, I could not read that message. Please send it again as plain text."

_OWN_REFUSAL = (
    "  utter_message_refused:\n"
    "    - channel: slack\n"
    '      text: "Whoa, {length} characters! I read {limit} at a time."\n'
    "    - channel: telegram\n"
    "      condition:\n"
    "        - type: slot\n"
    "          name: cuisine\n"
    "          value: thai\n"
    '      text: "Back to your thai dinner: please keep it under {limit} characters."\n'
)
"""The response a trainer may add for refused messages: one for Slack, and one for Telegram only while the
conversation's cuisine is thai (otherwise no variation fits, and the built-in text is sent)."""


# --- the bot -------------------------------------------------------------------------------------------------


def _train_formbot(folder: Path, *, extra_responses: str = "") -> Path:
    """Formbot (its config, NLU data, rules and stories) with buttons on the seating question and
    `extra_responses` (domain.yml lines) added to its responses, trained."""
    domain_text = (FORMBOT / "domain.yml").read_text(encoding="utf-8")
    assert _FORMBOT_SEATING in domain_text, "formbot's seating question changed; update _FORMBOT_SEATING"
    domain_text = domain_text.replace(_FORMBOT_SEATING, _SEATING_WITH_BUTTONS)
    assert domain_text.count("\nresponses:\n") == 1
    domain = folder / "domain.yml"
    domain.write_text(domain_text.replace("\nresponses:\n", "\nresponses:\n" + extra_responses), encoding="utf-8")
    project = load_project(ProjectPaths.discover(FORMBOT, domain=domain))
    path, _ = train_model(project, folder / "models")
    return path


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> LoadedModel:
    """Formbot with buttons on the seating question, trained once."""
    return load_model(_train_formbot(tmp_path_factory.mktemp("formbot")))


@pytest.fixture(scope="module")
def model_with_own_refusal(tmp_path_factory: pytest.TempPathFactory) -> LoadedModel:
    """The same bot, with its own `utter_message_refused`."""
    return load_model(_train_formbot(tmp_path_factory.mktemp("formbot-refusal"), extra_responses=_OWN_REFUSAL))


@dataclass
class Deployment:
    """One running server with its stores and the two platforms it talks to."""

    client: TestClient[web.Request, web.Application]
    runtime: Runtime
    store: TrackerStore
    slack: SlackStandIn
    telegram: TelegramApiStandin
    slack_input: SlackInput
    telegram_input: TelegramInput

    @property
    def slack_webhook(self) -> str:
        return str(self.client.make_url("/webhooks/slack/webhook"))

    async def events(self, sender_id: str) -> list[Event]:
        """The conversation's events as the tracker store holds them."""
        return await self.store.retrieve_since(sender_id, 0)

    async def user_turns(self, sender_id: str) -> list[UserUttered]:
        return [event for event in await self.events(sender_id) if isinstance(event, UserUttered)]

    async def bot_texts(self, sender_id: str) -> list[str | None]:
        return [event.text for event in await self.events(sender_id) if isinstance(event, BotUttered)]

    async def slack_says(self, envelope: dict[str, Any]) -> list[Posted]:
        """Deliver a signed event, wait for the turn it started; the messages the bot posted meanwhile."""
        before = len(self.slack.posted)
        answer = await self.slack.deliver_event(self.slack_webhook, envelope)
        assert answer.status == 200, answer.text
        await self.slack_input.finish_turns(TURN_TIMEOUT)
        return self.slack.posted[before:]

    async def slack_clicks(self, posted: Posted, value: str) -> list[Posted]:
        """Click the button with `value` on a message the bot posted; the messages the bot posted then."""
        before = len(self.slack.posted)
        answer = await self.slack.deliver_interaction(self.slack_webhook, block_actions_payload(posted.reply, value))
        assert answer.status == 200, answer.text
        await self.slack_input.finish_turns(TURN_TIMEOUT)
        return self.slack.posted[before:]

    async def telegram_says(self, update: dict[str, Any]) -> list[ApiCall]:
        """Deliver an update to the webhook (its turn runs before the answer); the sendMessage calls it made."""
        before = len(self.telegram.calls_to("sendMessage"))
        assert await self.telegram.deliver(update) == 200
        return self.telegram.calls_to("sendMessage")[before:]

    async def rest_says(self, sender: str, text: str) -> list[dict[str, Any]]:
        response = await self.client.post("/webhooks/rest/webhook", json={"sender": sender, "message": text})
        assert response.status == 200, await response.text()
        replies: list[dict[str, Any]] = await response.json()
        return replies


def _credentials(folder: Path, slack: SlackStandIn, telegram: TelegramApiStandin, port: int) -> Path:
    path = folder / "credentials.yml"
    path.write_text(
        "rest:\n"
        "slack:\n"
        f"  slack_token: {BOT_TOKEN}\n"
        f"  slack_signing_secret: {SIGNING_SECRET}\n"
        f"  api_url: {slack.api_url}\n"
        "  use_threads: true\n"
        "telegram:\n"
        f"  access_token: '{TELEGRAM_TOKEN}'\n"
        f"  secret_token: {TELEGRAM_SECRET}\n"
        f"  base_url: {telegram.base_url}\n"
        f"  webhook_url: http://127.0.0.1:{port}/webhooks/telegram/webhook\n",
        encoding="utf-8",
    )
    return path


@asynccontextmanager
async def _deployment(model: LoadedModel, tmp_path: Path) -> AsyncIterator[Deployment]:
    """The server as `bot run` builds it (credentials.yml, SQLite tracker store), started with its channels."""
    slack = SlackStandIn()
    await slack.start()
    telegram = TelegramApiStandin(TELEGRAM_TOKEN)
    await telegram.start()
    store = create_tracker_store(
        TrackerStoreSettings(type="sql", dialect="sqlite", db=str(tmp_path / "conversations.db"))
    )
    runtime = Runtime(model, store, InMemoryLockStore())
    port = unused_port()
    app = create_app(runtime, credentials=_credentials(tmp_path, slack, telegram, port))
    channels = app[SERVER_STATE].channels
    [slack_input] = [channel for channel in channels if isinstance(channel, SlackInput)]
    [telegram_input] = [channel for channel in channels if isinstance(channel, TelegramInput)]
    client = TestClient(TestServer(app, host="127.0.0.1", port=port))
    await client.start_server()
    try:
        yield Deployment(client, runtime, store, slack, telegram, slack_input, telegram_input)
    finally:
        await client.close()
        await slack.stop()
        await telegram.close()


@pytest.fixture
async def bot(model: LoadedModel, tmp_path: Path) -> AsyncIterator[Deployment]:
    async with _deployment(model, tmp_path) as deployment:
        yield deployment


@pytest.fixture
async def bot_with_own_refusal(model_with_own_refusal: LoadedModel, tmp_path: Path) -> AsyncIterator[Deployment]:
    async with _deployment(model_with_own_refusal, tmp_path) as deployment:
        yield deployment


def test_the_server_runs_the_channels_credentials_yml_names(bot: Deployment) -> None:
    assert [channel.name for channel in bot.client.app[SERVER_STATE].channels] == ["rest", "slack", "telegram"]
    assert bot.telegram.webhook_url == f"http://127.0.0.1:{bot.client.port}/webhooks/telegram/webhook"
    assert bot.telegram.webhook_secret == TELEGRAM_SECRET
    assert [call.token for call in bot.slack.calls_to("auth.test")] == [BOT_TOKEN]


# --- Slack ---------------------------------------------------------------------------------------------------


async def test_slack_a_mention_is_greeted_in_its_thread_and_the_turn_is_stored(bot: Deployment) -> None:
    mention = app_mention_event(f"<@{BOT_USER_ID}> hi there", ts="1700000100.000100")
    [posted] = await bot.slack_says(mention)

    assert posted.args["channel"] == PUBLIC_CHANNEL
    assert posted.args["thread_ts"] == "1700000100.000100"
    assert posted.args["text"] == GREETING
    assert bot.slack.calls_to("chat.postMessage")[0].token == BOT_TOKEN
    [turn] = await bot.user_turns(USER_ID)
    assert (turn.text, turn.intent_name, turn.input_channel) == ("hi there", "greet", "slack")
    assert turn.message_id == mention["event"]["client_msg_id"]
    assert await bot.bot_texts(USER_ID) == [GREETING]


async def test_slack_the_form_runs_across_messages_and_a_button_click_in_one_thread(bot: Deployment) -> None:
    thread = "1700000200.000100"
    answers: list[Posted] = []
    for index, (text, _) in enumerate(FORM_BEFORE_BUTTONS):
        envelope = message_event(text, ts=thread) if index == 0 else message_event(text, thread_ts=thread)
        answers.extend(await bot.slack_says(envelope))
    assert [posted.args["text"] for posted in answers] == [answer for _, answer in FORM_BEFORE_BUTTONS]
    question = answers[-1]
    section, actions = question.args["blocks"]
    assert section == {"type": "section", "text": {"type": "mrkdwn", "text": SEATING_QUESTION}}
    assert [(b["type"], b["text"]["text"], b["value"]) for b in actions["elements"]] == [
        ("button", title, payload) for title, payload in SEATING_BUTTONS
    ]

    answers.extend(await bot.slack_clicks(question, "/affirm"))
    for text, _ in FORM_AFTER_BUTTONS:
        answers.extend(await bot.slack_says(message_event(text, thread_ts=thread)))

    texts = [posted.args["text"] for posted in answers[3:]]
    assert texts[:3] == [AFTER_OUTSIDE, *(answer for _, answer in FORM_AFTER_BUTTONS)]
    assert "- cuisine: thai" in texts[3] and "- feedback: it was lovely" in texts[3]
    assert {(posted.args["channel"], posted.args["thread_ts"]) for posted in answers} == {(DM_CHANNEL, thread)}
    turns = await bot.user_turns(USER_ID)
    assert [turn.intent_name for turn in turns] == ["request_restaurant", "inform", "inform", "affirm", "deny",
                                                    "inform"]
    assert {turn.input_channel for turn in turns} == {"slack"}
    assert turns[3].text == "/affirm"
    tracker = await bot.runtime.tracker(USER_ID)
    assert tracker.current_slot_values().items() >= FILLED_FORM.items()
    assert float(tracker.get_slot("num_people")) == 4
    assert tracker.active_loop_name is None


async def test_slack_a_retry_and_a_duplicate_event_store_one_turn_and_post_once(bot: Deployment) -> None:
    envelope = message_event("hi", event_id="Ev0SCENARIO1")
    [posted] = await bot.slack_says(envelope)
    retry = await bot.slack.deliver_event(bot.slack_webhook, envelope, retry_num=1, retry_reason="http_error")
    duplicate = await bot.slack.deliver_event(bot.slack_webhook, envelope)
    await bot.slack_input.finish_turns(TURN_TIMEOUT)

    assert (retry.status, duplicate.status) == (200, 200)
    assert posted.args["text"] == GREETING
    assert len(bot.slack.calls_to("chat.postMessage")) == 1
    assert len(await bot.user_turns(USER_ID)) == 1
    assert await bot.bot_texts(USER_ID) == [GREETING]


async def test_slack_unsigned_wrong_and_stale_signatures_get_401_and_store_nothing(bot: Deployment) -> None:
    envelope = message_event("hi")
    body = json.dumps(envelope).encode()
    wrong = await bot.slack.deliver_event(bot.slack_webhook, envelope, secret="not-the-signing-secret")
    stale = await bot.slack.deliver_event(bot.slack_webhook, envelope, timestamp=int(time.time()) - 10 * 60)
    async with aiohttp.ClientSession() as session, session.post(
        bot.slack_webhook, data=body, headers={"Content-Type": "application/json"}
    ) as unsigned:
        unsigned_status = unsigned.status
    await bot.slack_input.finish_turns(TURN_TIMEOUT)

    assert (wrong.status, stale.status, unsigned_status) == (401, 401, 401)
    assert bot.slack.calls_to("chat.postMessage") == []
    assert await bot.store.keys() == []
    [answered] = await bot.slack_says(envelope)  # the refused attempts did not mark it as seen
    assert answered.args["text"] == GREETING


async def test_slack_a_429_is_waited_out_and_the_turn_is_stored_once(bot: Deployment) -> None:
    bot.slack.script("chat.postMessage", 429, {"ok": False, "error": "ratelimited"}, {"Retry-After": "1"})
    [posted] = await bot.slack_says(message_event("hi"))

    refused, accepted = bot.slack.calls_to("chat.postMessage")
    assert accepted.at - refused.at >= 1.0
    assert accepted.args == refused.args
    assert posted.args["text"] == GREETING
    assert len(await bot.user_turns(USER_ID)) == 1
    assert await bot.bot_texts(USER_ID) == [GREETING]


async def test_slack_down_is_logged_and_the_turn_is_still_stored(
    bot: Deployment, caplog: pytest.LogCaptureFixture
) -> None:
    await bot.slack.stop()
    with caplog.at_level(logging.ERROR, logger="channels"):
        posted = await bot.slack_says(message_event("hi"))

    assert posted == []
    assert "unreachable" in caplog.text
    assert BOT_TOKEN not in caplog.text and SIGNING_SECRET not in caplog.text
    [turn] = await bot.user_turns(USER_ID)
    assert turn.intent_name == "greet"
    assert await bot.bot_texts(USER_ID) == [GREETING]

    await bot.slack.start()  # Slack is back: the next message is answered, in the same conversation
    [answer] = await bot.slack_says(message_event(FORM_BEFORE_BUTTONS[0][0]))
    assert answer.args["text"] == FORM_BEFORE_BUTTONS[0][1]
    assert [turn.intent_name for turn in await bot.user_turns(USER_ID)] == ["greet", "request_restaurant"]


async def test_slack_a_text_too_long_is_answered_with_why_in_its_thread_and_nothing_is_stored(
    bot: Deployment, caplog: pytest.LogCaptureFixture
) -> None:
    """Slack takes messages of up to 40,000 characters; the runtime takes 10,000 (its NLU runs on the event
    loop). The user is told so where the answer would have gone, and the conversation goes on."""
    thread = "1700000300.000100"
    with caplog.at_level(logging.WARNING, logger="channels"):
        [refusal] = await bot.slack_says(message_event(TOO_LONG, ts=thread))

    assert refusal.args["text"] == TOO_LONG_REPLY
    assert (refusal.args["channel"], refusal.args["thread_ts"]) == (DM_CHANNEL, thread)
    assert len(bot.slack.calls_to("chat.postMessage")) == 1
    assert await bot.events(USER_ID) == []
    [warning] = [record for record in caplog.records if record.getMessage().startswith("Refused Slack message")]
    assert "12,000 characters long; at most 10,000" in warning.getMessage()
    assert warning.levelno == logging.WARNING and warning.exc_info is None
    assert PASTED_LOG_LINE not in caplog.text  # ids and the reason, never what the user wrote
    exposition = (await (await bot.client.get("/metrics")).text()).splitlines()
    assert 'conductor_messages_refused_total{channel="slack",reason="too_long"} 1.0' in exposition
    assert 'conductor_turn_errors_total{channel="slack"} 0.0' in exposition  # the user was told: not an error

    [answer] = await bot.slack_says(message_event("hi", thread_ts=thread))
    assert (answer.args["channel"], answer.args["thread_ts"], answer.args["text"]) == (DM_CHANNEL, thread, GREETING)
    [turn] = await bot.user_turns(USER_ID)
    assert (turn.text, turn.intent_name) == ("hi", "greet")
    assert await bot.bot_texts(USER_ID) == [GREETING]


async def test_slack_a_text_that_is_not_unicode_is_answered_with_why_and_nothing_is_stored(
    bot: Deployment, caplog: pytest.LogCaptureFixture
) -> None:
    """A lone surrogate, which JSON can carry, is not text: nothing after the channel could encode it."""
    with caplog.at_level(logging.WARNING, logger="channels"):
        [refusal] = await bot.slack_says(message_event("my pin is 4711 \ud800"))

    assert refusal.args["text"] == NOT_TEXT_REPLY
    assert await bot.events(USER_ID) == []
    [warning] = [record for record in caplog.records if record.getMessage().startswith("Refused Slack message")]
    assert "lone surrogate (\\ud800)" in warning.getMessage()
    assert "4711" not in caplog.text


async def test_slack_a_refusal_slack_does_not_take_is_logged_like_any_reply(
    bot: Deployment, caplog: pytest.LogCaptureFixture
) -> None:
    bot.slack.script("chat.postMessage", 200, {"ok": False, "error": "not_in_channel"})
    with caplog.at_level(logging.WARNING, logger="channels"):
        assert await bot.slack_says(message_event(TOO_LONG)) == []

    [call] = bot.slack.calls_to("chat.postMessage")
    assert call.args["text"] == TOO_LONG_REPLY
    assert "Slack refused chat.postMessage to D0DIRECT1: not_in_channel" in caplog.text
    assert not [record for record in caplog.records if record.exc_info]  # nothing raised out of the channel
    assert await bot.events(USER_ID) == []
    [answer] = await bot.slack_says(message_event("hi"))
    assert answer.args["text"] == GREETING


async def test_slack_a_refusal_is_said_in_the_domains_own_words(bot_with_own_refusal: Deployment) -> None:
    bot = bot_with_own_refusal
    [refusal] = await bot.slack_says(message_event(TOO_LONG))

    assert refusal.args["text"] == f"Whoa, 12000 characters! I read {MAX_TEXT_CHARS} at a time."
    assert await bot.events(USER_ID) == []


# --- Telegram ------------------------------------------------------------------------------------------------


async def test_telegram_start_and_hello_are_greeted_in_the_chat_and_stored(bot: Deployment) -> None:
    start = bot.telegram.message_update("/start")
    [first] = await bot.telegram_says(start)
    [second] = await bot.telegram_says(bot.telegram.message_update("hello"))

    assert [(call.params["chat_id"], call.params["text"]) for call in (first, second)] == [(CHAT_ID, GREETING)] * 2
    turns = await bot.user_turns(str(CHAT_ID))
    assert [(turn.text, turn.intent_name, turn.input_channel) for turn in turns] == [
        ("/greet", "greet", "telegram"), ("hello", "greet", "telegram")
    ]
    assert turns[0].message_id == str(start["update_id"])
    assert await bot.bot_texts(str(CHAT_ID)) == [GREETING, GREETING]


async def test_telegram_the_form_runs_across_messages_and_an_inline_button(bot: Deployment) -> None:
    sent: list[ApiCall] = []
    for text, _ in FORM_BEFORE_BUTTONS:
        sent.extend(await bot.telegram_says(bot.telegram.message_update(text)))
    assert [call.params["text"] for call in sent] == [answer for _, answer in FORM_BEFORE_BUTTONS]
    assert sent[-1].params["reply_markup"] == {
        "inline_keyboard": [[{"text": title, "callback_data": payload} for title, payload in SEATING_BUTTONS]]
    }

    press = bot.telegram.callback_update("/affirm")
    sent.extend(await bot.telegram_says(press))
    [answered] = bot.telegram.calls_to("answerCallbackQuery")
    assert answered.params["callback_query_id"] == press["callback_query"]["id"]
    for text, _ in FORM_AFTER_BUTTONS:
        sent.extend(await bot.telegram_says(bot.telegram.message_update(text)))

    texts = [call.params["text"] for call in sent[3:]]
    assert texts[:3] == [AFTER_OUTSIDE, *(answer for _, answer in FORM_AFTER_BUTTONS)]
    assert "- cuisine: thai" in texts[3]
    assert {call.params["chat_id"] for call in sent} == {CHAT_ID}
    turns = await bot.user_turns(str(CHAT_ID))
    assert [turn.intent_name for turn in turns] == ["request_restaurant", "inform", "inform", "affirm", "deny",
                                                    "inform"]
    assert turns[3].text == "/affirm"
    tracker = await bot.runtime.tracker(str(CHAT_ID))
    assert tracker.current_slot_values().items() >= FILLED_FORM.items()
    assert tracker.active_loop_name is None


async def test_telegram_a_duplicate_update_stores_one_turn_and_sends_once(bot: Deployment) -> None:
    update = bot.telegram.message_update("hello")
    [reply] = await bot.telegram_says(update)
    assert await bot.telegram.deliver(update) == 200

    assert reply.params["text"] == GREETING
    assert len(bot.telegram.calls_to("sendMessage")) == 1
    assert len(await bot.user_turns(str(CHAT_ID))) == 1


async def test_telegram_a_text_too_long_is_answered_with_why_and_nothing_is_stored(
    bot: Deployment, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="channels"):
        [refusal] = await bot.telegram_says(bot.telegram.message_update(TOO_LONG))

    assert refusal.params == {"chat_id": CHAT_ID, "text": TOO_LONG_REPLY}
    assert await bot.events(str(CHAT_ID)) == []
    [warning] = [record for record in caplog.records if record.getMessage().startswith("Refused Telegram update")]
    assert "12,000 characters long" in warning.getMessage() and warning.exc_info is None
    assert PASTED_LOG_LINE not in caplog.text
    [reply] = await bot.telegram_says(bot.telegram.message_update("hello"))
    assert reply.params["text"] == GREETING
    assert [turn.text for turn in await bot.user_turns(str(CHAT_ID))] == ["hello"]


async def test_telegram_a_text_that_is_not_unicode_is_answered_with_why_and_nothing_is_stored(
    bot: Deployment, caplog: pytest.LogCaptureFixture
) -> None:
    """The update's JSON holds "\\ud800" (the stand-in writes JSON with escapes, as Telegram does)."""
    update = bot.telegram.message_update("card 4111 1111 \ud800")
    with caplog.at_level(logging.WARNING, logger="channels"):
        [refusal] = await bot.telegram_says(update)

    assert refusal.params == {"chat_id": CHAT_ID, "text": NOT_TEXT_REPLY}
    assert await bot.events(str(CHAT_ID)) == []
    assert await bot.store.keys() == []
    [warning] = [record for record in caplog.records if record.getMessage().startswith("Refused Telegram update")]
    assert f"update {update['update_id']} (chat {CHAT_ID})" in warning.getMessage()
    assert "lone surrogate (\\ud800)" in warning.getMessage()
    assert "4111" not in caplog.text


async def test_telegram_a_refusal_is_said_in_the_domains_words_when_a_variation_fits(
    bot_with_own_refusal: Deployment,
) -> None:
    """The response's variations are chosen as for any response: for the channel, and by their conditions on
    the conversation's slots. When none fits, the built-in text is sent."""
    bot = bot_with_own_refusal
    sender = str(CHAT_ID)
    [refusal] = await bot.telegram_says(bot.telegram.message_update(TOO_LONG))
    assert refusal.params["text"] == TOO_LONG_REPLY
    assert await bot.events(sender) == []

    for text, answer in FORM_BEFORE_BUTTONS[:2]:  # the form asks for the cuisine and hears "thai"
        [reply] = await bot.telegram_says(bot.telegram.message_update(text))
        assert reply.params["text"] == answer
    stored = await bot.events(sender)
    [refusal] = await bot.telegram_says(bot.telegram.message_update(TOO_LONG))

    assert refusal.params["text"] == f"Back to your thai dinner: please keep it under {MAX_TEXT_CHARS} characters."
    assert await bot.events(sender) == stored
    assert [turn.text for turn in await bot.user_turns(sender)] == [text for text, _ in FORM_BEFORE_BUTTONS[:2]]
    [reply] = await bot.telegram_says(bot.telegram.message_update(FORM_BEFORE_BUTTONS[2][0]))
    assert reply.params["text"] == FORM_BEFORE_BUTTONS[2][1]  # the form goes on where it was


async def test_telegram_a_wrong_or_missing_secret_gets_401_and_stores_nothing(bot: Deployment) -> None:
    update = bot.telegram.message_update("hello")
    calls_before = len(bot.telegram.calls)
    assert await bot.telegram.deliver(update, secret=TELEGRAM_SECRET + "x") == 401
    missing = await bot.client.post("/webhooks/telegram/webhook", json=update)
    wrong = await bot.client.post("/webhooks/telegram/webhook", json=update, headers={SECRET_HEADER: "guess"})

    assert (missing.status, wrong.status) == (401, 401)
    assert len(bot.telegram.calls) == calls_before
    assert await bot.store.keys() == []
    [reply] = await bot.telegram_says(update)  # the refused attempts did not mark it as seen
    assert reply.params["text"] == GREETING


async def test_telegram_a_429_is_waited_out_and_the_turn_is_stored_once(bot: Deployment) -> None:
    bot.telegram.fail_next("sendMessage", 429, "Too Many Requests: retry after 1", retry_after=1)
    started = time.monotonic()
    sent = await bot.telegram_says(bot.telegram.message_update("hello"))

    assert time.monotonic() - started >= 1.0
    refused, accepted = sent
    assert refused.params == accepted.params == {"chat_id": CHAT_ID, "text": GREETING}
    assert bot.telegram_input.get_output_channel().failed_sends == 0
    assert len(await bot.user_turns(str(CHAT_ID))) == 1
    assert await bot.bot_texts(str(CHAT_ID)) == [GREETING]


async def test_telegram_down_is_logged_and_the_turn_is_still_stored(
    bot: Deployment, caplog: pytest.LogCaptureFixture
) -> None:
    await bot.telegram.close()  # nothing listens at the Bot API's address any more
    with caplog.at_level(logging.WARNING):
        assert await bot.telegram.deliver(bot.telegram.message_update("hello")) == 200

    assert bot.telegram_input.get_output_channel().failed_sends == 1
    assert "NetworkError" in caplog.text
    assert TELEGRAM_TOKEN not in caplog.text
    [turn] = await bot.user_turns(str(CHAT_ID))
    assert turn.intent_name == "greet"
    assert await bot.bot_texts(str(CHAT_ID)) == [GREETING]


# --- one conversation, two channels --------------------------------------------------------------------------


async def test_a_conversation_started_on_the_web_continues_on_telegram(bot: Deployment) -> None:
    sender = str(CHAT_ID)  # the Telegram channel keys a conversation by its chat id
    for text, answer in FORM_BEFORE_BUTTONS[:2]:
        assert await bot.rest_says(sender, text) == [{"recipient_id": sender, "text": answer}]

    text, answer = FORM_BEFORE_BUTTONS[2]
    [question] = await bot.telegram_says(bot.telegram.message_update(text))
    assert question.params["text"] == answer
    assert "inline_keyboard" in question.params["reply_markup"]
    [done] = await bot.telegram_says(bot.telegram.callback_update("/affirm"))
    assert done.params["text"] == AFTER_OUTSIDE

    turns = await bot.user_turns(sender)
    assert [turn.input_channel for turn in turns] == ["rest", "rest", "telegram", "telegram"]
    tracker = await bot.runtime.tracker(sender)
    assert (tracker.get_slot("cuisine"), tracker.get_slot("outdoor_seating")) == ("thai", True)
    assert tracker.active_loop_name == "restaurant_form"
    assert await bot.store.keys() == [sender]


async def test_a_conversation_started_on_the_web_continues_on_slack(bot: Deployment) -> None:
    sender = USER_ID  # the Slack channel keys a conversation by the user (conversation_granularity: sender)
    for text, answer in FORM_BEFORE_BUTTONS[:2]:
        assert await bot.rest_says(sender, text) == [{"recipient_id": sender, "text": answer}]

    text, answer = FORM_BEFORE_BUTTONS[2]
    [question] = await bot.slack_says(message_event(text))
    assert (question.args["channel"], question.args["text"]) == (DM_CHANNEL, answer)
    [done] = await bot.slack_clicks(question, "/affirm")
    assert done.args["text"] == AFTER_OUTSIDE

    turns = await bot.user_turns(sender)
    assert [turn.input_channel for turn in turns] == ["rest", "rest", "slack", "slack"]
    tracker = await bot.runtime.tracker(sender)
    assert (tracker.get_slot("cuisine"), tracker.get_slot("outdoor_seating")) == ("thai", True)
    assert await bot.store.keys() == [sender]
