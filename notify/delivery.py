"""Deliver the outbox of one channel: render each due notice, hand it to the channel's
``Sender``, and record the outcome in the store.

All delivery state lives in the outbox table (status, attempts, next_at), so a restart
or a second worker resumes where the last one stopped: nothing is lost, and nothing
already marked sent is sent again. Delivery is at least once: a crash between the
platform accepting a message and ``mark_sent`` sends that one message again.

Notices of one chat go out in the order they were queued. When one fails, the later
notices of that chat wait for it (until it is sent or given up on) rather than arrive
before it; other chats are not held up.

A worker leases the rows it is about to send (``tickets.outbox.lease``), so a second
worker on the same file skips them and a chat's order holds across workers; a stopped or
cancelled worker gives its leases back, a dead one's run out after ``lease_seconds``.
Every try is recorded (``outbox_attempts``). The channel's ``RateLimiter`` (shared with
the adapter's dialogue replies, which take lane 0) paces sending; a chat that must wait
for its own pace is set aside while other chats go on. Up to ``concurrency`` notices (of
different chats) are in flight at once. What to do after a notice is sent or given up on
— SMS copies, alerts to the dispatchers — is ``notify.fallback``'s.

This module knows no platform: a Sender (bots/ adapters, SMS gateways) translates
vendor errors into ``DeliveryError``. It must not import from ``bots``.
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import time
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Protocol

from config.model import Config
from conversation.replies import Reply
from notify.fallback import Fallback
from notify.limits import RateLimiter, limiter_for
from notify.render import render_notice
from tickets import notice_rows, outbox
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
        max_attempts: int | None = None,
        base_backoff: float | None = None,
        clock: Callable[[], datetime] = utcnow,
        max_backoff: float | None = None,
        jitter: float | None = None,
        batch: int = 100,
        rng: random.Random | None = None,
        limiter: RateLimiter | None = None,
        fallback: Fallback | None = None,
        concurrency: int | None = None,
        lease_seconds: float | None = None,
    ) -> None:
        # Unset numbers come from [delivery] and [delivery.limits.<channel>].
        settings = config.delivery
        self.store = store
        self.config = config
        self.channel = channel
        self.sender = sender
        self.chat = chat
        self.max_attempts = max(1, max_attempts or settings.max_attempts)
        self.base_backoff = base_backoff if base_backoff is not None else settings.base_backoff
        self.max_backoff = max_backoff if max_backoff is not None else settings.max_backoff
        self.jitter = jitter if jitter is not None else settings.jitter
        self.batch = batch
        self.concurrency = max(1, concurrency or settings.limits_of(channel).concurrency)
        self.lease = timedelta(seconds=lease_seconds or settings.lease_seconds)
        self.limiter = limiter
        self.fallback = fallback or Fallback(store, config)
        self.name = f"{channel}@{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self._groups = frozenset(g for t in config.teams for g in t.groups.get(channel, ()))
        self._clock = clock
        self._rng = rng or random.Random()
        self._wake = asyncio.Event()
        # chat -> (id of its failed notice, when it is retried). Later notices of the
        # chat wait until then. Only in memory: after a restart the failed notice is
        # simply due again, and order is at worst as good as the platform's. A chat set
        # aside for its rate limit is held the same way, with id 0.
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
            await _first(stop, self._wake, self._next_wait(poll_interval))

    def _next_wait(self, poll_interval: float) -> float:
        """The poll interval, or less when a held chat is due sooner."""
        now = self._clock()
        coming = [until for _, until in self._held.values() if until > now]
        if not coming:
            return poll_interval
        return max(0.01, min(poll_interval, (min(coming) - now).total_seconds()))

    async def run_once(self) -> int:
        """Deliver every due notice once; return how many were sent."""
        sent = 0
        seen: set[int] = set()
        skip: set[str] = set()  # chats this pass cannot serve (held, or older rows elsewhere)
        self._fan_out()
        while True:
            now = self._clock()
            skip.update(chat for chat, (_, until) in self._held.items() if until > now)
            rows = self.store.due_notices(
                self.channel, now, chat=self.chat, limit=self.batch, skip_chats=sorted(skip)
            )
            fresh = [row for row in rows if row.id not in seen]
            if not fresh:
                return sent
            seen.update(row.id for row in fresh)
            leased = outbox.lease(
                self.store, [r.id for r in fresh], self.name, now, now + self.lease
            )
            skip.update(row.chat for row in fresh if row.id not in leased)
            try:
                sent += await self._deliver([r for r in fresh if r.id in leased], now)
            finally:
                # Sent and dead rows are done; the rest (held, set aside) are free again.
                outbox.release(self.store, leased, self.name)
            # A full batch may hide more due rows. Rows left waiting are due again on the
            # next fetch but already seen, so this ends when only those remain.
            if len(rows) < self.batch:
                return sent

    def _fan_out(self) -> None:
        """Turn the due team offers of this channel (one row each) into one row per
        member's chat, which this pass then delivers like any other notice: each member
        keeps his own delivery state, so a retry never reaches one already served."""
        now = self._clock()
        for orphan in notice_rows.expand(self.store, self.channel, now):
            # Every member unbound since it was queued: nobody would hear of the job.
            self._after(self.fallback.after_dead, orphan, orphan.last_error, now)

    async def _deliver(self, rows: list[OutboxRow], now: datetime) -> int:
        """Deliver ``rows`` chat by chat; return how many were sent."""
        by_chat: dict[str, list[OutboxRow]] = {}
        for row in rows:  # chats in the store's order (priority first), ...
            by_chat.setdefault(row.chat, []).append(row)
        if self.concurrency == 1:
            return sum(
                [await self._deliver_chat(chat, queue, now) for chat, queue in by_chat.items()]
            )
        slots = asyncio.Semaphore(self.concurrency)

        async def one_chat(chat: str, queue: list[OutboxRow]) -> int:
            async with slots:
                return await self._deliver_chat(chat, queue, now)

        # A TaskGroup: if one chat's task fails, the others stop before the leases go back.
        async with asyncio.TaskGroup() as group:
            tasks = [group.create_task(one_chat(c, q)) for c, q in by_chat.items()]
        return sum(task.result() for task in tasks)

    async def _deliver_chat(self, chat: str, queue: list[OutboxRow], now: datetime) -> int:
        sent = 0
        limiter = self._limiter()
        group = chat in self._groups or (self.channel == "telegram" and chat.startswith("-"))
        for row in sorted(queue, key=lambda r: r.id):  # ... each chat in queue order
            if self._is_held(chat, row, now):
                break
            pace = limiter.chat_wait(chat, group=group)
            if pace > 0:  # the chat's own pace: other chats go on meanwhile
                self._held[chat] = (0, self._clock() + timedelta(seconds=pace))
                break
            await limiter.acquire(chat, lane=row.priority, group=group)
            if await self._deliver_one(row):
                sent += 1
        return sent

    def _limiter(self) -> RateLimiter:
        if self.limiter is None:
            self.limiter = limiter_for(self.config, self.channel)
        return self.limiter

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
        started = time.monotonic()
        try:
            replies = render_notice(row, self.config)
            provider_id = await self.sender.send(row.chat, replies, row)
        except DeliveryError as exc:
            self._failed(row, exc.reason, retry=exc.retry, retry_after=exc.retry_after)
            return False
        except asyncio.CancelledError:
            # Stopped mid-send: whether the platform has it is unknown. The row stays
            # pending (sent again later: at least once); the attempt says what happened.
            self._attempt(row, "interrupted", "cancelled while sending", started=started)
            raise
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
        now = self._clock()
        with self.store.transaction():
            self.store.mark_sent(row.id, now, provider_id or "")
            self._attempt(row, "sent", provider_id=provider_id or "", started=started)
        self._after(self.fallback.after_sent, row, now)
        return True

    def _attempt(
        self,
        row: OutboxRow,
        outcome: str,
        error: str = "",
        *,
        provider_id: str = "",
        started: float | None = None,
    ) -> None:
        seconds = time.monotonic() - started if started is not None else None
        attempt = outbox.Attempt(
            row.id, self._clock(), outcome, error, provider_id, self.name, seconds
        )
        outbox.record(self.store, attempt)

    def _after(self, hook: Callable[..., None], *args: object) -> None:
        """Run a fallback hook; its failure must not undo or repeat the delivery."""
        try:
            hook(*args)
        except Exception:
            notice = args[0].id if isinstance(args[0], OutboxRow) else args[0]
            log.exception("after delivering notice %s: %s failed", notice, hook.__name__)

    def _failed(
        self, row: OutboxRow, reason: str, *, retry: bool, retry_after: float | None
    ) -> None:
        now = self._clock()
        error = reason[:500]
        if retry and retry_after is not None:
            # Rate limited: the platform said exactly when it takes messages again. That
            # is no failure of this notice: it does not use up an attempt, and the chat
            # moves on the moment the wait is over (not after a doubled backoff).
            retry_at = now + timedelta(seconds=max(0.0, retry_after))
            log.info(
                "notice %s (%s to %s:%s) rate limited; retry at %s",
                row.id,
                row.kind,
                row.channel,
                row.chat,
                retry_at.isoformat(),
            )
            with self.store.transaction():
                self.store.mark_failed(row.id, error, retry_at, count=False)
                self._attempt(row, "rate_limited", error)
            self._held[row.chat] = (row.id, retry_at)
            return
        attempts = row.attempts + 1
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
            with self.store.transaction():
                self.store.mark_failed(row.id, error, None)
                self._attempt(row, "dead", error)
            self._held.pop(row.chat, None)  # later notices need not wait for a dead one
            self._after(self.fallback.after_dead, row, error, now)
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
        with self.store.transaction():
            self.store.mark_failed(row.id, error, retry_at)
            self._attempt(row, "retry", error)
        self._held[row.chat] = (row.id, retry_at)

    def backoff(self, attempts: int, retry_after: float | None = None) -> float:
        """Seconds to wait after the failure of attempt number ``attempts + 1``.

        Exponential from ``base_backoff``, capped at ``max_backoff``, shortened by up to
        ``jitter`` of itself so that notices failed together are not retried together.
        A platform's ``retry_after`` is a floor: retrying sooner only fails again. (A
        rate limit's ``retry_after`` is used exactly, see ``_failed``.)
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
