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
