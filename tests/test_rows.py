"""Stored ticket rows decode into the very Tickets that were written: the list pages'
tuple decoder (``tickets_from_rows``, which skips the frozen dataclass's __init__ for
speed, issue 11) gives records equal, hashable and replaceable like constructed ones."""

from __future__ import annotations

import sqlite3
from dataclasses import fields, replace
from pathlib import Path

from conftest import NOW, make_config, make_ticket

from tickets.model import Priority, State, Ticket
from tickets.rows import ticket_from_row, ticket_row, tickets_from_rows
from tickets.store import Store


def test_tuples_decode_to_tickets_equal_to_the_written_ones(tmp_path: Path) -> None:
    written = [
        make_ticket(),
        make_ticket(
            number="BX20261123-0002",
            state=State.PAUSED,
            paused_from=State.ON_SITE,
            priority=Priority.URGENT,
            holder="zhang",
            photos=("a.jpg", "b.jpg"),
            latitude=-31.5,
            claim_due=NOW,
            rating=4,
        ),
    ]
    config = make_config(tmp_path)
    with Store(config.database, config) as store:
        with store.transaction():
            for ticket in written:
                row = ticket_row(ticket)
                store.db.execute(
                    f"INSERT INTO tickets ({', '.join(row)}) VALUES ({', '.join('?' * len(row))})",
                    list(row.values()),
                )
        conn: sqlite3.Connection = store.db.conn
        cursor = conn.execute("SELECT * FROM tickets ORDER BY number")
        found = cursor.fetchall()
        names = [d[0] for d in cursor.description]
        decoded = tickets_from_rows(names, found)
        assert decoded == written
        assert [ticket_from_row(dict(zip(names, r, strict=True))) for r in found] == written
        assert {hash(t) for t in decoded} == {hash(t) for t in written}
        assert all(isinstance(t, Ticket) for t in decoded)
        for got, want in zip(decoded, written, strict=True):
            assert [getattr(got, f.name) for f in fields(Ticket)] == [
                getattr(want, f.name) for f in fields(Ticket)
            ]
        assert replace(decoded[1], rating=5) == replace(written[1], rating=5)
        assert decoded[1].is_open and decoded[1].photos == ("a.jpg", "b.jpg")
        # Another column order (a console query's SELECT list) decodes the same.
        cursor = conn.execute(f"SELECT {', '.join(reversed(names))} FROM tickets ORDER BY number")
        assert tickets_from_rows([d[0] for d in cursor.description], cursor.fetchall()) == written
