"""Things used around a block: clients closed by ``aclose()`` at its end, and servers that
``start()`` at its beginning and ``stop()`` at its end. Shared by every package; depends on
nothing."""

from __future__ import annotations

from abc import ABC, abstractmethod
from types import TracebackType
from typing import Self


class Closing(ABC):
    """``async with client:`` closes the client with ``aclose()`` at the end of the block."""

    @abstractmethod
    async def aclose(self) -> None: ...

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()


class StartStop(Closing):
    """``async with server:`` awaits ``start()`` first and ``stop()`` at the end."""

    @abstractmethod
    async def start(self) -> None: ...

    @abstractmethod
    async def stop(self) -> None: ...

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def aclose(self) -> None:
        await self.stop()
