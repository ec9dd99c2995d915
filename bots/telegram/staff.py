"""How a technician finds the way to bind a Telegram account (issue 12, item 10).

Binding itself is the dialogues' (``conversation.common.bind``: a verified own contact
whose phone is on the staff list); this module only makes the way there visible in
Telegram's terms:

- the private /start greeting of someone not bound carries an "I'm staff — bind"
  button (``tg:bind``); it, and the deep link ``https://t.me/<bot>?start=bind``, answer
  with Telegram's share-my-contact keyboard button;
- a contact that is not the sender's own (``contact.user_id != from.id``), shared when
  no dialogue asks for a phone, is refused with the reason and the button again;
- a job button pressed in a team group by someone not bound as a technician gets a
  short toast and the deep link to the private chat (a group is no place to share a
  phone number).

Only presentation: no store writes, no ticket rules.
"""

from __future__ import annotations

from collections.abc import Sequence

from config.model import Config
from conversation.events import Command, InEvent
from conversation.i18n import translate
from conversation.replies import Ask, Choice, Reply, RequestContact, Say
from tickets.model import Role
from tickets.store import ChatRecord

BIND_BUTTON = "tg:bind"
"""Callback data of the "I'm staff — bind" button (no flow owns the ``tg`` prefix)."""
BIND_START = "bind"
"""The /start payload of the deep link that opens the private chat to bind."""


def is_bind_request(event: InEvent) -> bool:
    return isinstance(event, Command) and event.name == "start" and event.arg == BIND_START


def deep_link(username: str | None) -> str:
    return f"https://t.me/{username}?start={BIND_START}" if username else ""


def staff_role(record: ChatRecord, config: Config) -> Role | None:
    """The staff role the chat is bound to, if that person is still configured."""
    if record.role == Role.TECHNICIAN.value and record.person:
        return Role.TECHNICIAN if config.technician(record.person) else None
    if record.role == Role.DISPATCHER.value and record.person:
        return Role.DISPATCHER if config.dispatcher(record.person) else None
    return None


def bind_prompt(locale: str, lead: str = "") -> list[Reply]:
    """Ask for the person's own contact with Telegram's share-contact button."""
    ask = translate(locale, "telegram.bind.ask")
    text = f"{lead}\n{ask}" if lead else ask
    return [RequestContact(text, translate(locale, "telegram.bind.share"))]


def with_bind_entry(replies: Sequence[Reply], locale: str) -> list[Reply]:
    """The greeting with the "I'm staff — bind" button under its first text."""
    out = list(replies)
    for k, reply in enumerate(out):
        if isinstance(reply, Say):
            entry = Choice(translate(locale, "telegram.bind.button"), BIND_BUTTON)
            out[k] = Ask(reply.text, (entry,), inline=True)
            break
    return out
