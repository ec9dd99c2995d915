"""Choices as a customer-service menu (``msgtype: msgmenu``): items a follower taps.

WeChat has no buttons under a message, but a customer-service message of type
``msgmenu`` shows a head line, a list of tappable items and a tail line. A tap comes back
as an ordinary text message whose ``Content`` is the item's text and whose
``bizmsgmenuid`` is the item's id. So a short choice list (at most ``MAX_ITEMS``) is sent
as such a menu after the reply — the numbered lines stay in the reply itself, so a typed
number always works, and a follower whose menu did not arrive loses nothing.

An item's id is its number in the offer it was made from; a tap is taken only if that
number still carries the same label in the chat's standing offer, so a tap on an old
menu never picks whatever now has its number (it is read as the typed label instead,
which picks the choice if one has that label now).

Only building the message and reading a tap back: sending is the caller's.
"""

from __future__ import annotations

from typing import Any

from bots.channel.choices import Offer
from conversation.events import Button

MAX_ITEMS = 6
"""A longer list is numbered text only: a long menu is harder to read than numbers."""


def menu_body(chat: str, offer: Offer, head: str, tail: str) -> dict[str, Any] | None:
    """The customer-service message of ``offer``'s choices; None when not short."""
    if not 1 <= len(offer.choices) <= MAX_ITEMS:
        return None
    items = [{"id": str(n), "content": c.label} for n, c in enumerate(offer.choices, 1)]
    menu = {"head_content": head, "list": items, "tail_content": tail}
    return {"touser": chat, "msgtype": "msgmenu", "msgmenu": menu}


def tapped(menu_id: str, content: str, offer: Offer) -> Button | None:
    """The choice a tap on item ``menu_id`` (showing ``content``) picks in ``offer``."""
    if not (menu_id.isascii() and menu_id.isdigit() and len(menu_id) <= 3):
        return None
    number = int(menu_id)
    if not 1 <= number <= len(offer.choices):
        return None
    choice = offer.choices[number - 1]
    return Button(choice.data) if choice.label.strip() == content.strip() else None
