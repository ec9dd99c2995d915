"""tickets.stats: the rollup moved in the events' transaction equals the backfill after
reopen, transfer and pause; figures (volume, durations, p90, compliance, satisfaction,
reopen and repeat rates, per technician) of a small seeded desk."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner
from conftest import NOW, draft
from openpyxl import load_workbook

from bots.channel.export import Cell, csv_bytes, xlsx_bytes
from bots.cli import main
from bots.cli.tickets import holder_name
from bots.web.charts import bar_chart, stacked_bar_chart
from config.loader import load
from config.model import Config
from conversation.i18n import translate
from tickets import stats
from tickets.model import Action, Actor, Role
from tickets.store import Store

ZHANG = Actor(Role.TECHNICIAN, "zhang", "张师傅", frozenset({"maint"}))
LI = Actor(Role.TECHNICIAN, "li", "李师傅", frozenset({"maint"}))
WANG = Actor(Role.DISPATCHER, "wang", "王调度")
ALICE = Actor.reporter("web", "alice")
DAY = date(2026, 11, 23)


def minutes(n: float) -> timedelta:
    return timedelta(minutes=n)


def rollup(store: Store) -> list[dict[str, object]]:
    return store.query(
        "SELECT dim, day, value, key, bucket, n, round(total, 3) AS total FROM stats_rollup"
        " WHERE n != 0 OR total != 0 ORDER BY dim, day, value, key, bucket"
    )


def seeded(store: Store) -> list[str]:
    """Three tickets on the desk's day: one fixed, reopened, transferred, paused and
    fixed again and rated; one fixed at once and rated 3; one still new."""
    first = store.create_ticket(draft(), NOW).number
    store.apply(first, Action.CLAIM, ZHANG, NOW + minutes(10))
    store.apply(first, Action.SIGN_IN, ZHANG, NOW + minutes(40))
    store.apply(first, Action.RESOLVE, ZHANG, NOW + minutes(100), note="换阀门")
    store.apply(first, Action.REOPEN, ALICE, NOW + minutes(120), note="还在漏")
    store.apply(first, Action.CLAIM, ZHANG, NOW + minutes(125))
    store.apply(first, Action.TRANSFER, WANG, NOW + minutes(130), target="li", note="换人")
    store.apply(first, Action.SIGN_IN, LI, NOW + minutes(150))
    store.apply(first, Action.PAUSE, LI, NOW + minutes(160), note="等配件")
    store.apply(first, Action.RESUME, LI, NOW + minutes(200))
    store.apply(first, Action.RESOLVE, LI, NOW + minutes(240), note="换了整段水管")
    store.apply(first, Action.RATE, ALICE, NOW + minutes(250), data={"rating": 4})
    second = store.create_ticket(draft(chat="bob", channel="telegram"), NOW + minutes(1)).number
    store.apply(second, Action.CLAIM, LI, NOW + minutes(6))
    store.apply(second, Action.SIGN_IN, LI, NOW + minutes(21))
    store.apply(second, Action.RESOLVE, LI, NOW + minutes(61))
    bob = Actor.reporter("telegram", "bob")
    store.apply(second, Action.RATE, bob, NOW + minutes(70), data={"rating": 3})
    third = store.create_ticket(draft("power.outage", chat="carol"), NOW + minutes(2)).number
    return [first, second, third]


def test_the_rollup_kept_by_events_equals_the_backfill(store: Store) -> None:
    seeded(store)
    kept = rollup(store)
    with store.transaction():
        stats.rebuild(store.db.conn, ZoneInfo(store.config.timezone))
    assert rollup(store) == kept


def test_figures_of_the_day(store: Store) -> None:
    seeded(store)
    whole = stats.figures(store, DAY, DAY)
    [desk] = whole.groups
    assert desk.created == 3
    # claims: first 10 min after filing (its first claim, kept through the reopen), 5 min
    assert desk.mean_minutes("claim") == pytest.approx(7.5)
    # the final resolution only: 240 and 60 minutes after filing
    assert desk.mean_minutes("resolve") == pytest.approx(150)
    p90 = desk.p90_minutes("resolve")
    assert p90 is not None and 240 <= p90 <= 240 * 1.1
    assert desk.ratings == {3: 1, 4: 1} and desk.average_rating() == 3.5
    assert desk.rated == 2 and desk.share("reopened") == pytest.approx(1 / 3)
    assert desk.compliance("claim") == 1.0


def test_by_team_channel_and_technician(store: Store) -> None:
    seeded(store)
    by_channel = {g.value: g.created for g in stats.figures(store, DAY, DAY, by="channel").groups}
    assert by_channel == {"web": 2, "telegram": 1}
    by_team = {g.value: g.created for g in stats.figures(store, DAY, DAY, by="team").groups}
    assert by_team == {"maint": 2, "power": 1}
    techs = {g.value: g for g in stats.figures(store, DAY, DAY, by="technician").groups}
    assert set(techs) == {"li"}  # the transfer moved the first ticket from zhang to li
    li = techs["li"]
    assert li.counts["job"] == 2 and li.average_rating() == 3.5
    # on site: 150→240 min and 21→61 min
    assert li.onsite_seconds == pytest.approx((90 + 40) * 60)


def test_outside_the_period_is_empty(store: Store) -> None:
    seeded(store)
    assert stats.figures(store, DAY + timedelta(days=1), DAY + timedelta(days=30)).groups == []


def test_volume_by_day_week_month(store: Store) -> None:
    seeded(store)
    store.create_ticket(draft(chat="dave"), NOW + timedelta(days=3))
    end = DAY + timedelta(days=7)
    assert stats.volume(store, DAY, end) == {"2026-11-23": {"": 3}, "2026-11-26": {"": 1}}
    assert stats.volume(store, DAY, end, period="week") == {"2026-11-23": {"": 4}}
    assert stats.volume(store, DAY, end, period="month", by="category") == {
        "2026-11": {"water.leak": 3, "power.outage": 1}
    }


def months(store: Store) -> list[dict[str, object]]:
    return store.query(
        "SELECT dim, month, value, key, bucket, n, round(total, 3) AS total FROM stats_month"
        " WHERE n != 0 OR total != 0 ORDER BY dim, month, value, key, bucket"
    )


def test_the_month_rows_kept_by_events_equal_the_backfill(store: Store) -> None:
    seeded(store)
    store.create_ticket(draft(chat="dave"), NOW + timedelta(days=10))  # December (local)
    kept = months(store)
    assert {row["month"] for row in kept} == {"2026-11", "2026-12"}
    with store.transaction():
        stats.rebuild(store.db.conn, ZoneInfo(store.config.timezone))
    assert months(store) == kept


SPREAD = [date(2026, 9, 28) + timedelta(days=3 * i) for i in range(25)]  # to 2026-12-10


@pytest.mark.parametrize(
    ("start", "end"),
    [
        (date(2026, 9, 29), date(2026, 12, 2)),  # part, two whole months, part
        (date(2026, 10, 1), date(2026, 11, 30)),  # whole months only
        (date(2026, 10, 5), date(2026, 10, 20)),  # inside one month
        (date(2026, 9, 30), date(2026, 10, 31)),  # the last day of one, then a whole one
        (date(2026, 11, 1), date(2026, 12, 10)),  # a whole month, then part
        (date(2026, 11, 30), date(2026, 12, 1)),
    ],
)
def test_whole_months_and_edge_days_count_each_ticket_once(
    store: Store, start: date, end: date
) -> None:
    for i, day in enumerate(SPREAD):
        moment = datetime.combine(day, time(4, 0), UTC)  # noon in Shanghai
        store.create_ticket(draft("power.outage" if i % 3 else "water.leak", chat=f"c{i}"), moment)
    inside = [d for d in SPREAD if start <= d <= end]
    [desk] = stats.figures(store, start, end).groups
    assert desk.created == len(inside)
    by = {g.value: g.created for g in stats.figures(store, start, end, by="category").groups}
    assert sum(by.values()) == len(inside)
    per_month = stats.volume(store, start, end, period="month")
    expected: dict[str, dict[str, int]] = {}
    for d in inside:
        cell = expected.setdefault(d.isoformat()[:7], {"": 0})
        cell[""] += 1
    assert per_month == expected


def test_unknown_dimension_is_refused(store: Store) -> None:
    with pytest.raises(ValueError):
        stats.figures(store, DAY, DAY, by="holder; DROP TABLE tickets")


@pytest.fixture
def desk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Config:
    """The built-in configuration with its data under the test's folder, in Chinese,
    and two tickets: one fixed by zhang, one with a formula for a description."""
    for name, value in {
        "BAOXIU_DATA_DIR": str(tmp_path / "data"),
        "LANG": "",
        "LC_ALL": "",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("BAOXIU_CONFIG", raising=False)
    config = load(None)
    config.database.parent.mkdir(parents=True)
    with Store(config.database, config) as store:
        first = store.create_ticket(draft(description="卫生间漏水严重"), NOW).number
        store.apply(first, Action.CLAIM, ZHANG, NOW + minutes(10))
        store.apply(first, Action.SIGN_IN, ZHANG, NOW + minutes(30))
        store.apply(first, Action.RESOLVE, ZHANG, NOW + minutes(90))
        store.create_ticket(draft(chat="eve", description='=HYPERLINK("http://x")'), NOW)
    return config


def test_cli_stats_tables_and_files(desk: Config, tmp_path: Path) -> None:
    runner = CliRunner()
    args = ["stats", "--from", "2026-11-23", "--to", "2026-11-23"]
    csv_file, xlsx_file = tmp_path / "s.csv", tmp_path / "s.xlsx"
    result = runner.invoke(main, [*args, "--csv", str(csv_file), "--xlsx", str(xlsx_file)])
    assert result.exit_code == 0, result.output
    assert translate("zh_CN", "cli.stats.resolve_p90") in result.output
    assert csv_file.read_bytes().startswith(b"\xef\xbb\xbf")
    sheet = load_workbook(xlsx_file).active
    assert sheet is not None
    values = [[c.value for c in row] for row in sheet.iter_rows()]
    assert values[1][1] == 2  # filed that day
    assert values[1][8] == 90  # resolve mean, minutes
    by_tech = runner.invoke(main, [*args, "--by", "technician"])
    assert by_tech.exit_code == 0 and holder_name(desk, "zhang") in by_tech.output
    bad = runner.invoke(main, ["stats", "--from", "2026-11-24", "--to", "2026-11-23"])
    assert bad.exit_code != 0 and translate("zh_CN", "cli.stats.bad_range") in bad.output


def test_cli_search(desk: Config) -> None:
    result = CliRunner().invoke(main, ["tickets", "search", "漏水"])
    assert result.exit_code == 0 and "BX20261123-0001" in result.output
    nothing = CliRunner().invoke(main, ["tickets", "search", '" OR *'])
    assert nothing.exit_code == 0 and translate("zh_CN", "cli.list_empty") in nothing.output


def test_export_cells_are_not_formulas() -> None:
    rows: list[list[Cell]] = [["=1+1", "+x", "-y", "@z", "ok", -3, 2.5, None]]
    assert csv_bytes(rows).decode("utf-8-sig").strip() == "'=1+1,'+x,'-y,'@z,ok,-3,2.5,"
    sheet = load_workbook(io.BytesIO(xlsx_bytes(rows))).active
    assert sheet is not None
    assert [c.value for c in next(sheet.iter_rows())][:7] == [
        "'=1+1",
        "'+x",
        "'-y",
        "'@z",
        "ok",
        -3,
        2.5,
    ]


def test_svg_charts_are_escaped_and_scaled() -> None:
    svg = bar_chart([("11-23", 4), ("<b>", 2)], title="受理量 & more")
    assert svg.startswith("<svg") and "<b>" not in svg and "&lt;b&gt;" in svg
    assert svg.count('data-value="4"') == 1 and svg.count("<rect") == 2
    stacked = stacked_bar_chart(
        [("d1", {"a": 1, "b": 2})], title="t", names={"a": "漏水", "b": "停电"}
    )
    assert "漏水" in stacked and stacked.count("<rect") == 4  # two bars + two legend keys
