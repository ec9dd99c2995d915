"""Choices as numbered text: for channels without buttons (the terminal, WeChat).

``lay_out`` turns replies into lines of text — an ``Ask``'s choices become numbered
lines — and says what they offered (an ``Offer``: the choices, and whether a location
was asked for). ``pick`` reads a typed line back against an offer: a number (plain
ASCII digits of sane length, ``conversation.events.typed_number``) or an exact label
picks a choice. ``OfferTable`` keeps each chat's last offer in the store (table
``offered_choices``), so a typed number still answers after a restart of ``baoxiu chat``
or in another request (each WeChat callback is a fresh one).

A dialogue's replies replace the whole offer; a notice replaces it only if it brings its
own choices, so an "assigned" notice arriving mid-report does not take away the
categories being chosen from (``merge``).

Only text and storage: no platform calls, no dialogue decisions.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from conversation.events import Button, typed_number
from conversation.replies import (
    Ask,
    Choice,
    RemoveKeyboard,
    Reply,
    RequestContact,
    RequestLocation,
    Say,
    ShowPhotos,
)
from tickets.store import Store

Translate = Callable[..., str]
"""``t(key, **params)`` of the channel's catalog section (keys: choice, pick, contact,
location, photo)."""


@dataclass(frozen=True)
class Offer:
    """What the last replies shown in a chat offered to a typed answer."""

    choices: tuple[Choice, ...] = ()
    wants_location: bool = False

    def to_json(self) -> str:
        pairs = [[c.label, c.data] for c in self.choices]
        return json.dumps({"choices": pairs, "location": self.wants_location}, ensure_ascii=False)

    @staticmethod
    def from_json(raw: str | None) -> Offer:
        """The saved offer; an unreadable one is no offer (typed text stays text)."""
        try:
            data = json.loads(raw or "{}")
            choices = tuple(Choice(str(label), str(value)) for label, value in data["choices"])
            return Offer(choices, bool(data.get("location", False)))
        except (ValueError, TypeError, KeyError, AttributeError):
            return Offer()


def lay_out(
    replies: Sequence[Reply], t: Translate, photo: Callable[[str], str] | None = None
) -> tuple[list[str], Offer]:
    """The replies as lines, and what they offer. ``photo(ref)`` is the line of one
    shown photo (the terminal prints its path); without it photos get no line."""
    lines: list[str] = []
    offered: list[Choice] = []
    wants_location = False
    for reply in replies:
        if isinstance(reply, Ask):
            lines.append(reply.text)
            for choice in reply.choices:
                offered.append(choice)
                lines.append(t("choice", number=len(offered), label=choice.label))
        elif isinstance(reply, RequestContact):
            lines += [reply.text, t("contact")]
        elif isinstance(reply, RequestLocation):
            wants_location = True
            lines += [reply.text, t("location")]
        elif isinstance(reply, ShowPhotos):
            if reply.caption:
                lines.append(reply.caption)
            if photo is not None:
                lines += [photo(ref) for ref in reply.refs]
        elif isinstance(reply, Say | RemoveKeyboard):
            lines.append(reply.text)
    if offered:
        lines.append(t("pick"))
    return lines, Offer(tuple(offered), wants_location)


def merge(before: Offer, shown: Offer, *, notice: bool) -> Offer:
    """The offer standing after ``shown`` (see the module docstring)."""
    if not notice:
        return shown
    if shown.choices:
        return Offer(shown.choices, before.wants_location)
    return before


Picked = Button | str | None


def pick(typed: str, offer: Offer, ambiguous: Callable[[str], str]) -> Picked:
    """The choice a typed line picks (a ``Button``); ``ambiguous(label)``'s text when
    several choices carry that label; ``None`` when the line picks nothing."""
    typed = typed.strip()
    number = typed_number(typed)
    if number is not None and 1 <= number <= len(offer.choices):
        return Button(offer.choices[number - 1].data)
    picked = {c.data for c in offer.choices if c.label.strip() == typed}
    if len(picked) == 1:
        return Button(picked.pop())
    if picked:
        return ambiguous(typed)
    return None


class OfferTable:
    """Each chat's standing offer, in the store (table ``offered_choices``). Writes nest
    in the caller's transaction, so an offer commits with the step that showed it."""

    def __init__(self, store: Store, channel: str) -> None:
        self.store = store
        self.channel = channel

    def get(self, chat: str) -> Offer:
        with self.store.reader() as conn:  # no sqlite-utils SAVEPOINT around the read
            row = conn.execute(
                "SELECT offer FROM offered_choices WHERE channel = ? AND chat = ?",
                [self.channel, chat],
            ).fetchone()
        return Offer.from_json(row[0] if row else None)

    def put(self, chat: str, offer: Offer, now: datetime) -> None:
        sql = (
            "INSERT INTO offered_choices (channel, chat, offer, updated_at)"
            " VALUES (?, ?, ?, ?) ON CONFLICT (channel, chat)"
            " DO UPDATE SET offer = excluded.offer, updated_at = excluded.updated_at"
        )
        self.store.write_one(sql, [self.channel, chat, offer.to_json(), now.isoformat()])

    def show(self, chat: str, shown: Offer, now: datetime, *, notice: bool) -> Offer:
        """Record what was just shown in ``chat``; return the offer now standing."""
        with self.store.transaction():
            standing = merge(self.get(chat), shown, notice=notice)
            self.put(chat, standing, now)
        return standing
