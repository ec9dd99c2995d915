"""Personal data of reporters (PIPL): masking phone numbers in logs, erasing a reporter's
phone, location and photos from final tickets, and exporting one person's tickets.

Erasing keeps the ticket, its category, area, building, times and rating (the figures),
and appends an ``erase`` event in the same transaction. Photo files are returned to the
caller to delete after the commit (a crash in between leaves files no ticket refers to,
which the media sweep removes). Pure of the network; times come in as arguments.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Sequence
from dataclasses import asdict
from datetime import datetime, timedelta
from typing import Any

from tickets.model import FINAL_STATES, Action, Event, Role
from tickets.rows import event_row, iso
from tickets.store import Store

ACTOR = "privacy"
# A mainland mobile (optionally +86, with spaces or dashes) or any E.164 number, not
# inside a longer word or number (ticket numbers like BX20261123-0007 stay readable).
PHONE = re.compile(
    r"(?<![\w+\-])(?:(?:\+|00)?86[ -]?)?1[3-9]\d(?:[ -]?\d{4}){2}(?!\d)"
    r"|(?<![\w+])\+\d{8,15}(?!\d)"
)
_FINAL = tuple(sorted(s.value for s in FINAL_STATES))
_HOLDS_DATA = (
    "(phone != '' OR latitude IS NOT NULL OR spot != '' "
    "OR photos != '[]' OR resolution_photos != '[]')"
)


def mask(text: str) -> str:
    """``text`` with every phone number shown as its first 3 and last 2 digits."""
    return PHONE.sub(_masked, text)


def _masked(match: re.Match[str]) -> str:
    digits = re.sub(r"\D", "", match.group())
    return f"{digits[:3]}******{digits[-2:]}"


def install_log_mask() -> None:
    """Mask phone numbers in every log record from now on (whatever handler prints it).
    A record factory rather than a handler filter, so records of handlers added later
    (``logging.basicConfig`` in ``serve``) are masked too. Installing twice is harmless."""
    previous = logging.getLogRecordFactory()
    if getattr(previous, "baoxiu_masks", False):
        return

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        try:
            message = record.getMessage()
        except (TypeError, ValueError):
            return record  # a broken format string is reported by logging itself
        masked = mask(message)
        if masked != message:
            record.msg, record.args = masked, None
        return record

    factory.baoxiu_masks = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(factory)


def expired(store: Store, now: datetime, keep_days: int) -> list[str]:
    """Final tickets closed more than ``keep_days`` ago that still hold personal data."""
    cutoff = iso(now - timedelta(days=keep_days))
    marks = ", ".join("?" for _ in _FINAL)
    rows = store.query(
        f"SELECT number FROM tickets WHERE state IN ({marks}) "
        f"AND COALESCE(closed_at, updated_at) < ? AND {_HOLDS_DATA} ORDER BY number",
        [*_FINAL, cutoff],
    )
    return [row["number"] for row in rows]


def numbers_of(store: Store, phone: str) -> list[str]:
    """The tickets reported with this E.164 phone."""
    rows = store.query("SELECT number FROM tickets WHERE phone = ? ORDER BY number", [phone])
    return [row["number"] for row in rows]


def erase(store: Store, numbers: Sequence[str], now: datetime, reason: str) -> list[str]:
    """Erase the reporter's data of ``numbers`` in one transaction; returns the photo
    references to delete once it has committed. ``reason``: ``keep_days`` or ``request``."""
    refs: list[str] = []
    with store.transaction():
        for number in numbers:
            ticket = store.ticket(number)
            if ticket is None:
                continue
            photos = [*ticket.photos, *ticket.resolution_photos]
            refs.extend(photos)
            phone = ticket.phone
            store.db.execute(
                "UPDATE tickets SET phone = '', latitude = NULL, longitude = NULL, spot = '', "
                "photos = '[]', resolution_photos = '[]' WHERE number = ?",
                [number],
            )
            if phone:
                store.db.execute("UPDATE chats SET last_phone = NULL WHERE last_phone = ?", [phone])
            event = Event(
                number,
                now,
                Role.SYSTEM,
                ACTOR,
                Action.ERASE,
                ticket.state,
                ticket.state,
                data={"reason": reason, "photos": len(photos)},
            )
            store._insert("events", event_row(event))  # no notices: nobody to tell
    return refs


def export(store: Store, phone: str) -> dict[str, Any]:
    """Everything baoxiu holds about the reporter with this phone, as JSON-ready data."""
    tickets = []
    for number in numbers_of(store, phone):
        ticket = store.get(number)
        tickets.append(
            {
                **json.loads(json.dumps(asdict(ticket), default=str, ensure_ascii=False)),
                "timeline": [
                    json.loads(json.dumps(asdict(e), default=str, ensure_ascii=False))
                    for e in store.timeline(number)
                ],
            }
        )
    return {"phone": phone, "tickets": tickets}
