"""The WeCom adapter's rows in the store: the job offers sent as template cards.

A card is remembered with the ``response_code`` WeCom gave for it (a press brings a
newer one): each code may update the card once, within 72 hours. ``to_close`` finds the
open cards of jobs that left ``new`` — by a press in WeCom, a claim on Telegram, an
assignment in the console — so that every receiver's card says who took it.

Callback keys go into the channel-neutral ``processed_updates`` (``Store.record_update``)
and the access token into the official account's token table, under the app's own key.
Only storage: no WeCom calls.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from tickets.store import Store

CHANNEL = "wecom"


@dataclass(frozen=True)
class Card:
    task_id: str
    number: str
    userid: str
    locale: str
    response_code: str


class WeComTables:
    def __init__(self, store: Store) -> None:
        self.store = store

    def remember_card(self, card: Card, now: datetime) -> None:
        with self.store.transaction():
            self.store.db.execute(
                "INSERT INTO wecom_cards (task_id, number, userid, locale, response_code,"
                " open, sent_at) VALUES (?, ?, ?, ?, ?, 1, ?) ON CONFLICT (task_id) DO UPDATE"
                " SET response_code = excluded.response_code, open = 1",
                [card.task_id, card.number, card.userid, card.locale, card.response_code,
                 now.isoformat()],
            )  # fmt: skip

    def pressed(self, task_id: str, userid: str, response_code: str) -> None:
        """A press brings a fresh code for the presser's own card."""
        if not response_code:
            return
        with self.store.transaction():
            self.store.db.execute(
                "UPDATE wecom_cards SET response_code = ? WHERE task_id = ? AND userid = ?",
                [response_code, task_id, userid],
            )

    def to_close(self, number: str | None = None) -> list[Card]:
        """Open cards whose job is no longer ``new`` (of ``number`` only, when given)."""
        sql = (
            "SELECT c.task_id, c.number, c.userid, c.locale, c.response_code"
            " FROM wecom_cards AS c JOIN tickets AS t ON t.number = c.number"
            " WHERE c.open = 1 AND t.state != 'new'"
        )
        params: list[str] = []
        if number is not None:
            sql += " AND c.number = ?"
            params.append(number)
        return [Card(**row) for row in self.store.query(sql + " ORDER BY c.task_id", params)]

    def has_open(self) -> bool:
        return bool(self.store.query("SELECT 1 FROM wecom_cards WHERE open = 1 LIMIT 1"))

    def closed(self, task_id: str) -> None:
        with self.store.transaction():
            self.store.db.execute("UPDATE wecom_cards SET open = 0 WHERE task_id = ?", [task_id])
