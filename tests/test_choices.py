"""Choices as numbered text (bots.channel.choices): laid out, picked by a typed number or
label, and kept per chat in the store so another process or request reads them back."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from conftest import make_config

from bots.channel.choices import Offer, OfferTable, lay_out, merge, pick
from conversation.events import Button
from conversation.replies import Ask, Choice, RequestLocation, Say
from tickets.store import Store

OFFER = Offer((Choice("水", "i:cat:water"), Choice("网络", "i:cat:net"), Choice("水", "x")))
TWO = Offer((Choice("水", "i:cat:water"), Choice("网络", "i:cat:net")))


def t(key: str, **params: object) -> str:
    return f"{key}:{params.get('number', '')}:{params.get('label', '')}"


def ambiguous(label: str) -> str:
    return f"ambiguous {label}"


@pytest.mark.parametrize(
    ("typed", "offer", "meant"),
    [
        ("1", TWO, Button("i:cat:water")),
        (" 2 ", TWO, Button("i:cat:net")),
        ("02", TWO, Button("i:cat:net")),
        ("3", TWO, None),  # out of range: text
        ("0", TWO, None),
        ("网络", TWO, Button("i:cat:net")),
        ("水", OFFER, "ambiguous 水"),
        ("²", TWO, None),  # str.isdigit() says yes, int() says no: text, never a crash
        ("①", TWO, None),
        ("１", TWO, None),  # a full-width digit is text too
        ("9" * 5000, TWO, None),  # past Python's int digit limit: text, never a crash
        ("-1", TWO, None),
        ("1", Offer(), None),
        ("", TWO, None),
    ],
)
def test_a_typed_line_picks(typed: str, offer: Offer, meant: object) -> None:
    assert pick(typed, offer, ambiguous) == meant


def test_lay_out_numbers_choices_across_questions() -> None:
    lines, offer = lay_out(
        [Say("hi"), Ask("a", (Choice("x", "1"),)), Ask("b", (Choice("y", "2"),))], t
    )
    assert lines == ["hi", "a", "choice:1:x", "b", "choice:2:y", "pick::"]
    assert offer == Offer((Choice("x", "1"), Choice("y", "2")))


def test_lay_out_of_a_location_request() -> None:
    lines, offer = lay_out([RequestLocation("where?", "send")], t)
    assert lines == ["where?", "location::"]
    assert offer == Offer((), wants_location=True)


@pytest.mark.parametrize(
    ("before", "shown", "notice", "after"),
    [
        (TWO, Offer(), False, Offer()),  # a dialogue answer takes old choices away
        (TWO, Offer(), True, TWO),  # a notice without choices keeps them
        (Offer((), True), OFFER, True, Offer(OFFER.choices, True)),  # its own replace them
        (Offer((), True), OFFER, False, OFFER),
    ],
)
def test_merge(before: Offer, shown: Offer, notice: bool, after: Offer) -> None:
    assert merge(before, shown, notice=notice) == after


@pytest.mark.parametrize(
    "raw", [None, "", "nonsense", "[]", '{"choices": 5}', '{"choices": [[1]]}']
)
def test_an_unreadable_saved_offer_is_no_offer(raw: str | None) -> None:
    assert Offer.from_json(raw) == Offer()


def test_offers_live_in_the_store_per_channel_and_chat(tmp_path: Path) -> None:
    config = make_config(tmp_path)
    now = datetime.now(UTC)
    with Store(config.database, config) as store:
        OfferTable(store, "wechat").show("o1", TWO, now, notice=False)
        OfferTable(store, "wechat").show("o1", Offer(), now, notice=True)
    with Store(config.database, config) as store:  # another process, another request
        assert OfferTable(store, "wechat").get("o1") == TWO
        assert OfferTable(store, "wechat").get("o2") == Offer()
        assert OfferTable(store, "terminal").get("o1") == Offer()
