"""What the chat adapters without buttons share in turning a message into an event.

- ``NotTaken``: an input the adapter answers itself (a catalog key and its params) — a
  picture not wanted now, one over a cap, a voice message not understood.
- ``typed``: a typed line against the chat's standing offer (``bots.channel.choices``):
  a ``/command``, a choice picked by number or label, else plain text.
- ``shared_location``: coordinates as a platform sends them (text, in WeChat's XML) —
  a ``Location``, or ``Unsupported`` when they are not a place on earth.
- ``heard``: a voice message's recognised text, typed; a hint when there is none.

The official account and the WeCom app use these (WeChat's media download and its
errors are ``bots.wechat.media``'s).

Only translation: no platform calls, no dialogue decisions, and the store only through
the offer it is handed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from bots.channel.choices import Offer, pick
from conversation.events import InEvent, Location, Unsupported, parse_text
from conversation.i18n import translate


@dataclass(frozen=True)
class NotTaken:
    """An input answered by the adapter itself (catalog key + params)."""

    key: str
    params: dict[str, Any] = field(default_factory=dict)

    def text(self, locale: str) -> str:
        return translate(locale, self.key, **self.params)


def typed(text: str, offer: Callable[[], Offer], section: str) -> InEvent | NotTaken:
    """A typed line: a command, a choice of the standing ``offer()`` (read only when the
    line is no command), else text. Several choices with the typed label:
    ``<section>.ambiguous``."""
    if text.strip().startswith("/"):
        return parse_text(text)
    picked = pick(text, offer(), lambda label: label)
    if isinstance(picked, str):
        return NotTaken(f"{section}.ambiguous", {"label": picked})
    return picked if picked is not None else parse_text(text)


def shared_location(lat: object, lon: object) -> Location | Unsupported:
    """A shared place from its latitude and longitude as sent (text or numbers)."""
    try:
        latitude, longitude = float(str(lat)), float(str(lon))
    except (TypeError, ValueError):
        return Unsupported("location")
    if not (-90 <= latitude <= 90 and -180 <= longitude <= 180):
        return Unsupported("location")  # nan is no place either: every comparison fails
    return Location(latitude, longitude)


def heard(
    recognition: object, type_in: Callable[[str], InEvent | NotTaken], section: str
) -> InEvent | NotTaken:
    """A voice message: its recognised text as if typed (``type_in``), else the hint
    ``<section>.voice_hint`` (recognition off, or nothing understood)."""
    words = str(recognition or "").strip()
    return type_in(words) if words else NotTaken(f"{section}.voice_hint")
