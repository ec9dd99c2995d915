"""The WeChat adapter's rows in the store: callback keys and answers, the access token,
followers' subscription.

A callback's key goes into the channel-neutral ``processed_updates`` (unique per
channel, ``Store.record_update``) in the transaction of its step, and its answer into
``wechat_answers``, so a retry answers the same and never makes a second step.

Only storage: no WeChat calls.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta
from typing import Any

from tickets.store import Store

CHANNEL = "wechat"


def callback_key(fields: dict[str, Any]) -> str:
    """``msg:<MsgId>`` for a message; an event has no MsgId, and FromUserName +
    CreateTime collide when one person sends two events in a second, so an event is keyed
    on all its fields."""
    msg_id = str(fields.get("MsgId") or "")
    if msg_id:
        return f"msg:{msg_id}"
    whole = json.dumps(fields, sort_keys=True, ensure_ascii=False, default=str)
    return "event:" + hashlib.sha256(whole.encode()).hexdigest()


class WeChatTables:
    def __init__(self, store: Store) -> None:
        self.store = store

    def _one(self, sql: str, params: list[Any]) -> Any:
        """The first row of a read (no sqlite-utils SAVEPOINT around it)."""
        with self.store.reader() as conn:
            return conn.execute(sql, params).fetchone()

    def answer_of(self, key: str) -> str | None:
        row = self._one("SELECT answer FROM wechat_answers WHERE key = ?", [key])
        return None if row is None else str(row[0])

    def take(self, key: str) -> bool:
        """Record the callback; False if seen before. Call inside the step's transaction
        (one statement: no savepoint of its own)."""
        cursor = self.store.db.conn.execute(
            "INSERT INTO processed_updates (channel, update_id) VALUES (?, ?)"
            " ON CONFLICT (channel, update_id) DO NOTHING",
            [CHANNEL, key],
        )
        return cursor.rowcount == 1

    def answered(self, key: str, answer: str, now: datetime | None = None) -> None:
        """Keep the answer beside the key. Call inside the step's transaction."""
        self.store.db.conn.execute(
            "INSERT INTO wechat_answers (key, answer, answered_at) VALUES (?, ?, ?)"
            " ON CONFLICT (key) DO UPDATE SET answer = excluded.answer",
            [key, answer, (now or datetime.now(UTC)).isoformat()],
        )

    # -- pictures -------------------------------------------------------------------------
    def photos_since(self, chat: str, since: datetime) -> int:
        row = self._one(
            "SELECT count(*) FROM wechat_photos WHERE chat = ? AND taken_at >= ?",
            [chat, since.isoformat()],
        )
        return int(row[0])

    def took_photo(self, chat: str, now: datetime) -> None:
        with self.store.transaction():
            self.store.db.execute(
                "DELETE FROM wechat_photos WHERE taken_at < ?",
                [(now - timedelta(days=1)).isoformat()],
            )
            self.store.db.execute(
                "INSERT INTO wechat_photos (chat, taken_at) VALUES (?, ?)", [chat, now.isoformat()]
            )

    # -- access token ---------------------------------------------------------------------
    def token(self, app_id: str) -> tuple[str, float] | None:
        row = self._one("SELECT token, expires_at FROM wechat_tokens WHERE app_id = ?", [app_id])
        return None if row is None else (str(row[0]), float(row[1]))

    def save_token(self, app_id: str, token: str, expires_at: float) -> None:
        with self.store.transaction():
            self.store.db.execute(
                "INSERT INTO wechat_tokens (app_id, token, expires_at) VALUES (?, ?, ?)"
                " ON CONFLICT (app_id) DO UPDATE SET token = excluded.token,"
                " expires_at = excluded.expires_at",
                [app_id, token, expires_at],
            )

    def drop_token(self, app_id: str, token: str) -> None:
        """Forget ``token`` if it is still the stored one (another process may have a
        newer one already: that one stays)."""
        with self.store.transaction():
            self.store.db.execute(
                "DELETE FROM wechat_tokens WHERE app_id = ? AND token = ?", [app_id, token]
            )

    # -- followers --------------------------------------------------------------------
    def set_subscribed(self, open_id: str, subscribed: bool) -> None:
        self.store.write_one(
            "INSERT INTO wechat_users (open_id, subscribed, updated_at) VALUES (?, ?, ?)"
            " ON CONFLICT (open_id) DO UPDATE SET subscribed = excluded.subscribed,"
            " updated_at = excluded.updated_at",
            [open_id, int(subscribed), _now()],
        )

    def subscribed(self, open_id: str) -> bool:
        row = self._one("SELECT subscribed FROM wechat_users WHERE open_id = ?", [open_id])
        return row is None or bool(row[0])


def _now() -> str:
    return datetime.now(UTC).isoformat()
