"""The one filtered, keyset-paginated ticket list: ``baoxiu tickets list`` and the console
queue read tickets through ``page()`` (and ``count()``), nothing else.

A page is read in index order and the LIMIT stops the scan: every filter × sort below
has an index ending in the sort key (migration ``perf_0001_list_indexes``;
tests/test_queries.py checks each plan with EXPLAIN QUERY PLAN). Columns without such an
index are written ``+column`` so that SQLite never picks their index and then sorts
every match. Several states are read as one LIMITed arm per state, merged (each arm is
in index order; only ``limit`` rows per arm are sorted).

Cursors are opaque strings (base64 of the sort and the last row's key); a cursor that
does not decode, or belongs to the other sort, is ``InvalidInput``. This module only
reads: no writes, no network; ``now`` comes in as an argument.
"""

from __future__ import annotations

import base64
import binascii
import json
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

from tickets.errors import InvalidInput
from tickets.model import Ticket
from tickets.rows import iso, tickets_from_rows

if TYPE_CHECKING:
    from tickets.store import Store

__all__ = [
    "SORTS",
    "Page",
    "TicketFilter",
    "batches",
    "count",
    "merged",
    "page",
    "rows",
    "statement",
]

Sort = Literal["newest", "deadline", "oldest"]
SORTS: tuple[Sort, ...] = ("newest", "deadline")
"""The sorts a person picks; "oldest" is for the store's own lists (queues, jobs)."""
MAX_LIMIT = 500

# (key column, ORDER BY, keyset comparison) of each sort.
_SORT_SQL: dict[str, tuple[str, str, str]] = {
    "newest": ("created_at", "created_at DESC, number DESC", "(created_at, number) < (?, ?)"),
    "deadline": ("due_key", "due_key, number", "(due_key, number) > (?, ?)"),
    "oldest": ("created_at", "created_at, number", "(created_at, number) > (?, ?)"),
}
# Columns whose index delivers the sort's order (see the migration); others get "+".
_INDEXED: dict[str, frozenset[str]] = {
    "newest": frozenset({"state", "area", "holder", "created_at"}),
    "deadline": frozenset({"state", "holder", "due_key"}),
    "oldest": frozenset({"state", "area", "holder", "created_at"}),
}


@dataclass(frozen=True)
class TicketFilter:
    """What a list shows; every field optional (``None``/empty: no condition).
    ``category`` is a leaf or a group code; ``overdue`` needs ``now`` in ``page()``:
    the time limit of the ticket's current state (claim/arrive/resolve) is past."""

    states: tuple[str, ...] = ()
    area: str | None = None
    building: str | None = None
    category: str | None = None
    team: str | None = None
    technician: str | None = None
    priority: str | None = None
    channel: str | None = None
    overdue: bool = False
    created_from: datetime | None = None
    created_to: datetime | None = None
    number_prefix: str | None = None


@dataclass(frozen=True)
class Page:
    tickets: tuple[Ticket, ...]
    next_cursor: str | None
    """Pass it as ``after`` for the next page; None on the last page."""


def page(
    source: Store | sqlite3.Connection,
    flt: TicketFilter = TicketFilter(),
    *,
    sort: str = "newest",
    after: str | None = None,
    limit: int = 50,
    now: datetime | None = None,
) -> Page:
    """One page of tickets matching ``flt`` in ``sort`` order, after cursor ``after``."""
    limit = max(1, min(int(limit), MAX_LIMIT))
    sql, params = statement(flt, sort=sort, after=after, limit=limit + 1, now=now)
    key = _SORT_SQL[sort][0]
    with _reading(source) as conn:
        result = conn.execute(sql, params)
        found = result.fetchall()
    names = [d[0] for d in result.description]
    more = len(found) > limit
    found = found[:limit]
    last = found[-1] if more else None
    cursor = (
        encode_cursor(sort, last[names.index(key)], last[names.index("number")])
        if last is not None
        else None
    )
    return Page(tuple(tickets_from_rows(names, found)), cursor)


def statement(
    flt: TicketFilter,
    *,
    sort: str = "newest",
    after: str | None = None,
    limit: int = 50,
    now: datetime | None = None,
) -> tuple[str, list[Any]]:
    """The SELECT of ``page()`` (``limit`` rows) and its parameters."""
    if sort not in _SORT_SQL:
        raise InvalidInput("errors.invalid_input", field="sort", value=sort)
    position = decode_cursor(after, sort) if after is not None else None
    keyset = _SORT_SQL[sort][2]
    arms: list[tuple[str, list[Any]]] = []
    # A technician's tickets by deadline: one read of tickets_holder_due (his open ones
    # come first, '~' last) beats one arm per state (an arm of a state he has none in
    # would read every ticket of that state).
    split = len(flt.states) > 1 and not (sort == "deadline" and flt.technician is not None)
    for states in [(s,) for s in flt.states] if split else [flt.states]:
        where, params = _where(flt, states, sort, now, state_index=split or len(states) < 2)
        if position is not None:
            where.append(keyset)
            params += list(position)
        arms.append((" AND ".join(where) or "1", params))
    return merged(arms, _SORT_SQL[sort][1], limit)


def merged(
    arms: Sequence[tuple[str, Sequence[Any]]], order: str, limit: int
) -> tuple[str, list[Any]]:
    """SELECT of the first ``limit`` tickets in ``order`` over the WHERE clauses ``arms``:
    one arm is one plain SELECT; several (one per state) are each read in index order
    up to ``limit`` and merged, so no more than ``limit`` rows per arm are ever sorted."""
    if len(arms) == 1:
        return (
            f"SELECT * FROM tickets WHERE {arms[0][0]} ORDER BY {order} LIMIT ?",
            [*arms[0][1], limit],
        )
    parts: list[str] = []
    params: list[Any] = []
    for arm_where, arm_params in arms:
        arm = f"SELECT * FROM tickets WHERE {arm_where} ORDER BY {order} LIMIT ?"
        parts.append(f"SELECT * FROM ({arm})")
        params += [*arm_params, limit]
    return " UNION ALL ".join(parts) + f" ORDER BY {order} LIMIT ?", [*params, limit]


def count(
    source: Store | sqlite3.Connection,
    flt: TicketFilter = TicketFilter(),
    *,
    now: datetime | None = None,
    cap: int = 10_000,
) -> int:
    """How many tickets match, counted up to ``cap`` (show "10000+" beyond): counting
    all 900k closed tickets would read the whole index for a number nobody needs."""
    where, params = _where(flt, flt.states, "newest", now)
    sql = f"SELECT COUNT(*) FROM (SELECT 1 FROM tickets WHERE {' AND '.join(where) or '1'} LIMIT ?)"
    with _reading(source) as conn:
        return int(conn.execute(sql, [*params, int(cap)]).fetchone()[0])


def rows(source: Store | sqlite3.Connection, *, batch: int = 1000) -> Iterator[dict[str, Any]]:
    """Every ticket row as a dict, newest first, as it is read (see ``batches``)."""
    for names, found in batches(source, batch=batch):
        yield from (dict(zip(names, row, strict=True)) for row in found)


def batches(
    source: Store | sqlite3.Connection,
    *,
    batch: int = 1000,
    columns: Sequence[str] | None = None,
) -> Iterator[tuple[tuple[str, ...], list[tuple[Any, ...]]]]:
    """Every ticket row, newest first, ``batch`` rows at a time with the column names:
    for export (constant memory). Read in keyset batches, each under the store's lock
    only while it is fetched, so a long export never holds the connection meanwhile.
    ``columns`` (stored column names; default all) narrows what is read."""
    key, order, keyset = _SORT_SQL["newest"]
    wanted = "*" if columns is None else ", ".join(dict.fromkeys([*columns, key, "number"]))
    if columns is not None and not all(c.isidentifier() for c in columns):
        raise ValueError(f"not column names: {columns}")
    position: tuple[str, str] | None = None
    while True:
        where, params = ("1", []) if position is None else (keyset, list(position))
        sql = f"SELECT {wanted} FROM tickets WHERE {where} ORDER BY {order} LIMIT ?"
        with _reading(source) as conn:
            cursor = conn.execute(sql, [*params, batch])
            found = cursor.fetchall()
        names = tuple(d[0] for d in cursor.description)
        if found:
            yield names, found
        if len(found) < batch:
            return
        last = dict(zip(names, found[-1], strict=True))
        position = (last[key], last["number"])


# -- cursors -----------------------------------------------------------------------------


def encode_cursor(sort: str, key: str, number: str) -> str:
    raw = json.dumps([sort, key, number], ensure_ascii=False, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode("utf-8")).decode("ascii").rstrip("=")


def decode_cursor(cursor: str, sort: str) -> tuple[str, str]:
    """(key, number) of a cursor made by ``encode_cursor`` for ``sort``; else InvalidInput."""
    try:
        text = cursor.strip()
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        value = json.loads(raw.decode("utf-8"))
    except (ValueError, UnicodeDecodeError, binascii.Error, AttributeError) as exc:
        raise InvalidInput("errors.invalid_input", field="cursor", value=cursor) from exc
    if (
        not isinstance(value, list)
        or len(value) != 3
        or not all(isinstance(v, str) and 0 < len(v) <= 64 for v in value)
        or value[0] != sort
    ):
        raise InvalidInput("errors.invalid_input", field="cursor", value=cursor)
    return value[1], value[2]


# -- SQL ---------------------------------------------------------------------------------


def _where(
    flt: TicketFilter,
    states: Sequence[str],
    sort: str,
    now: datetime | None,
    *,
    state_index: bool = True,
) -> tuple[list[str], list[Any]]:
    indexed = _INDEXED[sort] if state_index else _INDEXED[sort] - {"state"}

    def col(name: str) -> str:
        return name if name in indexed else f"+{name}"

    where: list[str] = []
    params: list[Any] = []
    if len(states) == 1:
        where.append(f"{col('state')} = ?")
        params.append(states[0])
    elif states:
        where.append(f"{col('state')} IN ({', '.join('?' for _ in states)})")
        params += list(states)
    for name, value in (
        ("area", flt.area),
        ("building", flt.building),
        ("team", flt.team),
        ("holder", flt.technician),
        ("priority", flt.priority),
        ("reporter_channel", flt.channel),
    ):
        if value is not None:
            where.append(f"{col(name)} = ?")
            params.append(value)
    if flt.category is not None:
        escaped = flt.category.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        where.append("(+category = ? OR category LIKE ? ESCAPE '\\')")
        params += [flt.category, f"{escaped}.%"]
    if flt.overdue:
        if now is None:
            raise ValueError("overdue needs now")
        where.append(f"{col('due_key')} < ?")
        params.append(iso(now))
    if flt.created_from is not None:
        where.append(f"{col('created_at')} >= ?")
        params.append(iso(flt.created_from))
    if flt.created_to is not None:
        where.append(f"{col('created_at')} < ?")
        params.append(iso(flt.created_to))
    if flt.number_prefix:
        where.append("+number >= ? AND +number < ?")
        params += [flt.number_prefix, flt.number_prefix + "\U0010ffff"]
    return where, params


def _dicts(cursor: sqlite3.Cursor) -> list[dict[str, Any]]:
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def _reading(source: Store | sqlite3.Connection) -> AbstractContextManager[sqlite3.Connection]:
    if isinstance(source, sqlite3.Connection):
        return nullcontext(source)
    return source.reader()
