"""One Telegram update as the channel reads it (``Incoming``): the few fields it routes
on, and for the common kinds the conversation event itself.

The common kinds — a private or group message with a text, a shared contact or a
location, and a button press — are read straight from the update's JSON (``read``).
Building python-telegram-bot's objects for them (``Update.de_json``) cost ~0.3 ms per
update, a fifth of the bare PTB echo bot's whole update (bench/telegram.py). Anything
else — a photo, a document, a member change, a field this reader does not know, a
value of an unexpected type — goes through ``Update.de_json`` (``from_update``), as
before: PTB stays the library for the unusual, and a body PTB refuses is still refused.
``from_update`` is also the reference the fast reading is tested against
(tests/test_telegram_incoming.py): both give the same ``Incoming`` for every update the
fast reading takes. ``update`` is the PTB ``Update`` when a part of the channel needs
one (a photo's download), built once, lazily.

Only reading: no dialogue decisions, no store, no network.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from telegram import Message, Update
from telegram.ext import ExtBot

from bots.telegram.inbound import plain_event
from conversation.events import Contact, InEvent, Location, parse_text

PRIVATE = "private"


@dataclass(frozen=True, slots=True)
class Said:
    """A message in a chat (``update.message``)."""

    chat_id: int
    chat_type: str
    chat_title: str | None
    sender: int | None  # None: no sender (sent on behalf of a chat)
    language: str | None  # the sender's Telegram app language
    album: str | None  # media_group_id
    event: InEvent | None  # None: read by bots.telegram.inbound from PTB's message

    @property
    def private(self) -> bool:
        return self.chat_type == PRIVATE and self.sender is not None


@dataclass(frozen=True, slots=True)
class Pressed:
    """A button press (``update.callback_query``)."""

    id: str
    data: str
    presser: int
    message_id: int | None  # the message whose button was pressed (None: not given)
    chat_id: int | None
    chat_type: str | None
    buttons: tuple[str, ...]  # that message's inline buttons' callback_data
    photo: bool  # that message shows a photo

    @property
    def in_group(self) -> bool:
        return self.message_id is not None and self.chat_type != PRIVATE


class Incoming:
    __slots__ = ("_bot", "_update", "apology", "body", "key", "message", "press", "update_id")

    def __init__(
        self,
        body: dict[str, Any],
        bot: ExtBot[Any],
        update_id: int,
        *,
        message: Said | None = None,
        press: Pressed | None = None,
        key: str | None = None,
        apology: int | None = None,
        update: Update | None = None,
    ) -> None:
        self.body = body
        self.update_id = update_id
        self.message = message
        self.press = press
        self.key = key  # whose order the update belongs to: the private chat answered
        self.apology = apology  # the private chat told when handling it failed
        self._bot = bot
        self._update = update

    @property
    def built(self) -> bool:
        """Whether PTB's ``Update`` was built (tests: the fast reading took it)."""
        return self._update is not None

    @property
    def update(self) -> Update:
        if self._update is None:
            self._update = Update.de_json(self.body, self._bot)
        return self._update

    @classmethod
    def read(cls, body: dict[str, Any], bot: ExtBot[Any]) -> Incoming:
        """The update, read from its JSON; raises as ``Update.de_json`` does on a body
        PTB cannot read."""
        try:
            return _fast(body, bot)
        except _Unusual:
            return cls.from_update(Update.de_json(body, bot), body, bot)

    @classmethod
    def from_update(cls, update: Update, body: dict[str, Any], bot: ExtBot[Any]) -> Incoming:
        """The same reading from PTB's ``Update`` (a polled update, or any the fast
        reading does not take)."""
        message = update.message
        said = None
        if message is not None:
            sender = message.from_user
            said = Said(
                message.chat.id,
                str(message.chat.type),
                message.chat.title,
                sender.id if sender is not None else None,
                sender.language_code if sender is not None else None,
                message.media_group_id,
                _plain(message),
            )
        press = None
        query = update.callback_query
        if query is not None:
            shown = query.message
            keyboard = getattr(getattr(shown, "reply_markup", None), "inline_keyboard", None)
            press = Pressed(
                query.id,
                query.data or "",
                query.from_user.id,
                shown.message_id if shown is not None else None,
                shown.chat.id if shown is not None else None,
                str(shown.chat.type) if shown is not None else None,
                tuple(str(b.callback_data) for row in keyboard or () for b in row),
                bool(getattr(shown, "photo", None)),
            )
        chat = update.effective_chat
        apology = None
        if update.effective_message is not None and chat is not None and chat.type == PRIVATE:
            apology = chat.id
        return cls(
            body,
            bot,
            update.update_id,
            message=said,
            press=press,
            key=_key(press, chat.id if chat is not None else None),
            apology=apology,
            update=update,
        )


def _plain(message: Message) -> InEvent | None:
    try:
        return plain_event(message)
    except Exception:  # a value PTB took but the event cannot (a number as text): left
        return None  # to the handling, which fails and apologizes, as it always did


def _key(press: Pressed | None, chat: int | None) -> str | None:
    if press is not None:
        if press.message_id is None or press.chat_type != PRIVATE:
            return str(press.presser)
        return str(press.chat_id)
    return str(chat) if chat is not None else None


# -- the fast reading -----------------------------------------------------------------------


class _Unusual(Exception):
    """Not a shape the fast reading takes: PTB reads it."""


_MESSAGE = frozenset({"message_id", "date", "chat", "from", "text", "entities"})
_EVENTS = ("text", "contact", "location")
_SHOWN = frozenset(
    {"message_id", "date", "chat", "from", "text", "entities", "caption", "caption_entities"}
    | {"reply_markup", "photo", "edit_date"}
)
_CHAT = frozenset({"id", "type", "title", "username", "first_name", "last_name", "is_forum"})
_USER = frozenset(
    {"id", "is_bot", "first_name", "last_name", "username", "language_code", "is_premium"}
)
_ENTITY = frozenset({"type", "offset", "length", "url", "language", "custom_emoji_id"})
_CONTACT = frozenset({"phone_number", "first_name", "last_name", "user_id", "vcard"})
_LOCATION = frozenset({"latitude", "longitude", "horizontal_accuracy"})
_BUTTON = frozenset({"text", "callback_data", "url"})
_PHOTO = frozenset({"file_id", "file_unique_id", "width", "height", "file_size"})
_QUERY = frozenset({"id", "from", "message", "chat_instance", "data"})
_STR = {"type", "title", "username", "first_name", "last_name", "language_code", "text"}
_STR |= {"phone_number", "vcard", "file_id", "file_unique_id", "caption", "url", "language"}
_STR |= {"custom_emoji_id", "chat_instance", "data", "callback_data"}
_INT = {"id", "message_id", "date", "user_id", "offset", "length", "width", "height"}
_INT |= {"file_size", "edit_date"}


def _fields(
    d: Any, allowed: frozenset[str], *required: str, text_id: bool = False
) -> dict[str, Any]:
    """``d`` as a JSON object of known scalar fields, with the required ones present
    (``text_id``: its ``id`` is a string, as a callback query's)."""
    if type(d) is not dict or not d.keys() <= allowed or any(k not in d for k in required):
        raise _Unusual
    for name, value in d.items():
        if name == "id" and text_id:
            ok = type(value) is str
        elif name in _INT:
            ok = type(value) is int
        elif name in _STR:
            ok = type(value) is str
        elif name in ("is_bot", "is_forum", "is_premium"):
            ok = type(value) is bool
        elif name in ("latitude", "longitude", "horizontal_accuracy"):
            ok = type(value) in (int, float)
        else:
            continue  # a nested object: checked by its own reader
        if not ok:
            raise _Unusual
    return d


def _list(d: Any, allowed: frozenset[str], *required: str) -> None:
    if type(d) is not list:
        raise _Unusual
    for item in d:
        _fields(item, allowed, *required)


def _user(d: Any) -> dict[str, Any]:
    return _fields(d, _USER, "id", "is_bot", "first_name")


def _chat(d: Any) -> dict[str, Any]:
    return _fields(d, _CHAT, "id", "type")


def _fast(body: dict[str, Any], bot: ExtBot[Any]) -> Incoming:
    update_id = body.get("update_id")
    if len(body) != 2 or type(update_id) is not int:
        raise _Unusual
    if "message" in body:
        said = _message(body["message"])
        apology = said.chat_id if said.chat_type == PRIVATE else None
        return Incoming(body, bot, update_id, message=said, key=str(said.chat_id), apology=apology)
    if "callback_query" in body:
        press = _press(body["callback_query"])
        apology = None
        if press.message_id is not None and press.chat_type == PRIVATE:
            apology = press.chat_id
        return Incoming(body, bot, update_id, press=press, key=_key(press, None), apology=apology)
    raise _Unusual


def _message(m: Any) -> Said:
    _fields(m, _MESSAGE | set(_EVENTS), "message_id", "date", "chat")
    if not any(k in m for k in _EVENTS):
        raise _Unusual
    chat = _chat(m["chat"])
    sender = _user(m["from"]) if "from" in m else None
    if "entities" in m:
        _list(m["entities"], _ENTITY, "type", "offset", "length")
    sender_id = sender["id"] if sender is not None else None
    event: InEvent
    # The order of bots.telegram.inbound.plain_event: text, then contact, then location.
    if "text" in m:
        event = parse_text(m["text"])
    elif "contact" in m:
        contact = _fields(m["contact"], _CONTACT, "phone_number", "first_name")
        own = sender_id is not None and contact.get("user_id") == sender_id
        phone = contact["phone_number"].strip()
        if own and phone and not phone.startswith("+"):
            phone = "+" + phone  # as plain_event: an account's own number comes without "+"
        event = Contact(phone, own=own)
    else:
        location = _fields(m["location"], _LOCATION, "latitude", "longitude")
        event = Location(location["latitude"], location["longitude"])
    return Said(
        chat["id"],
        chat["type"],
        chat.get("title"),
        sender_id,
        sender.get("language_code") if sender is not None else None,
        None,
        event,
    )


def _press(q: Any) -> Pressed:
    _fields(q, _QUERY, "id", "from", "chat_instance", text_id=True)
    presser = _user(q["from"])["id"]
    shown = q.get("message")
    if shown is None:
        if "message" in q:
            raise _Unusual
        return Pressed(q["id"], q.get("data") or "", presser, None, None, None, (), False)
    _fields(shown, _SHOWN, "message_id", "date", "chat")
    chat = _chat(shown["chat"])
    if "from" in shown:
        _user(shown["from"])
    for name in ("entities", "caption_entities"):
        if name in shown:
            _list(shown[name], _ENTITY, "type", "offset", "length")
    if "photo" in shown:
        _list(shown["photo"], _PHOTO, "file_id", "file_unique_id", "width", "height")
    buttons: list[str] = []
    if "reply_markup" in shown:
        markup = shown["reply_markup"]
        if type(markup) is not dict or markup.keys() != {"inline_keyboard"}:
            raise _Unusual
        rows = markup["inline_keyboard"]
        if type(rows) is not list:
            raise _Unusual
        for row in rows:
            _list(row, _BUTTON, "text")
            buttons.extend(str(b.get("callback_data")) for b in row)
    return Pressed(
        q["id"],
        q.get("data") or "",
        presser,
        shown["message_id"],
        chat["id"],
        chat["type"],
        tuple(buttons),
        bool(shown.get("photo")),
    )


def message_of(incoming: Incoming) -> Message:
    """PTB's message of a message update (for what only PTB reads: photos, files)."""
    message = incoming.update.message
    assert message is not None  # only asked of updates with a message
    return message
