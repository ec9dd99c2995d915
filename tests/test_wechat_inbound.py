"""The pieces the official account and the WeCom app share in reading a message
(bots.channel.inbound), as a table: what each input becomes."""

from __future__ import annotations

import pytest

from bots.channel.choices import Offer
from bots.channel.inbound import NotTaken, heard, shared_location, typed
from conversation.events import Button, Location, Unsupported, parse_text
from conversation.replies import Choice

OFFER = Offer((Choice("水", "cat:water"), Choice("电", "cat:power"), Choice("电", "cat:light")))


@pytest.mark.parametrize(
    ("lat", "lon", "expected"),
    [
        ("31.2304", "121.4737", Location(31.2304, 121.4737)),
        (31.5, -0.5, Location(31.5, -0.5)),
        ("91", "0", Unsupported("location")),
        ("0", "-181", Unsupported("location")),
        ("nan", "0", Unsupported("location")),
        ("inf", "0", Unsupported("location")),
        (None, "0", Unsupported("location")),
        ("东", "0", Unsupported("location")),
        ({"x": "1"}, "0", Unsupported("location")),
    ],
)
def test_a_shared_location(lat: object, lon: object, expected: object) -> None:
    assert shared_location(lat, lon) == expected


def test_a_typed_line() -> None:
    read: list[int] = []

    def offer() -> Offer:
        read.append(1)
        return OFFER

    assert typed("/report", offer, "wechat") == parse_text("/report")
    assert not read  # a command needs no offer
    assert typed(" 1 ", offer, "wechat") == Button("cat:water")
    assert typed("水", offer, "wechat") == Button("cat:water")
    assert typed("电", offer, "wecom") == NotTaken("wecom.ambiguous", {"label": "电"})
    assert typed("9", offer, "wechat") == parse_text("9")
    assert typed("卫生间漏水", offer, "wechat") == parse_text("卫生间漏水")


def test_a_voice_message() -> None:
    def type_in(words: str) -> NotTaken:
        return NotTaken("typed", {"words": words})

    assert heard(" 报修 ", type_in, "wechat") == NotTaken("typed", {"words": "报修"})
    assert heard("", type_in, "wechat") == NotTaken("wechat.voice_hint")
    assert heard(None, type_in, "wecom") == NotTaken("wecom.voice_hint")
    assert NotTaken("wecom.voice_hint").text("en") != "wecom.voice_hint"  # in the catalog
