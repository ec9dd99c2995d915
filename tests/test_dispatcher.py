"""The dispatcher's chat dialogues (/queue, details, /assign, assign by buttons,
cancel with a reason) as tables in zh_CN and en, through the real router with the fake
engine of test_followup."""

from __future__ import annotations

from datetime import timedelta

import pytest
from test_followup import A1, B2, NOW, Chat, FakeLookup, make_config, run, ticket, world

from config.model import Config
from conversation import dispatcher
from conversation.events import Button, Location, Unsupported
from conversation.replies import Ask
from tickets.model import Role, State

FULL = "13812345678"
C3 = "BX20261122-0003"


@pytest.fixture
def config() -> Config:
    return make_config()


def desk(lookup: FakeLookup, locale: str = "zh_CN") -> Chat:
    return Chat(lookup, locale, chat="tg-wang", role=Role.DISPATCHER, person="wang")


@pytest.mark.parametrize(("locale", "only"), [("zh_CN", "只有调度员"), ("en", "Only dispatchers")])
def test_only_dispatchers(config: Config, locale: str, only: str) -> None:
    lookup = world(config, ticket(A1))
    tech = Chat(lookup, locale, chat="t", role=Role.TECHNICIAN, person="zhang")
    reporter = Chat(lookup, locale, chat="bob")
    for chat in (tech, reporter):
        run(
            chat,
            [
                ("/queue", (only, "act:-")),
                (f"/assign {A1} li", (only, "act:-")),
                (Button(f"d:assign:{A1}"), (only, "!d:to")),
                (Button(f"d:to:{A1}:li"), (only, "act:-")),
                (Button(f"d:cancel:{A1}"), (only, "state:-")),
                (Button(f"d:show:{A1}"), (only, f"!{FULL}")),
            ],
        )
    # A technician's /cancel NUMBER is not theirs to give.
    run(tech, [(f"/cancel {A1}", (only, "act:-"))])
    assert lookup.tickets[A1].state is State.NEW


def test_queue_show_and_assign_zh(config: Config) -> None:
    lookup = world(
        config,
        ticket(A1),
        ticket(C3, created_at=NOW - timedelta(days=1, hours=3), area="", building="", spot=""),
        ticket(B2, State.ASSIGNED, holder="zhang", chat="bob"),
    )
    chat = desk(lookup)
    run(
        chat,
        [
            (
                "/queue",
                (
                    "待派工单（2）",
                    A1,
                    "水 / 漏水",
                    "东区 / 1号楼 / 302",
                    "已等 2 小时 0 分钟",
                    C3,
                    "已等 1 天 3 小时",
                    f"[d:show:{A1}]",
                    f"!{B2}",
                ),
            ),
            (
                Button(f"d:show:{A1}"),
                (
                    "工单 " + A1,
                    f"电话：{FULL}",
                    "卫生间水管漏水",
                    f"派工 [d:assign:{A1}]",
                    f"[d:cancel:{A1}]",
                ),
            ),
            (f"/status {B2}", ("维修人员：张师傅", f"转派 [d:assign:{B2}]", f"[d:cancel:{B2}]")),
            (f"/assign {A1.lower()} li", ("已派给 李师傅", "act:assign")),
            (f"/assign {B2} 李师傅", ("已转派给 李师傅", "act:transfer")),
            ("/queue", ("待派工单（1）", C3, f"!{A1}")),
        ],
    )
    assert chat.acts[0].target == "li" and chat.acts[1].target == "li"
    assert lookup.tickets[A1].holder == "li" and lookup.tickets[B2].holder == "li"


def test_assign_by_buttons_en(config: Config) -> None:
    lookup = world(config, ticket(A1))
    chat = desk(lookup, "en")
    replies = chat.send(Button(f"d:assign:{A1}"))
    ask = next(r for r in replies if isinstance(r, Ask))
    assert ask.text == f"Assign ticket {A1} to:"
    # The ticket's team (maint: zhang, li) comes before everybody else.
    assert [c.data for c in ask.choices] == [
        f"d:to:{A1}:zhang",
        f"d:to:{A1}:li",
        f"d:to:{A1}:zhao",
    ]
    assert all(len(c.data.encode()) <= 64 for c in ask.choices)
    run(
        chat,
        [
            (Button(f"d:to:{A1}:zhang"), ("is assigned to 张师傅", "act:assign")),
            (Button(f"d:assign:{A1}"), (f"!d:to:{A1}:zhang", f"d:to:{A1}:li")),
            (Button(f"d:to:{A1}:li"), ("is transferred to 李师傅", "act:transfer")),
            (
                Button(f"d:to:{A1}:ghost"),
                ("There is no technician “ghost”", "zhao: 赵师傅", "act:-"),
            ),
        ],
    )


def test_assign_errors_en(config: Config) -> None:
    lookup = world(config, ticket(A1), ticket(C3, State.CLOSED, holder="zhang"))
    run(
        desk(lookup, "en"),
        [
            ("/assign", ("Send /assign NUMBER PERSON", "act:-")),
            (f"/assign {A1}", ("Send /assign NUMBER PERSON", "li: 李师傅", "act:-")),
            (f"/assign {A1} nobody", ("There is no technician “nobody”", "zhang: 张师傅", "act:-")),
            ("/assign BX19990101-0001 li", ("No ticket BX19990101-0001", "act:-")),
            (Button(f"d:assign:{C3}"), ("“closed”", "!d:to", "act:-")),
            (f"/assign {C3} li", ("“closed”", "act:assign")),  # refused by the workflow
        ],
    )
    assert lookup.tickets[A1].holder is None


def test_cancel_with_reason_zh(config: Config) -> None:
    lookup = world(config, ticket(A1), ticket(B2, State.ON_SITE, holder="zhang", chat="bob"))
    chat = desk(lookup)
    run(
        chat,
        [
            (f"/cancel {A1.lower()}", ("为什么撤单", "state:dispatcher/cancel", "act:-")),
            (Unsupported("sticker"), ("请输入工单", "撤单的原因", "state:dispatcher/cancel")),
            (Location(1.0, 2.0), ("撤单的原因", "state:dispatcher/cancel", "act:-")),
            ("重复报修，已电话确认", ("已撤单", "act:cancel", "state:-")),
            (Button(f"d:cancel:{B2}"), ("正在现场处理", "不能撤单", "act:-", "state:-")),
            (Button(f"d:cancel:{A1}"), ("已撤单", "act:-", "state:-")),
            ("/cancel", ("当前没有进行中的对话",)),
        ],
    )
    assert chat.acts[0].note == "重复报修，已电话确认"
    assert lookup.tickets[A1].state is State.CANCELLED


def test_cancel_by_button_en(config: Config) -> None:
    lookup = world(config, ticket(A1, State.ASSIGNED, holder="li"))
    run(
        desk(lookup, "en"),
        [
            (Button(f"d:cancel:{A1}"), ("Why is ticket", "sent to the reporter")),
            ("/queue", ("No ticket is waiting", "state:dispatcher/cancel")),
            ("Resident moved out", ("is cancelled", "act:cancel", "state:-")),
        ],
    )


@pytest.mark.parametrize(("locale", "missing"), [("zh_CN", "没有找到工单"), ("en", "No ticket")])
def test_unknown_numbers(config: Config, locale: str, missing: str) -> None:
    ghost = "BX19990101-0001"
    run(
        desk(world(config), locale),
        [
            (f"/status {ghost}", (missing,)),
            (Button(f"d:show:{ghost}"), (missing,)),
            (Button(f"d:assign:{ghost}"), (missing, "!d:to")),
            (f"/cancel {ghost}", (missing, "state:-")),
            ("/status", ("/status BX",)),
            ("/queue", ("act:-",)),
        ],
    )


def test_menu_is_the_queue(config: Config) -> None:
    lookup = world(config, ticket(A1))
    run(desk(lookup, "en"), [("/start", ("Hello, dispatcher", "Tickets waiting", A1))])
    assert (
        dispatcher.age(ticket(created_at=NOW + timedelta(minutes=5)), desk(lookup).ctx) == "0 分钟"
    )


def test_card_shows_photos(config: Config) -> None:
    lookup = world(config, ticket(A1, photos=("media/x.jpg",)))
    run(desk(lookup), [(f"/status {A1}", (f"工单 {A1} 的照片", "media/x.jpg", FULL))])
