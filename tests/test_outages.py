"""Planned outages: published by a dispatcher, told first to a resident starting a report
of that category in that area during the window (who may still file), told to residents
with an open report there, cancelled. Plus reading typed times and the window rule."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from conftest import NOW
from rules_support import bind, rendered, report, rows, say, set_locale

from bots.engine import Engine
from config.model import Config
from conversation.events import Button
from tickets.outages import Outage, OutageState, covering, parse_when, take_when
from tickets.store import Store

TZ = "Asia/Shanghai"  # NOW is 16:00 there
HOUR = timedelta(hours=1)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


WHEN = [
    ("+90m", NOW + timedelta(minutes=90)),
    ("+2h", NOW + 2 * HOUR),
    ("+1d", NOW + timedelta(days=1)),
    ("18:30", utc(2026, 11, 23, 10, 30)),
    ("18：30", utc(2026, 11, 23, 10, 30)),
    ("09:00", utc(2026, 11, 24, 1, 0)),  # already past today: tomorrow
    ("11-24T09:00", utc(2026, 11, 24, 1, 0)),
    ("11-24 09:00", utc(2026, 11, 24, 1, 0)),
    ("2027-01-02T08:15", utc(2027, 1, 2, 0, 15)),
    ("", None),
    ("tomorrow", None),
    ("25:00", None),
    ("02-30T09:00", None),
    ("+5y", None),
]


@pytest.mark.parametrize(("typed", "expected"), WHEN)
def test_parse_when(typed: str, expected: datetime | None) -> None:
    assert parse_when(typed, NOW, TZ) == expected


def test_take_when_reads_a_date_and_a_time_as_one() -> None:
    assert take_when(["11-24", "09:00", "cable"], NOW, TZ) == (utc(2026, 11, 24, 1, 0), 2)
    assert take_when(["18:30", "cable"], NOW, TZ) == (utc(2026, 11, 23, 10, 30), 1)
    assert take_when(["cable"], NOW, TZ) == (None, 0)


def outage(**kw: object) -> Outage:
    base = Outage(
        1, "east", "power", NOW - HOUR, NOW + HOUR, "电缆施工", OutageState.ACTIVE, NOW - HOUR
    )
    return replace(base, **kw)  # type: ignore[arg-type]


COVERING = [
    ("during, group covers leaf", outage(), "east", "power.outage", True),
    ("other area", outage(), "west", "power.outage", False),
    ("other category", outage(), "east", "water.leak", False),
    ("not started", outage(starts_at=NOW + HOUR, ends_at=NOW + 2 * HOUR), "east", "power.x", False),
    ("over", outage(starts_at=NOW - 2 * HOUR, ends_at=NOW), "east", "power.outage", False),
    ("cancelled", outage(state=OutageState.CANCELLED), "east", "power.outage", False),
]


@pytest.mark.parametrize(
    ("found", "area", "category", "expected"),
    [c[1:] for c in COVERING],
    ids=[c[0] for c in COVERING],
)
def test_covering(found: Outage, area: str, category: str, expected: bool) -> None:
    assert (covering([found], area=area, category=category, now=NOW) == found) is expected


# -- through the engine and the store ---------------------------------------------------------


@pytest.fixture
def engine(store: Store, config: Config) -> Engine:
    bind(store, "web", "wang-chat", "dispatcher", "wang", "zh_CN")
    return Engine(store, config)


def start_report(engine: Engine, chat: str, area: str, at: datetime) -> str:
    say(engine, "web", chat, "/report", at)
    say(engine, "web", chat, Button("i:cat:water"), at)
    return say(engine, "web", chat, Button(f"i:area:{area}"), at)


@pytest.mark.parametrize("locale", ["zh_CN", "en"])
def test_a_resident_starting_a_report_during_an_outage_is_told_first_and_may_file(
    engine: Engine, store: Store, config: Config, locale: str
) -> None:
    set_locale(store, "web", "alice", locale)
    published = say(
        engine, "web", "wang-chat", "/outage add east water 11-23T15:00 11-23T20:00 管道施工", NOW
    )
    assert "计划停电 #1 已发布：东区的水，11-23 15:00 – 11-23 20:00" in published

    told = start_report(engine, "alice", "east", NOW)
    known = {"zh_CN": "计划停电/停水通知：东区的水", "en": "Planned outage: Water in East"}
    assert known[locale] in told and "11-23 20:00" in told and "管道施工" in told
    # Told once per report, not at every later question.
    assert known[locale] not in say(engine, "web", "alice", Button("i:bld:b1"), NOW)
    # It may still be filed: a normal ticket.
    answer = report(engine, "alice", NOW)
    assert {"zh_CN": "受理成功", "en": "Report accepted"}[locale] in answer
    assert len(store.all_tickets()) == 1


@pytest.mark.parametrize(
    ("area", "at"),
    [("west", NOW), ("east", NOW + 5 * HOUR), ("east", NOW - 2 * HOUR)],
    ids=["other area", "after the window", "before the window"],
)
def test_no_outage_notice_outside_its_area_or_window(
    engine: Engine, store: Store, area: str, at: datetime
) -> None:
    say(engine, "web", "wang-chat", "/outage add east water 11-23T15:00 11-23T20:00 施工", NOW)
    assert "计划停电" not in start_report(engine, "alice", area, at)


def test_residents_with_an_open_report_are_told_when_it_is_published(
    engine: Engine, store: Store, config: Config
) -> None:
    report(engine, "alice")  # east, water.leak
    report(engine, "bob", NOW, area="west", building="b9")
    say(engine, "web", "wang-chat", "/outage add east water +0m +4h 管道施工", NOW)
    (row,) = rows(store, "reporter.outage")
    assert row.chat == "alice"
    text = rendered(row, config)
    assert "东区的水有计划停电/停水，11-23 16:00 至 11-23 20:00" in text and "管道施工" in text


def test_list_and_cancel(engine: Engine, store: Store) -> None:
    say(engine, "web", "wang-chat", "/outage add 东区 水 +1h +3h 检修", NOW)
    listed = say(engine, "web", "wang-chat", "/outage", NOW)
    assert "#1 · 水 · 东区 · 11-23 17:00 – 11-23 19:00 · 检修" in listed
    assert "取消 #1" in listed
    assert "计划停电 #1 已取消" in say(engine, "web", "wang-chat", Button("d:ocancel:1"), NOW)
    assert "没有已发布的计划停电" in say(engine, "web", "wang-chat", "/outage list", NOW)
    assert "没有已发布的计划停电 #1" in say(engine, "web", "wang-chat", "/outage cancel 1", NOW)
    assert "计划停电" not in start_report(engine, "alice", "east", NOW + 90 * timedelta(minutes=1))
    (cancelled,) = store.outages()
    assert cancelled.state is OutageState.CANCELLED
