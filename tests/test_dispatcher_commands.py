"""The dispatcher's rule commands in chat, as tables of what the dispatcher sends and what
the desk answers, in zh_CN and en, through the engine and a real store: /transfer,
/merge, /priority, /incident, /outage and their buttons; and who may not use them."""

from __future__ import annotations

from datetime import timedelta

import pytest
from conftest import NOW, draft
from rules_support import bind, say

from bots.engine import Engine
from config.model import Config
from conversation.events import Button, InEvent
from tickets.model import Action, Actor, Priority, Role, State
from tickets.store import Store

ZHANG = Actor(Role.TECHNICIAN, "zhang", "张师傅", frozenset({"maint"}))
Row = tuple[InEvent | str, str | tuple[str, ...]]


@pytest.fixture
def desk(store: Store, config: Config) -> tuple[Engine, list[str]]:
    # Alice and Carol in the east, Bob in the west: two reports are no large-area fault.
    places = {"alice": ("east", "b1"), "bob": ("west", "b9"), "carol": ("east", "b1")}
    numbers = [
        store.create_ticket(draft(chat=chat, spot=f"{i}01", area=a, building=b), NOW).number
        for i, (chat, (a, b)) in enumerate(places.items(), start=1)
    ]
    bind(store, "web", "zhang-chat", "technician", "zhang", "zh_CN")
    return Engine(store, config), numbers


def run(engine: Engine, chat: str, locale: str, table: list[Row], numbers: list[str]) -> None:
    bind(engine.store, "web", chat, "dispatcher", "wang", locale)
    a, b, c = numbers
    for i, (said, expected) in enumerate(table):
        if isinstance(said, str):
            said = said.format(A=a, B=b, C=c)
        answer = say(engine, "web", chat, said, NOW + i * timedelta(minutes=1))
        for part in (expected,) if isinstance(expected, str) else expected:
            wanted = part.format(A=a, B=b, C=c)
            assert wanted in answer, f"row {i} {said!r}: {wanted!r} not in\n{answer}"


TICKETS = {
    "zh_CN": [
        ("/merge", "请发送 /merge 工单号 主工单号"),
        ("/merge {B} BX20990101-0001", "没有找到工单 BX20990101-0001"),
        ("/merge {B} {A}", "工单 {B} 已合并到 {A}；其报修人此后会收到 {A} 的通知"),
        ("/merge {B} {A}", "工单当前状态为“重复报修（已合并）”，不能合并"),
        ("/merge {C} {B}", "工单 {B} 本身是重复单"),
        ("/priority {A} 紧急", "工单 {A} 的优先级已改为紧急"),
        ("/priority {A} 很急", "没有优先级“很急”"),
        ("/transfer {A} li", "工单当前状态为“已受理（待派工）”，不能转派"),
        ("/transfer {A} 王五", "没有找到维修人员“王五”"),
        (Button("d:merge:{C}:{A}"), "工单 {C} 已合并到 {A}"),
    ],
    "en": [
        ("/merge", "Send /merge NUMBER MASTER"),
        ("/merge {B} BX20990101-0001", "No ticket BX20990101-0001"),
        ("/merge {B} {A}", "Ticket {B} is merged into {A}; its reporter now gets the notices"),
        ("/merge {B} {A}", "The ticket is “duplicate (merged)”: you cannot merge it now."),
        ("/merge {C} {B}", "Ticket {B} is itself a duplicate"),
        ("/priority {A} urgent", "Ticket {A} is now urgent."),
        ("/priority {A} asap", "There is no priority “asap”"),
        ("/transfer {A} li", "you cannot transfer it now"),
        ("/transfer {A} nobody", "There is no technician “nobody”"),
        (Button("d:merge:{C}:{A}"), "Ticket {C} is merged into {A}"),
    ],
}


@pytest.mark.parametrize("locale", ["zh_CN", "en"])
def test_ticket_commands(desk: tuple[Engine, list[str]], locale: str) -> None:
    engine, numbers = desk
    table = [
        (Button(s.data.format(A=numbers[0], B=numbers[1], C=numbers[2])), e)
        if isinstance(s, Button)
        else (s, e)
        for s, e in TICKETS[locale]
    ]
    run(engine, "wang-chat", locale, table, numbers)
    store = engine.store
    a, b, c = (store.get(n) for n in numbers)
    assert (b.state, b.master, c.state, c.master) == (
        State.DUPLICATE,
        a.number,
        State.DUPLICATE,
        a.number,
    )
    assert a.priority is Priority.URGENT


@pytest.mark.parametrize(
    ("locale", "said"),
    [("zh_CN", "工单 {A} 已转派给 李师傅"), ("en", "Ticket {A} is transferred to 李师傅")],
)
def test_transfer_moves_a_job_in_hand(
    desk: tuple[Engine, list[str]], locale: str, said: str
) -> None:
    engine, numbers = desk
    engine.store.apply(numbers[0], Action.CLAIM, ZHANG, NOW)
    run(engine, "wang-chat", locale, [("/transfer {A} li", said)], numbers)
    assert engine.store.get(numbers[0]).holder == "li"


RULES = {
    "zh_CN": [
        ("/incident", "没有处理中或待确认的大面积故障"),
        ("/incident open", "大面积故障："),
        ("/incident open 南区 water", "没有区域“南区”"),
        ("/incident open east 暖气", "没有分类“暖气”"),
        (
            "/incident open east water.leak 20:00 总阀坏了",
            ("故障 #1 已开启：东区的水 / 漏水", "20:00", "{A}"),
        ),
        ("/incident open 东区 漏水", "已有处理中的故障 #1"),
        ("/incident", ("#1 处理中 · 水 / 漏水 · 东区 · 已关联 2 个 · 预计", "结束（已修复） #1")),
        ("/incident close 1 修好了", "故障 #1 已结束；已通知 2 位"),
        ("/incident close 9", "没有故障 9"),
        ("/outage", "没有已发布的计划停电"),
        ("/outage add east water +2h +1h 检修", "结束时间必须晚于开始时间"),
        ("/outage add east water +1h +3h 检修", "计划停电 #1 已发布：东区的水"),
        ("/outage list", "#1 · 水 · 东区"),
        (Button("d:ocancel:1"), "计划停电 #1 已取消"),
        ("/outage delete 1", "计划停电："),
        # A bare time means today (typed at 16:00), not tomorrow (issue 12 item 18).
        ("/outage add east water 09:00 18:00 检修", ("#2 已发布", "11-23 09:00 – 11-23 18:00")),
    ],
    "en": [
        ("/incident", "No incident is open or waiting to be opened."),
        ("/incident open", "Incidents:"),
        ("/incident open south water", "There is no area “south”"),
        ("/incident open east heating", "There is no category “heating”"),
        (
            "/incident open East Leak +2h main valve",
            ("Incident #1 is open: Water / Leak in East", "{C}"),
        ),
        ("/incident open east water.leak", "already open"),
        ("/incident list", ("#1 open · Water / Leak · East · 2 linked", "Close (fixed) #1")),
        (Button("d:iclose:1"), "Incident #1 is closed; 2 linked resident(s) are told"),
        ("/outage add east water 11-24T09:00 11-24T17:00 cable work", "Outage #1 is published"),
        ("/outage", ("#1 · Water · East · 11-24 09:00 – 11-24 17:00 · cable work", "Cancel #1")),
        ("/outage cancel 1", "Outage #1 is cancelled."),
        ("/outage cancel 1", "There is no published outage #1."),
    ],
}


@pytest.mark.parametrize("locale", ["zh_CN", "en"])
def test_incident_and_outage_commands(desk: tuple[Engine, list[str]], locale: str) -> None:
    engine, numbers = desk
    run(engine, "wang-chat", locale, RULES[locale], numbers)  # type: ignore[arg-type]
    (incident,) = engine.store.incidents()
    assert incident.state.value == "closed" and incident.closed_by == "wang"


@pytest.mark.parametrize("said", ["/merge A B", "/priority A urgent", "/incident", "/outage"])
def test_only_dispatchers(desk: tuple[Engine, list[str]], said: str) -> None:
    engine, _ = desk
    assert "只有调度员" in say(engine, "web", "alice", said)
    assert "只有调度员" in say(engine, "web", "zhang-chat", said)


def test_a_forged_incident_button_from_a_resident_is_refused(
    desk: tuple[Engine, list[str]],
) -> None:
    engine, _ = desk
    assert "只有调度员" in say(engine, "web", "alice", Button("d:iopen:1"))
    assert engine.store.incidents() == []


@pytest.mark.parametrize("typed", ["²", "①", "9" * 5000])
def test_an_id_that_is_not_plain_digits_gets_the_usage(
    desk: tuple[Engine, list[str]], typed: str
) -> None:
    # int() of '²' or of 5,000 nines raised out of the dialogue (issue 10, defect 3).
    engine, numbers = desk
    run(
        engine,
        "wang-chat",
        "zh_CN",
        [
            (f"/incident close {typed}", "/incident close 编号"),
            (f"/outage cancel {typed}", "/outage cancel 编号"),
            (Button(f"d:iclose:{typed}"), ""),
        ],
        numbers,
    )
