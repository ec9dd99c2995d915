"""Photo files no ticket refers to are removed once a day old (issue 10, defect 7): an
idle session's 120 uploads once stayed on disk for good."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta

from conftest import NOW, draft

from bots.upkeep import sweep_media
from config.model import Config
from tickets.model import Action, Actor, Role
from tickets.store import Store

ZHANG = Actor(Role.TECHNICIAN, "zhang", "张师傅", frozenset({"maint"}))


def test_only_old_unreferenced_photos_go(store: Store, config: Config) -> None:
    media = config.media_dir
    (media / "web").mkdir(parents=True)
    names = ("report.png", "fixed.png", "info.png", "orphan.png", "fresh.png")
    for name in names:
        (media / "web" / name).write_bytes(b"\x89PNG")
    now = datetime.now(UTC)
    day_old = (now - timedelta(days=2)).timestamp()
    for name in names[:-1]:
        os.utime(media / "web" / name, (day_old, day_old))
    ticket = store.create_ticket(draft(photos=("web/report.png",)), NOW)
    store.apply(ticket.number, Action.CLAIM, ZHANG, NOW)
    store.apply(ticket.number, Action.SIGN_IN, ZHANG, NOW)
    store.apply(
        ticket.number, Action.RESOLVE, ZHANG, NOW, note="好了", data={"photos": ["web/fixed.png"]}
    )
    store.db.execute(  # an event that carries photos of its own (extra information)
        "UPDATE events SET data = json_set(data, '$.photos', json('[\"web/info.png\"]'))"
        " WHERE number = ? AND action = 'claim'",
        [ticket.number],
    )
    assert sweep_media(config.database, media, now) == 1
    left = sorted(p.name for p in (media / "web").iterdir())
    assert left == ["fixed.png", "fresh.png", "info.png", "report.png"]
