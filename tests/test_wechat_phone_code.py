"""``verify_phone = true``: a typed phone confirmed by an SMS code (conversation.phone_code).

Dialogue tables over intake in any channel that asks for it (pure, the time and the
random draw in the ``Ctx``), and a journey step over HTTP: a WeChat follower types a
phone, the code reaches the fake SMS gateway, and typing it moves the report on.
"""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from types import MappingProxyType

from conftest import make_config
from dialogue import Dialogue, Not, make_ctx
from fake_sms import FakeGateway
from test_wechat_journey import number_of, until, with_gateway
from wechat_rig import rig

from conversation import intake, phone_code
from conversation.actions import SendCode
from conversation.context import Ctx
from conversation.events import Button, Contact
from conversation.i18n import translate

PHONE = "+8613812345678"


def asking(locale: str = "zh_CN", channel: str = "wechat", **ctx_kw: object) -> Dialogue:
    """An intake dialogue at its phone step, in a channel with verify_phone = true."""
    ctx = make_ctx(locale, channel=channel, random=1_042_517, **ctx_kw)
    tables = {channel: {"verify_phone": True}}
    ctx = replace(ctx, config=replace(ctx.config, extra_channels=MappingProxyType(tables)))
    d = Dialogue(intake.step, ctx, opened=intake.start(ctx, {"area": "east", "building": "b1"}))
    d.send(Button("i:cat:water"))
    d.send(Button("i:cat:water.leak"))
    d.send("3楼302")
    assert d.state.step == "phone", d.state
    return d


def later(d: Dialogue, **delta: float) -> None:
    d.ctx = replace(d.ctx, now=d.ctx.now + timedelta(**delta))


def draw(d: Dialogue, value: int) -> None:
    d.ctx = replace(d.ctx, random=value)


def test_a_typed_phone_waits_for_its_code_and_a_wrong_one_is_counted() -> None:
    d = asking()
    d.run(
        [
            ("138 1234 5678", ("验证码已发送到 13812345678", "6 位验证码", "重新发送验证码")),
            ("12345", "验证码是 6 位数字"),
            ("000000", "还可以再试 4 次"),
            ("111111", "还可以再试 3 次"),
            ("０４２５１７", ("请简单描述一下故障情况", Not("验证码"))),  # full-width digits too
        ]
    )
    assert d.actions == [SendCode(PHONE, "042517")]  # one code sent, to the typed number
    assert d.state.step == "description" and d.state.data["phone"] == PHONE
    assert "code" not in d.state.data


def test_expiry_resend_wait_and_another_number_in_english() -> None:
    d = asking("en")
    d.run([("13812345678", ("A code has been sent to 13812345678", "Send the code again"))])
    d.run([(Button("i:code:resend"), "you can ask again in 60 seconds")])
    later(d, minutes=11)
    d.run([("042517", "The code has expired")])
    draw(d, 777)
    d.run([(Button("i:code:resend"), "A code has been sent to 13812345678")])
    assert d.actions[-1] == SendCode(PHONE, "000777")
    d.run([("042517", "That code is not right"), ("1", "you can ask again in")])  # 1 = resend
    d.run([("2", "mobile number")])  # 2 = another number: the phone question again
    assert d.state.step == "phone" and "code" not in d.state.data
    draw(d, 5)
    d.run([("13900001111", "A code has been sent to 13900001111"), ("000005", "describe")])
    assert d.state.data["phone"] == "+8613900001111"


def test_five_wrong_tries_void_the_code_and_three_codes_a_report_at_most() -> None:
    d = asking()
    d.send("13812345678")
    d.run([("000000", "还可以再试"), ("000000", None), ("000000", None), ("000000", None)])
    d.run([("000000", "输错次数太多"), ("042517", "输错次数太多")])  # even the right one now
    assert d.state.step == phone_code.STEP
    for _ in range(2):
        later(d, seconds=61)
        d.run([(Button("i:code:resend"), "验证码已发送到")])
    later(d, seconds=61)
    d.run([(Button("i:code:resend"), "不能再发了")])
    assert len([a for a in d.actions if isinstance(a, SendCode)]) == phone_code.MAX_SENDS


def test_no_code_where_not_asked_for_or_for_a_shared_contact() -> None:
    plain = make_ctx("zh_CN", channel="wechat")  # verify_phone not set
    d = Dialogue(intake.step, plain, opened=intake.start(plain, {"area": "east"}))
    for event in (Button("i:cat:water"), Button("i:cat:water.leak"), Button("i:bld:b1"), "302"):
        d.send(event)
    d.run([("13812345678", ("请简单描述", Not("验证码")))])
    shared = asking(channel="telegram", can_share_contact=True)
    shared.run([(Contact(PHONE), ("请简单描述", Not("验证码")))])  # a verified number
    assert not [a for a in (*d.actions, *shared.actions) if isinstance(a, SendCode)]


def test_the_wanted_check_reads_the_channels_own_table() -> None:
    ctx: Ctx = make_ctx("zh_CN", channel="wechat")
    tables = {"wechat": {"verify_phone": True}, "telegram": {"verify_phone": False}}
    config = replace(ctx.config, extra_channels=MappingProxyType(tables))
    assert phone_code.wanted(replace(ctx, config=config))
    assert not phone_code.wanted(replace(ctx, config=config, channel="telegram"))
    assert not phone_code.wanted(replace(ctx, config=config, channel="web"))


# -- over HTTP: the WeChat account and the fake SMS gateway -------------------------------------


async def test_a_follower_confirms_a_typed_phone_by_the_sms_code(tmp_path: Path) -> None:
    gateway = await FakeGateway().start()
    try:
        config = with_gateway(make_config(tmp_path), gateway)
        async with rig(tmp_path, config, verify_phone=True) as found:
            user = found.user("o_code")
            shown = await user.event("subscribe", "qrscene_east__b1")
            shown = await user.say(number_of(shown, "水"))
            shown = await user.say("302室")
            shown = await user.say("13812345678")
            assert translate("zh_CN", "phone_code.sent", phone="13812345678", minutes=10) in shown
            sms = await until(found, lambda: [s for s in gateway.shown if s["to"] == PHONE])
            code = re.findall(r"\d{6}", sms[0]["text"])[0]
            wrong = "000000" if code != "000000" else "111111"
            assert "还可以再试 4 次" in await user.say(wrong)
            shown = await user.say(code)
            assert translate("zh_CN", "intake.ask_description", min=4) in shown
            dialogue = found.store.chat("wechat", "o_code").dialogue or ""
            assert PHONE in dialogue and code not in dialogue  # the code is gone once used
    finally:
        await gateway.close()
