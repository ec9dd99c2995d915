"""Delivering the outbox on a real store: everything due is sent once, failures are
retried with backoff (the clock is driven, nothing sleeps), one chat's notices keep
their order, hopeless ones die, and a crash loses nothing."""

from __future__ import annotations

import asyncio
import logging
import random
import sqlite3
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import pytest
from conftest import NOW, draft

from config.model import Config
from conversation.replies import Reply, text_of
from notify.delivery import DeliveryWorker
from tickets.errors import DeliveryError
from tickets.model import Actor, Role
from tickets.store import ChatRecord, OutboxRow, Store

DISPATCHER = Actor(Role.DISPATCHER, "wang", "王调度")


class Clock:
    def __init__(self, now: datetime = NOW) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


class Recorder:
    """A sender that records what it delivered and fails when told to."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, str, str]] = []  # (chat, ticket number, text)
        self.ids: list[int] = []
        self.calls = 0
        self.fail_next: dict[str, list[BaseException]] = {}  # chat → errors for its next sends
        self.fail_always: dict[str, BaseException] = {}
        self.got = asyncio.Event()

    async def send(self, chat: str, replies: Sequence[Reply], notice: OutboxRow) -> str:
        self.calls += 1
        if self.fail_next.get(chat):
            raise self.fail_next[chat].pop(0)
        if chat in self.fail_always:
            raise self.fail_always[chat]
        self.sent.append((chat, notice.number or "", "\n".join(text_of(r) for r in replies)))
        self.ids.append(notice.id)
        self.got.set()
        return f"msg-{notice.id}"

    def numbers(self, chat: str) -> list[str]:
        return [number for c, number, _ in self.sent if c == chat]


def worker(
    store: Store, config: Config, sender: Recorder, clock: Clock, **kw: Any
) -> DeliveryWorker:
    kw.setdefault("jitter", 0.0)
    return DeliveryWorker(store, config, "web", sender, clock=clock, **kw)


def report(store: Store, chat: str, at: datetime = NOW, **kw: Any) -> str:
    """A ticket a dispatcher filed for the resident of ``chat``, which queues one
    ``reporter.accepted`` notice to that chat (her own dialogue would queue none)."""
    return store.create_ticket(draft(chat=chat, **kw), at, actor=DISPATCHER).number


def web_rows(store: Store, number: str) -> list[OutboxRow]:
    return [row for row in store.notices_of(number) if row.channel == "web"]


async def test_every_due_notice_is_sent_once_and_marked(store: Store, config: Config) -> None:
    store.save_chat(ChatRecord("web", "bob", locale="en"), NOW)
    a1, a2 = report(store, "alice"), report(store, "alice")
    b1 = report(store, "bob")
    sender, clock = Recorder(), Clock()
    delivery = worker(store, config, sender, clock)

    assert await delivery.run_once() == 3
    assert sender.numbers("alice") == [a1, a2]
    assert sender.numbers("bob") == [b1]
    alice_text = next(t for c, n, t in sender.sent if n == a1)
    bob_text = next(t for c, n, t in sender.sent if n == b1)
    assert f"您的报修工单 {a1} 已受理" in alice_text
    assert f"Your repair request {b1} has been accepted" in bob_text  # the chat's language
    for number in (a1, a2, b1):
        (row,) = web_rows(store, number)
        assert (row.status, row.attempts, row.provider_id) == ("sent", 1, f"msg-{row.id}")
        assert row.sent_at == NOW

    assert await delivery.run_once() == 0
    assert sender.calls == 3
    # Another channel's rows (the team's Telegram group) are not this worker's business.
    assert all(r.status == "pending" for r in store.notices_of(a1) if r.channel == "telegram")


async def test_only_the_given_chat_when_asked(store: Store, config: Config) -> None:
    report(store, "alice")
    bob = report(store, "bob")
    sender = Recorder()
    assert await worker(store, config, sender, Clock(), chat="bob").run_once() == 1
    assert [n for _, n, _ in sender.sent] == [bob]


async def test_failure_is_retried_after_backoff_and_the_chat_keeps_its_order(
    store: Store, config: Config
) -> None:
    a1, a2 = report(store, "alice"), report(store, "alice")
    b1 = report(store, "bob")
    sender, clock = Recorder(), Clock()
    sender.fail_next["alice"] = [DeliveryError("timeout"), DeliveryError("timeout")]
    delivery = worker(store, config, sender, clock, base_backoff=2.0)

    assert await delivery.run_once() == 1  # bob only: alice's second waits for her first
    assert sender.numbers("bob") == [b1]
    (first,) = web_rows(store, a1)
    assert (first.status, first.attempts, first.last_error) == ("pending", 1, "timeout")
    assert first.next_at == NOW + timedelta(seconds=2)
    (second,) = web_rows(store, a2)
    assert (second.status, second.attempts) == ("pending", 0)

    clock.advance(1)
    assert await delivery.run_once() == 0  # a2 is due, but a1 is not yet: a2 keeps waiting
    clock.advance(1)
    assert await delivery.run_once() == 0  # a1 fails again: twice the wait
    (first,) = web_rows(store, a1)
    assert first.attempts == 2 and first.next_at == clock.now + timedelta(seconds=4)

    clock.advance(4)
    assert await delivery.run_once() == 2
    assert sender.numbers("alice") == [a1, a2]
    assert [r.status for n in (a1, a2) for r in web_rows(store, n)] == ["sent", "sent"]


async def test_a_new_notice_waits_behind_a_failed_one_of_its_chat(
    store: Store, config: Config
) -> None:
    a1 = report(store, "alice")
    sender, clock = Recorder(), Clock()
    sender.fail_next["alice"] = [DeliveryError("down")]
    delivery = worker(store, config, sender, clock, base_backoff=10.0)
    assert await delivery.run_once() == 0
    clock.advance(1)
    a2 = report(store, "alice", at=clock.now)  # queued while a1 waits for its retry
    assert await delivery.run_once() == 0
    clock.advance(10)
    assert await delivery.run_once() == 2
    assert sender.numbers("alice") == [a1, a2]


async def test_given_up_after_max_attempts_then_the_chat_moves_on(
    store: Store, config: Config, caplog: pytest.LogCaptureFixture
) -> None:
    a1, a2 = report(store, "alice"), report(store, "alice")
    sender, clock = Recorder(), Clock()
    sender.fail_next["alice"] = [DeliveryError("500"), DeliveryError("500"), DeliveryError("500")]
    delivery = worker(store, config, sender, clock, max_attempts=3)
    with caplog.at_level(logging.WARNING, logger="notify.delivery"):
        for _ in range(3):
            await delivery.run_once()
            clock.advance(3600)
    (first,) = web_rows(store, a1)
    assert (first.status, first.attempts, first.last_error) == ("dead", 3, "500")
    assert "given up after 3 attempt(s)" in caplog.text
    # The third pass gave a1 up and sent a2 right after it, in the same pass.
    assert sender.numbers("alice") == [a2]
    assert await delivery.run_once() == 0  # dead stays dead
    assert sender.calls == 4


async def test_no_retry_when_the_sender_says_it_cannot_help(store: Store, config: Config) -> None:
    a1 = report(store, "alice")
    sender = Recorder()
    sender.fail_next["alice"] = [DeliveryError("bot was blocked by the user", retry=False)]
    assert await worker(store, config, sender, Clock()).run_once() == 0
    (row,) = web_rows(store, a1)
    assert (row.status, row.attempts, row.last_error) == ("dead", 1, "bot was blocked by the user")


async def test_retry_after_is_honoured(store: Store, config: Config) -> None:
    a1 = report(store, "alice")
    sender, clock = Recorder(), Clock()
    sender.fail_next["alice"] = [DeliveryError("429 Too Many Requests", retry_after=30)]
    delivery = worker(store, config, sender, clock)
    await delivery.run_once()
    (row,) = web_rows(store, a1)
    assert row.next_at == NOW + timedelta(seconds=30)
    clock.advance(29)
    assert await delivery.run_once() == 0
    clock.advance(1)
    assert await delivery.run_once() == 1


async def test_any_other_error_is_retried_and_logged(
    store: Store, config: Config, caplog: pytest.LogCaptureFixture
) -> None:
    a1 = report(store, "alice")
    sender, clock = Recorder(), Clock()
    sender.fail_next["alice"] = [ConnectionResetError("peer reset")]
    delivery = worker(store, config, sender, clock)
    with caplog.at_level(logging.WARNING, logger="notify.delivery"):
        assert await delivery.run_once() == 0
    (row,) = web_rows(store, a1)
    assert (row.status, row.last_error) == ("pending", "ConnectionResetError: peer reset")
    assert "peer reset" in caplog.text
    clock.advance(2)
    assert await delivery.run_once() == 1


async def test_a_rate_limit_waits_exactly_and_uses_up_no_attempt(
    store: Store, config: Config
) -> None:
    # After a 429 with retry_after = 3 s the outbox once retried 31 s and 59 s later (the
    # backoff kept doubling) and a notice used 7 of its 8 attempts on rate limits alone.
    a1, a2 = report(store, "alice"), report(store, "alice")
    sender, clock = Recorder(), Clock()
    sender.fail_next["alice"] = [DeliveryError("429", retry_after=3) for _ in range(10)]
    delivery = worker(store, config, sender, clock, max_attempts=3, base_backoff=10.0)
    for _ in range(10):
        await delivery.run_once()
        (row,) = web_rows(store, a1)
        assert (row.status, row.attempts) == ("pending", 0)
        assert row.next_at == clock.now + timedelta(seconds=3)
        clock.advance(3)  # the platform is back exactly when it said
    assert await delivery.run_once() == 2  # and the chat's queue moves on at once
    assert sender.numbers("alice") == [a1, a2]


def test_backoff_grows_exponentially_is_capped_and_jittered(store: Store, config: Config) -> None:
    exact = DeliveryWorker(store, config, "web", Recorder(), base_backoff=2.0, jitter=0.0)
    assert [exact.backoff(n) for n in range(5)] == [2.0, 4.0, 8.0, 16.0, 32.0]
    assert exact.backoff(9) == 600.0 and exact.backoff(10_000) == 600.0
    assert exact.backoff(0, retry_after=45) == 45.0
    assert exact.backoff(12, retry_after=5) == 600.0  # retry_after is a floor, not a ceiling
    jittered = DeliveryWorker(
        store, config, "web", Recorder(), base_backoff=2.0, jitter=0.2, rng=random.Random(7)
    )
    waits = [jittered.backoff(3) for _ in range(50)]
    assert all(12.8 <= w <= 16.0 for w in waits)
    assert len(set(waits)) > 1


class Crash(BaseException):
    """The process dies: nothing in the worker may catch this."""


async def test_a_crash_mid_batch_loses_nothing_and_resends_nothing_sent(
    store: Store, config: Config
) -> None:
    numbers = [report(store, chat) for chat in ("alice", "bob", "carol", "dave")]
    first = Recorder()
    first.fail_next["carol"] = [Crash()]
    with pytest.raises(Crash):
        await worker(store, config, first, Clock()).run_once()
    assert [n for _, n, _ in first.sent] == numbers[:2]
    store.close()

    with Store(config.database, config) as reopened:
        second = Recorder()
        assert await worker(reopened, config, second, Clock()).run_once() == 2
        assert [n for _, n, _ in second.sent] == numbers[2:]
        statuses = [r.status for n in numbers for r in web_rows(reopened, n)]
        assert statuses == ["sent"] * 4
        assert await worker(reopened, config, Recorder(), Clock()).run_once() == 0


async def test_two_workers_on_one_file_share_the_work_without_repeats(
    store: Store, config: Config
) -> None:
    numbers = [report(store, "alice"), report(store, "bob")]
    with Store(config.database, config) as other:
        one, two = Recorder(), Recorder()
        assert await worker(store, config, one, Clock(), chat="alice").run_once() == 1
        assert await worker(other, config, two, Clock()).run_once() == 1
        assert [n for _, n, _ in one.sent + two.sent] == numbers


class FlakyStore:
    """The real store, except that the first look at the outbox fails (a locked file)."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self.failures = 1
        self.failed = asyncio.Event()

    def due_notices(self, *args: Any, **kw: Any) -> list[OutboxRow]:
        if self.failures:
            self.failures -= 1
            self.failed.set()
            raise sqlite3.OperationalError("database is locked")
        return self._store.due_notices(*args, **kw)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)


async def test_run_survives_a_failing_pass_and_wake_delivers_at_once(
    store: Store, config: Config, caplog: pytest.LogCaptureFixture
) -> None:
    sender, stop = Recorder(), asyncio.Event()
    flaky = FlakyStore(store)
    delivery = DeliveryWorker(flaky, config, "web", sender)  # type: ignore[arg-type]
    with caplog.at_level(logging.ERROR, logger="notify.delivery"):
        # A poll interval far longer than the test: only wake() can get the notice out.
        task = asyncio.create_task(delivery.run(stop, poll_interval=3600))
        await asyncio.wait_for(flaky.failed.wait(), timeout=10)  # the first pass failed
        number = report(store, "alice", at=NOW)
        delivery.wake()
        await asyncio.wait_for(sender.got.wait(), timeout=10)
        stop.set()
        await asyncio.wait_for(task, timeout=10)
    assert sender.numbers("alice") == [number]
    assert "database is locked" in caplog.text
    assert flaky.failures == 0
