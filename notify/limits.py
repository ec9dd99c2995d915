"""Rate limits of one channel, with priority lanes: ``RateLimiter``.

Three limits, each a token bucket (``0`` turns one off): messages per second over the
whole channel, messages per minute to one private chat, and to one group chat. Only
the channel-wide limit makes callers *wait*, in lanes: lane 0 (a dialogue reply, sent by
an adapter right after the person spoke) before lane 1 (a notice to one person) before
lane 2 (broadcasts: team offers, announcements); first come, first served within a
lane. A reply therefore never waits behind a burst of broadcasts — at most for the one
token every caller needs. The per-chat limits are not waited on inside the limiter: a
worker asks ``chat_wait`` first and, if that chat must wait, turns to other chats (a
queue blocked on one chat's pace would stall them all). A reply is let through any
chat's pace — it answers the person's own message — but is counted in it, so the next
notice to that chat keeps its distance.

Time comes from a ``Timer`` (the loop's clock by default), so tests drive it by hand.
This module sends nothing and knows no platform.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import weakref
from dataclasses import dataclass, field
from typing import Protocol

from config.model import Config
from config.notify_config import NO_LIMITS, ChannelLimits

REPLY = 0
"""Lane of a dialogue reply."""
PERSONAL = 1
BROADCAST = 2

MAX_CHATS = 10_000
"""Per-chat buckets kept before the idle ones are forgotten."""


class Timer(Protocol):
    def now(self) -> float:
        """Seconds on a clock that never goes back."""
        ...

    async def wait(self, event: asyncio.Event, timeout: float) -> None:
        """Return when ``event`` is set or ``timeout`` seconds have passed."""
        ...


class LoopTimer:
    """The running event loop's clock."""

    def now(self) -> float:
        return asyncio.get_running_loop().time()

    async def wait(self, event: asyncio.Event, timeout: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(event.wait(), timeout)


@dataclass
class Bucket:
    """``rate`` tokens a second up to ``capacity``; may go into debt (a reply's)."""

    rate: float
    capacity: float
    tokens: float
    at: float

    def refill(self, now: float) -> None:
        if now > self.at:
            self.tokens = min(self.capacity, self.tokens + (now - self.at) * self.rate)
            self.at = now

    def wait(self, now: float) -> float:
        """Seconds until one token is there (0: now)."""
        self.refill(now)
        # Within rounding of a whole token is a token: a wait of 1e-17 s never ends.
        return 0.0 if self.tokens >= 1.0 - 1e-9 else (1.0 - self.tokens) / self.rate

    def take(self, now: float) -> None:
        self.refill(now)
        self.tokens -= 1.0


@dataclass(order=True)
class _Waiter:
    lane: int
    seq: int
    event: asyncio.Event = field(compare=False, default_factory=asyncio.Event)
    done: bool = field(compare=False, default=False)


class RateLimiter:
    """The limits of one channel; share one instance between its worker and adapter."""

    def __init__(self, limits: ChannelLimits = NO_LIMITS, *, timer: Timer | None = None) -> None:
        self.limits = limits
        self.timer: Timer = timer or LoopTimer()
        self._overall: Bucket | None = None
        if limits.per_second > 0:
            # A small burst absorbs the loop's lateness in waking a sleeper without
            # letting the channel go measurably over its rate.
            burst = max(1.0, limits.per_second / 20)
            self._overall = Bucket(limits.per_second, burst, burst, float("-inf"))
        self._chats: dict[str, Bucket] = {}
        self._queue: list[_Waiter] = []
        self._seq = itertools.count()
        self.granted = 0

    @property
    def limited(self) -> bool:
        return self._overall is not None

    async def acquire(self, chat: str = "", *, lane: int = PERSONAL, group: bool = False) -> float:
        """Wait for the channel's turn in ``lane``; count the message against ``chat``.
        Returns the seconds waited. Never suspends when nothing has to wait."""
        overall = self._overall
        if overall is None:
            self._charge(chat, group)
            self.granted += 1
            return 0.0
        start = self.timer.now()
        if not self._queue and overall.wait(start) == 0.0:
            overall.take(start)
            self._charge(chat, group)
            self.granted += 1
            return 0.0
        me = _Waiter(lane, next(self._seq))
        heapq.heappush(self._queue, me)
        try:
            while True:
                now = self.timer.now()
                if self._queue[0] is me:
                    delay = overall.wait(now)
                    if delay == 0.0:
                        overall.take(now)
                        break
                    me.event.clear()
                    await self.timer.wait(me.event, delay)
                else:
                    me.event.clear()
                    await me.event.wait()
        finally:
            me.done = True
            self._forget(me)
        self._charge(chat, group)
        self.granted += 1
        return self.timer.now() - start

    def chat_wait(self, chat: str, *, group: bool = False) -> float:
        """Seconds before ``chat`` may get another notice (0: now)."""
        bucket = self._chats.get(self._key(chat, group))
        return bucket.wait(self.timer.now()) if bucket is not None else 0.0

    def waiting(self) -> int:
        return len(self._queue)

    # -- internals ------------------------------------------------------------------------
    def _forget(self, me: _Waiter) -> None:
        if me in self._queue:  # identity: _Waiter compares by (lane, seq), both unique
            self._queue.remove(me)
            heapq.heapify(self._queue)
        if self._queue:
            self._queue[0].event.set()  # the new head takes its turn (or starts its wait)

    def _key(self, chat: str, group: bool) -> str:
        return f"{'g' if group else 'c'}:{chat}"

    def _charge(self, chat: str, group: bool) -> None:
        per_minute = self.limits.group_per_minute if group else self.limits.chat_per_minute
        if not chat or per_minute <= 0:
            return
        now = self.timer.now()
        key = self._key(chat, group)
        bucket = self._chats.get(key)
        if bucket is None:
            if len(self._chats) >= MAX_CHATS:
                self._prune(now)
            bucket = self._chats[key] = Bucket(per_minute / 60.0, 1.0, 1.0, now)
        bucket.take(now)
        bucket.tokens = max(bucket.tokens, -bucket.capacity)  # replies borrow a turn at most

    def _prune(self, now: float) -> None:
        for key, bucket in list(self._chats.items()):
            if bucket.wait(now) == 0.0 and bucket.tokens >= bucket.capacity:
                del self._chats[key]


_SHARED: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, RateLimiter]] = (
    weakref.WeakKeyDictionary()
)


def limiter_for(config: Config, channel: str) -> RateLimiter:
    """The running loop's limiter of ``channel``, created from ``config`` on first use:
    the channel's delivery worker and its adapter's dialogue replies (``lane=REPLY``)
    must draw from the same one."""
    loop = asyncio.get_running_loop()
    per_loop = _SHARED.setdefault(loop, {})
    limiter = per_loop.get(channel)
    limits = config.delivery.limits_of(channel)
    if limiter is None or limiter.limits != limits:
        limiter = per_loop[channel] = RateLimiter(limits)
    return limiter
