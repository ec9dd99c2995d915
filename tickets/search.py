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

One row per ticket (rowid = the ticket's rowid). A change of a ticket is indexed by
``refresh`` in the same transaction as its event; new tickets are indexed in batches
(``filed``, every ``BATCH`` rowids, in the transaction of the ticket that completes one),
and ``search`` first indexes whatever was filed since the last batch, so every ticket
is found as soon as it is committed. The mark of how far new tickets are indexed
(``search_mark``) moves in the same transaction as the rows it covers: after a crash the
tickets above it are simply indexed by the next batch or search, none is lost. This
module reads and writes only ``ticket_search`` and ``search_mark``.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterable
from contextlib import suppress
from dataclasses import dataclass
from typing import Any, NamedTuple

from tickets.model import Event, Ticket
from tickets.rows import ticket_from_row

__all__ = [
    "BATCH",
    "MARK_SCHEMA",
    "SCHEMA",
    "Page",
    "catch_up",
    "cut",
    "document",
    "filed",
    "match_expression",
    "rebuild",
    "refresh",
    "search",
]

SCHEMA = "CREATE VIRTUAL TABLE ticket_search USING fts5 (uni, bi, tokenize = 'unicode61')"
MARK_SCHEMA = """
CREATE TABLE search_mark (id INTEGER PRIMARY KEY CHECK (id = 1), indexed INTEGER NOT NULL);
INSERT INTO search_mark (id, indexed) SELECT 1, COALESCE(MAX(rowid), 0) FROM tickets;
"""
"""The highest ticket rowid of the new tickets indexed so far (``filed``, ``catch_up``)."""
BATCH = 32
"""New tickets are indexed 32 at a time (issue 11): FTS5 writes each transaction's terms
as a new segment, and one ticket a segment cost ~9 pages in the commit and ~0.8 ms at a
million tickets (its segment, the structure record, the merges it starts); 32 tickets
share one. ``search`` indexes the rest before it reads, so nothing waits for a batch."""

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
    if before is None:
        return  # a new ticket: indexed with its batch (``filed``)
    same = all(getattr(before, f) == getattr(after, f) for f in (*_FIELDS, "phone"))
    if same and not event.note:
        return
    # REPLACE: the entry of a ticket already indexed (or of a rowid SQLite handed out
    # again after a ticket row was deleted by hand).
    conn.execute(
        "INSERT OR REPLACE INTO ticket_search (rowid, uni, bi) SELECT rowid, ?, ? FROM tickets"
        " WHERE number = ?",
        [*document(after, _notes(conn, after.number)), after.number],
    )


def filed(conn: sqlite3.Connection, rowid: int, mark: int | None = None) -> None:
    """The store wrote a new ticket's row (``rowid``) and its acceptance event: index the
    new tickets when this one completes a batch (in its transaction). ``mark``: the
    indexed mark as the caller knows it in this transaction (tickets.marks), else read."""
    if mark is None:
        [(mark,)] = conn.execute("SELECT indexed FROM search_mark").fetchall()
    if rowid <= mark:
        # A rowid handed out again (the newest row was deleted by hand): no batch above
        # the mark would ever hold it, so it is indexed now.
        _index(conn, "rowid = ?", [rowid])
    elif rowid - mark >= BATCH:
        _index(conn, "rowid > ?", [mark], move=True)


def catch_up(conn: sqlite3.Connection) -> int:
    """Index the tickets filed since the last batch (in the caller's transaction)."""
    [(mark,)] = conn.execute("SELECT indexed FROM search_mark").fetchall()
    return _index(conn, "rowid > ?", [mark], move=True)


def _index(conn: sqlite3.Connection, where: str, params: list[Any], *, move: bool = False) -> int:
    """Index (again) the tickets ``where`` selects, with their events' notes; ``move``: set
    the mark to the highest of them."""
    # NOT INDEXED: a range of rowids is read from the table itself (the planner took a
    # scan of a whole covering index of a million tickets for the subquery).
    found = conn.execute(
        f"SELECT rowid, number, phone, {', '.join(_FIELDS[1:])} FROM tickets NOT INDEXED"
        f" WHERE {where} ORDER BY rowid",
        params,
    ).fetchall()
    if not found:
        return 0
    notes: dict[str, list[str]] = {}
    for number, note in conn.execute(
        "SELECT number, note FROM events WHERE number IN"
        f" (SELECT number FROM tickets NOT INDEXED WHERE {where}) AND note != '' ORDER BY id",
        params,
    ):
        notes.setdefault(number, []).append(note)
    conn.executemany(
        "INSERT OR REPLACE INTO ticket_search (rowid, uni, bi) VALUES (?, ?, ?)",
        [_entry(row, notes) for row in found],
    )
    if move:
        conn.execute("UPDATE search_mark SET indexed = ?", [found[-1][0]])
    return len(found)


def _entry(row: tuple[Any, ...], notes: dict[str, list[str]]) -> tuple[int, str, str]:
    """``(rowid, uni, bi)`` of a row ``rowid, number, phone, <_FIELDS[1:]>`` (as
    ``document`` makes them of a Ticket)."""
    rowid, number, phone, *rest = row
    digits = "".join(c for c in phone if c.isdigit())
    parts = [number, *rest, digits, digits[-4:], *notes.get(number, ())]
    return (rowid, *_columns(t for p in parts for t in cut(p or "")))


def rebuild(conn: sqlite3.Connection) -> int:
    """Index every ticket again (the migration's backfill; benches after a raw load)."""
    conn.execute("DELETE FROM ticket_search")
    notes: dict[str, list[str]] = {}
    for number, note in conn.execute("SELECT number, note FROM events WHERE note != ''"):
        notes.setdefault(number, []).append(note)
    count = 0
    cursor = conn.execute(f"SELECT rowid, number, phone, {', '.join(_FIELDS[1:])} FROM tickets")
    while batch := cursor.fetchmany(5000):
        rows = [_entry(row, notes) for row in batch]
        conn.executemany("INSERT INTO ticket_search (rowid, uni, bi) VALUES (?, ?, ?)", rows)
        count += len(rows)
    # The migration that first filled the index ran before search_mark existed.
    if conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'search_mark'").fetchone():
        conn.execute(
            "UPDATE search_mark SET indexed = (SELECT COALESCE(MAX(rowid), 0) FROM tickets)"
        )
    return count


@dataclass(frozen=True)
class Page:
    tickets: list[Ticket]
    after: str | None  # pass back as ``after`` for the next page; None on the last one
    window: bool = False  # True: more than RANK_ALL matched, the newest RANK_ALL are ranked


RANK_ALL = 2000
"""bm25 ranks every match of a term with at most this many matches. A term more common
than that (漏水, 停电: ~83,000 of a million tickets) has its newest RANK_ALL ranked,
unless the caller asks for ``whole=True``. Why: bm25 needs each match's column sizes,
one lookup per match — at 83,000 matches 350–580 ms against the 50 ms search target,
while 2,000 take ~15–30 ms (a 3-character phrase at 5,000: ~65 ms); and a term found
in 8 % of all tickets has the same IDF in all of them, so their order comes from the
description's length alone, which says little — the desk wants the recent ones. The
page tells the user (``Page.window``) and offers the whole ranking and another word."""


class Cursor(NamedTuple):
    score: float  # bm25 of the last row shown
    rowid: int
    floor: int  # the window's lowest rowid (0: every match is ranked), kept across pages


def search(
    store: Any, text: str, *, limit: int = 20, after: str | None = None, whole: bool = False
) -> Page:
    """Tickets matching ``text``, best first (bm25; the newest first among equals),
    ``limit`` at a time; ``whole`` ranks every match however many there are (slow for
    very common terms, see ``RANK_ALL``).

    ``after`` is the cursor of the previous page (a keyset: the last row's rowid, its
    score and the window), so a ticket filed meanwhile neither repeats nor hides a row of
    the next page; the last row's score is taken anew, as bm25 moves a little when the
    index grows."""
    loose, cursor = _cursor(after)
    expression = match_expression(text, phrases=not loose)
    if not expression:
        return Page([], None)
    _caught_up(store)
    floor = cursor.floor if cursor else 0 if whole else _floor(store, expression)
    ranked = _ranked(store, expression, limit + 1, cursor, floor)
    if not ranked and not loose and cursor is None:
        fallback = match_expression(text, phrases=False)
        if fallback != expression:
            floor = 0 if whole else _floor(store, fallback)
            loose, ranked = True, _ranked(store, fallback, limit + 1, None, floor)
    shown = ranked[:limit]
    marks = ", ".join("?" * len(shown))
    rows = {
        row["rowid"]: row
        for row in store.query(
            f"SELECT rowid, * FROM tickets WHERE rowid IN ({marks})", [r for _, r in shown]
        )
    }
    tickets = [ticket_from_row(rows[rowid]) for _score, rowid in shown if rowid in rows]
    more = len(ranked) > limit
    mark = "~" if loose else ""
    last = f"{mark}{shown[-1][0]!r}:{shown[-1][1]}:{floor}" if more else None
    return Page(tickets, last, window=floor > 0)


def _caught_up(store: Any) -> None:
    """Index the tickets filed since the last batch before reading, so that a search
    finds every committed ticket (a plain read first: a write lock only when some wait)."""
    [row] = store.query(
        "SELECT (SELECT indexed FROM search_mark) AS mark, (SELECT MAX(rowid) FROM tickets) AS top"
    )
    if (row["top"] or 0) > row["mark"]:
        # A store that cannot write now (a read-only file, another writer beyond the busy
        # timeout) searches what is indexed: the next batch or search adds the rest.
        with suppress(sqlite3.OperationalError), store.transaction():
            catch_up(store.db.conn)


def _cursor(after: str | None) -> tuple[bool, Cursor | None]:
    """``("~" if from the fallback) + "<score>:<rowid>:<floor>"``; anything else
    starts over."""
    text = after or ""
    loose = text.startswith("~")
    try:
        score, rowid, floor = text.lstrip("~").split(":")
        return loose, Cursor(float(score), int(rowid), int(floor))
    except ValueError:
        return loose, None


def _floor(store: Any, expression: str) -> int:
    """The rowid of the RANK_ALL-th newest match, or 0 when fewer match (index only)."""
    rows = store.query(
        "SELECT rowid FROM ticket_search WHERE ticket_search MATCH ? ORDER BY rowid DESC"
        " LIMIT 1 OFFSET ?",
        [expression, RANK_ALL - 1],
    )
    return int(rows[0]["rowid"]) if rows else 0


def _ranked(
    store: Any, expression: str, limit: int, after: Cursor | None, floor: int
) -> list[tuple[float, int]]:
    # Only (score, rowid) here: the ticket rows are read for the page alone (joining
    # tickets before the sort read every match's row), and ORDER BY … LIMIT keeps only
    # the best ``limit`` while scanning.
    score = "bm25(ticket_search, 1.0, 2.0)"
    seek, params = "", [expression, floor, limit]
    if after is not None:
        # The cursor row's score NOW (a stored score would skip or repeat rows once
        # bm25 has moved); the stored one if that row no longer matches.
        pivot = f"SELECT {score} FROM ticket_search WHERE ticket_search MATCH ? AND rowid = ?"
        then = f"coalesce(({pivot}), ?)"
        seek = f" WHERE score > {then} OR (score = {then} AND rowid < ?)"
        pin = [expression, after.rowid, after.score]
        params = [expression, floor, *pin, *pin, after.rowid, limit]
    rows = store.query(
        f"SELECT score, rowid FROM (SELECT {score} AS score, rowid FROM ticket_search"
        f" WHERE ticket_search MATCH ? AND rowid >= ?){seek} ORDER BY score, rowid DESC"
        " LIMIT ?",
        params,
    )
    return [(float(r["score"]), int(r["rowid"])) for r in rows]
