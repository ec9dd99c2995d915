"""Ordering helpers of the Telegram adapter: one FIFO lock per chat, and albums.

Telegram sends each photo of an album (``media_group_id``) as its own update, moments
apart. ``Albums`` gathers them: the first photo's task collects until no new photo came
for ``window`` seconds (at most ``MAX_WAITS`` windows), the others just join it. Pure
asyncio: nothing here knows about tickets or Telegram's API.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Generic, TypeVar

T = TypeVar("T")
MAX_WAITS = 5


class ChatLocks:
    """``async with locks.hold(chat)``: one holder per chat, waiters served in order.

    A lock lives only while someone holds or waits for it, so the table stays as small
    as the number of busy chats."""

    def __init__(self) -> None:
        self._locks: dict[str, tuple[asyncio.Lock, int]] = {}

    @contextlib.asynccontextmanager
    async def hold(self, chat: str) -> AsyncIterator[None]:
        lock, users = self._locks.get(chat, (None, 0))
        if lock is None:
            lock = asyncio.Lock()
        self._locks[chat] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._locks[chat]
            if users <= 1:
                del self._locks[chat]
            else:
                self._locks[chat] = (lock, users - 1)

    def users(self, chat: str) -> int:
        """How many hold or wait for ``chat``'s lock (0: nobody)."""
        return self._locks.get(chat, (None, 0))[1]

    def __len__(self) -> int:
        return len(self._locks)


@dataclass
class Album(Generic[T]):
    key: tuple[str, str]
    updates: list[T] = field(default_factory=list)
    arrived: asyncio.Event = field(default_factory=asyncio.Event)
    open: bool = True


class Albums(Generic[T]):
    def __init__(self, window: float) -> None:
        self.window = window
        self._open: dict[tuple[str, str], Album[T]] = {}

    def join(self, chat: str, group: str, update: T) -> Album[T] | None:
        """Add a photo; return the album if this photo began it (the caller collects it),
        None if it joined an album someone else is collecting."""
        key = (chat, group)
        album = self._open.get(key)
        if album is not None and album.open:
            album.updates.append(update)
            album.arrived.set()
            return None
        album = Album(key, [update])
        self._open[key] = album
        return album

    async def collect(self, album: Album[T]) -> list[T]:
        """Wait until the album is quiet for one window; close it; return its photos."""
        try:
            for _ in range(MAX_WAITS):
                album.arrived.clear()
                try:
                    await asyncio.wait_for(album.arrived.wait(), self.window)
                except TimeoutError:
                    break
        finally:
            album.open = False
            if self._open.get(album.key) is album:
                del self._open[album.key]
        return list(album.updates)
