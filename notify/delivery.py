"""Deliver the outbox of one channel: render each due notice, hand it to the channel's
``Sender``, and record the outcome in the store.

All delivery state lives in the outbox table (status, attempts, next_at), so a restart
or a second worker resumes where the last one stopped: nothing is lost, and nothing
already marked sent is sent again. Delivery is at least once: a crash between the
platform accepting a message and ``mark_sent`` sends that one message again.

Notices of one chat go out in the order they were queued. When one fails, the later
notices of that chat wait for it (until it is sent or given up on) rather than arrive
before it; other chats are not held up.

This module knows no platform: a Sender (bots/ adapters, SMS gateways) translates
vendor errors into ``DeliveryError``. It must not import from ``bots``.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Protocol

from config.model import Config
from conversation.replies import Reply
from notify.render import render_notice
from tickets.errors import DeliveryError
from tickets.store import OutboxRow, Store

log = logging.getLogger(__name__)

MAX_BACKOFF = 600.0
"""Seconds: the longest wait between two attempts, however many have failed."""


def utcnow() -> datetime:
    return datetime.now(UTC)


class Sender(Protocol):
    """One channel's way of putting replies in front of a person."""

    async def send(self, chat: str, replies: Sequence[Reply], notice: OutboxRow) -> str:
        """Send ``replies`` to ``chat``; return the provider's message id (or "").

        Raise ``DeliveryError(reason, retry=…, retry_after=…)``: ``retry=False`` when
        trying again cannot help (the person blocked the bot, the chat is gone).
        """
        ...


class DeliveryWorker:
    """Delivers due notices of ``channel`` (only those of ``chat`` when given)."""

    def __init__(
        self,
        store: Store,
        config: Config,
        channel: str,
        sender: Sender,
        *,
        chat: str | None = None,
        max_attempts: int = 8,
        base_backoff: float = 2.0,
        clock: Callable[[], datetime] = utcnow,
        max_backoff: float = MAX_BACKOFF,
        jitter: float = 0.2,
        batch: int = 100,
        rng: random.Random | None = None,
    ) -> None:
        self.store = store
        self.config = config
        self.channel = channel
        self.sender = sender
        self.chat = chat
        self.max_attempts = max(1, max_attempts)
        self.base_backoff = base_backoff
        self.max_backoff = max_backoff
        self.jitter = jitter
        self.batch = batch
        self._clock = clock
        self._rng = rng or random.Random()
        self._wake = asyncio.Event()
        # chat -> (id of its failed notice, when it is retried). Later notices of the
        # chat wait until then. Only in memory: after a restart the failed notice is
        # simply due again, and order is at worst as good as the platform's.
        self._held: dict[str, tuple[int, datetime]] = {}

    def wake(self) -> None:
        """Something was queued: deliver now rather than at the next poll.

        Call it from the event loop's thread (``loop.call_soon_threadsafe`` otherwise).
        """
        self._wake.set()

    async def run(self, stop: asyncio.Event, poll_interval: float = 0.5) -> None:
        """Deliver until ``stop`` is set; a failing pass is logged and the loop goes on."""
        while not stop.is_set():
            self._wake.clear()  # before the pass, so a wake() during it triggers another
            try:
                await self.run_once()
            except Exception:
                log.exception(
                    "delivery pass on %s failed; retrying in %ss", self.channel, poll_interval
                )
            await _first(stop, self._wake, poll_interval)

    async def run_once(self) -> int:
        """Deliver every due notice once; return how many were sent."""
        sent = 0
        seen: set[int] = set()
        while True:
            now = self._clock()
            rows = self.store.due_notices(self.channel, now, chat=self.chat, limit=self.batch)
            fresh = [row for row in rows if row.id not in seen]
            if not fresh:
                return sent
            seen.update(row.id for row in fresh)
            sent += await self._deliver(fresh, now)
            # A full batch may hide more due rows. Rows left waiting are due again on the
            # next fetch but already seen, so this ends when only those remain.
            if len(rows) < self.batch:
                return sent

    async def _deliver(self, rows: list[OutboxRow], now: datetime) -> int:
        """Deliver ``rows`` chat by chat; return how many were sent."""
        by_chat: dict[str, list[OutboxRow]] = {}
        for row in rows:  # chats in the store's order (priority first), ...
            by_chat.setdefault(row.chat, []).append(row)
        sent = 0
        for chat, queue in by_chat.items():
            for row in sorted(queue, key=lambda r: r.id):  # ... each chat in queue order
                if self._is_held(chat, row, now):
                    break
                if await self._deliver_one(row):
                    sent += 1
        return sent

    def _is_held(self, chat: str, row: OutboxRow, now: datetime) -> bool:
        held = self._held.get(chat)
        if held is None:
            return False
        failed_id, until = held
        if row.id <= failed_id or now >= until:
            # The failed notice itself (or an older one) may go; so may all once it is due
            # again, because it is then fetched first and holds the chat anew if it fails.
            del self._held[chat]
            return False
        return True

    async def _deliver_one(self, row: OutboxRow) -> bool:
        """Render and send one notice, record the outcome; True when it was sent."""
        try:
            replies = render_notice(row, self.config)
            provider_id = await self.sender.send(row.chat, replies, row)
        except DeliveryError as exc:
            self._failed(row, exc.reason, retry=exc.retry, retry_after=exc.retry_after)
            return False
        except Exception as exc:
            log.warning(
                "sender of %s raised on notice %s (%s to %s); will retry",
                self.channel,
                row.id,
                row.kind,
                row.chat,
                exc_info=True,
            )
            self._failed(row, f"{type(exc).__name__}: {exc}", retry=True, retry_after=None)
            return False
        self.store.mark_sent(row.id, self._clock(), provider_id or "")
        return True

    def _failed(
        self, row: OutboxRow, reason: str, *, retry: bool, retry_after: float | None
    ) -> None:
        now = self._clock()
        attempts = row.attempts + 1
        error = reason[:500]
        if not retry or attempts >= self.max_attempts:
            log.warning(
                "notice %s (%s to %s:%s) given up after %d attempt(s): %s",
                row.id,
                row.kind,
                row.channel,
                row.chat,
                attempts,
                error,
            )
            self.store.mark_failed(row.id, error, None)
            self._held.pop(row.chat, None)  # later notices need not wait for a dead one
            return
        retry_at = now + timedelta(seconds=self.backoff(row.attempts, retry_after))
        log.info(
            "notice %s (%s to %s:%s) failed (attempt %d): %s; retry at %s",
            row.id,
            row.kind,
            row.channel,
            row.chat,
            attempts,
            error,
            retry_at.isoformat(),
        )
        self.store.mark_failed(row.id, error, retry_at)
        self._held[row.chat] = (row.id, retry_at)

    def backoff(self, attempts: int, retry_after: float | None = None) -> float:
        """Seconds to wait after the failure of attempt number ``attempts + 1``.

        Exponential from ``base_backoff``, capped at ``max_backoff``, shortened by up to
        ``jitter`` of itself so that notices failed together are not retried together.
        A platform's ``retry_after`` is a floor: retrying sooner only fails again.
        """
        delay = min(self.max_backoff, self.base_backoff * 2.0 ** min(attempts, 32))
        delay *= 1.0 - self.jitter * self._rng.random()
        if retry_after is not None:
            delay = max(delay, retry_after)
        return delay


async def _first(stop: asyncio.Event, wake: asyncio.Event, timeout: float) -> None:
    """Return when ``stop`` or ``wake`` is set, or after ``timeout`` seconds."""
    waiters = {asyncio.ensure_future(stop.wait()), asyncio.ensure_future(wake.wait())}
    try:
        await asyncio.wait(waiters, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()
        await asyncio.gather(*waiters, return_exceptions=True)
