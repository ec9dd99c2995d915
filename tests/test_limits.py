"""The rate limiter on a clock driven by hand: the channel's rate holds, lanes go in
order (a dialogue reply before notices before broadcasts), a chat's own pace is counted,
a cancelled waiter blocks nobody, and with no limit nothing ever waits."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from dataclasses import replace
from pathlib import Path
from types import MappingProxyType

import pytest
from conftest import make_config

from config.notify_config import ChannelLimits, DeliverySettings
from notify.limits import BROADCAST, PERSONAL, REPLY, RateLimiter, limiter_for


class FakeTimer:
    """Virtual seconds: ``advance`` wakes each sleeper whose deadline comes, in order."""

    def __init__(self) -> None:
        self.t = 0.0
        self.sleepers: list[tuple[float, asyncio.Event]] = []

    def now(self) -> float:
        return self.t

    async def wait(self, event: asyncio.Event, timeout: float) -> None:
        entry = (self.t + timeout, asyncio.Event())
        self.sleepers.append(entry)
        waiters = [asyncio.ensure_future(event.wait()), asyncio.ensure_future(entry[1].wait())]
        try:
            await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiter in waiters:
                waiter.cancel()
            await asyncio.gather(*waiters, return_exceptions=True)
            with contextlib.suppress(ValueError):
                self.sleepers.remove(entry)

    async def advance(self, seconds: float) -> None:
        target = self.t + seconds
        await settle()
        while due := sorted((s for s in self.sleepers if s[0] <= target), key=lambda s: s[0]):
            deadline, fired = due[0]
            self.t = max(self.t, deadline)
            fired.set()
            with contextlib.suppress(ValueError):
                self.sleepers.remove(due[0])
            await settle()
        self.t = target
        await settle()


async def settle() -> None:
    for _ in range(30):
        await asyncio.sleep(0)


class Grants:
    """Acquirers started as tasks; ``order`` is who got through, ``at`` when."""

    def __init__(self, limiter: RateLimiter, timer: FakeTimer) -> None:
        self.limiter, self.timer = limiter, timer
        self.order: list[str] = []
        self.at: dict[str, float] = {}
        self.tasks: dict[str, asyncio.Task[float]] = {}

    def start(self, name: str, chat: str = "", lane: int = PERSONAL) -> None:
        async def go() -> float:
            waited = await self.limiter.acquire(chat or name, lane=lane)
            self.order.append(name)
            self.at[name] = self.timer.now()
            return waited

        self.tasks[name] = asyncio.create_task(go())


def test_without_limits_acquire_never_suspends() -> None:
    limiter = RateLimiter()
    for lane in (REPLY, PERSONAL, BROADCAST):
        coroutine = limiter.acquire("chat", lane=lane)
        with pytest.raises(StopIteration):
            coroutine.send(None)  # finished at its first step: no await reached the loop
    assert limiter.granted == 3 and not limiter.limited


async def test_the_channel_rate_holds() -> None:
    timer = FakeTimer()
    limiter = RateLimiter(ChannelLimits(per_second=10), timer=timer)
    grants = Grants(limiter, timer)
    for i in range(6):
        grants.start(f"n{i}")
    for _ in range(60):
        await timer.advance(0.01)
    assert grants.order == [f"n{i}" for i in range(6)]  # one lane: first come, first served
    times = [grants.at[f"n{i}"] for i in range(6)]
    assert times[0] == 0.0
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert all(gap == pytest.approx(0.1, abs=0.011) for gap in gaps), gaps


async def test_a_reply_overtakes_a_queue_of_broadcasts() -> None:
    timer = FakeTimer()
    limiter = RateLimiter(ChannelLimits(per_second=10), timer=timer)
    grants = Grants(limiter, timer)
    for i in range(20):
        grants.start(f"b{i}", lane=BROADCAST)
    await timer.advance(0.15)  # b0 at once, b1 at 0.1
    grants.start("personal", lane=PERSONAL)
    grants.start("reply", lane=REPLY)
    await timer.advance(0.3)
    assert grants.order[:4] == ["b0", "b1", "reply", "personal"]
    # The reply waited for the one token every caller needs, not for 18 broadcasts.
    assert grants.at["reply"] - 0.15 <= 0.1 + 1e-9
    assert await grants.tasks["reply"] <= 0.1 + 1e-9
    for _ in range(30):
        await timer.advance(0.1)
    assert grants.order[4:] == [f"b{i}" for i in range(2, 20)]


async def test_a_cancelled_waiter_blocks_nobody() -> None:
    timer = FakeTimer()
    limiter = RateLimiter(ChannelLimits(per_second=1), timer=timer)
    grants = Grants(limiter, timer)
    grants.start("first")
    grants.start("head")
    grants.start("next")
    await timer.advance(0.5)
    grants.tasks["head"].cancel()
    await settle()
    await timer.advance(0.6)
    assert grants.order == ["first", "next"]
    assert limiter.waiting() == 0


async def test_a_chat_pace_is_counted_and_replies_borrow_a_turn() -> None:
    timer = FakeTimer()
    limiter = RateLimiter(
        ChannelLimits(per_second=100, chat_per_minute=60, group_per_minute=20), timer=timer
    )
    assert limiter.chat_wait("alice") == 0.0
    await limiter.acquire("alice")
    assert limiter.chat_wait("alice") == pytest.approx(1.0)
    assert limiter.chat_wait("bob") == 0.0  # other chats are not held
    await limiter.acquire("-100123", group=True)
    assert limiter.chat_wait("-100123", group=True) == pytest.approx(3.0)
    await timer.advance(1.0)
    assert limiter.chat_wait("alice") == 0.0
    # A reply goes whatever the chat's pace, and the next notice keeps its distance.
    await limiter.acquire("alice", lane=REPLY)
    await limiter.acquire("alice", lane=REPLY)
    assert limiter.chat_wait("alice") == pytest.approx(2.0)  # one turn borrowed, no more
    await timer.advance(2.0)
    assert limiter.chat_wait("alice") == 0.0
    assert limiter.chat_wait("-100123", group=True) == 0.0


async def test_one_limiter_per_channel_and_loop(tmp_path: Path) -> None:
    limits = MappingProxyType({"telegram": ChannelLimits(per_second=30)})
    config = replace(make_config(tmp_path), delivery=DeliverySettings(limits=limits))
    telegram = limiter_for(config, "telegram")
    assert limiter_for(config, "telegram") is telegram and telegram.limited
    assert not limiter_for(config, "web").limited
    faster = MappingProxyType({"telegram": ChannelLimits(per_second=60)})
    changed = replace(config, delivery=DeliverySettings(limits=faster))
    assert limiter_for(changed, "telegram").limits.per_second == 60
