"""How the notices of a change become outbox rows, and how a team's offer is fanned out.

``queue(store, ticket, event, notice)`` runs inside the change's transaction: a notice to
the reporter, a follower or a person gets one row per chat; the dispatchers one row per
bound chat (one ``INSERT … SELECT``). A notice to a team gets one row per team group and
ONE row per channel on which any of its members has a bound chat — a *fan-out row*, whose
``fanout`` column lists the members. Filing a ticket for a team of 200 thus writes three
rows, not 203 (issue 11).

``expand(store, channel, now)`` runs in the channel's delivery worker: it turns each due
fan-out row of the channel into one ordinary row per member's bound chat (the very rows
the store wrote at filing time before, same keys, one ``INSERT … SELECT`` each) and marks
the fan-out row sent, in one transaction. From then on each member's message has its
own row — its own order in the chat, retries, parts sent, dead letter and fallback — so a
retry never sends again to a member already served. The members' chats are read when
the offer is delivered, so a chat bound meanwhile gets it too.

Nothing is sent from here; like the store, this module imports nothing from the edges.
"""

from __future__ import annotations

import functools
from dataclasses import replace
from datetime import datetime
from typing import TYPE_CHECKING

from tickets.model import Event, Ticket
from tickets.notices import Dispatchers, Follower, Notice, Person, Reporter, Team
from tickets.rows import OutboxRow, iso, outbox_from_row, to_json

if TYPE_CHECKING:
    from tickets.store import Store

FANOUT_CHAT = "*members"
"""The ``chat`` of a fan-out row: no platform chat is named like this."""

_COLUMNS = (
    "key, number, event_id, kind, channel, chat, locale, params, priority, status, attempts,"
    " next_at, created_at"
)
_ONE = (
    f"INSERT INTO outbox ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'pending', 0, ?, ?)"
    " ON CONFLICT (key) DO NOTHING"
)
# The dispatchers' chats (few): one row per bound chat, member order, then chat order.
_PEOPLE = (
    f"INSERT INTO outbox ({_COLUMNS})"
    " SELECT ? || ':' || c.channel || ':' || c.chat, ?, ?, ?, c.channel, c.chat,"
    " COALESCE(NULLIF(c.locale, ''), ?), ?, ?, 'pending', 0, ?, ?"
    " FROM json_each(?) AS p JOIN chats AS c ON c.person = p.value"
    " WHERE true ORDER BY p.key, c.channel, c.chat"
    " ON CONFLICT (key) DO NOTHING"
)
# A team's members: one fan-out row per channel that any of them is bound on.
_FANOUT = (
    f"INSERT INTO outbox ({_COLUMNS}, fanout)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'pending', 0, ?, ?, ?)"
    " ON CONFLICT (key) DO NOTHING"
)
_BOUND_CHANNELS = (
    "SELECT DISTINCT c.channel FROM json_each(?) AS p JOIN chats AS c ON c.person = p.value"
    " ORDER BY c.channel"
)
# A fan-out row's members' chats on its channel, as ordinary rows with the keys the
# store used to write at filing time (a team group that is also a member's chat: once).
_EXPAND = (
    f"INSERT INTO outbox ({_COLUMNS})"
    " SELECT :base || c.chat, :number, :event_id, :kind, c.channel, c.chat,"
    " COALESCE(NULLIF(c.locale, ''), :locale), :params, :priority, 'pending', 0, :next_at,"
    " :created_at FROM json_each(:fanout) AS p JOIN chats AS c"
    " ON c.person = p.value AND c.channel = :channel"
    " WHERE true ORDER BY p.key, c.chat"
    " ON CONFLICT (key) DO NOTHING"
)


def queue(store: Store, ticket: Ticket, event: Event, notice: Notice) -> None:
    """Write the outbox rows of ``notice`` (inside the caller's transaction)."""
    db = store.db
    params = to_json(notice.params)  # encoded once, however many chats get it
    key = f"{event.id}:{notice.kind}"
    head = [ticket.number, event.id, notice.kind]
    at = iso(event.at)
    queued = 0
    for channel, chat, locale in _chats(store, ticket, notice):
        row = [f"{key}:{channel}:{chat}", *head, channel, chat, locale, params, notice.priority]
        queued += db.execute(_ONE, [*row, at, at]).rowcount
    people = _people(store, notice)
    # The one who acted knows already (a team of 200 was copied for every new ticket,
    # whose actor is its reporter).
    if event.actor_id in people:
        people = [person for person in people if person != event.actor_id]
    if people and isinstance(notice.recipient, Team):
        members = _members_json(tuple(people))
        for channel in _bound_channels(store, tuple(people), members):
            row = [f"{key}:{channel}:{FANOUT_CHAT}", *head, channel, FANOUT_CHAT]
            row += [store.config.locale, params, notice.priority, at, at, members]
            queued += db.execute(_FANOUT, row).rowcount
    elif people:
        queued += db.execute(
            _PEOPLE,
            [key, *head, store.config.locale, params, notice.priority, at, at, to_json(people)],
        ).rowcount
    if not queued and isinstance(notice.recipient, Team | Person):
        _unreachable(store, ticket, event, notice)


def _bound_channels(store: Store, people: tuple[str, ...], members: str) -> tuple[str, ...]:
    """The channels on which any of ``people`` has a bound chat, in order: read again
    only when a chat was bound, unbound or deleted since (``binding_changes``, kept by
    triggers in every process; migration fan_0002; read once per transaction:
    tickets.marks)."""
    conn = store.db.conn  # inside the change's transaction, under the store's lock
    mark = store.mark("binding")
    key = (str(store.path), people)
    known = _CHANNELS.get(key)
    if known is not None and known[0] == mark:
        return known[1]
    channels = tuple(row[0] for row in conn.execute(_BOUND_CHANNELS, [members]))
    if len(_CHANNELS) >= 256:
        _CHANNELS.clear()
    _CHANNELS[key] = (mark, channels)
    return channels


_CHANNELS: dict[tuple[str, tuple[str, ...]], tuple[int, tuple[str, ...]]] = {}


@functools.lru_cache(maxsize=64)
def _members_json(people: tuple[str, ...]) -> str:
    # A team's members are the same for every offer it gets: encoded once (200 names
    # were encoded again for each new ticket).
    return to_json(list(people))


def expand(store: Store, channel: str, now: datetime) -> list[OutboxRow]:
    """Fan out the due fan-out rows of ``channel`` into one row per member's chat (see
    the module's docstring); return the fan-out rows that found no chat at all (their
    members unbound meanwhile), marked dead, for the caller's fallback."""
    with store.transaction():
        parents = store.query(
            "SELECT * FROM outbox WHERE fanout IS NOT NULL AND status = 'pending'"
            " AND channel = ? AND next_at <= ? ORDER BY priority, id",
            [channel, iso(now)],
        )
        orphans = []
        for parent in parents:
            count = store.db.execute(
                _EXPAND,
                {
                    "base": parent["key"][: -len(FANOUT_CHAT)],
                    **{
                        name: parent[name]
                        for name in ("number", "event_id", "kind", "locale", "params")
                    },
                    **{name: parent[name] for name in ("priority", "next_at", "created_at")},
                    "fanout": parent["fanout"],
                    "channel": channel,
                },
            ).rowcount
            # Nothing new (each chat had its row already: a retried fan-out row, a member
            # bound in the team's group) is still served; only no chat at all is dead.
            if count or _bound(store, parent["fanout"], channel):
                store.db.execute(
                    "UPDATE outbox SET status = 'sent', sent_at = ?, attempts = attempts + 1,"
                    " provider_id = ? WHERE id = ?",
                    [iso(now), f"fanout:{count}", parent["id"]],
                )
            else:
                error = "no member has a chat bound on this channel any more"
                store.db.execute(
                    "UPDATE outbox SET status = 'dead', attempts = attempts + 1, last_error = ?"
                    " WHERE id = ?",
                    [error, parent["id"]],
                )
                dead = outbox_from_row(parent)
                orphans.append(
                    replace(dead, status="dead", attempts=dead.attempts + 1, last_error=error)
                )
        return orphans


def _bound(store: Store, members: str, channel: str) -> bool:
    found = store.db.execute(
        "SELECT 1 FROM json_each(?) AS p JOIN chats AS c ON c.person = p.value"
        " AND c.channel = ? LIMIT 1",
        [members, channel],
    ).fetchone()
    return found is not None


def _chats(store: Store, ticket: Ticket, notice: Notice) -> list[tuple[str, str, str]]:
    """(channel, chat, locale) of a notice's named chats: the reporter's, a follower's, a
    person's, a team's groups."""
    recipient = notice.recipient
    found: dict[tuple[str, str], str] = {}
    if isinstance(recipient, Reporter):
        where = (ticket.reporter_channel, ticket.reporter_chat)
        found[where] = store._locale_of(*where, default=ticket.reporter_locale)
    elif isinstance(recipient, Follower):
        duplicate = store.ticket(recipient.number)
        if duplicate is not None:
            where = (duplicate.reporter_channel, duplicate.reporter_chat)
            found[where] = store._locale_of(*where, default=duplicate.reporter_locale)
    elif isinstance(recipient, Person):
        for chat in store.chats_of_person(recipient.id):
            found[(chat.channel, chat.chat)] = chat.locale or store.config.locale
    elif isinstance(recipient, Team):
        team = store.config.team(recipient.code)
        if team is not None:
            for channel, groups in sorted(team.groups.items()):
                for group in groups:
                    found[(channel, group)] = store._locale_of(channel, group)
    return [(channel, chat, locale) for (channel, chat), locale in found.items()]


def _people(store: Store, notice: Notice) -> list[str]:
    """The people whose bound chats get ``notice`` too: a team's members, the dispatchers."""
    recipient = notice.recipient
    if isinstance(recipient, Team):
        team = store.config.team(recipient.code)
        return list(team.members) if team is not None else []
    if isinstance(recipient, Dispatchers):
        return [d.id for d in store.config.dispatchers]
    return []


def _unreachable(store: Store, ticket: Ticket, event: Event, notice: Notice) -> None:
    """A job notice that no chat can receive (a team without a bound group or member,
    a technician who never bound a chat) would tell nobody: the dispatchers are told
    instead — in their chats, else by SMS to their configured phones."""
    from tickets import outbox  # it builds on the store

    config = store.config
    params = {"number": ticket.number, "notice": notice.kind, "team": ticket.team}
    if isinstance(notice.recipient, Person):
        params["person"] = notice.recipient.id
    targets = outbox.dispatcher_chats(store, config) or [
        (outbox.SMS, d.phone, config.locale) for d in config.dispatchers if d.phone
    ]
    text, at = to_json(params), iso(event.at)
    head = [ticket.number, event.id, outbox.UNREACHABLE_KIND]
    for channel, chat, locale in targets:
        # Straight into the change's transaction (outbox.queue would add a SAVEPOINT).
        key = f"{event.id}:{outbox.UNREACHABLE_KIND}:{notice.kind}:{channel}:{chat}"
        row = [key, *head, channel, chat, locale, text, notice.priority, at, at]
        store.db.execute(_ONE, row)
