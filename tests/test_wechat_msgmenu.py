"""Short choice lists as a customer-service ``msgmenu`` (bots.wechat.msgmenu): sent after
the passive reply, which keeps its numbered lines; a tap comes back as text with a
``bizmsgmenuid`` and is taken as the choice; a tap on an old menu never picks what now
has its number."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from conftest import make_config
from test_wechat_journey import number_of
from wechat_rig import Rig, rig

from bots.channel.choices import Offer
from bots.wechat.msgmenu import MAX_ITEMS, menu_body, tapped
from conversation.events import Button
from conversation.i18n import translate
from conversation.replies import Choice


def t(key: str, **params: object) -> str:
    return translate("zh_CN", key, **params)


async def menus(found: Rig, open_id: str, count: int) -> list[dict[str, Any]]:
    """The msgmenu messages sent to ``open_id``, once there are ``count`` of them."""
    for _ in range(200):
        sent = [c for c in found.api.custom if c["msgtype"] == "msgmenu"]
        mine = [c for c in sent if c["touser"] == open_id]
        if len(mine) >= count:
            return mine
        await asyncio.sleep(0.02)
    raise AssertionError(f"{count} menus to {open_id} never came: {found.api.custom}")


async def test_short_choices_come_as_a_menu_and_a_tap_picks(tmp_path: Path) -> None:
    async with rig(tmp_path) as found:
        user = found.user("o_tap")
        # Following opens the 48-hour window at WeChat as a message does (the fake
        # counts messages only).
        found.api.last_seen["o_tap"] = found.api.now()
        shown = await user.event("subscribe", "qrscene_east__b1")
        assert number_of(shown, "水") == "1"  # the numbered lines stay in the reply
        (menu,) = await menus(found, "o_tap", 1)
        body = menu["msgmenu"]
        assert body["head_content"] == t("wechat.msgmenu.head")
        assert body["tail_content"] == t("wechat.msgmenu.tail")
        items = {item["content"]: item["id"] for item in body["list"]}
        assert items["水"] == "1" and len(items) == len(body["list"]) <= MAX_ITEMS
        # WeChat sends a tap as a text message: the item's text and its bizmsgmenuid.
        shown = await user.send("text", Content="网络", bizmsgmenuid=items["网络"])
        assert "网络" in shown and t("wechat.msgmenu.stale") not in shown
        record = found.store.chat("wechat", "o_tap").dialogue or ""
        assert "net" in record
        # The old menu again: 水 is no choice now, and item 1 is something else.
        stale = await user.send("text", Content="水", bizmsgmenuid="1")
        assert stale == t("wechat.msgmenu.stale")
        assert (found.store.chat("wechat", "o_tap").dialogue or "") == record


async def test_no_menu_when_switched_off_or_nothing_to_choose(tmp_path: Path) -> None:
    async with rig(tmp_path, make_config(tmp_path), msgmenu=False) as found:
        user = found.user("o_plain")
        shown = await user.event("subscribe", "qrscene_east__b1")
        assert number_of(shown, "水") == "1"
        shown = await user.say("1")  # typed numbers answer as always
        assert "水" in shown
        await asyncio.sleep(0.2)
        assert not [c for c in found.api.custom if c["msgtype"] == "msgmenu"]


def test_only_a_short_list_makes_a_menu_and_a_tap_must_match_its_item() -> None:
    offer = Offer(tuple(Choice(f"选项{n}", f"x:{n}") for n in range(1, MAX_ITEMS + 1)))
    body = menu_body("o", offer, "头", "尾")
    assert body is not None and [i["id"] for i in body["msgmenu"]["list"]][-1] == str(MAX_ITEMS)
    longer = Offer((*offer.choices, Choice("多一个", "x:more")))
    assert menu_body("o", longer, "头", "尾") is None and menu_body("o", Offer(), "", "") is None
    assert tapped("2", "选项2", offer) == Button("x:2")
    assert tapped("2", "选项3", offer) is None  # item 2 of another menu
    for bad in ("0", "99", "², ", "-1", "1" * 9, ""):
        assert tapped(bad, "选项1", offer) is None


async def test_a_notice_with_short_choices_is_followed_by_its_menu(tmp_path: Path) -> None:
    from datetime import UTC, datetime

    from bots.wechat import WECHAT, WECHAT_WORKER
    from conversation.replies import Ask
    from tickets.rows import OutboxRow

    async with rig(tmp_path) as found:
        found.api.last_seen["o_note"] = found.api.now()  # wrote within 48 hours
        sender = found.server.app[WECHAT_WORKER].sender
        now = datetime.now(UTC)
        row = OutboxRow(
            *(1, "k", "BX20261129-0001", 1, "reporter.resolved", "wechat", "o_note", "zh_CN"),
            *({}, 1, "pending", 0, now, now),
        )
        ask = Ask("修好了吗？", (Choice("确认修好", "f:ok"), Choice("没修好", "f:no")))
        await sender.send("o_note", (ask,), row)
        text, menu = found.api.custom
        assert text["msgtype"] == "text" and "1. 确认修好" in text["text"]["content"]
        assert [i["content"] for i in menu["msgmenu"]["list"]] == ["确认修好", "没修好"]
        # Its tap answers the standing offer the notice left.
        inbound = found.server.app[WECHAT].inbound
        assert inbound.text("o_note", "没修好", "2") == Button("f:no")
        assert inbound.text("o_note", "确认修好", "2") == Button("f:ok")  # an old menu's label
