"""WeCom's 通讯录 changes through the real callback (``change_contact`` events from
``sys``, encrypted by the fake WeCom): a deleted member is unbound at once and his jobs
alert the dispatchers, a new 账号 (NewUserID) moves the binding, a new mobile that is no
longer the person's unbinds one bound by mobile; none of it is undone at the next start,
and WeCom's retry changes nothing twice."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from aiohttp.test_utils import TestServer
from conftest import draft
from wecom_rig import Rig, rig

from bots.wecom import admin, members
from conversation.i18n import translate
from tickets.model import State


def role_of(found: Rig, userid: str) -> tuple[str | None, str | None]:
    record = found.store.chat("wecom", userid)
    return record.role, record.person


def unreachable(found: Rig, number: str) -> list[str]:
    head = translate("zh_CN", "notices.dispatcher.unreachable", number=number)
    return [text for text in found.api.texts("WangDiaodu") if head in text]


async def restarted(found: Rig) -> None:
    """The service started again on the same database (configured 账号 bound anew)."""
    from bots.app import build_app

    again = TestServer(build_app(found.config, store=found.store), host="127.0.0.1")
    await again.start_server()
    await again.close()


async def held_by_li(found: Rig) -> str:
    number = found.store.create_ticket(draft(), datetime.now(UTC)).number
    await found.until(lambda: found.api.cards_of("LiSi"))
    (card,) = found.api.cards_of("LiSi")
    await found.member("LiSi").press(card)
    assert found.store.get(number).holder == "li"
    return number


async def test_a_deleted_member_is_unbound_and_his_jobs_alert_the_dispatchers(
    tmp_path: Path,
) -> None:
    async with rig(tmp_path) as found:
        number = await held_by_li(found)
        assert role_of(found, "LiSi") == ("technician", "li")
        sys = found.member("sys")
        plain = await sys.contact_change("delete_user", "LiSi")
        assert role_of(found, "LiSi") == ("reporter", None)
        alerts = await found.until(lambda: unreachable(found, number))
        assert "li" in alerts[0] or "李" in alerts[0]
        assert found.store.get(number).state is State.ASSIGNED  # a dispatcher moves it
        rows = len(found.store.query("SELECT id FROM outbox"))
        await sys.send_plain(plain)  # WeCom's retry of the same event
        assert len(found.store.query("SELECT id FROM outbox")) == rows
        await restarted(found)
        assert role_of(found, "LiSi") == ("reporter", None)  # configured, but gone
        mark = members.mark_of(found.store, "lisi")
        assert mark is not None and mark.state == members.DELETED


async def test_a_deleted_member_who_holds_nothing_alerts_nobody(tmp_path: Path) -> None:
    async with rig(tmp_path) as found:
        await found.member("sys").contact_change("delete_user", "ZhangSan")
        assert role_of(found, "ZhangSan") == ("reporter", None)
        assert found.store.query("SELECT id FROM outbox WHERE kind LIKE '%unreachable'") == []


async def test_a_new_userid_moves_the_binding(tmp_path: Path) -> None:
    async with rig(tmp_path) as found:
        await found.member("sys").contact_change("update_user", "ZhangSan", NewUserID="zhang.s")
        assert role_of(found, "ZhangSan") == ("reporter", None)
        assert role_of(found, "zhang.s") == ("technician", "zhang")
        await found.member("zhang.s").say("/jobs")
        texts = await found.until(lambda: found.api.texts("zhang.s"))
        assert translate("zh_CN", "technician.mine_empty") in texts[0]
        await restarted(found)  # the configuration still names ZhangSan: not bound again
        assert role_of(found, "ZhangSan") == ("reporter", None)
        assert role_of(found, "zhang.s") == ("technician", "zhang")
        lines, healthy = await admin.status(found.config, found.store)
        said = translate("zh_CN", "wecom_cli.status_renamed", userid="ZhangSan", person="zhang",
                         new="zhang.s")  # fmt: skip
        assert healthy and said in lines


async def test_a_new_mobile_unbinds_a_member_bound_by_mobile_only(tmp_path: Path) -> None:
    async with rig(tmp_path) as found:
        found.api.member("zhao.w", "赵五", "13800000003")  # zhao: bound by his mobile
        await found.member("zhao.w").say("/jobs")
        assert role_of(found, "zhao.w") == ("technician", "zhao")
        sys = found.member("sys")
        await sys.contact_change("update_user", "zhao.w", Mobile="13800000003")  # the same
        assert role_of(found, "zhao.w") == ("technician", "zhao")
        await sys.contact_change("update_user", "zhao.w", Mobile="13700000077")
        assert role_of(found, "zhao.w") == ("reporter", None)
        # Zhang is configured by his 账号: the configuration outranks his mobile.
        await sys.contact_change("update_user", "ZhangSan", Mobile="13700000078")
        assert role_of(found, "ZhangSan") == ("technician", "zhang")


async def test_other_contact_changes_bind_nobody_and_make_no_step(tmp_path: Path) -> None:
    async with rig(tmp_path) as found:
        sys = found.member("sys")
        await sys.contact_change("create_user", "newbie", Mobile="13800000003")
        await sys.contact_change("update_user", "nobody-bound", Mobile="13800000004")
        assert role_of(found, "newbie") == ("reporter", None)
        assert role_of(found, "sys") == ("reporter", None)
        assert found.api.user_gets == 0
        assert found.store.query("SELECT id FROM outbox") == []
