"""Nothing the server does blocks the event loop: a burst of requests under asyncio's debug mode logs no slow
callback (any step that held the loop for 0.1 s or more).

The heap is frozen first, as `serve` does after start-up: otherwise a full garbage collection of this test
process (pytest, the trained project, ...) shows up as a slow callback that is no request's doing.
"""

from __future__ import annotations

import asyncio
import gc
import logging

import pytest
from server_helpers import StartServer, say

from bot.api.errors import MAX_TEXT_CHARS
from bot.server import freeze_startup_heap

SLOW_CALLBACK_SECONDS = 0.1


async def test_a_burst_of_requests_never_blocks_the_loop(
    start_server: StartServer, caplog: pytest.LogCaptureFixture
) -> None:
    served = await start_server(enable_api=True)
    await say(served, "warm-up", "/greet")  # first use imports and compiles what later requests reuse
    await served.client.get("/conversations/warm-up/tracker")
    client = served.client
    long_text = ("I am sad " * 2_000)[:MAX_TEXT_CHARS]  # the longest text accepted goes through the NLU

    async def conversation(sender: str) -> None:
        for message in ("/greet", "/mood_unhappy", "/affirm", "/goodbye"):
            response = await client.post("/webhooks/rest/webhook", json={"sender": sender, "message": message})
            assert response.status == 200

    async def reads(sender: str) -> None:
        assert (await client.get(f"/conversations/{sender}/tracker?include_events=ALL")).status == 200
        assert (await client.post("/model/parse", json={"text": long_text})).status == 200
        assert (await client.post("/webhooks/rest/webhook", json={"sender": sender, "message": long_text})).ok

    loop = asyncio.get_running_loop()
    loop.set_debug(True)
    loop.slow_callback_duration = SLOW_CALLBACK_SECONDS
    thresholds = gc.get_threshold()
    freeze_startup_heap()
    try:
        with caplog.at_level(logging.WARNING, logger="asyncio"):
            await asyncio.gather(
                *(conversation(f"burst-{i}") for i in range(40)), *(reads(f"reader-{i}") for i in range(20))
            )
    finally:
        loop.set_debug(False)
        gc.unfreeze()
        gc.set_threshold(*thresholds)
    slow = [record.getMessage() for record in caplog.records if "took" in record.getMessage()]
    assert slow == []
    assert len(await served.store.keys()) == 61
