"""The outbox under load and trouble, on a real store and a fake gateway on 127.0.0.1:
the platform fails with 502, then throttles with 429 + Retry-After, and every notice
still arrives once, in order per chat; a worker cancelled mid-batch and restarted loses
and doubles nothing; leases keep two workers apart; priorities and a chat's pace hold;
and the operator's commands (``baoxiu outbox …``, ``tickets show``) tell what happened.
The clock is driven by hand: nothing sleeps."""

from __future__ import annotations

import asyncio
import itertools
import random
from collections.abc import AsyncIterator, Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from types import MappingProxyType

import pytest
from click.testing import CliRunner
from conftest import NOW, draft
from fake_sms import FakeGateway

from bots.cli import main
from config.loader import default_text, load, load_text
from config.model import Config
from config.notify_config import ChannelLimits, DeliverySettings
from conversation.replies import Reply
from notify.delivery import DeliveryWorker
from notify.limits import RateLimiter
from notify.sms import SmsSender, build_provider
from tickets import outbox
from tickets.errors import DeliveryError
from tickets.model import Actor, Role
from tickets.store import OutboxRow, Store

WANG = Actor(Role.DISPATCHER, "wang", "王调度")
PHONES = [f"+86138000011{i:02d}" for i in range(5)]


class Clock:
    def __init__(self, now: datetime = NOW) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def queue_sms(store: Store, count: int, phones: Sequence[str] = PHONES) -> list[str]:
    """``count`` notices, round-robin over ``phones``; returns their keys in queue order."""
    keys = []
    for i in range(count):
        key = f"n{i:03d}"
        outbox.queue(
            store,
            key=key,
            number=f"BX20261123-{i:04d}",
            event_id=None,
            kind="reporter.accepted",
            channel="sms",
            chat=phones[i % len(phones)],
            locale="zh_CN",
            params={"number": f"BX20261123-{i:04d}"},
            priority=1,
            now=NOW,
        )
        keys.append(key)
    return keys


@pytest.fixture
async def gateway() -> AsyncIterator[FakeGateway]:
    fake = await FakeGateway().start()
    yield fake
    fake.gate.set()
    await fake.close()


def with_gateway(config: Config, fake: FakeGateway) -> Config:
    loaded = load_text(
        default_text() + f'\n[sms]\nprovider = "http"\n[sms.http]\nurl = "{fake.url}/send"\n'
        'fields = { to = "{phone}", text = "{text}", key = "{key}" }\nid_field = "data.msgid"\n'
    )
    return replace(config, sms=loaded.sms)


def sms_worker(store: Store, config: Config, clock: Clock, **kw: object) -> DeliveryWorker:
    sender = SmsSender(build_provider(config.sms), config)
    kw.setdefault("rng", random.Random(4))
    return DeliveryWorker(store, config, "sms", sender, clock=clock, **kw)  # type: ignore[arg-type]


def shown_by_phone(fake: FakeGateway) -> dict[str, list[str]]:
    by_phone: dict[str, list[str]] = {}
    for fields in fake.shown:
        by_phone.setdefault(fields["to"], []).append(fields["key"])
    return by_phone


async def test_502s_then_429s_every_notice_arrives_once_in_order(
    store: Store, config: Config, gateway: FakeGateway
) -> None:
    config = with_gateway(config, gateway)
    keys = queue_sms(store, 30)
    gateway.fail(502, "<html>502 Bad Gateway</html>", times=6)
    gateway.fail(429, {"error": "slow down"}, times=3, **{"Retry-After": "30"})
    clock = Clock()
    delivery = sms_worker(store, config, clock, concurrency=3)
    try:
        for _ in range(400):
            await delivery.run_once()
            if not store.due_notices("sms", clock.now + timedelta(days=1)):
                break
            clock.advance(1)
    finally:
        await delivery.sender.close()  # type: ignore[attr-defined]
    assert sorted(f["key"] for f in gateway.shown) == keys  # each shown, none twice
    expected = {phone: keys[i :: len(PHONES)] for i, phone in enumerate(PHONES)}
    assert shown_by_phone(gateway) == expected  # each phone's notices in queue order
    rows = outbox.rows(store, channel="sms", limit=100)
    assert {r.status for r in rows} == {"sent"} and all(r.provider_id for r in rows)
    tries = [a for r in rows for a in outbox.attempts(store, r.id)]
    assert sum(a.outcome == "retry" for a in tries) == 6  # the 502s
    assert sum(a.outcome == "rate_limited" for a in tries) == 3  # no attempt used up
    assert sum(a.outcome == "sent" for a in tries) == 30
    for row in rows:  # after a 429 the next try came no sooner than Retry-After said
        history = outbox.attempts(store, row.id)
        for before, after in itertools.pairwise(history):
            if "429" in before.error:
                assert (after.at - before.at).total_seconds() >= 30


async def test_a_worker_cancelled_mid_batch_and_restarted_loses_and_doubles_nothing(
    store: Store, config: Config, gateway: FakeGateway
) -> None:
    config = with_gateway(config, gateway)
    keys = queue_sms(store, 12)
    gateway.hold_from = 6  # the sixth request hangs on the gateway's side
    clock = Clock()
    first = sms_worker(store, config, clock)
    stop = asyncio.Event()
    task = asyncio.create_task(first.run(stop, poll_interval=3600))
    await asyncio.wait_for(gateway.holding.wait(), timeout=10)
    task.cancel()  # the process is stopped mid-batch, mid-request
    with pytest.raises(asyncio.CancelledError):
        await task
    await first.sender.close()  # type: ignore[attr-defined]
    sent = [r for r in outbox.rows(store, channel="sms", limit=100) if r.status == "sent"]
    assert len(sent) == 5
    interrupted = [
        a
        for r in outbox.rows(store, limit=100)
        for a in outbox.attempts(store, r.id)
        if a.outcome == "interrupted"
    ]
    assert len(interrupted) == 1  # the request in flight: whether it arrived is unknown
    assert all(outbox.lease_of(store, r.id) == (None, None) for r in outbox.rows(store))
    gateway.gate.set()  # the gateway finishes that request: the phone shows it

    async def shown(count: int) -> None:
        while len(gateway.shown) < count:
            await asyncio.sleep(0)

    await asyncio.wait_for(shown(6), timeout=10)

    with Store(config.database, config) as reopened:  # a new process
        second = sms_worker(reopened, config, clock)
        try:
            assert await second.run_once() == 7
        finally:
            await second.sender.close()  # type: ignore[attr-defined]
        statuses = {r.status for r in outbox.rows(reopened, channel="sms", limit=100)}
    assert statuses == {"sent"}
    # Sent again with the same idempotency key: the gateway showed it once.
    assert sorted(f["key"] for f in gateway.shown) == keys
    assert len(gateway.received) == 13  # 12 notices, one of them twice on the wire
    expected = {phone: keys[i :: len(PHONES)] for i, phone in enumerate(PHONES)}
    assert shown_by_phone(gateway) == expected


class Recorder:
    def __init__(self) -> None:
        self.sent: list[OutboxRow] = []

    async def send(self, chat: str, replies: Sequence[Reply], notice: OutboxRow) -> str:
        self.sent.append(notice)
        return f"id-{notice.id}"


async def test_a_dead_workers_lease_holds_until_it_runs_out(store: Store, config: Config) -> None:
    keys = queue_sms(store, 4, PHONES[:2])
    rows = outbox.rows(store, channel="sms")
    # A worker in another process took the first notice of each phone, then died.
    taken = outbox.lease(
        store, [r.id for r in rows if r.key in keys[:2]], "gone", NOW, NOW + timedelta(seconds=60)
    )
    assert len(taken) == 2
    clock, sender = Clock(), Recorder()
    worker = DeliveryWorker(store, config, "sms", sender, clock=clock)
    assert await worker.run_once() == 0  # their later notices wait too: order per phone
    clock.advance(61)
    assert await worker.run_once() == 4
    assert [n.key for n in sender.sent if n.chat == PHONES[0]] == [keys[0], keys[2]]


async def test_priorities_order_the_chats_and_concurrency_keeps_each_chats_order(
    store: Store, config: Config
) -> None:
    for i in range(6):
        outbox.queue(
            store,
            key=f"b{i}",
            number=None,
            event_id=None,
            kind="team.offer",
            channel="telegram",
            chat=f"-100{i % 3}",
            locale="zh_CN",
            params={"number": f"BX20261123-{i:04d}"},
            priority=2,
            now=NOW,
        )
    outbox.queue(
        store,
        key="p0",
        number=None,
        event_id=None,
        kind="reporter.assigned",
        channel="telegram",
        chat="42",
        locale="zh_CN",
        params={"number": "BX20261123-0100"},
        priority=1,
        now=NOW,
    )
    sender = Recorder()
    worker = DeliveryWorker(store, config, "telegram", sender, clock=Clock(), concurrency=4)
    assert await worker.run_once() == 7
    assert sender.sent[0].key == "p0"  # the personal notice before the broadcasts
    for group in ("-1000", "-1001", "-1002"):
        assert [n.key for n in sender.sent if n.chat == group] == sorted(
            n.key for n in sender.sent if n.chat == group
        )


class FakeTimer:
    def __init__(self) -> None:
        self.t = 0.0

    def now(self) -> float:
        return self.t

    async def wait(self, event: asyncio.Event, timeout: float) -> None:
        raise AssertionError("nothing waits on the channel rate here")


async def test_a_chat_at_its_pace_is_set_aside_while_others_go_on(
    store: Store, config: Config
) -> None:
    timer = FakeTimer()
    limiter = RateLimiter(ChannelLimits(per_second=1000, chat_per_minute=60), timer=timer)
    keys = queue_sms(store, 6, ["+8613800000101", "+8613800000101", "+8613800000102"])
    clock, sender = Clock(), Recorder()
    worker = DeliveryWorker(store, config, "sms", sender, clock=clock, limiter=limiter)
    assert await worker.run_once() == 2  # one per phone: both phones are at their pace
    assert await worker.run_once() == 0
    timer.t += 1.0
    clock.advance(1)
    assert await worker.run_once() == 2
    timer.t += 1.0
    clock.advance(1)
    assert await worker.run_once() == 1  # the other phone has had all of its own
    timer.t += 1.0
    clock.advance(1)
    assert await worker.run_once() == 1
    first = [n.key for n in sender.sent if n.chat == "+8613800000101"]
    assert first == [k for i, k in enumerate(keys) if i % 3 in (0, 1)]
    assert 0 < worker._next_wait(5.0) <= 5.0


# -- the operator ---------------------------------------------------------------------------


@pytest.fixture
def site(tmp_path: Path) -> Path:
    path = tmp_path / "baoxiu.toml"
    text = default_text().replace('database = "data/baoxiu.db"', f'database = "{tmp_path}/b.db"')
    path.write_text(text, encoding="utf-8")
    return path


def cli(site: Path, *args: str) -> str:
    result = CliRunner().invoke(main, ["--config", str(site), *args])
    assert result.exit_code == 0, result.output
    return result.output


async def test_the_operator_sees_retries_and_purges(site: Path) -> None:
    config = load(site)
    with Store(config.database, config) as store:
        number = store.create_ticket(
            draft("water.leak", channel="web", chat="w1"), NOW, actor=WANG
        ).number
        sender = Recorder()

        class Broken:
            async def send(self, chat: str, replies: Sequence[Reply], notice: OutboxRow) -> str:
                raise DeliveryError("chat not found", retry=False)

        clock = Clock()
        await DeliveryWorker(store, config, "web", Broken(), clock=clock).run_once()
        await DeliveryWorker(store, config, "telegram", sender, clock=clock).run_once()
        (dead,) = [r for r in store.notices_of(number) if r.channel == "web"]
    listed = cli(site, "outbox", "list")
    assert "通知计数" in listed and "web" in listed and "失败" in listed and number in listed
    assert "chat not found" in cli(site, "outbox", "list", "--status", "dead")
    shown = cli(site, "outbox", "show", str(dead.id))
    assert "reporter.accepted" in shown and "放弃" in shown and "chat not found" in shown
    timeline = cli(site, "tickets", "show", number)
    assert (
        "通知投递" in timeline and "reporter.accepted" in timeline and "chat not found" in timeline
    )
    assert "sms" in timeline  # the fallback copy to the reporter's phone
    assert f"通知 {dead.id} 已重新排队" in cli(site, "outbox", "retry", str(dead.id))
    with Store(config.database, config) as store:
        row = store.outbox_row(dead.id)
        assert row is not None and row.status == "pending"
    purged = cli(site, "outbox", "purge", "--sent-before", "2099-01-01")
    assert "已删除" in purged
    with Store(config.database, config) as store:
        assert outbox.counts(store).get(("telegram", "sent"), 0) == 0
        assert store.outbox_row(dead.id) is not None  # pending and dead rows stay
    refused = CliRunner().invoke(main, ["--config", str(site), "outbox", "show", "99999"])
    assert refused.exit_code == 1 and "没有编号为 99999 的通知" in refused.output
    bad = CliRunner().invoke(
        main, ["--config", str(site), "outbox", "purge", "--sent-before", "soon"]
    )
    assert bad.exit_code == 1 and "不是日期" in bad.output


def test_limits_come_from_the_file(tmp_path: Path) -> None:
    config = load_text(
        default_text() + "\n[delivery]\nmax_attempts = 3\n[delivery.limits.sms]\nper_second = 2\n"
    )
    assert config.delivery.max_attempts == 3
    assert config.delivery.limits_of("sms").per_second == 2
    assert config.delivery.limits_of("sms").chat_per_minute == 2  # the rest kept its default
    assert config.delivery.limits_of("telegram") == ChannelLimits(30, 60, 20, 4)
    assert config.delivery.limits_of("web") == ChannelLimits()
    built = replace(
        load_text(default_text()), delivery=DeliverySettings(limits=MappingProxyType({}))
    )
    worker = DeliveryWorker(None, built, "telegram", Recorder())  # type: ignore[arg-type]
    assert (worker.max_attempts, worker.concurrency) == (8, 1)
    from tickets.errors import ConfigError

    with pytest.raises(ConfigError, match=r"delivery\.limits\.fax = "):
        load_text(default_text() + "\n[delivery.limits.fax]\nper_second = 1\n")
    with pytest.raises(ConfigError, match="max_backoff = 1: is less than base_backoff"):
        load_text(default_text() + "\n[delivery]\nbase_backoff = 5\nmax_backoff = 1\n")
