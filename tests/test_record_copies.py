"""The store's fast record copies (issue 11: a new ticket and each change copy a Ticket or
an Event a few times, and ``dataclasses.replace`` / the frozen ``__init__`` were a tenth
of the Python time of a new ticket): ``copy_with`` and ``new_ticket`` give records equal,
hashable and replaceable like those ``replace`` and ``Ticket(...)`` give, and refuse
what those refuse; times are written in the same fixed-width text as before."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone

import pytest
from conftest import NOW, make_ticket

from tickets.model import Action, Event, Mode, Priority, Role, State, Ticket
from tickets.rows import copy_with, iso, new_ticket, to_json


def test_copy_with_is_replace() -> None:
    ticket = make_ticket(holder="zhang", photos=("a.jpg",))
    copied = copy_with(ticket, state=State.ASSIGNED, version=2)
    assert copied == replace(ticket, state=State.ASSIGNED, version=2)
    assert hash(copied) == hash(replace(ticket, state=State.ASSIGNED, version=2))
    assert ticket.state is State.NEW and ticket.version == 1  # the original is untouched
    assert replace(copied, version=3).version == 3
    with pytest.raises(AttributeError):
        copied.version = 4  # type: ignore[misc]  # still frozen
    event = Event(ticket.number, NOW, Role.SYSTEM, "system", Action.ACCEPT, None, State.NEW)
    assert copy_with(event, id=7) == replace(event, id=7)


def test_copy_with_refuses_what_is_not_a_field() -> None:
    with pytest.raises(TypeError):
        copy_with(make_ticket(), hodler="zhang")


def test_new_ticket_is_the_constructed_one() -> None:
    values = {
        "number": "BX20261123-0001",
        "state": State.NEW,
        "category": "water.leak",
        "team": "plumbing",
        "priority": Priority.HIGH,
        "mode": Mode.CLAIM,
        "phone": "+8613800000000",
        "description": "漏水",
        "reporter_channel": "web",
        "reporter_chat": "alice",
        "reporter_locale": "zh_CN",
        "created_at": NOW,
        "updated_at": NOW,
        "claim_due": NOW + timedelta(minutes=30),
    }
    made = new_ticket(values)
    assert made == Ticket(**values)
    assert hash(made) == hash(Ticket(**values))
    assert replace(made, holder="zhang").holder == "zhang"
    with pytest.raises(TypeError):
        new_ticket({k: v for k, v in values.items() if k != "phone"})  # a field missing
    with pytest.raises(TypeError):
        new_ticket({**values, "colour": "red"})  # not a field


def test_times_and_json_are_written_as_before() -> None:
    for moment in (
        NOW,
        datetime(2026, 11, 23, 8, 0, 0, 5, tzinfo=UTC),
        datetime(2026, 11, 23, 16, 30, tzinfo=timezone(timedelta(hours=8))),
    ):
        text = moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f+00:00")
        assert iso(moment) == text
    value = {"b": "漏水", "a": [1, None, {"d": 2.5, "c": True}]}
    assert to_json(value) == '{"a": [1, null, {"c": true, "d": 2.5}], "b": "漏水"}'
    with pytest.raises(ValueError):
        iso(datetime(2026, 11, 23))  # naive: refused
