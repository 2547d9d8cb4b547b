"""Helpers of the event broker tests: the test RabbitMQ, reading a queue, and a relay that cuts RabbitMQ off.

RabbitMQ is found at CONDUCTOR_TEST_RABBITMQ_URL (default amqp://guest:guest@127.0.0.1:5672/). A test that
needs it fails when it is missing.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import time
from dataclasses import dataclass
from typing import Any

import aio_pika
import aiormq
import pytest
from aio_pika.abc import AbstractChannel, AbstractConnection, AbstractIncomingMessage
from aiohttp.test_utils import unused_port
from yarl import URL

RABBITMQ_URL = URL(os.environ.get("CONDUCTOR_TEST_RABBITMQ_URL", "amqp://guest:guest@127.0.0.1:5672/"))
RABBITMQ_HOST = RABBITMQ_URL.host or "127.0.0.1"
RABBITMQ_PORT = RABBITMQ_URL.port or 5672


async def require_rabbitmq() -> AbstractConnection:
    """A connection to the test RabbitMQ; the test fails when it cannot be reached."""
    try:
        return await asyncio.wait_for(aio_pika.connect(RABBITMQ_URL), 10)
    except Exception as exc:
        pytest.fail(f"RabbitMQ is needed at {RABBITMQ_URL.with_password(None)}: {exc!r}")


@dataclass
class Rabbit:
    """This test's own exchange and queues on the test RabbitMQ (removed afterwards), and a channel to read."""

    connection: AbstractConnection
    channel: AbstractChannel
    exchange: str
    queues: list[str]

    async def read(self, queue: str, count: int, timeout: float = 10.0) -> list[AbstractIncomingMessage]:
        """The first `count` messages of the queue (acknowledged); fails if they do not arrive in time."""
        deadline = time.monotonic() + timeout
        while True:  # the broker declares the queue when it first connects, in the background
            try:
                declared = await self.channel.declare_queue(queue, passive=True)
                break
            except aiormq.exceptions.ChannelNotFoundEntity:
                if time.monotonic() > deadline:
                    pytest.fail(f"the queue {queue!r} was not declared within {timeout} s")
                self.channel = await self.connection.channel()  # a refused declaration closes the channel
                await asyncio.sleep(0.02)
        messages: list[AbstractIncomingMessage] = []
        while len(messages) < count:
            message = await declared.get(no_ack=True, fail=False)
            if message is not None:
                messages.append(message)
            elif time.monotonic() > deadline:
                pytest.fail(f"only {len(messages)} of {count} messages arrived in {queue!r} within {timeout} s")
            else:
                await asyncio.sleep(0.02)
        return messages

    async def bodies(self, queue: str, count: int, timeout: float = 10.0) -> list[dict[str, Any]]:
        return [json.loads(message.body) for message in await self.read(queue, count, timeout)]

    async def assert_empty(self, queue: str, wait: float = 0.3) -> None:
        """Nothing more arrives in the queue (no duplicates, nothing extra)."""
        await asyncio.sleep(wait)
        declared = await self.channel.declare_queue(queue, passive=True)
        extra = await declared.get(no_ack=True, fail=False)
        assert extra is None, f"an unexpected message in {queue!r}: {extra.body!r}"


class Relay:
    """A TCP relay in front of the test RabbitMQ on a port of its own. `down()` closes it and cuts every
    connection through it (RabbitMQ going away); `up()` opens it again (RabbitMQ coming back)."""

    def __init__(self) -> None:
        self.port = unused_port()
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._tasks: set[asyncio.Task[None]] = set()

    async def up(self) -> None:
        self._server = await asyncio.start_server(self._relay, "127.0.0.1", self.port)

    async def down(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
        for writer in list(self._writers):
            writer.transport.abort()
        self._writers.clear()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _relay(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        try:
            server_reader, server_writer = await asyncio.open_connection(RABBITMQ_HOST, RABBITMQ_PORT)
        except OSError:
            client_writer.transport.abort()
            return
        self._writers.update((client_writer, server_writer))
        for reader, writer in ((client_reader, server_writer), (server_reader, client_writer)):
            task = asyncio.create_task(self._pipe(reader, writer))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    @staticmethod
    async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(OSError, asyncio.CancelledError):
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        writer.transport.abort()
