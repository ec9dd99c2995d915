"""A technician finds the way to bind a Telegram account (issue 12, item 10).

- /start in a private chat offers "I'm staff — bind" under the greeting; the button and
  the deep link ``t.me/<bot>?start=bind`` ask for the contact with Telegram's
  share-contact button;
- someone else's contact, or a number not on the staff list, is refused with the reason
  (not just the menu "请选择要办理的事项");
- in a team group, a Claim press by someone not bound gets a short toast that opens the
  private chat at the bind step, never "share your phone in this chat".
"""

from __future__ import annotations

from datetime import UTC, datetime

from conftest import draft
from fake_telegram import Call
from test_telegram import GROUP, STRANGER, ZHANG, Rig, rig, zh

from bots.telegram.staff import BIND_BUTTON

__all__ = ["rig"]


def texts(calls: list[Call]) -> list[str]:
    return [c.text for c in calls if c.method == "sendMessage"]


def asks_for_contact(calls: list[Call]) -> bool:
    return any(k.get("request_contact") for c in calls for k in c.reply_keys())


async def test_start_offers_binding_and_says_why_a_contact_is_refused(rig: Rig) -> None:
    fake, chat = rig.fake, ZHANG["id"]
    calls = await rig.send(fake.text(ZHANG, "/start"))
    greeting = next(c for c in calls if zh("common.welcome_reporter") == c.text)
    assert [(b["text"], b["callback_data"]) for b in greeting.buttons()] == [
        (zh("telegram.bind.button"), BIND_BUTTON)
    ]
    entry = rig.last_with_buttons(chat, BIND_BUTTON)
    calls = await rig.send(fake.press(ZHANG, entry, BIND_BUTTON))
    assert asks_for_contact(calls) and zh("telegram.bind.ask") in texts(calls)[0]

    # Someone else's contact (contact.user_id is not the sender's): the reason, and the
    # button again — not the resident menu.
    calls = await rig.send(fake.contact(ZHANG, "8613800000001", own=False))
    assert zh("telegram.bind.not_own") in texts(calls)[0]
    assert zh("common.menu") not in texts(calls) and asks_for_contact(calls)
    assert rig.store.chat("telegram", str(chat)).person is None

    # Their own number, but not on the staff list: said so.
    calls = await rig.send(fake.contact(ZHANG, "8613811112222"))
    assert zh("common.bind_unknown") in texts(calls)
    assert rig.store.chat("telegram", str(chat)).person is None

    calls = await rig.send(fake.contact(ZHANG, "8613800000001"))
    assert zh("common.bound_technician", name="张师傅") in texts(calls)
    assert rig.store.chat("telegram", str(chat)).person == "zhang"
    calls = await rig.send(fake.text(ZHANG, "/start"))  # bound: no bind button any more
    assert BIND_BUTTON not in [b["callback_data"] for c in calls for b in c.buttons()]


async def test_the_deep_link_asks_for_the_contact_even_mid_report(rig: Rig) -> None:
    fake, chat = rig.fake, ZHANG["id"]
    await rig.send(fake.text(ZHANG, "/start"))
    await rig.send(fake.text(ZHANG, zh("common.menu_report")))  # a report begun
    calls = await rig.send(fake.text(ZHANG, "/start bind"))
    assert asks_for_contact(calls) and zh("telegram.bind.ask") in texts(calls)[0]
    record = rig.store.chat("telegram", str(chat))
    assert record.dialogue is None or '"flow": null' in record.dialogue  # the report left
    calls = await rig.send(fake.contact(ZHANG, "8613800000001"))
    assert rig.store.chat("telegram", str(chat)).person == "zhang"
    assert rig.store.tickets_of("telegram", str(chat)) == []


async def test_a_group_claim_by_someone_not_bound_points_to_the_private_chat(rig: Rig) -> None:
    fake = rig.fake
    ticket = rig.store.create_ticket(draft(channel="telegram", chat="42"), datetime.now(UTC))
    await rig.notice(GROUP["id"], ticket.number)
    offer = rig.last_with_buttons(GROUP["id"], "t:claim:")
    mark = fake.mark()
    calls = await rig.send(fake.press(STRANGER, offer, f"t:claim:{ticket.number}"))
    (answer,) = [c for c in calls if c.method == "answerCallbackQuery"]
    assert answer.params["text"] == zh("telegram.bind.group_toast")
    assert len(answer.params["text"]) <= 50 and not answer.params.get("show_alert")
    assert answer.params["url"] == "https://t.me/baoxiu_test_bot?start=bind"
    assert fake.sent(mark) == [] and rig.store.get(ticket.number).version == ticket.version
    # The link opens the private chat with /start bind: the contact is asked for there.
    calls = await rig.send(fake.text(STRANGER, "/start bind"))
    assert asks_for_contact(calls)
