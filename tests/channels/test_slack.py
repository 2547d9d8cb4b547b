"""The Slack channel against a local stand-in of Slack (tests/channels/slack_api_standin.py).

The channel's official SDK client talks to the stand-in's Web API; events reach the channel's routes, mounted
in an aiohttp server as the runtime's server mounts them, signed as Slack signs them. `ScriptedBot` plays the
runtime: it answers from a table of Rasa-shaped replies through `message.output_channel`. The scenario tests
(greeting, buttons, a form across messages) assert only what lands at Slack, so the runtime can replace the
`bot` fixture once it exists.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from bot.config import load_credentials
from bot.errors import ConductorError
from channels.base import UserMessage
from channels.slack import CHANNEL, SlackInput
from channels.slack_format import (
    MAX_MESSAGE_TEXT,
    MAX_SECTION_TEXT,
    escape_mrkdwn,
    plain_text_from_slack,
    split_text,
)
from channels.slack_output import SlackOutput
from channels.slack_settings import SlackSettings
from tests.channels.slack_api_standin import (
    APP_TOKEN,
    BOT_ID,
    BOT_TOKEN,
    BOT_USER_ID,
    DM_CHANNEL,
    PUBLIC_CHANNEL,
    SIGNING_SECRET,
    USER_ID,
    SlackStandIn,
    app_mention_event,
    block_actions_payload,
    message_event,
)

SYMBOLS = "Fish & chips <today> > tomorrow, see <https://example.com/menu|the menu> <!channel>"
MENU_BUTTONS = [
    {"title": "Yes please", "payload": "/affirm"},
    {"title": "No thanks", "payload": "/deny"},
]

REPLIES: dict[str, dict[str, Any]] = {
    "hi": {"text": "Hey there! How can I help?"},
    "menu": {"text": "Would you like the *menu*?", "buttons": MENU_BUTTONS},
    "/affirm": {"text": "Here is the menu."},
    "/deny": {"text": "Maybe later, then."},
    "picture": {"image": "https://example.com/menu.png"},
    "custom": {"custom": {"blocks": [{"type": "divider"}], "text": "a divider"}},
    "symbols": {"text": SYMBOLS},
    "long": {"text": "\n\n".join(f"Paragraph {i}: " + "word " * 400 for i in range(25))},
    "long menu": {"text": "x " * 1_750, "buttons": MENU_BUTTONS},
}


@dataclass
class ScriptedBot:
    """Plays the runtime: answers from `REPLIES`, keeping a little state for the booking form."""

    received: list[UserMessage] = field(default_factory=list)
    forms: dict[str, dict[str, str]] = field(default_factory=dict)
    release: asyncio.Event = field(default_factory=asyncio.Event)

    async def __call__(self, message: UserMessage) -> None:
        self.received.append(message)
        for reply in await self.replies(message):
            await message.output_channel.send_response(message.sender_id, reply)

    async def replies(self, message: UserMessage) -> list[dict[str, Any]]:
        text = message.text or ""
        form = self.forms.get(message.sender_id)
        if form is not None:
            return self.fill_form(form, text)
        if text == "book a table":
            self.forms[message.sender_id] = {}
            return [{"text": "What name should the booking be under?"}]
        if text == "slow":
            await self.release.wait()
            return [{"text": "done at last"}]
        if text == "fail":
            raise RuntimeError("the bot broke")
        return [REPLIES.get(text, {"text": f"You said: {text}"})]

    @staticmethod
    def fill_form(form: dict[str, str], text: str) -> list[dict[str, Any]]:
        if "name" not in form:
            form["name"] = text
            return [{"text": "How many people?"}]
        form["people"] = text
        return [{"text": f"Booked a table for {form['people']} under {form['name']}."}]


@dataclass
class RunningChannel:
    channel: SlackInput
    webhook_url: str
    base_url: str


@asynccontextmanager
async def running_channel(
    standin: SlackStandIn, bot: Callable[[UserMessage], Any], **settings: Any
) -> AsyncIterator[RunningChannel]:
    """The channel built from credentials, its routes mounted under /webhooks/slack, initialized and started."""
    credentials = {
        "slack_token": BOT_TOKEN,
        "slack_signing_secret": SIGNING_SECRET,
        "api_url": standin.api_url,
        **settings,
    }
    channel = SlackInput.from_credentials({k: v for k, v in credentials.items() if v is not None})
    webhooks = web.Application()
    webhooks.add_routes(channel.routes(bot))
    app = web.Application()
    app.add_subapp("/webhooks/slack", webhooks)
    runner = web.AppRunner(app, handle_signals=False)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    base_url = f"http://127.0.0.1:{runner.addresses[0][1]}/webhooks/slack"
    try:
        await channel.initialize()
        await channel.start(bot)
        yield RunningChannel(channel, f"{base_url}/webhook", base_url)
    finally:
        await channel.stop()
        await channel.shutdown()
        await runner.cleanup()


@pytest.fixture
def bot() -> ScriptedBot:
    return ScriptedBot()


@pytest.fixture
async def slack(standin: SlackStandIn, bot: ScriptedBot) -> AsyncIterator[RunningChannel]:
    async with running_channel(standin, bot) as running:
        yield running


# --- HTTP basics ---------------------------------------------------------------------------------------------


async def test_url_verification_answers_the_challenge(standin: SlackStandIn, slack: RunningChannel) -> None:
    challenge = "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"
    answer = await standin.deliver(
        slack.webhook_url,
        json.dumps({"token": "Jhj5dZrVaK7ZwHHjRyZWjbDl", "challenge": challenge, "type": "url_verification"}).encode(),
        "application/json",
    )
    assert answer.status == 200
    assert json.loads(answer.text) == {"challenge": challenge}


async def test_health_route(slack: RunningChannel) -> None:
    async with aiohttp.ClientSession() as session, session.get(slack.base_url + "/") as answer:
        assert answer.status == 200
        assert await answer.json() == {"status": "ok"}


async def test_the_channel_is_registered_under_slack() -> None:
    assert CHANNEL is SlackInput
    assert SlackInput.name == "slack"


# --- scenarios -----------------------------------------------------------------------------------------------


async def test_greeting_round_trip(standin: SlackStandIn, slack: RunningChannel, bot: ScriptedBot) -> None:
    answer = await standin.deliver_event(slack.webhook_url, message_event("hi"))
    assert answer.status == 200

    [posted] = await standin.wait_for_posts(1)
    assert posted.args["channel"] == DM_CHANNEL
    assert posted.args["text"] == "Hey there! How can I help?"
    assert "thread_ts" not in posted.args
    assert standin.calls_to("chat.postMessage")[0].token == BOT_TOKEN
    [message] = bot.received
    assert (message.text, message.sender_id, message.input_channel) == ("hi", USER_ID, "slack")
    assert message.metadata == {"out_channel": DM_CHANNEL, "thread_id": message.metadata["thread_id"],
                                "users": [BOT_USER_ID]}


async def test_a_mention_is_answered_in_its_thread_with_use_threads(standin: SlackStandIn, bot: ScriptedBot) -> None:
    async with running_channel(standin, bot, use_threads=True) as slack:
        envelope = app_mention_event(f"<@{BOT_USER_ID}> hi", ts="1700000001.000200")
        await standin.deliver_event(slack.webhook_url, envelope)
        [posted] = await standin.wait_for_posts(1)
    assert posted.args["channel"] == PUBLIC_CHANNEL
    assert posted.args["thread_ts"] == "1700000001.000200"
    assert bot.received[0].text == "hi"


async def test_buttons_are_blocks_and_a_click_comes_back_as_the_payload(
    standin: SlackStandIn, slack: RunningChannel, bot: ScriptedBot
) -> None:
    await standin.deliver_event(slack.webhook_url, message_event("menu"))
    [menu] = await standin.wait_for_posts(1)
    section, actions = menu.args["blocks"]
    assert section == {"type": "section", "text": {"type": "mrkdwn", "text": "Would you like the *menu*?"}}
    assert actions["type"] == "actions"
    assert [(b["type"], b["text"]["text"], b["value"]) for b in actions["elements"]] == [
        ("button", "Yes please", "/affirm"), ("button", "No thanks", "/deny")
    ]
    assert menu.args["text"] == "Would you like the *menu*?"  # the notification fallback

    click = block_actions_payload(menu.reply, "/affirm")
    answer = await standin.deliver_interaction(slack.webhook_url, click)
    assert answer.status == 200
    [_, reply] = await standin.wait_for_posts(2)
    assert reply.args == {"channel": DM_CHANNEL, "text": "Here is the menu."}
    assert bot.received[-1].text == "/affirm"
    assert bot.received[-1].sender_id == USER_ID


async def test_a_form_across_messages_keeps_one_conversation(standin: SlackStandIn, slack: RunningChannel) -> None:
    for count, text in enumerate(["book a table", "Ada", "4"], start=1):
        await standin.deliver_event(slack.webhook_url, message_event(text))
        await standin.wait_for_posts(count)
    assert [p.args["text"] for p in standin.posted] == [
        "What name should the booking be under?", "How many people?", "Booked a table for 4 under Ada."
    ]


@pytest.mark.parametrize(
    ("granularity", "expected"),
    [
        ("sender", USER_ID),
        ("channel", f"{USER_ID}_{PUBLIC_CHANNEL}"),
        ("thread", f"{USER_ID}_{PUBLIC_CHANNEL}_1700000000.000100"),
    ],
)
async def test_conversation_granularity_decides_the_conversation_key(
    standin: SlackStandIn, bot: ScriptedBot, granularity: str, expected: str
) -> None:
    async with running_channel(standin, bot, conversation_granularity=granularity, use_threads=True) as slack:
        reply_in_thread = app_mention_event(f"<@{BOT_USER_ID}> hi", ts="1700000099.000900",
                                            thread_ts="1700000000.000100")
        await standin.deliver_event(slack.webhook_url, reply_in_thread)
        [posted] = await standin.wait_for_posts(1)
    assert bot.received[0].sender_id == expected
    assert posted.args["thread_ts"] == "1700000000.000100"


async def test_the_output_channel_for_a_conversation_key_finds_channel_and_thread(
    standin: SlackStandIn, bot: ScriptedBot
) -> None:
    async with running_channel(standin, bot, use_threads=True) as slack:
        output = slack.channel.get_output_channel()
        await output.send_response(f"{USER_ID}_{PUBLIC_CHANNEL}_1700000000.000100", {"text": "reminder"})
        await output.send_response(USER_ID, {"text": "just to you"})
    threaded, direct = standin.posted
    assert (threaded.args["channel"], threaded.args["thread_ts"]) == (PUBLIC_CHANNEL, "1700000000.000100")
    assert direct.args["channel"] == USER_ID
    assert direct.reply["channel"].startswith("D")


async def test_messages_in_slack_channel_are_answered_without_a_mention(
    standin: SlackStandIn, bot: ScriptedBot
) -> None:
    async with running_channel(standin, bot, slack_channel=PUBLIC_CHANNEL) as slack:
        await standin.deliver_event(slack.webhook_url, message_event("hi", channel=PUBLIC_CHANNEL,
                                                                     channel_type="channel"))
        [posted] = await standin.wait_for_posts(1)
    assert posted.args["channel"] == PUBLIC_CHANNEL


# --- what is not answered ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "envelope",
    [
        message_event("beep", bot_id="B0OTHER", subtype="bot_message"),
        message_event("from a bot user", bot_id="B0OTHER"),
        message_event("my own words", user=BOT_USER_ID, bot_id=BOT_ID),
        message_event("no bot_id but our user", user=BOT_USER_ID),
        message_event("", subtype="message_changed",
                      message={"type": "message", "user": USER_ID, "text": "hi (edited)", "ts": "1.1"}),
        message_event("", subtype="message_deleted", deleted_ts="1700000000.000100"),
        message_event("<@U0HUMAN1> has joined the channel", subtype="channel_join"),
        message_event("chatter without a mention", channel=PUBLIC_CHANNEL, channel_type="channel"),
        message_event(f"<@{BOT_USER_ID}>"),
    ],
    ids=["bot_message", "other-bot", "own-message", "own-user", "edit", "delete", "join", "channel-chatter",
         "only-a-mention"],
)
async def test_bots_edits_deletions_and_chatter_are_not_answered(
    standin: SlackStandIn, slack: RunningChannel, bot: ScriptedBot, envelope: dict[str, Any]
) -> None:
    answer = await standin.deliver_event(slack.webhook_url, envelope)
    await slack.channel.finish_turns(5)
    assert answer.status == 200
    assert bot.received == []
    assert standin.calls_to("chat.postMessage") == []


async def test_retries_and_duplicates_are_answered_once(
    standin: SlackStandIn, slack: RunningChannel, bot: ScriptedBot
) -> None:
    envelope = message_event("hi", event_id="Ev0RETRIED1")
    await standin.deliver_event(slack.webhook_url, envelope)
    await standin.wait_for_posts(1)
    retry = await standin.deliver_event(slack.webhook_url, envelope, retry_num=1, retry_reason="http_error")
    duplicate = await standin.deliver_event(slack.webhook_url, envelope)
    await slack.channel.finish_turns(5)
    assert (retry.status, duplicate.status) == (200, 200)
    assert len(bot.received) == 1
    assert len(standin.posted) == 1


async def test_one_message_delivered_as_message_and_app_mention_is_answered_once(
    standin: SlackStandIn, bot: ScriptedBot
) -> None:
    async with running_channel(standin, bot, slack_channel=PUBLIC_CHANNEL) as slack:
        text, ts = f"<@{BOT_USER_ID}> hi", "1700000005.000500"
        await standin.deliver_event(slack.webhook_url, message_event(text, channel=PUBLIC_CHANNEL,
                                                                     channel_type="channel", ts=ts))
        await standin.deliver_event(slack.webhook_url, app_mention_event(text, ts=ts))
        await slack.channel.finish_turns(5)
    assert len(bot.received) == 1
    assert len(standin.posted) == 1


async def test_a_retry_for_a_reason_in_errors_ignore_retry_is_dropped(
    standin: SlackStandIn, slack: RunningChannel, bot: ScriptedBot
) -> None:
    answer = await standin.deliver_event(slack.webhook_url, message_event("hi"), retry_num=1,
                                         retry_reason="http_timeout")
    await slack.channel.finish_turns(5)
    assert answer.status == 200
    assert answer.headers.get("X-Slack-No-Retry") == "1"
    assert bot.received == []


async def test_errors_ignore_retry_names_the_reasons_to_drop(standin: SlackStandIn, bot: ScriptedBot) -> None:
    async with running_channel(standin, bot, errors_ignore_retry=["http_error"]) as slack:
        dropped = await standin.deliver_event(slack.webhook_url, message_event("hi"), retry_num=2,
                                              retry_reason="http_error")
        answered = await standin.deliver_event(slack.webhook_url, message_event("menu"), retry_num=1,
                                               retry_reason="http_timeout")
        await slack.channel.finish_turns(5)
    assert dropped.headers.get("X-Slack-No-Retry") == "1"
    assert "X-Slack-No-Retry" not in answered.headers
    assert [m.text for m in bot.received] == ["menu"]


# --- authenticity --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "options",
    [
        {"secret": "not-the-signing-secret"},
        {"clock_offset": -6 * 60},
        {"clock_offset": 6 * 60},
    ],
    ids=["wrong-secret", "stale", "from-the-future"],
)
async def test_badly_signed_or_stale_requests_get_401_and_nothing_happens(
    standin: SlackStandIn, slack: RunningChannel, bot: ScriptedBot, options: dict[str, Any]
) -> None:
    # the timestamp is taken now, not when the tests were collected (minutes earlier in a full run)
    if "clock_offset" in options:
        options = {"timestamp": int(time.time()) + options["clock_offset"]}
    calls_before = len(standin.calls)
    event = await standin.deliver_event(slack.webhook_url, message_event("hi"), **options)
    verification = await standin.deliver(
        slack.webhook_url, b'{"type": "url_verification", "challenge": "c"}', "application/json", **options
    )
    click = await standin.deliver_interaction(slack.webhook_url, {"type": "block_actions"}, **options)
    await slack.channel.finish_turns(5)
    assert (event.status, verification.status, click.status) == (401, 401, 401)
    assert bot.received == []
    assert len(standin.calls) == calls_before


@pytest.mark.parametrize(
    "headers",
    [{}, {"X-Slack-Signature": "v0=abc"}, {"X-Slack-Request-Timestamp": "soon", "X-Slack-Signature": "v0=abc"}],
    ids=["no-headers", "no-timestamp", "timestamp-not-a-number"],
)
async def test_requests_without_a_usable_signature_get_401(
    slack: RunningChannel, bot: ScriptedBot, headers: dict[str, str]
) -> None:
    body = json.dumps(message_event("hi")).encode()
    async with aiohttp.ClientSession() as session, session.post(
        slack.webhook_url, data=body, headers={"Content-Type": "application/json", **headers}
    ) as answer:
        assert answer.status == 401
    assert bot.received == []


async def test_a_signed_but_malformed_body_gets_400(standin: SlackStandIn, slack: RunningChannel) -> None:
    not_json = await standin.deliver(slack.webhook_url, b"{not json", "application/json")
    no_payload = await standin.deliver(slack.webhook_url, b"other=1", "application/x-www-form-urlencoded")
    assert (not_json.status, no_payload.status) == (400, 400)


# --- acknowledging and turns ---------------------------------------------------------------------------------


async def test_events_are_acknowledged_before_the_turn_finishes(
    standin: SlackStandIn, slack: RunningChannel, bot: ScriptedBot
) -> None:
    answer = await asyncio.wait_for(standin.deliver_event(slack.webhook_url, message_event("slow")), 3)
    assert answer.status == 200
    assert standin.posted == []  # the turn is still waiting
    bot.release.set()
    [posted] = await standin.wait_for_posts(1)
    assert posted.args["text"] == "done at last"


async def test_stop_waits_for_turns_in_flight_then_refuses_new_events(
    standin: SlackStandIn, bot: ScriptedBot
) -> None:
    async with running_channel(standin, bot) as slack:
        await standin.deliver_event(slack.webhook_url, message_event("slow"))
        stopping = asyncio.create_task(slack.channel.stop())
        await asyncio.sleep(0.05)
        assert not stopping.done()
        bot.release.set()
        await stopping
        assert [p.args["text"] for p in standin.posted] == ["done at last"]
        late = await standin.deliver_event(slack.webhook_url, message_event("hi"))
        assert late.status == 503


async def test_stop_cancels_turns_that_outlast_its_timeout(standin: SlackStandIn, bot: ScriptedBot) -> None:
    async with running_channel(standin, bot) as slack:
        slack.channel.stop_timeout = 0.1
        await standin.deliver_event(slack.webhook_url, message_event("slow"))
        await slack.channel.stop()
    assert standin.posted == []


async def test_a_failing_turn_is_logged_and_the_channel_carries_on(
    standin: SlackStandIn, slack: RunningChannel, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger="channels"):
        failed = await standin.deliver_event(slack.webhook_url, message_event("fail"))
        await slack.channel.finish_turns(5)
    assert failed.status == 200
    assert "the bot broke" in caplog.text
    await standin.deliver_event(slack.webhook_url, message_event("hi"))
    await standin.wait_for_posts(1)


# --- platform trouble ----------------------------------------------------------------------------------------


async def test_a_429_is_waited_out_and_the_reply_still_lands(standin: SlackStandIn, slack: RunningChannel) -> None:
    standin.script("chat.postMessage", 429, {"ok": False, "error": "ratelimited"}, {"Retry-After": "1"})
    await standin.deliver_event(slack.webhook_url, message_event("hi"))
    [posted] = await standin.wait_for_posts(1, timeout=10)
    first, second = standin.calls_to("chat.postMessage")
    assert second.at - first.at >= 1.0
    assert posted.args["text"] == "Hey there! How can I help?"


async def test_rate_limit_retries_are_bounded_and_the_loss_is_logged(
    standin: SlackStandIn, slack: RunningChannel, caplog: pytest.LogCaptureFixture
) -> None:
    for _ in range(10):
        standin.script("chat.postMessage", 429, {"ok": False, "error": "ratelimited"}, {"Retry-After": "0"})
    with caplog.at_level(logging.ERROR, logger="channels"):
        await standin.deliver_event(slack.webhook_url, message_event("hi"))
        await slack.channel.finish_turns(10)
    assert len(standin.calls_to("chat.postMessage")) == 4  # the call and three retries
    assert "ratelimited" in caplog.text


async def test_slack_down_is_logged_without_secrets_and_the_webhook_still_acks(
    standin: SlackStandIn, slack: RunningChannel, caplog: pytest.LogCaptureFixture
) -> None:
    await standin.stop()
    with caplog.at_level(logging.DEBUG):
        answer = await standin.deliver_event(slack.webhook_url, message_event("hi"))
        await slack.channel.finish_turns(10)
    assert answer.status == 200
    assert "unreachable" in caplog.text
    assert BOT_TOKEN not in caplog.text and SIGNING_SECRET not in caplog.text

    await standin.start()  # Slack is back: the next message is answered
    await standin.deliver_event(slack.webhook_url, message_event("hi"))
    await standin.wait_for_posts(1)


async def test_a_refused_post_is_logged_with_slacks_error(
    standin: SlackStandIn, slack: RunningChannel, caplog: pytest.LogCaptureFixture
) -> None:
    standin.script("chat.postMessage", 200, {"ok": False, "error": "not_in_channel"})
    with caplog.at_level(logging.ERROR, logger="channels"):
        await standin.deliver_event(slack.webhook_url, message_event("hi"))
        await slack.channel.finish_turns(5)
    assert "not_in_channel" in caplog.text


# --- rendering -----------------------------------------------------------------------------------------------


async def test_reply_text_is_escaped_for_mrkdwn(standin: SlackStandIn, slack: RunningChannel) -> None:
    await standin.deliver_event(slack.webhook_url, message_event("symbols"))
    [posted] = await standin.wait_for_posts(1)
    assert posted.args["text"] == (
        "Fish &amp; chips &lt;today&gt; &gt; tomorrow, see <https://example.com/menu|the menu> &lt;!channel&gt;"
    )


async def test_long_texts_are_split_into_messages_slack_accepts(standin: SlackStandIn, slack: RunningChannel) -> None:
    await standin.deliver_event(slack.webhook_url, message_event("long"))
    posts = await standin.wait_for_posts(2)
    await slack.channel.finish_turns(5)
    texts = [p.args["text"] for p in standin.posted]
    assert len(texts) == 2
    assert all(len(t) <= MAX_MESSAGE_TEXT for t in texts)
    assert texts[1].startswith("Paragraph ")  # cut between paragraphs
    assert len(standin.calls_to("chat.postMessage")) == len(posts)  # none refused


async def test_long_text_with_buttons_uses_several_sections(standin: SlackStandIn, slack: RunningChannel) -> None:
    await standin.deliver_event(slack.webhook_url, message_event("long menu"))
    [posted] = await standin.wait_for_posts(1)
    kinds = [b["type"] for b in posted.args["blocks"]]
    assert kinds == ["section", "section", "actions"]
    assert all(len(b["text"]["text"]) <= MAX_SECTION_TEXT for b in posted.args["blocks"][:2])


async def test_images_and_custom_payloads(standin: SlackStandIn, slack: RunningChannel) -> None:
    await standin.deliver_event(slack.webhook_url, message_event("picture"))
    [image] = await standin.wait_for_posts(1)
    await standin.deliver_event(slack.webhook_url, message_event("custom"))
    [_, custom] = await standin.wait_for_posts(2)
    assert image.args["blocks"] == [
        {"type": "image", "image_url": "https://example.com/menu.png", "alt_text": "https://example.com/menu.png"}
    ]
    assert custom.args == {"channel": DM_CHANNEL, "blocks": [{"type": "divider"}], "text": "a divider"}


async def test_many_buttons_fill_several_actions_blocks() -> None:
    sent: list[dict[str, Any]] = []

    class Recorder:
        base_url = "recorder"

        async def chat_postMessage(self, **fields: Any) -> None:
            sent.append(fields)

    output = SlackOutput(Recorder(), "C1")  # type: ignore[arg-type]
    buttons = [{"title": f"Option {i}", "payload": f"/pick{{\"n\": {i}}}"} for i in range(30)]
    await output.send_text_with_buttons("U1", "Pick one", buttons)
    [message] = sent
    actions = [b for b in message["blocks"] if b["type"] == "actions"]
    assert [len(a["elements"]) for a in actions] == [25, 5]
    assert len({e["action_id"] for a in actions for e in a["elements"]}) == 30


# --- text helpers --------------------------------------------------------------------------------------------


def test_escape_keeps_links_and_mentions_but_not_broadcasts() -> None:
    assert escape_mrkdwn("a & b < c > d") == "a &amp; b &lt; c &gt; d"
    assert escape_mrkdwn("ask <@U123> in <#C456|help>") == "ask <@U123> in <#C456|help>"
    assert escape_mrkdwn("<mailto:a@b.co|mail us> & <https://x.io/?a=1&b=2>") == (
        "<mailto:a@b.co|mail us> &amp; <https://x.io/?a=1&b=2>"
    )
    assert escape_mrkdwn("<!here> <!channel> <!everyone>") == "&lt;!here&gt; &lt;!channel&gt; &lt;!everyone&gt;"
    assert escape_mrkdwn("<script>") == "&lt;script&gt;"


def test_split_prefers_paragraphs_then_lines_then_words() -> None:
    assert split_text("aaaa\n\nbbbb cccc", 10) == ["aaaa", "bbbb cccc"]
    assert split_text("aaaa bbbb\ncccc", 10) == ["aaaa bbbb", "cccc"]
    assert split_text("aaaa bbbb cccc", 10) == ["aaaa bbbb", "cccc"]
    assert split_text("abcdefghijkl", 5) == ["abcde", "fghij", "kl"]
    assert split_text("  ", 5) == []


def test_split_never_cuts_an_escape_or_a_link() -> None:
    assert split_text("abcdefg&amp;hij", 9) == ["abcdefg", "&amp;hij"]
    assert split_text("see <https://example.com/a|a link>", 32) == ["see", "<https://example.com/a|a link>"]
    pieces = split_text(escape_mrkdwn("&" * 50), 12)
    assert all(p.replace("&amp;", "") == "" for p in pieces)
    assert "".join(pieces) == "&amp;" * 50


def test_incoming_text_is_read_as_the_user_saw_it() -> None:
    assert plain_text_from_slack(f"<@{BOT_USER_ID}> book a table", {BOT_USER_ID}) == "book a table"
    assert plain_text_from_slack(f"hey <@{BOT_USER_ID}>, hi", {BOT_USER_ID}) == "hey , hi"
    assert plain_text_from_slack("see <https://example.com|our site> &amp; <mailto:a@b.co|a@b.co>") == (
        "see our site & a@b.co"
    )
    assert plain_text_from_slack("ask <@U0OTHER> in <#C1|general> <!here>") == "ask @U0OTHER in #general @here"
    assert plain_text_from_slack("1 &lt; 2 &gt; 0 &amp;lt;") == "1 < 2 > 0 &lt;"


# --- Socket Mode ---------------------------------------------------------------------------------------------


async def test_socket_mode_acks_each_envelope_and_answers(standin: SlackStandIn, bot: ScriptedBot) -> None:
    async with running_channel(standin, bot, slack_signing_secret=None, app_token=APP_TOKEN) as slack:
        await standin.wait_for_socket()
        assert standin.calls_to("apps.connections.open")[0].token == APP_TOKEN

        envelope = message_event("menu")
        first = await standin.push("events_api", envelope)
        assert await standin.wait_for_ack(first) == {"envelope_id": first}
        [menu] = await standin.wait_for_posts(1)

        retried = await standin.push("events_api", envelope, retry_attempt=1, retry_reason="timeout")
        await standin.wait_for_ack(retried)
        click = await standin.push("interactive", block_actions_payload(menu.reply, "/deny"))
        await standin.wait_for_ack(click)
        [_, reply] = await standin.wait_for_posts(2)
        await slack.channel.finish_turns(5)

        unsigned = await standin.deliver_event(slack.webhook_url, message_event("hi"))
    assert reply.args["text"] == "Maybe later, then."
    assert [m.text for m in bot.received] == ["menu", "/deny"]
    assert unsigned.status == 401  # no signing secret: nothing over HTTP is trusted


async def test_socket_mode_with_a_refused_app_token_stops_the_start(standin: SlackStandIn, bot: ScriptedBot) -> None:
    with pytest.raises(ConductorError, match=r"app_token.*invalid_auth"):
        async with running_channel(standin, bot, app_token="xapp-1-wrong"):
            pass


async def test_a_refused_bot_token_stops_the_start(standin: SlackStandIn, bot: ScriptedBot) -> None:
    with pytest.raises(ConductorError, match=r"slack_token.*invalid_auth") as error:
        async with running_channel(standin, bot, slack_token="xoxb-wrong-token"):
            pass
    assert "xoxb-wrong-token" not in str(error.value)


async def test_slack_down_at_start_does_not_stop_the_channel(bot: ScriptedBot) -> None:
    standin = SlackStandIn()
    await standin.start()
    await standin.stop()  # the port is known, nothing listens
    async with running_channel(standin, bot) as slack:
        answer = await standin.deliver_event(slack.webhook_url, message_event(f"<@{BOT_USER_ID}> hi",
                                                                              user=BOT_USER_ID))
        await slack.channel.finish_turns(5)
    assert answer.status == 200
    assert bot.received == []  # the bot's own user is still known, from the event's authorizations


# --- credentials ---------------------------------------------------------------------------------------------


def write_credentials(tmp_path: Path, text: str) -> Any:
    path = tmp_path / "credentials.yml"
    path.write_text(text)
    return load_credentials(path)["slack"]


def test_credentials_with_rasas_keys(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SLACK_TOKEN", BOT_TOKEN)
    section = write_credentials(tmp_path, (
        "slack:\n"
        "  slack_token: ${SLACK_TOKEN}\n"
        f"  slack_signing_secret: {SIGNING_SECRET}\n"
        "  slack_channel: C0GENERAL\n"
        "  use_threads: true\n"
        "  conversation_granularity: thread\n"
        "  errors_ignore_retry: [http_timeout, http_error]\n"
    ))
    settings = SlackInput.from_credentials(section).settings
    assert settings.slack_token == BOT_TOKEN
    assert (settings.slack_channel, settings.use_threads, settings.conversation_granularity) == (
        "C0GENERAL", True, "thread"
    )
    assert settings.errors_ignore_retry == ("http_timeout", "http_error")
    assert settings.api_url == "https://slack.com/api/"
    assert not settings.socket_mode
    assert BOT_TOKEN not in repr(SlackInput(settings)) and SIGNING_SECRET not in repr(settings)


def test_missing_token_and_secret_are_named_with_file_and_line(tmp_path: Path) -> None:
    section = write_credentials(tmp_path, "rest:\nslack:\n  slack_channel: C0GENERAL\n")
    with pytest.raises(ConductorError) as error:
        SlackInput.from_credentials(section)
    message = str(error.value)
    assert "'slack_token' is missing" in message
    assert "'slack_signing_secret' is missing" in message
    assert f"{tmp_path / 'credentials.yml'}:3" in message
    assert "xoxb-" in message  # the hint says which token


def test_socket_mode_needs_no_signing_secret(tmp_path: Path) -> None:
    section = write_credentials(tmp_path, f"slack:\n  slack_token: {BOT_TOKEN}\n  app_token: {APP_TOKEN}\n")
    assert SlackInput.from_credentials(section).settings.socket_mode


def test_wrong_values_are_reported_together_at_their_lines(tmp_path: Path) -> None:
    section = write_credentials(tmp_path, (
        "slack:\n"
        f"  slack_token: {APP_TOKEN}\n"
        f"  slack_signing_secret: {SIGNING_SECRET}\n"
        "  use_threads: yes\n"
        "  conversation_granularity: team\n"
        "  api_url: slack.com/api\n"
    ))
    with pytest.raises(ConductorError) as error:
        SlackInput.from_credentials(section)
    lines = {problem.line: problem.message for problem in error.value.problems}
    assert "app-level token" in lines[2]
    assert "true or false" in lines[4]
    assert "sender, channel or thread" in lines[5]
    assert "URL" in lines[6]
    assert APP_TOKEN not in str(error.value)


def test_an_empty_section_says_what_is_needed() -> None:
    with pytest.raises(ConductorError, match="slack_token and slack_signing_secret"):
        SlackInput.from_credentials(None)


def test_unknown_keys_and_channel_names_are_warned_about(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    section = write_credentials(tmp_path, (
        f"slack:\n  slack_token: {BOT_TOKEN}\n  slack_signing_secret: {SIGNING_SECRET}\n  use_thread: true\n"
        "  slack_channel: '#general'\n  errors_ignore_retry: [http_timeot]\n"
    ))
    with caplog.at_level(logging.WARNING):
        settings = SlackSettings.from_credentials(section)
    assert not settings.use_threads
    assert "credentials.yml:4: warning: 'use_thread' is not a setting" in caplog.text
    assert "Did you mean 'use_threads'?" in caplog.text
    assert "credentials.yml:5: warning: 'slack_channel' names the channel '#general'" in caplog.text
    assert "Did you mean 'http_timeout'?" in caplog.text
