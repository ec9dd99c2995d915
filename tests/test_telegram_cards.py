"""One job card per ticket in a technician's Telegram chat (issue 12, item 11).

A job action pressed on the card edits that card — ``editMessageCaption`` when the card
is the reporter's photo with the card as its caption, the new buttons in the same edit —
and the press is answered with a short toast, instead of three new messages (the
confirmation, the reporter's photo again, the full card) and a 197-character toast.
The journey counts the messages the technician's chat receives for each action.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from conftest import draft
from fake_telegram import Call
from test_telegram import ALICE, GROUP, LI, PHOTO, ZHANG, Rig, bind, rig, zh

from bots.telegram.cards import MAX_TOAST
from tickets.model import State

__all__ = ["rig"]


def with_photo(rig: Rig) -> str:
    folder = rig.config.media_dir / "telegram"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "leak.jpg").write_bytes(PHOTO)
    ticket = rig.store.create_ticket(
        draft(channel="telegram", chat=str(ALICE["id"]), photos=("telegram/leak.jpg",)),
        datetime.now(UTC),
    )
    return ticket.number


def toast_of(calls: list[Call]) -> str:
    (answer,) = [c for c in calls if c.method == "answerCallbackQuery"]
    assert not answer.params.get("show_alert")
    return str(answer.params.get("text") or "")


def datas(message: dict[str, Any]) -> list[str]:
    rows = message.get("reply_markup", {}).get("inline_keyboard", [])
    return [b["callback_data"] for row in rows for b in row]


async def test_each_job_action_edits_the_one_card(rig: Rig) -> None:
    fake, store, chat = rig.fake, rig.store, ZHANG["id"]
    await bind(rig, ZHANG, "+8613800000001")
    number = with_photo(rig)
    await rig.notice(chat, "138****5678")  # the team's offer, privately to a bound member
    offer = rig.last_with_buttons(chat, f"t:claim:{number}")

    # Claim: one message — the photo with the card as its caption and the card's buttons.
    mark = fake.mark()
    calls = await rig.send(fake.press(ZHANG, offer, f"t:claim:{number}"))
    assert toast_of(calls) == zh("telegram.toast.claim")
    (card_call,) = fake.sent(mark, chat)
    assert card_call.method == "sendPhoto" and number in card_call.text
    assert [b["callback_data"].split(":")[1] for b in card_call.buttons()] == [
        "signin",
        "pause",
        "release",
    ]
    card = rig.last_with_buttons(chat, f"t:signin:{number}")
    card_id = card["message_id"]

    # Pause: the reason is asked (one message), the reason's press edits the card.
    await rig.send(fake.press(ZHANG, card, f"t:pause:{number}"))
    question = rig.last_with_buttons(chat, f"t:pause:{number}:")
    mark = fake.mark()
    calls = await rig.send(fake.press(ZHANG, question, f"t:pause:{number}:parts"))
    assert store.get(number).state is State.PAUSED
    assert toast_of(calls) == zh("telegram.toast.pause")
    assert fake.sent(mark, chat) == []
    edit = next(c for c in fake.edits(mark, chat) if c.method == "editMessageCaption")
    assert edit.params["message_id"] == card_id
    assert zh("states.paused") in fake.message(chat, card_id)["caption"]
    assert datas(fake.message(chat, card_id)) == [f"t:resume:{number}", f"t:release:{number}"]
    assert datas(fake.message(chat, question["message_id"])) == []  # asked and answered

    # Resume, pressed on the card itself: no message at all, the card shows the buttons.
    mark = fake.mark()
    calls = await rig.send(fake.press(ZHANG, fake.message(chat, card_id), f"t:resume:{number}"))
    assert toast_of(calls) == zh("telegram.toast.resume")
    assert fake.sent(mark, chat) == []
    assert f"t:signin:{number}" in datas(fake.message(chat, card_id))

    # Sign in with a location: the location keyboard needs a message; the confirmation
    # takes that keyboard away; the card is edited, not sent again.
    await rig.send(fake.press(ZHANG, fake.message(chat, card_id), f"t:signin:{number}"))
    mark = fake.mark()
    await rig.send(fake.location(ZHANG, 31.2305, 121.4738))
    assert store.get(number).state is State.ON_SITE
    sent = fake.sent(mark, chat)
    assert [c.method for c in sent] == ["sendMessage"]
    assert sent[0].markup.get("remove_keyboard") and "sendPhoto" not in [c.method for c in sent]
    assert f"t:done:{number}" in datas(fake.message(chat, card_id))

    # Completion: once the job is done, the card keeps no buttons.
    await rig.send(fake.press(ZHANG, fake.message(chat, card_id), f"t:done:{number}"))
    await rig.send(fake.text(ZHANG, "换了阀门"))
    finish = rig.last_with_buttons(chat, f"t:finish:{number}")
    await rig.send(fake.press(ZHANG, finish, f"t:finish:{number}"))
    assert store.get(number).state is State.RESOLVED
    assert datas(fake.message(chat, card_id)) == []
    assert len(fake.of("sendPhoto")) == 1  # the reporter's photo was shown once


async def test_a_claim_in_the_group_is_a_short_toast_and_one_private_card(rig: Rig) -> None:
    fake = rig.fake
    await bind(rig, LI, "+8613800000002")
    number = with_photo(rig)
    await rig.notice(GROUP["id"], "138****5678")
    await rig.notice(LI["id"], "138****5678")
    offer = rig.last_with_buttons(GROUP["id"], f"t:claim:{number}")
    mark = fake.mark()
    calls = await rig.send(fake.press(LI, offer, f"t:claim:{number}"))
    text = toast_of(calls)
    assert text == zh("telegram.toast.claim") and len(text) <= MAX_TOAST
    assert rig.store.get(number).holder == "li"
    (card,) = fake.sent(mark, LI["id"])
    assert card.method == "sendPhoto" and f"t:signin:{number}" in [
        b["callback_data"] for b in card.buttons()
    ]


async def test_a_job_handed_back_leaves_a_card_without_buttons(rig: Rig) -> None:
    fake, chat = rig.fake, ZHANG["id"]
    await bind(rig, ZHANG, "+8613800000001")
    number = with_photo(rig)
    await rig.notice(chat, "138****5678")
    offer = rig.last_with_buttons(chat, f"t:claim:{number}")
    await rig.send(fake.press(ZHANG, offer, f"t:claim:{number}"))
    card = rig.last_with_buttons(chat, f"t:release:{number}")
    await rig.send(fake.press(ZHANG, card, f"t:release:{number}"))
    calls = await rig.send(fake.text(ZHANG, "不是我们班组的活"))
    assert rig.store.get(number).state is State.NEW
    assert zh("technician.released", number=number) in [c.text for c in calls]
    assert datas(fake.message(chat, card["message_id"])) == []
