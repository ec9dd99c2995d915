"""Full-text search over tickets: number, description, place, notes, resolution, phone tail.

Chinese has no spaces, and SQLite FTS5's own tokenizers do not fit it: ``unicode61``
keeps a run of Chinese as ONE token (漏水 is not found in 卫生间漏水严重) and
``trigram`` yields no token for a 1–2 character term (漏水, 停电 — most queries).
So the text is cut here, in Python, before FTS5 sees it: every CJK run becomes its
single characters (column ``uni``) and its overlapping bigrams in order (column
``bi``), Latin/digit words stay whole (lower-cased). A query is cut the same way: a
1-character term looks in ``uni``, a longer run is the phrase of its bigrams in ``bi``
(so 卫生间 must be 卫生 followed by 生间, not two bigrams anywhere), every term must
match (AND), and the answer is ranked by bm25. Every term is quoted and consists only
of word characters, so nothing the user types is FTS syntax or SQL.

One row per ticket (rowid = the ticket's rowid), written by ``refresh`` in the same
transaction as the ticket's event. This module reads and writes only ``ticket_search``.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from tickets.model import Event, Ticket
from tickets.rows import ticket_from_row

__all__ = ["SCHEMA", "Page", "cut", "document", "match_expression", "rebuild", "refresh", "search"]

SCHEMA = "CREATE VIRTUAL TABLE ticket_search USING fts5 (uni, bi, tokenize = 'unicode61')"

_CJK = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_TERM = re.compile(f"[{_CJK}]+|[^\\W_{_CJK}]+")
_IS_CJK = re.compile(f"[{_CJK}]")
_FIELDS = ("number", "area", "building", "spot", "description", "resolution", "comment")


def cut(text: str) -> list[str]:
    """The terms of ``text``: CJK runs and Latin/digit words, lower-cased, in order."""
    return [m.group(0).lower() for m in _TERM.finditer(text)]


def _columns(terms: Iterable[str]) -> tuple[str, str]:
    uni: list[str] = []
    bi: list[str] = []
    for term in terms:
        if _IS_CJK.match(term):
            uni.extend(term)
            if len(term) == 1:
                bi.append(term)
            bi.extend(term[i : i + 2] for i in range(len(term) - 1))
        else:
            uni.append(term)
            bi.append(term)
    return " ".join(uni), " ".join(bi)


def document(ticket: Ticket, notes: Iterable[str] = ()) -> tuple[str, str]:
    """The ``(uni, bi)`` columns indexed for ``ticket`` and its event notes."""
    digits = "".join(c for c in ticket.phone if c.isdigit())
    parts = [str(getattr(ticket, name) or "") for name in _FIELDS]
    parts += [digits, digits[-4:], *notes]
    return _columns(term for part in parts for term in cut(part))


def match_expression(text: str, *, phrases: bool = True) -> str:
    """The FTS5 MATCH expression for what a person typed ('' when nothing searchable).
    ``phrases=False`` lets each character of a 3+ character run match anywhere (the fallback
    when a run was typed across two fields: 3号楼漏水 = spot 3号楼 + description 漏水)."""
    clauses: list[str] = []
    for term in cut(text):
        if _IS_CJK.match(term) and len(term) == 1:
            clauses.append(f'uni : "{term}"')
        elif _IS_CJK.match(term):
            pairs = [term[i : i + 2] for i in range(len(term) - 1)]
            if phrases or len(term) == 2:
                clauses.append(f'bi : "{" ".join(pairs)}"')
            else:
                clauses.extend(f'uni : "{char}"' for char in term)
        else:
            clauses.append(f'bi : "{term}"')
    return " AND ".join(clauses)


def _notes(conn: sqlite3.Connection, number: str) -> list[str]:
    rows = conn.execute("SELECT note FROM events WHERE number = ? AND note != ''", [number])
    return [row[0] for row in rows]


def refresh(conn: sqlite3.Connection, before: Ticket | None, after: Ticket, event: Event) -> None:
    """Re-index ``after`` when ``event`` changed what is searchable (called by the store
    in the event's transaction; most events — claims, timers — change nothing here)."""
    same = before is not None and all(
        getattr(before, f) == getattr(after, f) for f in (*_FIELDS, "phone")
    )
    if same and not event.note:
        return
    # A new ticket has no other notes: one statement. REPLACE: a rowid SQLite handed out
    # again (after a ticket row was deleted by hand) overwrites the stale entry.
    notes = [event.note] if before is None and event.note else []
    if before is not None:
        notes = _notes(conn, after.number)
    conn.execute(
        "INSERT OR REPLACE INTO ticket_search (rowid, uni, bi) SELECT rowid, ?, ? FROM tickets"
        " WHERE number = ?",
        [*document(after, notes), after.number],
    )


def rebuild(conn: sqlite3.Connection) -> int:
    """Index every ticket again (the migration's backfill; benches after a raw load)."""
    conn.execute("DELETE FROM ticket_search")
    notes: dict[str, list[str]] = {}
    for number, note in conn.execute("SELECT number, note FROM events WHERE note != ''"):
        notes.setdefault(number, []).append(note)
    count = 0
    cursor = conn.execute(f"SELECT rowid, number, phone, {', '.join(_FIELDS[1:])} FROM tickets")
    while batch := cursor.fetchmany(5000):
        rows = []
        for rowid, number, phone, *rest in batch:
            digits = "".join(c for c in phone if c.isdigit())
            parts = [number, *rest, digits, digits[-4:], *notes.get(number, ())]
            rows.append((rowid, *_columns(t for p in parts for t in cut(p or ""))))
        conn.executemany("INSERT INTO ticket_search (rowid, uni, bi) VALUES (?, ?, ?)", rows)
        count += len(rows)
    return count


@dataclass(frozen=True)
class Page:
    tickets: list[Ticket]
    after: str | None  # pass back as ``after`` for the next page; None on the last one


def search(store: Any, text: str, *, limit: int = 20, after: str | None = None) -> Page:
    """Tickets matching ``text``, best first (bm25; the newest first among equals).

    ``after`` is the cursor of the previous page (an offset: a ranked answer has no
    stable key to seek from)."""
    # The cursor is "<offset>" or "~<offset>" when the pages come from the fallback.
    cursor = after or ""
    loose = cursor.startswith("~")
    start = int(cursor.lstrip("~")) if cursor.lstrip("~").isdigit() else 0
    expression = match_expression(text, phrases=not loose)
    if not expression:
        return Page([], None)
    rows = _ranked(store, expression, limit + 1, start)
    if not rows and not loose and start == 0:
        fallback = match_expression(text, phrases=False)
        if fallback != expression:
            loose, rows = True, _ranked(store, fallback, limit + 1, start)
    more = len(rows) > limit
    mark = "~" if loose else ""
    return Page(
        [ticket_from_row(r) for r in rows[:limit]], f"{mark}{start + limit}" if more else None
    )


RANKED = 2000
"""bm25 is computed for the newest RANKED matches only: a common term (漏水) matches
~80,000 of a million tickets, and scoring them all took over a second; the newest
2,000 are found in rowid order from the index alone (the desk wants recent tickets)."""


def _ranked(store: Any, expression: str, limit: int, start: int) -> list[dict[str, Any]]:
    floor = store.query(
        "SELECT rowid FROM ticket_search WHERE ticket_search MATCH ? ORDER BY rowid DESC"
        " LIMIT 1 OFFSET ?",
        [expression, RANKED - 1],
    )
    rows: list[dict[str, Any]] = store.query(
        "SELECT t.* FROM ticket_search JOIN tickets t ON t.rowid = ticket_search.rowid"
        " WHERE ticket_search MATCH ? AND ticket_search.rowid >= ?"
        " ORDER BY bm25(ticket_search, 1.0, 2.0), t.rowid DESC LIMIT ? OFFSET ?",
        [expression, floor[0]["rowid"] if floor else 0, limit, start],
    )
    return rows
