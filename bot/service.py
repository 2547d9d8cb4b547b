"""The start/close life cycle shared by stores and brokers."""

from __future__ import annotations

from types import TracebackType
from typing import Self

__all__ = ["Service"]


class Service:
    """Something connected before use and released after; `async with service:` does both."""

    async def start(self) -> None:
        """Connect (the base has nothing to connect)."""

    async def close(self) -> None:
        """Release what `start` took (the base holds nothing)."""

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        await self.close()
