"""The dispatcher's commands on the command line (bots/cli_dispatch.py), through click's
runner on the built-in configuration: assign, transfer, merge, priority, incident open /
list / close, outage add / list / cancel; refusals exit with status 1 and a message."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import NOW, draft

from bots.cli import dispatch as cli_dispatch
from bots.cli import main
from config.loader import load
from config.model import Config
from tests.conftest import said
from tickets.model import Action, Actor, Priority, Role, State
from tickets.store import Store

ZHANG = Actor(Role.TECHNICIAN, "zhang", "张师傅", frozenset({"maint"}))


@pytest.fixture
def default(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Config:
    for name, value in {
        "BAOXIU_DATA_DIR": str(tmp_path / "data"),
        "LANG": "",
        "LC_ALL": "",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("BAOXIU_CONFIG", raising=False)
    monkeypatch.setattr(cli_dispatch, "now", lambda: NOW)
    return load(None)


@pytest.fixture
def numbers(default: Config) -> list[str]:
    """A leak in the east, a power cut in the east, a leak in the west."""
    default.database.parent.mkdir(parents=True)
    with Store(default.database, default) as store:
        return [
            store.create_ticket(draft("water.leak", chat="alice"), NOW).number,
            store.create_ticket(draft("power.outage", chat="bob", spot="101"), NOW).number,
            store.create_ticket(
                draft("water.leak", chat="carol", area="west", building="canteen"), NOW
            ).number,
        ]


@pytest.fixture
def store(default: Config, numbers: list[str]) -> Iterator[Store]:
    with Store(default.database, default) as opened:
        yield opened


def invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, said(result)


@pytest.mark.parametrize(
    "command",
    [
        ["assign"],
        ["transfer"],
        ["merge"],
        ["priority"],
        ["incident"],
        ["incident", "open"],
        ["incident", "close"],
        ["incident", "list"],
        ["outage"],
        ["outage", "add"],
        ["outage", "list"],
        ["outage", "cancel"],
    ],
)
def test_every_command_has_help(default: Config, command: list[str]) -> None:
    code, out = invoke(*command, "--help")
    assert code == 0 and "Usage:" in out


def test_assign_transfer_priority_merge(store: Store, numbers: list[str]) -> None:
    leak, _, west = numbers
    assert invoke("assign", leak, "张师傅") == (0, f"工单 {leak} 已派给 张师傅。\n")
    assert invoke("transfer", leak, "li") == (0, f"工单 {leak} 已转派给 李师傅。\n")
    assert invoke("priority", leak, "urgent") == (0, f"工单 {leak} 的优先级已改为紧急。\n")
    code, out = invoke("merge", west, leak)
    assert code == 0 and f"工单 {west} 已合并到 {leak}" in out

    ticket = store.get(leak)
    assert (ticket.holder, ticket.priority) == ("li", Priority.URGENT)
    assert store.get(west).master == leak
    # Who did it is the configured dispatcher.
    assert {e.actor_id for e in store.timeline(leak)[1:]} == {"wang"}


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (["assign", "BX20990101-0001", "zhang"], "没有找到工单 BX20990101-0001"),
        (["assign", "{leak}", "nobody"], "没有找到维修人员“nobody”"),
        (["merge", "{leak}", "{leak}"], "合并到它自己"),
        (["transfer", "{leak}", "li"], "不能转派"),
        (["assign", "{leak}", "zhang", "--as", "zhang"], "配置里没有调度员“zhang”"),
        (["incident", "close", "7"], "没有故障 7"),
        (
            [
                "outage",
                "add",
                "--area",
                "north",
                "--category",
                "water",
                "--start",
                "+1h",
                "--end",
                "+2h",
            ],
            "没有区域“north”",
        ),
        (
            [
                "outage",
                "add",
                "--area",
                "east",
                "--category",
                "water",
                "--start",
                "+2h",
                "--end",
                "+1h",
            ],
            "结束时间必须晚于开始时间",
        ),
        (
            [
                "outage",
                "add",
                "--area",
                "east",
                "--category",
                "water",
                "--start",
                "soon",
                "--end",
                "+1h",
            ],
            "结束时间必须晚于开始时间",
        ),
        (["outage", "cancel", "3"], "没有已发布的计划停电 #3"),
    ],
)
def test_refusals_exit_1_with_the_reason(
    store: Store, numbers: list[str], args: list[str], said: str
) -> None:
    before = [t.version for t in store.all_tickets()]
    code, out = invoke(*(a.format(leak=numbers[0]) for a in args))
    assert code == 1 and said in out, out
    assert [t.version for t in store.all_tickets()] == before


def test_incidents(store: Store, numbers: list[str]) -> None:
    leak, power, _ = numbers
    assert invoke("incident", "list") == (0, "没有处理中或待确认的大面积故障。\n")
    code, out = invoke(
        "incident",
        "open",
        "--area",
        "东区",
        "--category",
        "power",
        "--expected",
        "20:00",
        "--note",
        "10kV 线路故障",
    )
    assert code == 0, out
    assert "故障 #1 已开启：东区的电力，预计 11-23 20:00 前修复；已关联 1 个报修" in out
    assert power in out and leak not in out
    code, out = invoke("incident", "list")
    assert "#1 处理中 · 电力 · 东区 · 已关联 1 个 · 预计 11-23 20:00 前修复" in out
    code, out = invoke("incident", "open", leak)  # around a ticket: its area and category
    assert code == 0 and "故障 #2 已开启：东区的水 / 漏水" in out
    assert invoke("incident", "close", "1", "--note", "已恢复供电") == (
        0,
        "故障 #1 已结束；已通知 1 位关联的报修人已修复。\n",
    )
    code, out = invoke("incident", "list", "--all")
    assert "#1 已结束" in out and "#2 处理中" in out
    # bob's open ticket is resolved by the closing: he is told once, by its event.
    assert store.get(power).state.value == "resolved"
    assert store.query("SELECT 1 FROM outbox WHERE kind = 'reporter.incident_resolved'") == []
    resolved = store.query("SELECT chat, params FROM outbox WHERE kind = 'reporter.resolved'")
    assert [r["chat"] for r in resolved] == ["bob"] and "已恢复供电" in resolved[0]["params"]


def test_outages(store: Store, numbers: list[str]) -> None:
    code, out = invoke(
        "outage",
        "add",
        "--area",
        "east",
        "--category",
        "water",
        "--start",
        "+0m",
        "--end",
        "+3h",
        "--reason",
        "管道施工",
    )
    assert code == 0 and "计划停电 #1 已发布：东区的水，11-23 16:00 – 11-23 19:00" in out
    code, out = invoke("outage", "list")
    assert "#1 · 水 · 东区 · 11-23 16:00 – 11-23 19:00 · 管道施工" in out
    told = store.query("SELECT chat FROM outbox WHERE kind = 'reporter.outage'")
    assert [r["chat"] for r in told] == ["alice"]  # the open leak in the east
    assert invoke("outage", "cancel", "1") == (0, "计划停电 #1 已取消。\n")
    assert invoke("outage", "list") == (0, "没有已发布的计划停电。\n")
    code, out = invoke("outage", "list", "--all")
    assert "#1 cancelled 东区 水 2026-11-23 16:00 – 2026-11-23 19:00 管道施工" in out
    assert store.outage(1) is not None and store.outage(1).state.value == "cancelled"  # type: ignore[union-attr]


def test_a_refused_action_changes_nothing_and_later_ones_still_work(
    store: Store, numbers: list[str]
) -> None:
    leak = numbers[0]
    store.apply(leak, Action.CLAIM, ZHANG, NOW)
    assert invoke("assign", leak, "li")[0] == 1  # held already: assign is refused
    assert store.get(leak).state is State.ASSIGNED and store.get(leak).holder == "zhang"
    assert invoke("transfer", leak, "li")[0] == 0


@pytest.mark.parametrize(
    ("start", "end", "shown"),
    [
        ("09:00", "18:00", "11-23 09:00 – 11-23 18:00"),  # typed at 16:00: began this morning
        ("22:00", "06:00", "11-23 22:00 – 11-24 06:00"),  # one night
        ("11-24T09:00", "12:00", "11-24 09:00 – 11-24 12:00"),
    ],
)
def test_outage_bare_times_mean_today(store: Store, start: str, end: str, shown: str) -> None:
    """Issue 12 item 18: a bare time means today, not tomorrow once it has passed."""
    args = ["--area", "east", "--category", "water", "--start", start, "--end", end]
    code, out = invoke("outage", "add", *args)
    assert code == 0 and shown in out, out
