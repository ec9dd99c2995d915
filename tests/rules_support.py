"""Helpers for the tests of the repeat, incident, outage and dispatcher-command rules: a
real store and engine on the conftest configuration, a report confirmed from its summary,
bound technician and dispatcher chats, and the outbox read back and rendered."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Any

from conftest import NOW

from bots.engine import Engine
from config.model import Config
from conversation.events import Button, InEvent, parse_text
from conversation.replies import Ask, Reply, text_of
from conversation.state import DialogueState
from notify.render import render_notice
from tickets.rows import ChatRecord, OutboxRow
from tickets.store import Store

REPORT = {
    "category": "water.leak",
    "area": "east",
    "building": "b1",
    "spot": "302",
    "phone": "+8613812345678",
    "description": "卫生间水管漏水",
    "photos_done": True,
    "time": "",
}


def shown(replies: list[Reply] | tuple[Reply, ...]) -> str:
    """Every visible text of the replies, buttons included, one per line."""
    out: list[str] = []
    for reply in replies:
        out.append(text_of(reply))
        if isinstance(reply, Ask):
            out.extend(c.label for c in reply.choices)
    return "\n".join(out)


def bind(store: Store, channel: str, chat: str, role: str, person: str, locale: str) -> None:
    store.save_chat(ChatRecord(channel, chat, locale=locale, role=role, person=person), NOW)


def set_locale(store: Store, channel: str, chat: str, locale: str) -> None:
    record = store.chat(channel, chat)
    store.save_chat(replace(record, locale=locale), NOW)


def report(
    engine: Engine,
    chat: str,
    now: datetime = NOW,
    *,
    channel: str = "web",
    **data: Any,
) -> str:
    """A resident's report confirmed from its summary; the text of the answer."""
    state = DialogueState("intake", "summary", {**REPORT, **data})
    record = engine.store.chat(channel, chat)
    engine.store.save_chat(replace(record, dialogue=state.to_json()), now)
    return shown(engine.handle(channel, chat, Button("i:confirm"), now))


def say(engine: Engine, channel: str, chat: str, said: InEvent | str, now: datetime = NOW) -> str:
    event = parse_text(said) if isinstance(said, str) else said
    return shown(engine.handle(channel, chat, event, now))


def rows(store: Store, kind: str | None = None, chat: str | None = None) -> list[OutboxRow]:
    """Outbox rows, oldest first, of one kind and/or one chat."""
    where, params = ["1"], []
    for column, value in (("kind", kind), ("chat", chat)):
        if value is not None:
            where.append(f"{column} = ?")
            params.append(value)
    ids = store.query(f"SELECT id FROM outbox WHERE {' AND '.join(where)} ORDER BY id", params)
    return [row for i in ids if (row := store.outbox_row(i["id"])) is not None]


def rendered(row: OutboxRow, config: Config) -> str:
    return shown(render_notice(row, config))
