"""Reading a Telegram update straight from its JSON (bots.telegram.incoming) gives what
reading it through python-telegram-bot's ``Update.de_json`` gives, as a table of update
kinds: the chat it belongs to, the sender, the event, the press and its message. The
common kinds are read without PTB; every other kind goes PTB's way."""

from __future__ import annotations

import copy
import os
from typing import Any

import pytest

os.environ.setdefault("PTB_TIMEDELTA", "true")

from fake_telegram import TOKEN, FakeTelegram, group, private, user
from telegram import Bot, Update

from bots.telegram.incoming import Incoming
from conversation.events import Command, Contact, Location, Text

ALICE = user(5001, "Alice", "en")
BOT = {"id": 42, "is_bot": True, "first_name": "desk", "username": "desk_bot"}
GROUP = group(-100123, "维修班")
FAKE = FakeTelegram()


def sent(chat: dict[str, Any], **body: Any) -> dict[str, Any]:
    """A message the bot sent (what a press carries back)."""
    return {"message_id": 77, "date": 1_700_000_000, "chat": chat, "from": BOT, **body}


CARD = {"inline_keyboard": [[{"text": "Sign in", "callback_data": "t:signin:BX1"}]]}
PHOTO = [{"file_id": "f", "file_unique_id": "u", "width": 9, "height": 9, "file_size": 5}]


def message(**body: Any) -> dict[str, Any]:
    base = {"message_id": 3, "date": 1_700_000_000, "chat": private(ALICE), "from": ALICE}
    return {"update_id": 9, "message": {**base, **body}}


def press(shown: dict[str, Any] | None, data: str = "i:area:east") -> dict[str, Any]:
    query: dict[str, Any] = {"id": "q1", "from": ALICE, "chat_instance": "ci", "data": data}
    if shown is not None:
        query["message"] = shown
    return {"update_id": 10, "callback_query": query}


FAST: list[tuple[str, dict[str, Any], Any]] = [
    ("text", FAKE.text(ALICE, "卫生间漏水了"), Text("卫生间漏水了")),
    ("command", FAKE.text(ALICE, "/start east__b1"), Command("start", "east__b1")),
    ("group text", FAKE.text(ALICE, "hi all", GROUP), Text("hi all")),
    ("own contact", FAKE.contact(ALICE, " 8613800000000 "), Contact("+8613800000000", own=True)),
    ("own contact with +", FAKE.contact(ALICE, "+8613800000000"), Contact("+8613800000000", True)),
    ("someone's contact", FAKE.contact(ALICE, "13800000000", own=False), Contact("13800000000")),
    ("location", FAKE.location(ALICE, 31.23, 121.47), Location(31.23, 121.47)),
    ("whole-degree location", message(location={"latitude": 31, "longitude": 121}), None),
    (
        "no sender language",
        message(text="hallo", **{"from": user(7, "x") | {"language_code": "de"}}),
        None,
    ),
    ("press in private", press(sent(private(ALICE), text="Where?")), None),
    ("press on a card", press(sent(private(ALICE), text="BX1", reply_markup=CARD)), None),
    ("press on a photo card", press(sent(private(ALICE), caption="c", photo=PHOTO)), None),
    ("press in a group", press(sent(GROUP, text="offer", reply_markup=CARD), "t:claim:BX1"), None),
    ("press on an old message", press(sent(private(ALICE)) | {"date": 0}), None),
    (
        "press without data",
        {"update_id": 11, "callback_query": {"id": "q", "from": ALICE, "chat_instance": "c"}},
        None,
    ),
]

SLOW: list[tuple[str, dict[str, Any]]] = [
    ("photo", FAKE.photo(ALICE, b"\xff\xd8", caption="look")),
    ("album photo", FAKE.photo(ALICE, b"\xff\xd8", media_group_id="a1")),
    (
        "venue",
        message(
            location={"latitude": 1.0, "longitude": 2.0},
            venue={"location": {"latitude": 1.0, "longitude": 2.0}, "title": "t", "address": "a"},
        ),
    ),
    (
        "sticker",
        message(
            sticker={
                "file_id": "s",
                "file_unique_id": "u",
                "width": 1,
                "height": 1,
                "is_animated": False,
                "is_video": False,
                "type": "regular",
            }
        ),
    ),
    ("reply", message(text="yes", reply_to_message=sent(private(ALICE), text="q?"))),
    (
        "sent for a channel",
        {
            "update_id": 5,
            "message": {
                "message_id": 1,
                "date": 1,
                "chat": GROUP,
                "sender_chat": GROUP,
                "text": "hi",
            },
        },
    ),
    ("edited", {"update_id": 6, "edited_message": message(text="x")["message"]}),
    ("text that is a number", message(text=5)),
    ("string chat id", message(text="x", chat={"id": "5001", "type": "private"})),
    ("live location", message(location={"latitude": 1.0, "longitude": 2.0, "live_period": 60})),
    (
        "inline press",
        {
            "update_id": 7,
            "callback_query": {
                "id": "q",
                "from": ALICE,
                "chat_instance": "c",
                "inline_message_id": "m",
                "data": "x",
            },
        },
    ),
    (
        "press with a url button",
        press(
            sent(
                private(ALICE),
                reply_markup={
                    "inline_keyboard": [
                        [
                            {
                                "text": "open",
                                "url": "https://t.me/x",
                                "login_url": {"url": "https://t.me/x"},
                            }
                        ]
                    ]
                },
            )
        ),
    ),
    (
        "bot added to a group",
        {
            "update_id": 8,
            "my_chat_member": {
                "chat": GROUP,
                "from": ALICE,
                "date": 1,
                "old_chat_member": {"user": BOT, "status": "left"},
                "new_chat_member": {"user": BOT, "status": "member"},
            },
        },
    ),
]


def same(fast: Incoming, slow: Incoming) -> None:
    assert fast.update_id == slow.update_id
    assert fast.message == slow.message
    assert fast.press == slow.press
    assert fast.key == slow.key
    assert fast.apology == slow.apology


def ptb(body: dict[str, Any], bot: Bot) -> Incoming:
    return Incoming.from_update(Update.de_json(copy.deepcopy(body), bot), body, bot)  # type: ignore[arg-type]


@pytest.mark.parametrize(("name", "body", "event"), FAST, ids=[row[0] for row in FAST])
def test_a_common_update_is_read_without_ptb_as_ptb_reads_it(
    name: str, body: dict[str, Any], event: Any
) -> None:
    bot = Bot(TOKEN)
    before = copy.deepcopy(body)
    fast = Incoming.read(body, bot)  # type: ignore[arg-type]
    assert not fast.built, "read by PTB"
    same(fast, ptb(body, bot))
    if event is not None:
        assert fast.message is not None and fast.message.event == event
    assert body == before  # the body is kept as it came (the inbox copy)
    assert fast.update.update_id == body["update_id"]  # PTB's, when asked for


@pytest.mark.parametrize(("name", "body"), SLOW, ids=[row[0] for row in SLOW])
def test_any_other_update_is_read_by_ptb(name: str, body: dict[str, Any]) -> None:
    bot = Bot(TOKEN)
    slow = Incoming.read(body, bot)  # type: ignore[arg-type]
    assert slow.built
    same(slow, ptb(body, bot))


def test_a_body_ptb_cannot_read_still_fails() -> None:
    bot = Bot(TOKEN)
    broken = {"update_id": 1, "message": {"message_id": 1, "chat": private(ALICE), "text": "x"}}
    with pytest.raises(KeyError):  # no date: PTB refuses it, and the webhook drops it
        Incoming.read(broken, bot)  # type: ignore[arg-type]
