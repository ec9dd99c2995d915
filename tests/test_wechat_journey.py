"""The whole journey of a WeChat follower over HTTP, against the fake WeChat.

A follower subscribes by scanning building 1's QR code (the report starts with area and
building filled), reports a leak with a location, a typed phone and a photo (downloaded
by MediaId from the fake API), and gets the number in the reply. Technician zhang (the
terminal's channel, in-process on the same store) claims the job, signs in with a
location and completes it. The follower gets every notice: "assigned" as a
customer-service message inside the 48-hour window; "on site" 49 hours later as the
configured template message; "resolved" — with templates refused too — by SMS through
the fake gateway; then confirms and rates by typing the numbers of the notice's choices.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from conftest import make_config
from fake_sms import FakeGateway
from wechat_rig import Rig, rig

from bots.channel.choices import OfferTable
from bots.engine import Engine
from bots.terminal import Screen
from config.loader import default_text, load_text
from config.model import Config
from conversation.i18n import translate
from tickets.model import State

JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x00" * 64
NUMBER = re.compile(r"BX\d{8}-\d{4}")


def t(key: str, **params: object) -> str:
    return translate("zh_CN", key, **params)


def with_gateway(config: Config, fake: FakeGateway) -> Config:
    loaded = load_text(
        default_text() + f'\n[sms]\nprovider = "http"\n[sms.http]\nurl = "{fake.url}/send"\n'
        'fields = { to = "{phone}", text = "{text}", key = "{key}" }\nid_field = "data.msgid"\n'
    )
    return replace(config, sms=loaded.sms)


def texts(found: Rig) -> list[dict[str, Any]]:
    """The customer-service text messages sent (the choice menus that follow replies
    are ``msgmenu`` messages: tests/test_wechat_msgmenu.py)."""
    return [c for c in found.api.custom if c["msgtype"] == "text"]


def number_of(text: str, label: str) -> str:
    """The number of the choice called ``label`` in a reply laid out as numbered text."""
    found = re.findall(rf"^(\d+)\. {re.escape(label)}$", text, re.MULTILINE)
    assert found, f"no choice {label!r} in:\n{text}"
    return found[-1]


async def until(rig_: Rig, done: Callable[[], Any]) -> Any:
    return await rig_.until(done)  # waking the wechat delivery worker (wechat_rig)


class Technician:
    """Zhang at the terminal (bots.terminal.Screen over the same engine and store)."""

    def __init__(self, found: Rig) -> None:
        self.engine = Engine(found.store, found.config)
        self.chat = "tech-zhang"
        self.engine.bind("terminal", self.chat, "technician", "zhang", datetime.now(UTC))
        self.screen = Screen(Path("."), offers=OfferTable(found.store, "terminal"), chat=self.chat)

    def type(self, line: str) -> str:
        event = self.screen.read(line)
        assert event is not None and not isinstance(event, str)
        now = datetime.now(UTC)
        replies = self.engine.handle("terminal", self.chat, event, now, can_share_location=True)
        return "\n".join(self.screen.show(replies))

    def choose(self, label: str) -> str:
        for number, choice in enumerate(self.screen.offers.get(self.chat).choices, 1):  # type: ignore[union-attr]
            if choice.label == label:
                return self.type(str(number))
        raise AssertionError(f"no choice {label!r} offered")


async def test_subscribe_report_claim_complete_notices_confirm_rate(tmp_path: Path) -> None:
    gateway = await FakeGateway().start()
    config = with_gateway(make_config(tmp_path), gateway)
    try:
        async with rig(tmp_path, config) as found:
            await _journey(found, gateway)
    finally:
        await gateway.close()


async def _journey(found: Rig, gateway: FakeGateway) -> None:
    alice = found.user("o_alice")
    found.api.media["MEDIA_1"] = JPEG

    # A building's QR code: the report starts with area and building filled in.
    shown = await alice.event("subscribe", "qrscene_east__b1")
    assert "东区 1号楼" in shown
    shown = await alice.say(number_of(shown, "水"))
    assert t("intake.location_taken") not in shown
    shown = await alice.send(
        "location", Location_X="31.2304", Location_Y="121.4737", Scale="15", Label="东区1号楼"
    )
    assert t("intake.location_taken") in shown
    await alice.say("302室")
    await alice.say("13812345678")
    shown = await alice.say("卫生间水管漏水")
    shown = await alice.send("image", PicUrl="http://mmbiz.qpic.cn/x", MediaId="MEDIA_1")
    shown = await alice.say(number_of(shown, t("intake.photos_done")))
    shown = await alice.say(number_of(shown, t("intake.time_any")))
    shown = await alice.say(number_of(shown, t("intake.confirm")))
    number = NUMBER.search(shown)
    assert number, shown
    with found.store.transaction():
        ticket = found.store.ticket(number[0])
    assert ticket is not None
    assert (ticket.area, ticket.building, ticket.spot) == ("east", "b1", "302室")
    assert ticket.latitude == 31.2304 and len(ticket.photos) == 1
    assert (found.config.media_dir / ticket.photos[0]).read_bytes() == JPEG

    # Zhang claims: "assigned" goes as a customer-service message (inside 48 h).
    zhang = Technician(found)
    zhang.type("/jobs")
    zhang.choose(f"抢单 {number[0]}")
    custom = await until(found, lambda: texts(found))
    assert number[0] in custom[0]["text"]["content"] and custom[0]["touser"] == "o_alice"

    # 49 hours later WeChat refuses customer-service messages (45015), and this time the
    # template too: "on site" goes by SMS (the reporter's default chat_then_sms).
    found.api.advance(49 * 3600)
    found.api.template_errcode = 40037
    zhang.choose("到场签到")
    zhang.type("31.2304,121.4737")
    sms = await until(found, lambda: [s for s in gateway.shown if number[0] in s["text"]])
    assert sms[0]["to"] == "+8613812345678"
    assert len(texts(found)) == 1

    # With templates working, "resolved" goes as the configured template message.
    found.api.template_errcode = 0
    zhang.choose("完成")
    zhang.type("换了水管接头")
    zhang.choose("提交完成")
    template = await until(found, lambda: found.api.templates)
    assert template[0]["template_id"] == "tpl_reporter_resolved"
    assert template[0]["data"]["character_string1"]["value"] == number[0]
    assert template[0]["touser"] == "o_alice"
    assert len(texts(found)) == 1

    # The follower taps 进度查询 in the menu, opens the ticket, confirms and rates by number.
    shown = await alice.event("CLICK", "status")
    assert number[0] in shown
    shown = await alice.say(f"/status {number[0]}")
    shown = await alice.say(number_of(shown, t("followup.btn_confirm")))
    with found.store.transaction():
        ticket = found.store.ticket(number[0])
    assert ticket is not None and ticket.state is State.CLOSED
    shown = await alice.say(f"/status {number[0]}")  # the closed ticket's card: the stars
    shown = await alice.say(number_of(shown, t("followup.btn_rate", stars=5)))
    await alice.say("师傅很专业")
    with found.store.transaction():
        ticket = found.store.ticket(number[0])
    assert ticket is not None and ticket.rating == 5, shown
