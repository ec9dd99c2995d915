"""The resident intake dialogue as tables of what the resident sends and what the desk
answers, in zh_CN and en; properties over random input; the phone-number parser."""

from __future__ import annotations

import json
import math
import re
import string
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from dialogue import NOW, Dialogue, FakeLookup, Not, make_ctx, ticket_for
from hypothesis import given, settings
from hypothesis import strategies as st

from conversation import intake
from conversation.actions import Act, CreateTicket, Rule
from conversation.events import (
    Button,
    Command,
    Contact,
    InEvent,
    Location,
    Photo,
    Text,
    Unsupported,
)
from conversation.i18n import LOCALES, catalog, translate
from conversation.replies import Ask, RemoveKeyboard, RequestContact, RequestLocation, text_of
from conversation.state import IDLE, DialogueState
from tickets.model import Action, Draft, State

NUMBER = f"BX{NOW:%Y%m%d}-0001"


def begin(locale: str = "zh_CN", prefill: dict[str, str] | None = None, **ctx_kw: Any) -> Dialogue:
    """A dialogue right after ``intake.start``; its opening text is ``d.opening``."""
    ctx = make_ctx(locale, **ctx_kw)
    return Dialogue(
        intake.step, ctx, opened=intake.start(ctx, prefill or {}), outcome=intake.outcome
    )


def reach(d: Dialogue, events: list[InEvent | str]) -> Dialogue:
    for event in events:
        d.send(event)
    return d


def created(d: Dialogue) -> Draft:
    drafts = [a.draft for a in d.actions if isinstance(a, CreateTicket)]
    assert len(drafts) == 1, d.actions
    return drafts[0]


# Button presses from the first question to the summary, and the step each one leads to.
BY_BUTTONS: list[tuple[str, InEvent | str]] = [
    ("category_leaf", Button("i:cat:water")),
    ("area", Button("i:cat:water.leak")),
    ("building", Button("i:area:east")),
    ("spot", Button("i:bld:b1")),
    ("phone", "3楼302"),
    ("description", "13800000000"),
    ("photos", "卫生间水管接头一直在漏水"),
    ("time", Button("i:photos_done")),
    ("summary", Button("i:time:any")),
    ("edit", Button("i:edit")),
]


def to_step(step: str, d: Dialogue | None = None) -> Dialogue:
    d = d or begin()
    for reached, event in BY_BUTTONS:
        if d.state.step == step:
            break
        d.send(event)
        assert d.state.step == reached
    assert d.state.step == step
    return d


# -- happy paths --------------------------------------------------------------------------

HAPPY_ZH = [
    (Button("i:cat:water"), ("【水】请选择具体问题", "漏水", "停水", "返回")),
    (Button("i:cat:water.leak"), ("报修类别：水 / 漏水", "请选择报修所在的区域", "东区", "北门")),
    (Button("i:area:east"), ("【东区】请选择楼栋", "1号楼", "2号楼")),
    (Button("i:bld:b1"), "请输入具体位置"),
    ("3楼302", "联系电话"),
    ("13800000000", ("描述", "至少 4 个字")),
    ("卫生间水管接头一直在漏水", ("现场照片", "最多 4 张", "跳过")),
    (Button("i:photos_done"), ("什么时候上门", "随时都可以")),
    (
        Button("i:time:any"),
        (
            "请核对报修信息",
            "报修类别：水 / 漏水",
            "报修地点：东区 1号楼 3楼302",
            "联系电话：13800000000",
            "故障描述：卫生间水管接头一直在漏水",
            "现场照片：0 张",
            "上门时间：随时",
            "确认提交",
            "修改",
            "取消报修",
        ),
    ),
    (
        Button("i:confirm"),
        (
            f"受理成功，工单号 {NUMBER}",
            "预计 2026-11-23 12:00 前上门",
            f"/status {NUMBER}",
            "都会在这里通知您",
        ),
    ),
]

HAPPY_EN = [
    (Button("i:cat:water"), ("Water: which problem exactly?", "Leak", "No water", "Back")),
    (Button("i:cat:water.leak"), ("Category: Water / Leak.", "Which area", "East campus")),
    (Button("i:area:east"), ("East campus: which building?", "Building 1", "Building 2")),
    (Button("i:bld:b1"), "Where exactly?"),
    ("3楼302", "mobile number"),
    ("13800000000", ("describe the fault", "at least 4 characters")),
    ("Water drips from the pipe under the sink", ("photos", "up to 4", "Skip")),
    (Button("i:photos_done"), ("When would you like", "Any time")),
    (
        Button("i:time:any"),
        (
            "Please check your report",
            "Category: Water / Leak",
            "Location: East campus Building 1 3楼302",
            "Phone: 13800000000",
            "Description: Water drips from the pipe under the sink",
            "Photos: 0",
            "Visit time: any time",
            "Submit",
            "Edit",
            "Cancel report",
        ),
    ),
    (
        Button("i:confirm"),
        (
            f"Report accepted, ticket number {NUMBER}",
            "expected to visit by 2026-11-23 12:00",
            f"/status {NUMBER}",
            "you will be told",
        ),
    ),
]


@pytest.mark.parametrize(("locale", "table"), [("zh_CN", HAPPY_ZH), ("en", HAPPY_EN)])
def test_happy_path_by_buttons(locale: str, table: list[Any]) -> None:
    d = begin(locale)
    assert ("/cancel" in d.opening) and ("漏水" in d.opening or "leak" in d.opening)
    d.run(table)
    assert d.state == IDLE
    assert d.actions == [
        CreateTicket(
            Draft(
                category="water.leak",
                phone="+8613800000000",
                description=table[6][0],
                reporter_channel="telegram",
                reporter_chat="1001",
                reporter_locale=locale,
                area="east",
                building="b1",
                spot="3楼302",
            ),
            flow="intake",
        )
    ]
    assert d.lookup.tickets[NUMBER].category == "water.leak"


def test_free_text_prompts_remove_the_choice_keyboard() -> None:
    d = begin()
    reached = {}
    for step, event in BY_BUTTONS[:8]:
        reached[step] = d.send(event).replies
    assert isinstance(reached["spot"][0], RemoveKeyboard)  # after the building keyboard
    assert isinstance(reached["description"][0], RemoveKeyboard)  # after the phone step
    assert isinstance(reached["area"][0], Ask) and not reached["area"][0].inline
    assert all(isinstance(r, Ask) and r.inline for r in reached["photos"])


# -- typing instead of pressing ---------------------------------------------------------------

KEYWORDS = [
    ("zh_CN", "漏水", "报修类别：水 / 漏水", "area"),
    ("zh_CN", "家里停电了", "报修类别：电力 / 停电", "area"),
    ("zh_CN", "马桶堵了", "报修类别：水 / 下水道堵塞", "area"),
    ("zh_CN", "宿舍没网", "报修类别：网络 / 宽带", "area"),
    ("zh_CN", "门锁坏了", "报修类别：门窗 / 门锁", "area"),
    ("zh_CN", "水", "【水】请选择具体问题", "category_leaf"),
    ("zh_CN", "电", "【电力】请选择具体问题", "category_leaf"),
    ("zh_CN", "门窗", "报修类别：门窗 / 门锁", "area"),  # a group of one: no second question
    ("zh_CN", "外星人来了", "没有找到和“外星人来了”相关的报修类别", "category"),
    ("en", "There is a leak under the sink", "Category: Water / Leak", "area"),
    ("en", "no internet at all", "Category: Network / Broadband", "area"),
    ("en", "LAMP", "Category: Power / Lighting", "area"),
    ("en", "the toilet is clogged", "Category: Water / Blocked drain", "area"),
    ("en", "water", "Water: which problem exactly?", "category_leaf"),
    ("en", "blackbird", "No fault category matches “blackbird”", "category"),
]


@pytest.mark.parametrize(("locale", "typed", "answer", "step"), KEYWORDS)
def test_category_by_keyword(locale: str, typed: str, answer: str, step: str) -> None:
    d = begin(locale)
    d.run([(typed, answer)])
    assert d.state.step == step


def test_several_keyword_hits_are_offered_then_picked_by_number() -> None:
    d = begin()
    d.run(
        [
            ("水管漏水还停水", ("找到几个相关的类别", "水 / 漏水", "水 / 停水", "返回")),
            ("3", ("请选择报修类别", "电力")),  # "返回" is the third choice
            ("水管漏水还停水", "找到几个相关的类别"),
            ("2", "报修类别：水 / 停水"),
        ]
    )
    assert d.state.data["category"] == "water.no_water"


def test_a_keyword_typed_at_the_second_level_searches_everything() -> None:
    d = begin("en")
    d.run([(Button("i:cat:power"), "Power: which problem"), ("leak", "Category: Water / Leak")])


def test_everything_by_numbers_and_labels() -> None:
    d = begin()
    d.run(
        [
            ("２", "【水】请选择具体问题"),  # full-width digit
            ("1", "报修类别：水 / 漏水"),
            ("1", "【东区】请选择楼栋"),
            ("2", "请输入具体位置"),
            ("5楼楼梯间", "联系电话"),
            ("+86 138 0000 0000", "描述"),
            ("五楼楼梯间的水管在漏水", "现场照片"),
            ("1", "什么时候上门"),
            ("1", "请核对报修信息"),
            ("9", "请选择：确认提交"),  # there is no ninth choice
            ("确认提交", f"受理成功，工单号 {NUMBER}"),
        ]
    )
    assert created(d).building == "b2"


def test_area_and_building_by_part_of_the_name_and_back() -> None:
    d = begin()
    d.run(
        [
            ("漏水", "请选择报修所在的区域"),
            ("西区", "【西区】请选择楼栋"),
            ("返回", "请选择报修所在的区域"),
            ("东", "【东区】请选择楼栋"),
            ("号楼", ("这一步需要选择楼栋", "1号楼")),  # matches both: ask again
            ("2号", "请输入具体位置"),
        ]
    )
    assert (d.state.data["area"], d.state.data["building"]) == ("east", "b2")


def test_an_area_without_buildings_goes_straight_to_the_spot() -> None:
    d = begin()
    d.run([("漏水", None), (Button("i:area:north"), "请输入具体位置"), ("岗亭", "联系电话")])
    assert d.state.data["building"] == ""


# -- deep link -------------------------------------------------------------------------------


def test_deep_link_skips_area_and_building() -> None:
    d = begin(prefill={"area": "east", "building": "b1"})
    assert "报修地点：东区 1号楼" in d.opening
    d.run([("漏水", ("报修类别：水 / 漏水", "请输入具体位置", Not("区域"))), ("302", "联系电话")])
    assert (d.state.data["area"], d.state.data["building"]) == ("east", "b1")


@pytest.mark.parametrize(
    ("prefill", "asked", "opening"),
    [
        ({"area": "mars", "building": "b1"}, "请选择报修所在的区域", Not("报修地点")),
        ({"building": "b1"}, "请选择报修所在的区域", Not("报修地点")),
        ({"area": "west", "building": "zz"}, "【西区】请选择楼栋", "报修地点：西区"),
        ({"area": "north"}, "请输入具体位置", "报修地点：北门"),
    ],
)
def test_deep_link_with_invalid_or_partial_codes(
    prefill: dict[str, str], asked: str, opening: str | Not
) -> None:
    d = begin(prefill=prefill)
    if isinstance(opening, Not):
        assert opening.text not in d.opening
    else:
        assert opening in d.opening
    d.run([("漏水", asked)])


def test_deep_link_in_english() -> None:
    d = begin("en", prefill={"area": "west", "building": "lib"})
    assert "at West campus Library" in d.opening
    d.run([("leak", "Where exactly?")])


# -- shared location --------------------------------------------------------------------------


def test_shared_location_at_the_area_step_keeps_coordinates() -> None:
    d = begin(can_share_location=True)
    turn = d.send("漏水")
    ask, request = turn.replies
    assert isinstance(ask, Ask) and ask.inline  # the keyboard is the location button's
    assert isinstance(request, RequestLocation) and request.button == "发送我的位置"
    d.run(
        [
            (Location(31.2304, 121.4737), ("位置收到了", "请输入具体位置")),
            ("南门快递柜旁边", "联系电话"),
            ("13800000000", None),
            ("快递柜旁的路灯不亮了", None),
            ("跳过", None),
            ("随时", ("报修地点：南门快递柜旁边（已附定位）", "上门时间：随时")),
            ("1", f"受理成功，工单号 {NUMBER}"),
        ]
    )
    draft = created(d)
    assert (draft.latitude, draft.longitude, draft.area, draft.building) == (
        31.2304,
        121.4737,
        "",
        "",
    )


def test_location_at_the_building_and_spot_steps_keeps_the_area() -> None:
    d = begin("en")
    d.run(
        [
            ("leak", None),
            (Button("i:area:east"), "which building"),
            (Location(31.0, 121.0), ("Location received.", "Where exactly?")),
            (Location(31.5, 121.5), ("Location received.", "Where exactly?")),
        ]
    )
    assert d.state.step == "spot"
    assert d.state.data | {"latitude": 31.5, "area": "east", "building": ""} == d.state.data


def test_without_location_sharing_the_areas_are_a_reply_keyboard() -> None:
    (ask,) = begin().send("漏水").replies
    assert isinstance(ask, Ask) and not ask.inline


# -- phone -----------------------------------------------------------------------------------


def test_contact_share_button_and_someone_elses_contact() -> None:
    d = to_step("phone", begin(can_share_contact=True))
    turn = d.turns[-1]
    assert isinstance(turn.replies[0], RequestContact)
    assert turn.replies[0].button == "发送我的手机号"
    d.run(
        [
            (Contact("12345", own=True), "号码好像不对"),
            (Contact("+86 139 0000 2222", own=False), "描述"),  # reporting for a neighbour
        ]
    )
    assert d.state.data["phone"] == "+8613900002222"
    assert isinstance(d.turns[-1].replies[0], RemoveKeyboard)


def test_own_contact_without_plus_is_accepted() -> None:
    d = to_step("phone", begin("en", can_share_contact=True))
    d.run([(Contact("8613900001111", own=True), "describe the fault")])
    assert d.state.data["phone"] == "+8613900001111"


@pytest.mark.parametrize(
    ("locale", "bad", "error", "asked"),
    [
        ("zh_CN", "请输入 11 位手机号", "这个号码好像不对", "描述"),
        ("en", "please type it in full", "does not look like a mobile number", "describe"),
    ],
)
def test_bad_phone_then_good(locale: str, bad: str, error: str, asked: str) -> None:
    d = to_step("phone", begin(locale))
    d.run(
        [
            ("12345", (error, Not(asked))),
            ("010-12345678", error),  # a fixed line cannot get SMS notices
            ("call me maybe", error),
            ("138-0000-0000", asked),
        ]
    )
    assert d.state.data["phone"] == "+8613800000000"


def test_last_phone_is_offered_unmasked() -> None:
    d = to_step("phone", begin(last_phone="+8613812345678"))
    assert "用 13812345678" in d.turns[-1].text
    assert "138****5678" not in d.turns[-1].text
    d.run([(Button("i:phone:last"), "描述")])
    assert d.state.data["phone"] == "+8613812345678"


def test_no_last_phone_button_when_none_is_known() -> None:
    d = to_step("phone")
    assert len(d.turns[-1].replies) == 1
    d.run([(Button("i:phone:last"), "这一步需要一个联系电话")])
    assert d.state.step == "phone"


# -- description and photos ----------------------------------------------------------------


def test_photos_with_captions_and_the_fifth_refused() -> None:
    d = to_step("description")
    d.run(
        [
            ("漏了", "描述太简短了，请至少写 4 个字"),
            (Photo("p1.jpg"), ("照片收到了", "请简单描述一下故障情况")),
            (Photo("p2.jpg", "门口水管在滴水"), ("已收到 2 张照片，还可以再发 2 张", "完成")),
            (Photo("p3.jpg", "地上全是水"), "已收到 3 张照片"),
            (Photo("p4.jpg"), "已收到 4 张照片，到上限了"),
            (Photo("p5.jpg", "再来一张"), ("最多只能传 4 张照片，这张没有保存", "到上限了")),
            ("完成", "什么时候上门"),
            ("明天上午", ("现场照片：4 张", "故障描述：门口水管在滴水\n地上全是水")),
            (Button("i:confirm"), "受理成功"),
        ]
    )
    draft = created(d)
    assert draft.photos == ("p1.jpg", "p2.jpg", "p3.jpg", "p4.jpg")
    assert draft.description == "门口水管在滴水\n地上全是水"
    assert draft.preferred_time == "明天上午"


def test_fifth_photo_leaves_the_state_unchanged() -> None:
    d = to_step("photos")
    reach(d, [Photo(f"p{i}.jpg") for i in range(4)])
    before = d.state
    d.run([(Photo("p5.jpg"), "最多只能传 4 张")])
    assert d.state == before


def test_photos_in_english_with_a_short_caption() -> None:
    d = to_step("description", begin("en"))
    d.run(
        [
            (Photo("a.jpg", "ok"), ("Photo received.", "describe the fault")),  # too short
            ("The socket sparks when used", ("1 photo(s) received", "Done")),
            ("done", "When would you like"),
        ]
    )
    assert d.state.data["description"] == "The socket sparks when used"


def test_text_at_the_photos_step_is_not_taken_as_description() -> None:
    d = to_step("photos")
    before = d.state
    d.run([("门口也有一处", ("这一步只需要发照片", "跳过"))])
    assert d.state == before


# -- visit time ------------------------------------------------------------------------------


def test_visit_time_free_text_and_length_limit() -> None:
    d = to_step("time")
    d.run(
        [
            ("很" * 101, "上门时间请控制在 100 字以内"),
            ("工作日晚上7点以后", "上门时间：工作日晚上7点以后"),
        ]
    )


# -- summary: edit and cancel ---------------------------------------------------------------


def test_edit_each_field_from_the_summary() -> None:
    d = to_step("summary")
    d.run(
        [
            (Button("i:edit"), ("要修改哪一项", "联系电话", "现场照片（重新上传）", "返回")),
            (Button("i:edit:phone"), "联系电话"),
            (
                "13911112222",
                ("请核对报修信息", "联系电话：13911112222", "报修地点：东区 1号楼 3楼302"),
            ),
            (Button("i:edit"), None),
            (Button("i:edit:location"), "请选择报修所在的区域"),
            (Button("i:area:west"), "【西区】请选择楼栋"),
            (Button("i:bld:lib"), "请输入具体位置"),
            (
                "二楼自习室",
                ("请核对报修信息", "报修地点：西区 图书馆 二楼自习室", "联系电话：13911112222"),
            ),
            ("修改", None),
            (Button("i:edit:category"), "请选择报修类别"),
            ("没网", ("报修类别：网络 / 宽带。", "请核对报修信息")),
            (Button("i:edit"), None),
            (Button("i:edit:photos"), ("现场照片", "跳过")),
            (Photo("x.jpg"), "已收到 1 张照片"),
            ("完成", "现场照片：1 张"),
            (Button("i:edit"), None),
            (Button("i:edit:time"), "什么时候上门"),
            ("周末", "上门时间：周末"),
            (Button("i:edit"), None),
            (Button("i:edit:description"), "请简单描述"),
            ("路由器指示灯全灭了", "故障描述：路由器指示灯全灭了"),
            (Button("i:edit"), None),
            (Button("i:back"), "请核对报修信息"),
            (Button("i:confirm"), "受理成功"),
        ]
    )
    draft = created(d)
    assert (draft.category, draft.phone, draft.area, draft.building, draft.spot) == (
        "network.broadband",
        "+8613911112222",
        "west",
        "lib",
        "二楼自习室",
    )
    assert (draft.photos, draft.preferred_time, draft.description) == (
        ("x.jpg",),
        "周末",
        "路由器指示灯全灭了",
    )


@pytest.mark.parametrize(
    ("locale", "press", "said"),
    [
        ("zh_CN", Button("i:cancel"), "已取消本次报修，信息没有提交"),
        ("zh_CN", "取消报修", "已取消本次报修"),
        ("en", Button("i:cancel"), "Report cancelled; nothing was submitted"),
        ("en", "3", "Report cancelled"),
    ],
)
def test_cancel_at_the_summary(locale: str, press: InEvent | str, said: str) -> None:
    d = to_step("summary", begin(locale))
    d.run([(press, said)])
    assert d.state == IDLE
    assert d.actions == []


# -- repeat reports (the 112 rules: tickets.repeats; the store side in test_repeats.py) ------


def dup_dialogue(locale: str = "zh_CN", **ticket_kw: Any) -> Dialogue:
    lookup = FakeLookup()
    d = begin(locale, lookup=lookup)
    lookup.add(ticket_for(d.ctx, **ticket_kw))
    return to_step("summary", d)


@pytest.mark.parametrize("age", [timedelta(hours=1), timedelta(hours=25)])
def test_a_report_of_an_open_fault_hurries_it_and_files_nothing(age: timedelta) -> None:
    # Within 24 h a plain hurry, after it a hurry and a complaint: the store decides which
    # (test_repeats.py); either way there is no question and no new ticket.
    d = dup_dialogue(age=age)
    d.run([(Button("i:confirm"), Not("受理成功"))])
    assert d.state == IDLE
    assert d.actions == [Rule("repeat.hurry", {"number": NUMBER}, flow="intake")]


def test_a_report_of_a_fault_fixed_yesterday_reopens_it() -> None:
    fixed = NOW - timedelta(days=1)
    d = dup_dialogue("en", state=State.RESOLVED, resolved_at=fixed)
    d.send(Button("i:confirm"))
    (action,) = d.actions
    assert isinstance(action, Rule) and action.kind == "repeat.reopen"
    assert action.params["number"] == NUMBER and action.params["note"]


@pytest.mark.parametrize(
    "ticket_kw",
    [
        {"spot": "5楼"},
        {"category": "water.drain"},
        {"state": State.RESOLVED},  # resolved, but when is unknown: not a repeat
        {"state": State.CLOSED, "resolved_at": NOW - timedelta(days=4)},
        {"state": State.CANCELLED},
        {"reporter_chat": "someone-else"},
    ],
)
def test_no_repeat_when_elsewhere_other_long_ago_or_not_theirs(ticket_kw: dict[str, Any]) -> None:
    d = dup_dialogue(**ticket_kw)
    d.run([(Button("i:confirm"), f"受理成功，工单号 BX{NOW:%Y%m%d}-0002")])


# -- unexpected input at every step ---------------------------------------------------------

_PLACE_STEPS = ("area", "building", "spot")
_PHOTO_STEPS = ("description", "photos")


def _reach_any(step: str, locale: str) -> Dialogue:
    if step == "category_hits":
        return reach(begin(locale), ["水管漏水还停水"])
    if step == "category":
        return begin(locale)
    return to_step(step, begin(locale))


def _unexpected(step: str) -> list[InEvent]:
    events: list[InEvent] = [
        Unsupported("sticker"),
        Unsupported("voice"),
        Button("i:bogus"),
        Button("i:cat:nowhere"),
        Button("i:edit:everything"),
        Button("r:show:BX1"),
        Text("   "),
        Location(math.nan, 121.0),
        Location(95.0, 0.0),
    ]
    if step not in _PLACE_STEPS:
        events.append(Location(31.2, 121.4))
    if step not in _PHOTO_STEPS:
        events.append(Photo("x.jpg", "照片说明文字"))
    if step != "phone":
        events.append(Contact("13800000000", own=True))
    return events


STEPS = [*(s for s, _ in BY_BUTTONS), "category", "category_hits"]


@pytest.mark.parametrize("locale", LOCALES)
@pytest.mark.parametrize("step", STEPS)
def test_unexpected_input_leaves_the_state_unchanged(step: str, locale: str) -> None:
    d = _reach_any(step, locale)
    assert d.state.step == step
    base = "category" if step.startswith("category") else step
    for event in _unexpected(step):
        before = d.state
        turn = d.send(event)
        assert d.state == before, (step, event)
        assert turn.step.actions == ()
        if not (isinstance(event, Text) and step in ("phone", "description")):
            assert translate(locale, f"intake.hint_{base}") in turn.text, (step, event, turn.text)
        assert any(isinstance(r, Ask | RemoveKeyboard | RequestContact) for r in turn.replies)


@pytest.mark.parametrize(
    ("step", "event", "hint"),
    [
        ("phone", Location(31.2, 121.4), "这一步需要一个联系电话"),
        ("category", Photo("x.jpg"), "这一步需要先确定报修类别"),
        ("description", Unsupported("sticker"), "这一步请用文字描述故障情况"),
        ("summary", Text("好的"), "请选择：确认提交、修改，或者取消报修"),
        ("spot", Text("楼" * 101), "位置写得太长了，请控制在 100 字以内"),
    ],
)
def test_hint_names_what_the_step_needs(step: str, event: InEvent, hint: str) -> None:
    d = _reach_any(step, "zh_CN")
    before = d.state
    d.run([(event, hint)])
    assert d.state == before


def test_a_stale_state_step_is_recovered() -> None:
    ctx = make_ctx()
    state = DialogueState("intake", "no-such-step", {"category": "water.leak", "area": "gone"})
    result = intake.step(state, Text("hi"), ctx)
    assert result.state.step == "area"
    assert "area" not in result.state.data


def test_configuration_change_before_confirm_asks_again() -> None:
    d = to_step("summary")
    state = replace(d.state, data={**d.state.data, "category": "water.removed"})
    result = intake.step(state, Button("i:confirm"), d.ctx)
    assert result.actions == () and result.state.step == "category"


# -- outcome, command, button ---------------------------------------------------------------


def test_outcome_of_create_and_hurry() -> None:
    zh, en = make_ctx("zh_CN"), make_ctx("en")
    ticket = ticket_for(zh)
    create = CreateTicket(
        Draft("water.leak", "+8613800000000", "漏水漏水", "telegram", "1001"), flow="intake"
    )
    said = text_of(intake.outcome(create, ticket, zh)[0])
    assert said.startswith(f"受理成功，工单号 {NUMBER}（水 / 漏水）")
    assert f"/status {NUMBER}" in said
    assert "预计" not in said  # no arrive_due, no expected visit
    said_en = text_of(intake.outcome(create, ticket, en)[0])
    assert said_en.startswith(f"Report accepted, ticket number {NUMBER} (Water / Leak)")
    # The expected visit, in the service's time zone (UTC+8), right after the number.
    due = replace(ticket, arrive_due=datetime(2026, 11, 23, 10, 30, tzinfo=UTC))
    lines = text_of(intake.outcome(create, due, zh)[0]).split("\n")
    assert lines[1] == "预计 2026-11-23 18:30 前上门。"
    said_en = text_of(intake.outcome(create, due, en)[0])
    assert "A technician is expected to visit by 2026-11-23 18:30." in said_en
    assert "工单号" in text_of(intake.outcome(create, None, zh)[0])
    hurry = Act(NUMBER, Action.HURRY, flow="intake")
    assert "已为您催单" in text_of(intake.outcome(hurry, ticket, zh)[0])
    assert intake.outcome(Act(NUMBER, Action.CANCEL, flow="intake"), ticket, zh) == ()


def test_command_and_button_are_not_owned_by_intake() -> None:
    ctx = make_ctx()
    state = to_step("summary").state
    assert intake.command("cancel", "", state, ctx) is None
    assert intake.command("report", "", state, ctx) is None
    assert intake.button("i:confirm", state, ctx) is None


# -- through the router ----------------------------------------------------------------------


def test_through_the_router_report_deep_link_cancel_and_stale_buttons() -> None:
    from conversation import router

    d = Dialogue(router.step, make_ctx(), outcome=router.outcome)
    d.run(
        [
            ("/start east__b1", ("报修地点：东区 1号楼", "请选择报修类别")),
            ("漏水", "请输入具体位置"),
            (Unsupported("sticker"), ("暂不支持这种消息", "请输入具体位置")),  # issue 12 item 12
            ("/cancel", Not("请输入具体位置")),
            (Button("i:area:east"), Not("楼栋")),  # a stale intake button does nothing
            ("/report", "请选择报修类别"),
        ]
    )
    assert d.state.flow == "intake" and d.state.data == {}
    reach(d, [event for _, event in BY_BUTTONS[:9]])
    d.run([(Button("i:confirm"), f"受理成功，工单号 {NUMBER}"), (Button("i:confirm"), Not("受理"))])
    assert len(d.lookup.tickets) == 1  # a second press on the old button files nothing


# -- catalogs ----------------------------------------------------------------------------------


def test_catalogs_have_the_same_keys_and_placeholders() -> None:
    def fields(text: str) -> set[str]:
        return {name for _, name, _, _ in string.Formatter().parse(text) if name}

    zh = {k: v for k, v in catalog("zh_CN").items() if k.startswith("intake.")}
    en = {k: v for k, v in catalog("en").items() if k.startswith("intake.")}
    assert zh.keys() == en.keys()
    assert {k: fields(v) for k, v in zh.items()} == {k: fields(v) for k, v in en.items()}
    for step in intake._HANDLERS:
        base = "category" if step.startswith("category") else step
        assert f"intake.hint_{base}" in zh


# -- properties: random input --------------------------------------------------------------

PAYLOADS = [
    "i:cat:water",
    "i:cat:water.leak",
    "i:cat:door",
    "i:cat:x",
    "i:back",
    "i:area:east",
    "i:area:north",
    "i:bld:b1",
    "i:bld:lib",
    "i:phone:last",
    "i:photos_done",
    "i:time:any",
    "i:confirm",
    "i:edit",
    *(f"i:edit:{f}" for f in intake.EDITABLE),
    "i:edit:x",
    "i:cancel",
    "i:dup_hurry",
    "i:dup_new",
    "i:",
    "i",
    "c:report",
]
USEFUL_TEXT = [
    "1",
    "2",
    "3",
    "4",
    "漏水",
    "水",
    "东区",
    "3楼302",
    "13800000000",
    "卫生间水管一直在漏水",
    "完成",
    "明天上午",
    "leak",
    "返回",
    "确认提交",
]
EVENTS = st.one_of(
    st.builds(Text, st.text(max_size=30)),
    st.sampled_from(USEFUL_TEXT).map(Text),
    st.one_of(st.sampled_from(PAYLOADS), st.text(max_size=20)).map(Button),
    st.builds(Contact, st.sampled_from(["13800000000", "+1 650 253 0000", "12"]), st.booleans()),
    st.builds(Contact, st.text(max_size=20), st.booleans()),
    st.builds(Location, st.floats(), st.floats()),
    st.builds(Photo, st.text(max_size=10), st.text(max_size=20)),
    st.sampled_from(["sticker", "voice", "file"]).map(Unsupported),
    st.builds(Command, st.sampled_from(["foo", "status"]), st.text(max_size=5)),
)


# Right answers per step, so random sequences get past the first questions and every
# step meets random input; ``Good(i)`` in a sequence sends one of them.
GOOD: dict[str, list[InEvent]] = {
    "category": [Text("漏水"), Button("i:cat:water"), Text("水管漏水还停水")],
    "category_leaf": [Button("i:cat:water.leak"), Text("2"), Button("i:back")],
    "category_hits": [Text("1"), Button("i:back")],
    "area": [Button("i:area:east"), Location(31.2, 121.4), Text("北门")],
    "building": [Text("1"), Button("i:bld:b2"), Button("i:back")],
    "spot": [Text("3楼302"), Location(31.3, 121.5)],
    "phone": [Text("13800000000"), Contact("+86 139 0000 2222"), Button("i:phone:last")],
    "description": [Text("卫生间水管一直在漏水"), Photo("d.jpg", "门口水管在滴水"), Photo("e.jpg")],
    "photos": [Button("i:photos_done"), Photo("p.jpg", "补充说明"), Text("完成")],
    "time": [Button("i:time:any"), Text("明天上午")],
    "summary": [Button("i:confirm"), Button("i:edit"), Text("1"), Button("i:cancel")],
    "edit": [*(Button(f"i:edit:{f}") for f in intake.EDITABLE), Button("i:back")],
}


@dataclass(frozen=True)
class Good:
    index: int

    def event(self, step: str | None) -> InEvent:
        options = GOOD.get(step or "", [Text("?")])
        return options[self.index % len(options)]


@settings(max_examples=300, deadline=None)
@given(
    events=st.lists(
        st.one_of(EVENTS, st.just(Good(0)), st.just(Good(0)), st.integers(0, 9).map(Good)),
        max_size=60,
    ),
    locale=st.sampled_from(LOCALES),
    share=st.booleans(),
    last_phone=st.sampled_from([None, "+8613812345678", "garbage"]),
    prefill=st.sampled_from(
        [{}, {"area": "east"}, {"area": "east", "building": "b2"}, {"area": "x"}]
    ),
    duplicate=st.booleans(),
    target=st.sampled_from([None, "phone", "photos", "time", "summary", "edit"]),
)
def test_random_events_never_raise_and_state_stays_json(
    events: list[InEvent | Good],
    locale: str,
    share: bool,
    last_phone: str | None,
    prefill: dict[str, str],
    duplicate: bool,
    target: str | None,
) -> None:
    lookup = FakeLookup()
    ctx = make_ctx(
        locale,
        lookup,
        can_share_contact=share,
        can_share_location=share,
        last_phone=last_phone,
    )
    if duplicate:
        lookup.add(ticket_for(ctx))
    state = intake.start(ctx, prefill).state
    # Begin the random part at some step along the straight path, so each step meets it.
    for _ in range(12):
        if state.step == target:
            break
        forward = Good(1 if state.step == "summary" and target == "edit" else 0)
        state = intake.step(state, forward.event(state.step), ctx).state
    for item in events:
        event = item.event(state.step) if isinstance(item, Good) else item
        result = intake.step(state, event, ctx)
        assert DialogueState.from_json(result.state.to_json()) == result.state
        json.dumps(result.state.data, allow_nan=False)  # strict JSON: no NaN or Infinity
        assert result.replies or result.actions
        for reply in result.replies:
            assert text_of(reply).strip()
            if isinstance(reply, Ask):
                assert all(len(c.data.encode()) <= 64 and c.label for c in reply.choices)
        for action in result.actions:
            if isinstance(action, CreateTicket):
                draft = action.draft
                assert ctx.config.category(draft.category) is not None
                assert intake.normalize_phone(draft.phone) == draft.phone
                assert len(draft.description) >= intake.MIN_DESCRIPTION
                assert len(draft.photos) <= intake.MAX_PHOTOS and draft.spot
        state = result.state if result.state.flow else intake.start(ctx, prefill).state


# -- normalize_phone -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "e164"),
    [
        ("13800000000", "+8613800000000"),
        ("+86 138 0000 0000", "+8613800000000"),
        ("138-0000-0000", "+8613800000000"),
        ("+8613800000000", "+8613800000000"),
        ("8613800000000", "+8613800000000"),
        ("0086 138 0000 0000", "+8613800000000"),
        ("(+86) 138 0000 0000", "+8613800000000"),
        ("１３８００００００００", "+8613800000000"),
        ("  13800000000 ", "+8613800000000"),
        ("tel:13800000000", "+8613800000000"),
        ("19912345678", "+8619912345678"),
        ("+1 650 253 0000", "+16502530000"),
        ("+44 7911 123456", "+447911123456"),
    ],
)
def test_normalize_phone_accepts(typed: str, e164: str) -> None:
    assert intake.normalize_phone(typed) == e164


@pytest.mark.parametrize(
    "typed",
    [
        "",
        "+",
        "12345",
        "1380000000",
        "138000000000",
        "12345678901",
        "010-12345678",
        "400-810-8888",
        "abc",
        "1380000000a",
        "13800000000; DROP TABLE tickets",
        "1" * 100,
        "１２３",
    ],
)
def test_normalize_phone_rejects(typed: str) -> None:
    assert intake.normalize_phone(typed) is None


def test_normalize_phone_other_region() -> None:
    assert intake.normalize_phone("06 12345678", "NL") == "+31612345678"
    assert intake.normalize_phone("06 12345678") is None


@given(st.from_regex(r"1[3-9][0-9]{9}", fullmatch=True))
def test_normalize_phone_ignores_formatting(digits: str) -> None:
    spaced = f"{digits[:3]} {digits[3:7]} {digits[7:]}"
    forms = [digits, spaced, f"+86 {spaced}", f"{digits[:3]}-{digits[3:7]}-{digits[7:]}"]
    results = {intake.normalize_phone(form) for form in forms}
    assert len(results) == 1
    (result,) = results
    assert result is None or result == f"+86{digits}"


@given(st.text(max_size=40))
def test_normalize_phone_never_raises_and_is_idempotent(text: str) -> None:
    result = intake.normalize_phone(text)
    if result is not None:
        assert re.fullmatch(r"\+[1-9][0-9]{6,14}", result)
        assert intake.normalize_phone(result) == result


def test_asked_time_is_promised_not_the_time_limit() -> None:
    """Issue 12 item 4: "明天上午" asked at 05:44 must not be answered "预计 07:45 前上门"."""
    early = datetime(2026, 11, 22, 21, 44, tzinfo=UTC)  # 05:44 in Asia/Shanghai
    d = to_step("time", begin(now=early))
    d.run(
        [
            ("明天上午", "上门时间：明天上午"),
            (
                Button("i:confirm"),
                ("受理成功", "按您的要求：明天上午", "先打电话", Not("预计"), Not("前上门")),
            ),
        ]
    )
    e = to_step("time", begin("en", now=early))
    e.run(
        [
            ("tomorrow morning", None),
            (Button("i:confirm"), ("time you asked for: tomorrow morning", Not("expected to"))),
        ]
    )


@pytest.mark.parametrize(
    ("typed", "e164"),
    [
        ("+44 7911 123456", "+447911123456"),
        ("0044 7911 123456", "+447911123456"),
        ("+49 151 23456789", "+4915123456789"),
        ("+1 650 253 0000", "+16502530000"),
        ("+852 5123 4567", "+85251234567"),
    ],
)
def test_foreign_mobiles_are_accepted_in_the_english_ui(typed: str, e164: str) -> None:
    """Issue 12 item 5: any number phonenumbers judges a valid mobile is taken; the
    default region (CN) only fills in a number written without its country code."""
    d = to_step("phone", begin("en"))
    d.run([(typed, "describe the fault")])
    assert d.state.data["phone"] == e164


def test_a_refused_number_says_how_to_write_a_foreign_one() -> None:
    # +44 7700 900xxx is Ofcom's range for drama: libphonenumber knows it is no real line.
    d = to_step("phone", begin("en"))
    d.run([("+44 7700 900123", ("country code", "+44 7911 123456"))])
    assert d.state.step == "phone"
    z = to_step("phone")
    z.run([("12345", ("国家代码", "13800000000"))])
