"""Dialogue replies kept in the outbox: a reply that could not be sent right away (the
platform answered 502, timed out) becomes a lane-0 outbox row of kind ``dialogue.reply``
and is retried like a notice — bounded, in order before later messages to that chat.

Only the encoding of ``conversation.replies`` to JSON params and back; when to keep a
reply is the adapter's decision, delivering it the worker's.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

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
from tickets.outbox import REPLY_KIND

__all__ = ["REPLY_KIND", "decode", "encode"]

_TYPES: dict[str, type[Any]] = {
    "say": Say,
    "ask": Ask,
    "contact": RequestContact,
    "location": RequestLocation,
    "remove": RemoveKeyboard,
    "photos": ShowPhotos,
}
_NAMES = {kind: name for name, kind in _TYPES.items()}


def encode(replies: Sequence[Reply]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for reply in replies:
        item: dict[str, Any] = {"type": _NAMES[type(reply)], **vars(reply)}
        if isinstance(reply, Ask):
            item["choices"] = [[c.label, c.data] for c in reply.choices]
        if isinstance(reply, ShowPhotos):
            item["refs"] = list(reply.refs)
        out.append(item)
    return out


def decode(items: Sequence[dict[str, Any]]) -> tuple[Reply, ...]:
    replies: list[Reply] = []
    for item in items:
        fields = {k: v for k, v in item.items() if k != "type"}
        kind = _TYPES[item["type"]]
        if kind is Ask:
            fields["choices"] = tuple(Choice(label, data) for label, data in fields["choices"])
        if kind is ShowPhotos:
            fields["refs"] = tuple(fields["refs"])
        replies.append(kind(**fields))
    return tuple(replies)
