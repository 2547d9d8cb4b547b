"""Fixtures shared by the channel tests."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.channels.slack_api_standin import SlackStandIn


@pytest.fixture
async def standin() -> AsyncIterator[SlackStandIn]:
    """A started Slack stand-in, stopped afterwards."""
    slack = SlackStandIn()
    await slack.start()
    yield slack
    await slack.stop()
