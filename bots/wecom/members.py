"""Binding and unbinding WeCom members by hand or by WeCom's word, and the marks that keep
an unbinding from being undone.

Used by the contact changes WeCom reports (``bots.wecom.contacts``) and by the desk
admin's ``baoxiu wecom bind|unbind`` (``bots.cli.wecom``). A member is marked in
``wecom_members`` when WeCom deleted them, renamed them (the binding moves to the new
账号) or an operator unbound them: ``bots.wecom.people`` then binds that 账号 neither
from the configuration at start nor by its mobile. Binding one by hand clears its mark.

A technician left with no bound chat at all while holding open jobs is the case the
outbox already knows as "nobody can receive the job notice": the dispatchers get that
alert (``dispatcher.unreachable``, with assign and show buttons) for each job, in the
unbinding's transaction — the jobs stay where they are until a dispatcher moves them.

Storage and the store's transactions only: no WeCom calls, no dialogue.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from config.model import Config
from conversation.state import IDLE
from tickets import outbox
from tickets.model import Role
from tickets.rows import iso
from tickets.store import Store

CHANNEL = "wecom"  # bots.wecom.store.CHANNEL, not imported: the CLI loads this alone
DELETED = "deleted"
RENAMED = "renamed"
UNBOUND = "unbound"


@dataclass(frozen=True)
class Mark:
    userid: str
    state: str  # deleted | renamed | unbound
    detail: str  # the new 账号 of a renamed one
    at: str


def mark_of(store: Store, userid: str) -> Mark | None:
    rows = store.query("SELECT * FROM wecom_members WHERE userid = ?", [userid.lower()])
    return Mark(**rows[0]) if rows else None


def marks(store: Store) -> list[Mark]:
    return [Mark(**row) for row in store.query("SELECT * FROM wecom_members ORDER BY userid")]


def set_mark(store: Store, userid: str, state: str, now: datetime, detail: str = "") -> None:
    with store.transaction():
        store.db.execute(
            "INSERT INTO wecom_members (userid, state, detail, at) VALUES (?, ?, ?, ?)"
            " ON CONFLICT (userid) DO UPDATE SET state = excluded.state,"
            " detail = excluded.detail, at = excluded.at",
            [userid.lower(), state, detail, iso(now)],
        )


def clear_mark(store: Store, userid: str) -> None:
    with store.transaction():
        store.db.execute("DELETE FROM wecom_members WHERE userid = ?", [userid.lower()])


def bound_chats(store: Store) -> list[tuple[str, str, str]]:
    """(userid, role, person) of every WeCom chat bound to someone."""
    rows = store.query(
        "SELECT chat, role, person FROM chats WHERE channel = ? AND person IS NOT NULL"
        " AND role IN ('technician', 'dispatcher') ORDER BY role, person, chat",
        [CHANNEL],
    )
    return [(r["chat"], r["role"], r["person"]) for r in rows]


def chat_of(store: Store, userid: str) -> str:
    """The chat id under which ``userid`` is stored (WeCom 账号 are case-insensitive)."""
    rows = store.query(
        "SELECT chat FROM chats WHERE channel = ? AND lower(chat) = ? ORDER BY chat LIMIT 1",
        [CHANNEL, userid.lower()],
    )
    return str(rows[0]["chat"]) if rows else userid


def unbind(store: Store, userid: str, now: datetime, *, state: str | None, detail: str = "") -> str:
    """Make ``userid``'s chat a reporter's again and mark it ``state`` (``None``: no mark);
    the person it was bound to ("" if none). Their held jobs alert the dispatchers if no
    chat of theirs is left."""
    with store.transaction():
        if state is not None:
            set_mark(store, userid, state, now, detail)
        record = store.chat(CHANNEL, chat_of(store, userid))
        person = record.person or ""
        if not person or record.role == Role.REPORTER.value:
            return ""
        store.save_chat(
            replace(record, role=Role.REPORTER.value, person=None, dialogue=IDLE.to_json()), now
        )
        if record.role == Role.TECHNICIAN.value:
            orphaned(store, store.config, person, now)
        return person


def move(store: Store, old: str, new: str, now: datetime) -> str:
    """WeCom renamed ``old`` to ``new``: the binding, the chat's language and its cards
    follow; ``old`` is marked renamed. The person moved ("" if none)."""
    with store.transaction():
        before = store.chat(CHANNEL, chat_of(store, old))
        set_mark(store, old, RENAMED, now, new)
        clear_mark(store, new)
        store.db.execute(
            "UPDATE wecom_cards SET userid = ? WHERE lower(userid) = ?", [new, old.lower()]
        )
        if not before.person or before.role == Role.REPORTER.value:
            return ""
        after = store.chat(CHANNEL, new)
        store.save_chat(
            replace(
                after,
                role=before.role,
                person=before.person,
                locale=before.locale or after.locale,
                dialogue=IDLE.to_json(),
            ),
            now,
        )
        store.save_chat(
            replace(before, role=Role.REPORTER.value, person=None, dialogue=IDLE.to_json()), now
        )
        return before.person


def bind(store: Store, userid: str, role: str, person: str, now: datetime) -> None:
    """Bind ``userid`` to a configured person by hand (the caller checked the person)."""
    with store.transaction():
        clear_mark(store, userid)
        record = store.chat(CHANNEL, chat_of(store, userid))
        store.save_chat(replace(record, role=role, person=person, dialogue=IDLE.to_json()), now)


def orphaned(store: Store, config: Config, technician: str, now: datetime) -> int:
    """Alert the dispatchers of each job ``technician`` holds when no chat of theirs is
    bound any more (the outbox's "nobody reachable" notice); how many jobs."""
    if any(
        r.role == Role.TECHNICIAN.value and r.person == technician
        for r in store.chats_of_person(technician)
    ):
        return 0
    jobs = store.jobs_of(technician, limit=500)
    targets = outbox.dispatcher_chats(store, config) or [
        (outbox.SMS, d.phone, config.locale) for d in config.dispatchers if d.phone
    ]
    for ticket in jobs:
        params = {"number": ticket.number, "notice": "wecom.unbound", "person": technician,
                  "team": ticket.team}  # fmt: skip
        for channel, chat, locale in targets:
            outbox.queue(
                store,
                key=f"wecom-unbound:{ticket.number}:{technician}:{iso(now)}:{channel}:{chat}",
                number=ticket.number,
                event_id=None,
                kind=outbox.UNREACHABLE_KIND,
                channel=channel,
                chat=chat,
                locale=locale,
                params=params,
                priority=1,
                now=now,
            )
    return len(jobs)


__all__ = ["DELETED", "RENAMED", "UNBOUND", "Mark", "bind", "move", "orphaned", "unbind"]
