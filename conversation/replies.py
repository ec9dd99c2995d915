"""Outbound replies: what to show a person, already in their language.

Adapters render these with the platform's native controls: choices as buttons (or
numbered lines on the terminal), contact/location requests as the platform's request
buttons where it has them.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Choice:
    label: str
    data: str


@dataclass(frozen=True)
class Say:
    text: str


@dataclass(frozen=True)
class Ask:
    """A question with choice buttons. ``inline`` buttons belong to this message
    (confirm, rate, claim); otherwise they are a reply keyboard (categories, areas)."""

    text: str
    choices: tuple[Choice, ...]
    inline: bool = False


@dataclass(frozen=True)
class RequestContact:
    text: str
    button: str


@dataclass(frozen=True)
class RequestLocation:
    text: str
    button: str


@dataclass(frozen=True)
class RemoveKeyboard:
    text: str


@dataclass(frozen=True)
class ShowPhotos:
    """Photos (refs under the media folder) with an optional caption."""

    refs: tuple[str, ...]
    caption: str = ""


Reply = Say | Ask | RequestContact | RequestLocation | RemoveKeyboard | ShowPhotos


def text_of(reply: Reply) -> str:
    """The visible text of a reply, for logs and tests."""
    return reply.caption if isinstance(reply, ShowPhotos) else reply.text
