"""What works anywhere (conversation/common.py through conversation/router.py), as
dialogue tables: the language switch redraws what the chat shows, a finished report
offers the menu again, and input a step cannot use is named as such."""

from __future__ import annotations

from dialogue import Dialogue, Not, make_ctx

from conversation import router
from conversation.events import Button, Unsupported


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
