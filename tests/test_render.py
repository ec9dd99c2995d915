"""Rendering outbox rows: a table per kind in zh_CN and en, the buttons of the cards,
privacy of the team offer, and every kind ``tickets.notices`` can emit."""

from __future__ import annotations

import logging
import re
import string
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from conftest import make_ticket

from config.flow_config import FlowSettings
from config.model import (
    Area,
    Building,
    Category,
    CategoryGroup,
    Config,
    Dispatcher,
    Team,
    Technician,
    TimeLimits,
)
from conversation.i18n import catalog
from conversation.replies import Ask, Reply, Say, ShowPhotos, text_of
from notify.render import kinds, render_notice
from tickets.model import Action, Actor, Event, Mode, Priority, Role, State, Ticket
from tickets.notices import Notice, notices_for
from tickets.store import OutboxRow
from tickets.workflow import advance

NOW = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)  # 16:00 in Shanghai
NUMBER = "BX20261123-0007"
LIMITS = TimeLimits(claim=30, arrive=120, resolve=480)


def make_config(mode: Mode = Mode.CLAIM) -> Config:
    leak = Category("water.leak", "water", "漏水", "Leak", "maint", Priority.HIGH, mode, LIMITS)
    return Config(
        locale="zh_CN",
        timezone="Asia/Shanghai",
        database=Path("unused.db"),
        media_dir=Path("media"),
        categories=(CategoryGroup("water", "水", "Water", (leak,)),),
        areas=(Area("east", "东区", "East campus", (Building("b1", "1号楼", "Building 1"),)),),
        teams=(Team("maint", "维修班", ("zhang", "li"), {"telegram": ("-1001",)}),),
        technicians=(
            Technician("zhang", "张师傅", "+8613900000001"),
            Technician("li", "李师傅", "+8613900000002"),
        ),
        dispatchers=(Dispatcher("wang", "王调度", "+8613900000009"),),
        confirm_window_hours=72,
    )


CONFIG = make_config()


def row(kind: str, locale: str = "zh_CN", **params: Any) -> OutboxRow:
    return OutboxRow(
        id=1,
        key=f"1:{kind}:telegram:42",
        number=NUMBER,
        event_id=1,
        kind=kind,
        channel="telegram",
        chat="42",
        locale=locale,
        params={"number": NUMBER, **params},
        priority=1,
        status="pending",
        attempts=0,
        next_at=NOW,
        created_at=NOW,
    )


def text(replies: tuple[Reply, ...]) -> str:
    return "\n".join(text_of(r) for r in replies)


PLACE = {"category": "water.leak", "area": "east", "building": "b1", "spot": "302 卫生间"}
JOB = {
    **PLACE,
    "priority": "high",
    "phone": "+8613800001234",
    "description": "水管漏水",
    "arrive_due": "2026-11-23T10:00:00+00:00",
    "resolve_due": "2026-11-23T16:00:00+00:00",
}

# (kind, params, what the zh_CN text contains, what the en text contains)
TABLE: list[tuple[str, dict[str, Any], list[str], list[str]]] = [
    (
        "reporter.accepted",
        {**PLACE, "eta": "2026-11-23T10:00:00+00:00"},
        ["您的报修工单 BX20261123-0007 已受理", "水 / 漏水", "东区 1号楼 302 卫生间", "18:00"],
        ["request BX20261123-0007 has been accepted", "Water / Leak", "East campus, Building 1"],
    ),
    (
        "reporter.assigned",
        {"technician_name": "张师傅", "technician_phone": "+8613900000001"},
        ["已派工", "张师傅", "13900000001"],
        ["has been assigned", "张师傅", "phone 13900000001"],
    ),
    (
        "reporter.on_site",
        {"technician_name": "张师傅"},
        ["张师傅 已到达现场"],
        ["张师傅 has arrived on site"],
    ),
    (
        "reporter.paused",
        {"reason": "等配件"},
        ["暂时挂起", "挂起原因：等配件"],
        ["on hold", "Reason: 等配件"],
    ),
    ("reporter.resumed", {}, ["已恢复处理"], ["has resumed"]),
    (
        "reporter.resolved",
        {"resolution": "更换了阀门"},
        ["已处理完成", "处理结果：更换了阀门", "72 小时"],
        ["is done", "Work done: 更换了阀门", "72 hours"],
    ),
    ("reporter.closed", {"rating": 4}, ["已结单", "★★★★☆"], ["is closed", "★★★★☆"]),
    ("technician.confirmed", {}, ["已确认修好", "已结单"], ["confirmed", "is closed"]),
    ("technician.confirmed", {"auto": True}, ["自动结单"], ["closed automatically"]),
    (
        "technician.rated",
        {"rating": 2, "comment": "来得太慢"},
        ["评价了您处理的工单", "评价：★★☆☆☆", "留言：来得太慢"],
        ["rated your work", "Rating: ★★☆☆☆", "Comment: 来得太慢"],
    ),
    (
        "reporter.cancelled",
        {"note": "重复报修"},
        ["已撤单", "说明：重复报修"],
        ["cancelled", "Note: 重复报修"],
    ),
    ("reporter.reopened", {}, ["已重新受理"], ["has been reopened"]),
    ("reporter.released", {}, ["已退回待派工"], ["back in the queue"]),
    (
        "reporter.merged",
        {"master": "BX20261123-0001"},
        ["与工单 BX20261123-0001 为同一故障"],
        ["same fault as ticket BX20261123-0001"],
    ),
    (
        "technician.assigned",
        {**JOB, "by": "assign"},
        [
            "【派工单】",
            "联系电话：13800001234",
            "故障描述：水管漏水",
            "优先级：高",
            "到场时限：2026-11-23 18:00",
        ],
        [
            "[Job]",
            "Phone: 13800001234",
            "Fault: 水管漏水",
            "Priority: high",
            "Resolve by: 2026-11-24 00:00",
        ],
    ),
    ("technician.released", {}, ["转派他人"], ["transferred to someone else"]),
    (
        "technician.reopened",
        {"note": "还在漏"},
        ["未修好", "说明：还在漏"],
        ["not fixed", "Note: 还在漏"],
    ),
    ("technician.cancelled", {}, ["已撤单，无需上门"], ["cancelled; no need"]),
    (
        "technician.hurried",
        {"hurry_count": 2},
        ["【催单】", "累计催单：2 次"],
        ["[Hurry]", "Times asked: 2"],
    ),
    (
        "technician.info_added",
        {"note": "楼下也在滴水"},
        ["补充内容：楼下也在滴水"],
        ["Added: 楼下也在滴水"],
    ),
    (
        "team.offer",
        {**JOB, "reason": "released"},
        ["【待抢单】", "联系电话：138****1234", "原维修人员退单", "先抢先得"],
        ["[Open job]", "Phone: 138****1234", "handed it back", "First come"],
    ),
    (
        "dispatcher.manual",
        {**JOB, "reason": "hurried"},
        ["【待派工】", "13800001234", "报修人催单"],
        ["[To assign]", "13800001234", "the reporter is asking"],
    ),
]


@pytest.mark.parametrize(("kind", "params", "zh", "en"), TABLE, ids=[t[0] for t in TABLE])
def test_each_kind_reads_right_in_both_languages(
    kind: str, params: dict[str, Any], zh: list[str], en: list[str]
) -> None:
    for locale, expected in (("zh_CN", zh), ("en", en)):
        shown = text(render_notice(row(kind, locale, **params), CONFIG))
        assert NUMBER in shown
        for part in expected:
            assert part in shown, f"{kind} in {locale}: {part!r} not in {shown!r}"
        assert "{" not in shown, f"unfilled placeholder in {shown!r}"


def test_the_table_covers_every_kind() -> None:
    assert {t[0] for t in TABLE} == kinds()


def test_resolved_asks_to_confirm_reopen_or_rate() -> None:
    replies = render_notice(row("reporter.resolved", resolution="换阀门"), CONFIG)
    ask = replies[-1]
    assert isinstance(ask, Ask) and ask.inline
    assert [(c.label, c.data) for c in ask.choices] == [
        ("确认修好", f"r:confirm:{NUMBER}"),
        ("没修好", f"r:reopen:{NUMBER}"),
        *((f"★{k}", f"r:rate:{NUMBER}:{k}") for k in range(1, 6)),
    ]
    en = render_notice(row("reporter.resolved", "en", resolution="valve"), CONFIG)[-1]
    assert isinstance(en, Ask) and [c.label for c in en.choices][:2] == ["Fixed", "Not fixed"]
    assert all(len(c.data.encode()) <= 64 for c in ask.choices)


def test_resolution_photos_come_before_the_question() -> None:
    replies = render_notice(
        row("reporter.resolved", resolution="换阀门", resolution_photos=["a.jpg", "b.jpg"]), CONFIG
    )
    assert isinstance(replies[0], ShowPhotos) and replies[0].refs == ("a.jpg", "b.jpg")
    assert isinstance(replies[-1], Ask)


def test_team_offer_has_a_claim_button_and_never_the_full_phone() -> None:
    for locale in ("zh_CN", "en"):
        replies = render_notice(row("team.offer", locale, **JOB), CONFIG)
        (ask,) = replies
        assert isinstance(ask, Ask) and ask.inline
        assert [c.data for c in ask.choices] == [f"t:claim:{NUMBER}"]
        assert "138****1234" in ask.text
        assert "13800001234" not in ask.text


def test_job_card_has_the_full_phone_and_the_job_buttons() -> None:
    replies = render_notice(row("technician.assigned", **JOB, photos=["p1.jpg"]), CONFIG)
    photos, card = replies
    assert isinstance(photos, ShowPhotos) and photos.refs == ("p1.jpg",)
    assert isinstance(card, Ask) and card.inline
    assert "13800001234" in card.text
    assert [c.data for c in card.choices] == [
        f"t:ack:{NUMBER}",  # 接单确认 ([receipt] enabled, the default)
        f"t:signin:{NUMBER}",
        f"t:pause:{NUMBER}",
        f"t:done:{NUMBER}",
        f"t:release:{NUMBER}",
    ]
    assert [c.label for c in card.choices] == ["接单", "签到", "挂起", "完成", "退单"]
    off = replace(CONFIG, flow=FlowSettings(receipt=False))
    (_, plain) = render_notice(row("technician.assigned", **JOB, photos=["p1.jpg"]), off)
    assert isinstance(plain, Ask) and [c.label for c in plain.choices] == [
        "签到",
        "挂起",
        "完成",
        "退单",
    ]


def test_dispatcher_card_has_an_assign_button() -> None:
    (ask,) = render_notice(row("dispatcher.manual", **JOB), CONFIG)
    assert isinstance(ask, Ask)
    assert f"d:assign:{NUMBER}" in [c.data for c in ask.choices]


def test_unknown_codes_are_shown_as_given_and_missing_lines_left_out() -> None:
    shown = text(
        render_notice(row("reporter.accepted", category="gas.smell", area="north"), CONFIG)
    )
    assert "gas.smell" in shown and "north" in shown
    assert "预计" not in shown  # no eta, no eta line
    # A visit time the reporter asked for replaces the time limit (issue 12 item 4).
    asked = row("reporter.accepted", eta="2026-11-22T23:45:00+00:00", preferred_time="明天上午")
    shown = text(render_notice(asked, CONFIG))
    assert "按您的要求（明天上午）" in shown and "预计" not in shown and "07:45" not in shown
    bare = text(render_notice(row("reporter.assigned"), CONFIG))
    assert "维修人员" in bare and "联系电话" not in bare


def test_unknown_kind_is_a_generic_text_and_logged(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="notify.render"):
        replies = render_notice(row("reporter.teleported"), CONFIG)
    assert replies == (Say(f"您的工单 {NUMBER} 有新的进展，发送 /status {NUMBER} 可查看详情。"),)
    assert "reporter.teleported" in caplog.text


def test_odd_params_never_crash() -> None:
    odd = row("technician.assigned", phone=None, photos=None, arrive_due="not a time", rating="x")
    shown = text(render_notice(odd, CONFIG))
    assert NUMBER in shown and "not a time" in shown
    wrong_types = replace(row("reporter.closed"), params={"number": NUMBER, "rating": [1, 2]})
    assert NUMBER in text(render_notice(wrong_types, CONFIG))
    assert render_notice(replace(row("reporter.accepted"), locale="fr"), CONFIG)  # falls back


def _placeholders(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


def test_catalogs_have_the_same_keys_and_placeholders() -> None:
    zh = {k: v for k, v in catalog("zh_CN").items() if k.startswith("notices.")}
    en = {k: v for k, v in catalog("en").items() if k.startswith("notices.")}
    assert zh.keys() == en.keys()
    for key in zh:
        assert _placeholders(zh[key]) == _placeholders(en[key]), key
    for kind in kinds():
        assert f"notices.{kind}" in zh


# -- every kind tickets.notices emits renders, with the params it really gives ---------------

REPORTER = Actor.reporter("telegram", "42")
ZHANG = Actor(Role.TECHNICIAN, "zhang", "张师傅", frozenset({"maint"}))
LI = Actor(Role.TECHNICIAN, "li", "李师傅", frozenset({"maint"}))
WANG = Actor(Role.DISPATCHER, "wang", "王调度")


def _accepted(mode: Mode, by: Actor) -> tuple[Ticket, Event]:
    ticket = make_ticket(
        number=NUMBER,
        mode=mode,
        phone="+8613800001234",
        description="水管漏水",
        reporter_channel="telegram",
        reporter_chat="42",
        photos=("p1.jpg",),
        arrive_due=NOW + timedelta(hours=2),
    )
    event = Event(NUMBER, NOW, by.role, by.id, Action.ACCEPT, None, State.NEW, id=1)
    return ticket, event


Step = tuple[Action, Actor, dict[str, Any]]
# (mode, who filed the ticket, what happens to it); only a ticket filed on the reporter's
# behalf tells him it was accepted (his own dialogue's reply does that otherwise).
JOURNEYS: list[tuple[Mode, Actor, list[Step]]] = [
    (
        Mode.CLAIM,
        REPORTER,
        [
            (Action.CLAIM, ZHANG, {}),
            (Action.HURRY, REPORTER, {}),
            (Action.ADD_INFO, REPORTER, {"note": "楼下也在滴", "data": {"photos": ["p2.jpg"]}}),
            (Action.SIGN_IN, ZHANG, {}),
            (Action.PAUSE, ZHANG, {"note": "等配件"}),
            (Action.RESUME, ZHANG, {}),
            (Action.RESOLVE, ZHANG, {"note": "换阀门", "data": {"photos": ["r.jpg"]}}),
            (Action.REOPEN, WANG, {"note": "还在漏"}),
            (Action.ASSIGN, WANG, {"target": "zhang"}),
            (Action.TRANSFER, WANG, {"target": "li"}),
            (Action.RELEASE, LI, {"note": "不会修"}),
            (Action.CLAIM, ZHANG, {}),
            (Action.SIGN_IN, ZHANG, {}),
            (Action.RESOLVE, ZHANG, {"note": "换阀门"}),
            (Action.CONFIRM, Actor.system(), {}),
            (Action.RATE, REPORTER, {"data": {"rating": 5}}),
        ],
    ),
    (Mode.MANUAL, WANG, [(Action.HURRY, REPORTER, {}), (Action.CANCEL, WANG, {"note": "重复"})]),
    (Mode.MANUAL, REPORTER, [(Action.ASSIGN, WANG, {"target": "li"}), (Action.CANCEL, WANG, {})]),
    (Mode.CLAIM, Actor.system(), [(Action.MERGE, WANG, {"target": "BX20261123-0001"})]),
]


def _emitted() -> list[Notice]:
    out: list[Notice] = []
    for mode, filer, steps in JOURNEYS:
        config = make_config(mode)
        ticket, event = _accepted(mode, filer)
        out.extend(notices_for(ticket, event, config))
        for at, (action, actor, kw) in enumerate(steps, start=1):
            now = NOW + timedelta(minutes=at)
            after, event = advance(ticket, action, actor, now, **kw)
            out.extend(notices_for(after, event, config, before=ticket))
            ticket = after
    return out


def test_every_kind_the_domain_emits_renders_in_both_languages() -> None:
    notices = _emitted()
    emitted = {n.kind for n in notices}
    source = (Path(__file__).parents[1] / "tickets" / "notices.py").read_text(encoding="utf-8")
    named = set(re.findall(r'"((?:reporter|technician|team|dispatcher)\.[a-z_]+)"', source))
    assert named <= kinds(), f"no template for {named - kinds()}"
    assert emitted <= kinds(), f"no template for {emitted - kinds()}"
    generic = {catalog(loc)["notices.generic"].split("{")[0] for loc in ("zh_CN", "en")}
    for notice in notices:
        for locale in ("zh_CN", "en"):
            replies = render_notice(row(notice.kind, locale, **notice.params), CONFIG)
            shown = text(replies)
            assert NUMBER in shown and "{" not in shown, (notice.kind, shown)
            assert not any(shown.startswith(g) for g in generic), (notice.kind, locale)


def test_the_journeys_reach_every_kind() -> None:
    # When notices.py grows a kind, a journey above must reach it, so its real params are
    # rendered by the test before this one.
    assert {n.kind for n in _emitted()} == kinds()
