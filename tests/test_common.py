"""What works anywhere (conversation/common.py through conversation/router.py), as
dialogue tables: the language switch redraws what the chat shows, a finished report
offers the menu again, and input a step cannot use is named as such."""

from __future__ import annotations

import re

import pytest
from dialogue import NOW, Dialogue, Not, make_ctx, texts

from conversation import router
from conversation.events import Button, Unsupported
from conversation.i18n import LOCALES, catalog


def chat(locale: str = "zh_CN") -> Dialogue:
    return Dialogue(router.step, make_ctx(locale), outcome=router.outcome)


def test_language_switch_redraws_the_menu_in_the_new_language() -> None:
    """Issue 12 item 6: English text above 我要报修/我的工单 buttons."""
    d = chat()
    d.run(
        [
            ("/start", "我要报修"),
            (
                Button("c:lang:en"),
                ("Language", "Report a fault", "My tickets", Not("我要报修"), Not("我的工单")),
            ),
            ("/lang zh_CN", ("我要报修", "我的工单", Not("Report a fault"))),
        ]
    )
    assert d.ctx.locale == "zh_CN"


def test_language_switch_redraws_the_current_question() -> None:
    d = chat()
    d.run(
        [
            (Button("c:report"), ("水", "网络")),
            ("/lang en", ("Water", "Network", Not("网络"))),
            (Button("i:cat:water"), "Leak"),  # the dialogue goes on where it was
        ]
    )
    assert d.state.step == "category_leaf"


def test_a_finished_report_offers_the_menu() -> None:
    """Issue 12 item 7: after a report, no way back to the menu without typing /report."""
    d = chat()
    for event in (Button("c:report"), Button("i:cat:water"), Button("i:cat:water.leak")):
        d.send(event)
    for event in (Button("i:area:east"), Button("i:bld:b1"), "3楼302", "13800000000"):
        d.send(event)
    for event in ("卫生间水管接头一直在漏水", Button("i:photos_done"), Button("i:time:any")):
        d.send(event)
    d.run([(Button("i:confirm"), ("受理成功", "我要报修", "我的工单"))])
    assert d.state.flow is None
    d.run([(Button("c:my"), "BX20261123-0001")])


def test_a_sticker_mid_report_is_named_unsupported_and_the_question_kept() -> None:
    """Issue 12 item 12: the documented "not supported here", not only the step hint."""
    d = chat()
    d.run(
        [
            (Button("c:report"), "水"),
            (Unsupported("sticker"), ("暂不支持这种消息", "水", "网络")),
            (Unsupported("voice"), "暂不支持这种消息"),
        ]
    )
    assert d.state.step == "category"
    for event in (Button("i:cat:water"), Button("i:cat:water.leak"), Button("i:area:east")):
        d.send(event)
    d.run([(Unsupported("voice"), ("暂不支持这种消息", "1号楼"))])
    assert d.state.step == "building"


# Texts that go only with a request button (contact, location), which a channel without
# one never shows, and the channels' own catalogs.
_BUTTON_TEXTS = {"intake.ask_location", "intake.ask_phone_share"}
_CHANNEL_DOMAINS = ("telegram.", "web.", "terminal.")
_NAMES_A_BUTTON = re.compile(r"按钮|点击|点“|\btap\b|\bclick\b|\bbelow\b", re.IGNORECASE)


@pytest.mark.parametrize("locale", LOCALES)
def test_shared_texts_fit_channels_without_buttons(locale: str) -> None:
    """Issue 12 item 12: no "点击下方'抢单'按钮" in the terminal, which numbers choices."""
    found = {
        key: text
        for key, text in catalog(locale).items()
        if _NAMES_A_BUTTON.search(text)
        and key not in _BUTTON_TEXTS
        and not key.startswith(_CHANNEL_DOMAINS)
        and ".button" not in key
        and "stale_button" not in key
    }
    assert found == {}


def test_one_word_for_priority() -> None:
    """Issue 12 item 12: "紧急程度：较急" in the offer but "优先级：高" on the card."""
    zh = catalog("zh_CN")
    assert not [k for k, text in zh.items() if "紧急程度" in text]
    for level in ("urgent", "high", "normal", "low"):
        names = {text for key, text in zh.items() if key.endswith(f"priority.{level}")}
        assert len(names) == 1, (level, names)
    job = router_card_texts()
    assert "优先级：高" in job and "较急" not in job


def router_card_texts() -> str:
    """An offer to a team, as the terminal technician reads it."""
    from notify.render import render_notice
    from tickets.rows import OutboxRow

    ctx = make_ctx()
    row = OutboxRow(
        id=1,
        key="k",
        number="BX20261123-0001",
        event_id=1,
        kind="team.offer",
        channel="terminal",
        chat="t",
        locale="zh_CN",
        params={"number": "BX20261123-0001", "priority": "high", "category": "water.leak"},
        priority=2,
        status="pending",
        attempts=0,
        next_at=NOW,
        created_at=NOW,
    )
    return "\n".join(texts(render_notice(row, ctx.config)))


def test_language_switch_redraws_a_technicians_question() -> None:
    """Issue 12 item 6, mid-job: the pause reasons come again in the new language."""
    from dialogue import FakeLookup, ticket_for

    from tickets.model import Role, State

    lookup = FakeLookup()
    ctx = make_ctx(lookup=lookup, role=Role.TECHNICIAN, person="t2", chat="tech")
    number = lookup.add(
        ticket_for(make_ctx(), state=State.ON_SITE, holder="t2", team="plumbing")
    ).number
    d = Dialogue(router.step, ctx, outcome=router.outcome)
    d.run(
        [
            (Button(f"t:pause:{number}"), "等配件"),
            ("/lang en", ("Language", "Waiting for parts", Not("等配件"))),
            (Button(f"t:pause:{number}:parts"), "Waiting for parts"),
        ]
    )
    assert lookup.tickets[number].state is State.PAUSED
