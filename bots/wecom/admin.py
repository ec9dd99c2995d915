"""The desk admin's WeCom tasks behind ``baoxiu wecom …``: the app's health (the access
token fetched through the real client, the callback URL, the AgentId, who is bound) and
binding or unbinding a member by hand.

Each returns the lines to print, from the ``wecom_cli`` catalog in the configuration's
language; a refusal is ``Refusal`` (a catalog key and its parameters) for the command to
print. The binding itself is ``bots.wecom.members``'; WeCom is asked only to check the
token and that a 账号 exists. No click here, no dialogue.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from bots.wechat.store import WeChatTables
from bots.wecom import members
from bots.wecom.client import WeChatError, WeComClient
from bots.wecom.people import Person, by_userid, role_of
from bots.wecom.settings import USERID, WeComSettings
from config.model import Config
from conversation.i18n import translate
from conversation.intake import normalize_phone
from tickets.store import Store

PATH = "/wecom"
NO_SUCH_MEMBER = (60111, 46004)
"""user/get: the 账号 is not a member (60111: userid not found; 46004: user not exist)."""


@dataclass
class Refusal(Exception):
    key: str
    params: dict[str, Any] = field(default_factory=dict)


def _t(config: Config, key: str, **params: Any) -> str:
    return translate(config.locale, f"wecom_cli.{key}", **params)


async def status(config: Config, store: Store, *, refresh: bool = False) -> tuple[list[str], bool]:
    """The status lines, and whether the token is healthy."""
    settings = WeComSettings.from_config(config)
    tables = WeChatTables(store)
    client = WeComClient(settings, tables)
    healthy = True
    try:
        await client.token(force=refresh, stale=_stored(tables, settings) if refresh else "")
        stored = tables.token(settings.token_key)
        until = datetime.fromtimestamp(stored[1] if stored else time.time(), UTC)
        token = _t(config, "status_token", until=until.isoformat(timespec="seconds"))
    except WeChatError as error:
        healthy = False
        token = _t(config, "status_token_failed", reason=str(error), api=settings.api_base_url)
    finally:
        await client.close()
    base = (config.web.public_url or f"http://{config.web.host}:{config.web.port}").rstrip("/")
    lines = [
        token,
        _t(config, "status_app", corp_id=settings.corp_id, agent_id=settings.agent_id),
        _t(config, "status_callback", url=base + PATH),
    ]
    bound = members.bound_chats(store)
    lines.append(
        _t(
            config,
            "status_bound",
            technicians=len({p for _, role, p in bound if role == "technician"}),
            dispatchers=len({p for _, role, p in bound if role == "dispatcher"}),
        )
    )
    for userid, role, person in bound:
        found = config.technician(person) or config.dispatcher(person)
        name = found.name if found is not None else person
        shown = translate(config.locale, f"cli.role.{role}")
        lines.append(
            _t(config, "status_member", userid=userid, role=shown, person=person, name=name)
        )
    lines.extend(_unbound(config, store, {p for _, _, p in bound}))
    return lines, healthy


def _stored(tables: WeChatTables, settings: WeComSettings) -> str:
    stored = tables.token(settings.token_key)
    return stored[0] if stored else ""


def _unbound(config: Config, store: Store, bound: set[str]) -> list[str]:
    """A line per configured 账号 that is not bound, and why: not yet, or deleted, renamed
    or unbound by hand (said even when the person is bound under another 账号 — after a
    rename, the configuration still names the old one)."""
    lines = []
    people: tuple[Person, ...] = (*config.technicians, *config.dispatchers)
    for person in people:
        if not person.wecom_userid:
            continue
        mark = members.mark_of(store, person.wecom_userid)
        if mark is None and person.id in bound:
            continue
        key = f"status_{mark.state}" if mark is not None else "status_not_bound"
        detail = mark.detail if mark is not None else ""
        lines.append(_t(config, key, userid=person.wecom_userid, person=person.id, new=detail))
    return lines


def person_of(config: Config, *, phone: str | None, staff: str | None) -> Person:
    """The configured technician or dispatcher named by ``--staff`` or ``--phone``."""
    if (phone is None) == (staff is None):
        raise Refusal("one_of")
    if staff is not None:
        found = config.technician(staff) or config.dispatcher(staff)
        if found is None:
            raise Refusal("no_staff", {"staff": staff})
        return found
    e164 = normalize_phone(phone or "")
    found = config.person_by_phone(e164) if e164 else None
    if found is None:
        raise Refusal("no_phone", {"phone": phone})
    return found


async def bind(
    config: Config, store: Store, userid: str, person: Person, now: datetime
) -> list[str]:
    """Bind ``userid`` to ``person`` after checking the 账号 with WeCom."""
    userid = userid.strip()
    if not USERID.fullmatch(userid):
        raise Refusal("bad_userid", {"userid": userid})
    other = by_userid(config, userid)
    if other is not None and other is not person:
        raise Refusal("configured_for", {"userid": userid, "person": other.id})
    settings = WeComSettings.from_config(config)
    client = WeComClient(settings, WeChatTables(store))
    lines = []
    try:
        member = await client.user(userid)
        lines.append(_t(config, "bind_checked", userid=userid, name=member.get("name", "")))
    except WeChatError as error:
        if error.code in NO_SUCH_MEMBER:
            raise Refusal("no_member", {"userid": userid}) from error
        lines.append(_t(config, "bind_unchecked", userid=userid, reason=str(error)))
    finally:
        await client.close()
    role = role_of(config, person)
    members.bind(store, userid, role, person.id, now)
    shown = translate(config.locale, f"cli.role.{role}")
    lines.append(_t(config, "bound", userid=userid, role=shown, person=person.id, name=person.name))
    return lines


def unbind(config: Config, store: Store, userid: str, now: datetime) -> list[str]:
    userid = userid.strip()
    if not USERID.fullmatch(userid):
        raise Refusal("bad_userid", {"userid": userid})
    person = members.unbind(store, userid, now, state=members.UNBOUND)
    if not person:
        return [_t(config, "not_bound", userid=userid)]
    return [_t(config, "unbound", userid=userid, person=person)]
