"""``/readyz``: whether this process can do its work, for a load balancer or a monitor.

Ready when the database takes a write lock and every configured channel is running;
the answer also carries the outbox backlog (pending notices, age of the oldest) so a
monitor can alert on notices piling up. It holds no personal data: counts and ages only.
``/healthz`` (in ``bots.app``) only says the process is alive.
"""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from bots.keys import CONFIG, STORE
from bots.telegram import TELEGRAM
from bots.telegram.settings import TelegramSettings
from tickets.rows import aware


def setup(app: web.Application) -> None:
    app.router.add_get("/readyz", readyz)


async def readyz(request: web.Request) -> web.StreamResponse:
    app, now = request.app, datetime.now(UTC)
    store = app[STORE]
    checks: dict[str, Any] = {}
    try:
        with store.transaction():  # BEGIN IMMEDIATE: the write lock is obtainable
            [row] = store.query(
                "SELECT COUNT(*) AS n, MIN(next_at) AS oldest FROM outbox WHERE status = 'pending'"
            )
        checks["database"] = "ok"
        oldest = row["oldest"]
        age = (now - aware(datetime.fromisoformat(oldest))).total_seconds() if oldest else 0.0
        checks["outbox"] = {"pending": int(row["n"]), "oldest_pending_seconds": max(0, int(age))}
    except sqlite3.Error:
        checks["database"] = "error"
    channels: dict[str, str] = {"web": "ok" if app[CONFIG].web.enabled else "off"}
    if TelegramSettings.configured(app[CONFIG]):
        telegram = app.get(TELEGRAM)
        running = telegram is not None and telegram.application.running
        channels["telegram"] = "ok" if running else "down"
    checks["channels"] = channels
    ready = checks["database"] == "ok" and "down" not in channels.values()
    return web.json_response(
        {"ready": ready, **checks},
        status=200 if ready else 503,
        headers={"Cache-Control": "no-store"},
    )
