"""A team offer is one outbox row per channel, fanned out when it is delivered (issue 11).

Filing a ticket writes the same rows and runs the same SQL statements whatever the
team's size: the team's groups, and ONE fan-out row per channel its members are bound
on. The channel's delivery worker turns that row into one row per member's chat (same
keys, language and params as the rows the store used to write), so each member keeps
his own delivery state: a partial failure resumes with the members not yet served
only, and a member whose chat is gone falls back to the dispatchers as before. Both on
a recording sender and on the real Telegram client against the fake Bot API server.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import MappingProxyType

import pytest
from conftest import NOW, draft, make_config
from fake_telegram import FakeTelegram
from test_telegram import channel_sending

from bots.telegram import TelegramChannel
from config.model import Config, Team, Technician
from conversation.replies import Reply
from notify.delivery import DeliveryWorker
from tickets import notice_rows, outbox
from tickets.errors import DeliveryError
from tickets.notice_rows import FANOUT_CHAT
from tickets.rows import ChatRecord, OutboxRow
from tickets.store import Store


def team_of(root: Path, members: int, *, groups: bool = True) -> Config:
    root.mkdir(exist_ok=True)
    config = make_config(root)
    people = tuple(f"t{i:03d}" for i in range(members))
    techs = tuple(Technician(p, f"师傅{p}", f"+86139{i:08d}") for i, p in enumerate(people))
    maint: Team = replace(config.teams[0], members=people)
    if not groups:
        maint = replace(maint, groups=MappingProxyType({}))
    return replace(config, technicians=techs, teams=(maint, *config.teams[1:]))


def bind_team(store: Store, members: int, *, channel: str = "telegram") -> None:
    for i in range(members):
        locale = "en" if i % 2 else None
        record = ChatRecord(channel, str(7000 + i), locale=locale, person=f"t{i:03d}")
        store.save_chat(replace(record, role="technician"), NOW)


def statements_of_a_new_ticket(root: Path, members: int) -> tuple[int, Store]:
    config = team_of(root, members)
    store = Store(config.database, config)
    bind_team(store, members)
    store.save_chat(ChatRecord("web", "w-t001", role="technician", person="t001"), NOW)
    count = 0

    def trace(_sql: str) -> None:
        nonlocal count
        count += 1

    store.db.conn.set_trace_callback(trace)
    store.create_ticket(draft(), NOW)
    store.db.conn.set_trace_callback(None)
    return count, store


def offers(store: Store, number: str) -> list[OutboxRow]:
    return [n for n in store.notices_of(number) if n.kind == "team.offer"]


def test_a_team_offer_costs_the_same_statements_and_rows_for_3_or_60_members(
    tmp_path: Path,
) -> None:
    small, store = statements_of_a_new_ticket(tmp_path / "small", 3)
    store.close()
    big, store = statements_of_a_new_ticket(tmp_path / "big", 60)
    try:
        assert big == small
        number = store.all_tickets()[0].number
        # The team's group, and one fan-out row per channel the members are bound on.
        assert [(n.channel, n.chat) for n in offers(store, number)] == [
            ("telegram", "-100123"),
            ("telegram", FANOUT_CHAT),
            ("web", FANOUT_CHAT),
        ]
    finally:
        store.close()


def test_delivery_fans_out_one_row_per_bound_chat_in_its_language(tmp_path: Path) -> None:
    _, store = statements_of_a_new_ticket(tmp_path, 5)
    try:
        number = store.all_tickets()[0].number
        [fan] = [n for n in offers(store, number) if n.channel == "telegram" and n.chat[0] == "*"]
        assert notice_rows.expand(store, "telegram", NOW) == []
        rows = offers(store, number)
        served = [n for n in rows if n.chat != FANOUT_CHAT]
        group = ("telegram", "-100123", "zh_CN")  # the team's group first, then members
        members = [("telegram", str(7000 + i), "en" if i % 2 else "zh_CN") for i in range(5)]
        assert [(n.channel, n.chat, n.locale) for n in served] == [group, *members]
        # The web worker fans out its own channel's row.
        assert [n.chat for n in rows if n.channel == "web"] == [FANOUT_CHAT]
        assert len({n.key for n in rows}) == len(rows)
        assert all(n.params == fan.params and n.priority == 2 for n in rows)
        assert all(n.key == f"{fan.event_id}:team.offer:telegram:{n.chat}" for n in served)
        done = store.outbox_row(fan.id)
        assert done is not None and (done.status, done.provider_id) == ("sent", "fanout:5")
        # A second pass (another worker, a restart) writes nothing more.
        assert notice_rows.expand(store, "telegram", NOW) == []
        assert len(offers(store, number)) == len(rows)
        assert store.due_notices("web", NOW) == []  # a fan-out row is never due as such
        notice_rows.expand(store, "web", NOW)
        assert [n.chat for n in store.due_notices("web", NOW)] == ["w-t001"]
    finally:
        store.close()


def test_a_fan_out_row_waits_for_its_time(tmp_path: Path) -> None:
    _, store = statements_of_a_new_ticket(tmp_path, 3)
    try:
        assert notice_rows.expand(store, "telegram", NOW - timedelta(seconds=1)) == []
        number = store.all_tickets()[0].number
        assert len(offers(store, number)) == 3  # group, telegram and web fan-out rows
    finally:
        store.close()


class Recorder:
    """A sender that records what it delivered and fails for the chats it is told."""

    def __init__(self) -> None:
        self.sent: list[str] = []
        self.fail: dict[str, DeliveryError] = {}

    async def send(self, chat: str, replies: Sequence[Reply], notice: OutboxRow) -> str:
        error = self.fail.pop(chat, None)
        if error is not None:
            raise error
        self.sent.append(chat)
        return f"m{notice.id}"


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now


def bind_dispatcher(store: Store) -> None:
    """The dispatcher in a web chat: alerts about a dead member's offer go there."""
    store.save_chat(ChatRecord("web", "wang-chat", role="dispatcher", person="wang"), NOW)


def states(store: Store, number: str) -> dict[str, tuple[str, int]]:
    """Member chat → (status, attempts) of its offer row."""
    return {n.chat: (n.status, n.attempts) for n in offers(store, number) if n.chat != FANOUT_CHAT}


async def test_a_partial_failure_resumes_with_the_members_not_yet_served(tmp_path: Path) -> None:
    config = team_of(tmp_path, 6, groups=False)
    store = Store(config.database, config)
    try:
        bind_team(store, 6)
        bind_dispatcher(store)
        number = store.create_ticket(draft(), NOW).number
        assert len(offers(store, number)) == 1
        sender, clock = Recorder(), Clock()
        worker = DeliveryWorker(store, config, "telegram", sender, clock=clock, jitter=0.0)
        sender.fail["7001"] = DeliveryError("502 Bad Gateway", retry=True)
        sender.fail["7004"] = DeliveryError("forbidden: bot was blocked", retry=False)

        assert await worker.run_once() == 4
        assert sorted(sender.sent) == ["7000", "7002", "7003", "7005"]
        assert states(store, number) == {
            **{chat: ("sent", 1) for chat in ("7000", "7002", "7003", "7005")},
            "7001": ("pending", 1),
            "7004": ("dead", 1),
        }
        # The member whose chat is gone falls back as any notice does: the dispatchers
        # hear that he could not be told.
        [alert] = [n for n in store.notices_of(number) if n.kind == outbox.ALERT_KIND]
        assert (alert.channel, alert.chat, alert.params["to"]) == ("web", "wang-chat", "7004")
        assert alert.params["notice"] == "team.offer"

        clock.now += timedelta(seconds=worker.backoff(0) + 1)
        assert await worker.run_once() == 1
        assert sorted(sender.sent) == ["7000", "7001", "7002", "7003", "7005"]  # once each
        assert states(store, number)["7001"] == ("sent", 2)
        assert await worker.run_once() == 0
    finally:
        store.close()


async def test_members_unbound_before_delivery_alert_the_dispatchers(tmp_path: Path) -> None:
    config = team_of(tmp_path, 2, groups=False)
    store = Store(config.database, config)
    try:
        bind_team(store, 2)
        bind_dispatcher(store)
        number = store.create_ticket(draft(), NOW).number
        for i in range(2):
            store.save_chat(ChatRecord("telegram", str(7000 + i)), NOW)  # unbound
        sender = Recorder()
        worker = DeliveryWorker(store, config, "telegram", sender, clock=Clock())
        assert await worker.run_once() == 0 and sender.sent == []
        [fan] = offers(store, number)
        assert fan.status == "dead" and "no member" in fan.last_error
        [alert] = [n for n in store.notices_of(number) if n.kind == outbox.ALERT_KIND]
        assert (alert.chat, alert.params["notice"]) == ("wang-chat", "team.offer")
    finally:
        store.close()


@pytest.fixture
async def telegram(tmp_path: Path) -> AsyncIterator[tuple[FakeTelegram, TelegramChannel, Store]]:
    async with channel_sending(team_of(tmp_path, 5, groups=False)) as sent:
        yield sent


async def test_telegram_members_each_get_the_offer_once_across_failures(
    telegram: tuple[FakeTelegram, TelegramChannel, Store],
) -> None:
    fake, channel, store = telegram
    bind_team(store, 5)
    bind_dispatcher(store)
    number = store.create_ticket(draft(), NOW).number
    clock = Clock()
    clock.now = datetime.now(UTC)  # the fan-out row is due since NOW
    worker = DeliveryWorker(
        store, channel.config, "telegram", channel.sender, clock=clock, jitter=0.0, concurrency=1
    )
    # In queue order: the first member blocked the bot, the second meets a 502.
    fake.fail("sendMessage", 403)
    fake.fail("sendMessage", 502, "Bad Gateway")

    assert await worker.run_once() == 3
    assert states(store, number) == {
        "7000": ("dead", 1),
        "7001": ("pending", 1),
        **{str(7000 + i): ("sent", 1) for i in range(2, 5)},
    }
    clock.now += timedelta(seconds=worker.backoff(0) + 1)
    assert await worker.run_once() == 1

    delivered = [chat for chat, _ in fake.messages]
    assert sorted(delivered) == [7001, 7002, 7003, 7004]  # each once; 7000 never
    assert all(number in m.get("text", "") for m in fake.messages.values())
    [alert] = [n for n in store.notices_of(number) if n.kind == outbox.ALERT_KIND]
    assert (alert.chat, alert.params["to"]) == ("wang-chat", "7000")


def test_a_fan_out_row_whose_members_all_have_their_rows_is_no_orphan(tmp_path: Path) -> None:
    """An operator's ``outbox retry`` of a fan-out row already fanned out writes nothing
    again and alerts nobody: each member's row exists (keys), so nothing is new."""
    config = team_of(tmp_path, 3, groups=False)
    store = Store(config.database, config)
    try:
        bind_team(store, 3)
        bind_dispatcher(store)
        number = store.create_ticket(draft(), NOW).number
        [fan] = offers(store, number)
        notice_rows.expand(store, "telegram", NOW)
        assert outbox.retry(store, fan.id, NOW) is False  # a sent row is not retried
        store.db.execute("UPDATE outbox SET status = 'pending' WHERE id = ?", [fan.id])
        assert notice_rows.expand(store, "telegram", NOW) == []
        again = store.outbox_row(fan.id)
        assert again is not None and (again.status, again.provider_id) == ("sent", "fanout:0")
        assert len(offers(store, number)) == 1 + 3
        assert not [n for n in store.notices_of(number) if n.kind == outbox.ALERT_KIND]
    finally:
        store.close()


def test_the_channels_of_a_teams_offer_follow_every_binding(tmp_path: Path) -> None:
    """The bound channels are read again only when a binding changed (migration fan_0002's
    mark, moved by triggers on chats): each change below shows in the next offer, by the
    store's own calls and by raw SQL alike (issue 11)."""
    config = team_of(tmp_path, 3, groups=False)
    store = Store(config.database, config)

    def channels() -> list[str]:
        number = store.create_ticket(draft(chat=f"c{len(store.all_tickets())}"), NOW).number
        return [n.channel for n in offers(store, number)]

    try:
        bind_team(store, 3)
        assert channels() == ["telegram"]
        store.save_chat(ChatRecord("web", "w1", role="technician", person="t002"), NOW)
        assert channels() == ["telegram", "web"]
        with store.transaction():  # unbound by hand
            store.db.execute("UPDATE chats SET person = NULL WHERE channel = 'telegram'")
        assert channels() == ["web"]
        with store.transaction():
            store.db.execute("DELETE FROM chats WHERE channel = 'web'")
        # Nobody bound: the dispatchers hear of the offer instead (no fan-out row).
        assert channels() == []
        # A reporter's chat is no binding: the mark stays, the answer too.
        [before] = store.query("SELECT mark FROM binding_changes")
        store.save_chat(ChatRecord("web", "someone"), NOW)
        assert store.query("SELECT mark FROM binding_changes") == [before]
        with store.transaction():
            store.db.execute("UPDATE chats SET person = 't000' WHERE chat = 'someone'")
        assert channels() == ["web"]
    finally:
        store.close()
