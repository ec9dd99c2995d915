"""The Telegram adapter over HTTP: the real python-telegram-bot client against the fake
Bot API server (tests/fake_telegram.py), in polling and in webhook mode.

The journey: a resident reports with a shared contact, location and photo; the team
group sees the masked offer with a Claim button; two technicians press Claim at once and
one wins; the holder signs in with a location and completes with a photo; the resident
is told at every step and rates with the inline stars. Then the guarantees: a
redelivered update does nothing, a webhook without the secret is refused, a forged
button changes nothing, a 429 waits in the outbox for its retry_after.
"""

from __future__ import annotations

import asyncio
import json
import logging
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import MappingProxyType
from typing import Any

import pytest
from aiohttp import ClientSession, web
from aiohttp.test_utils import TestServer
from conftest import draft, make_config
from fake_telegram import Call, FakeTelegram, group, user

from bots import telegram
from bots.engine import Engine
from bots.keys import CONFIG, ENGINE, STORE
from bots.telegram import TELEGRAM, TelegramChannel
from bots.telegram.incoming import Incoming
from bots.telegram.render import rows
from bots.telegram.settings import TelegramSettings
from config.model import Config
from conversation.i18n import translate
from conversation.replies import Choice
from notify.delivery import DeliveryWorker
from tickets.errors import ConfigError
from tickets.model import State
from tickets.store import Store

SECRET = "s3cret-token_for-tests-0123456789"
GROUP = group(-100123, "维修班")
ALICE = user(5001, "Alice", "en")
BOB = user(5002, "Bob", "en")
ZHANG = user(6001, "张师傅")
LI = user(6002, "李师傅")
STRANGER = user(6009, "路人")
PHOTO = b"\xff\xd8\xff\xe0" + b"large-photo" * 50


def en(key: str, **params: Any) -> str:
    return translate("en", key, **params)


def zh(key: str, **params: Any) -> str:
    return translate("zh_CN", key, **params)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def with_telegram(config: Config, fake: FakeTelegram, **table: Any) -> Config:
    channels = {
        "telegram": {
            "token": fake.token,
            "api_base_url": fake.api_base_url,
            "album_seconds": 0.3,
            **table,
        }
    }
    return replace(config, extra_channels=MappingProxyType(channels))


@dataclass
class Rig:
    fake: FakeTelegram
    config: Config
    store: Store
    channel: TelegramChannel
    server: TestServer

    async def send(self, update: dict[str, Any], *, timeout: float = 10.0) -> list[Call]:
        """Deliver ``update`` and return the calls it caused in its chat once handled."""
        mark = self.fake.mark()
        await self.fake.push(update)
        if "callback_query" in update:
            query_id = update["callback_query"]["id"]
            await self.fake.wait_for(
                lambda calls: any(
                    c.method == "answerCallbackQuery" and c.params["callback_query_id"] == query_id
                    for c in calls[mark:]
                ),
                timeout,
            )
            chat = update["callback_query"]["from"]["id"]
        else:
            chat = update["message"]["chat"]["id"]
            await self.fake.wait_for(lambda calls: self.fake.sent(mark, chat), timeout)
        await self.channel.idle()
        return [c for c in self.fake.calls[mark:] if c.chat in ("", str(chat))]

    async def notice(self, chat: int, needle: str, since: int = 0) -> Call:
        """Wait for a message to ``chat`` containing ``needle`` (sent from the outbox)."""
        found = await self.fake.wait_for(
            lambda calls: [c for c in self.fake.sent(since, chat) if needle in c.text]
        )
        last: Call = found[-1]
        return last

    def last_with_buttons(self, chat: int, prefix: str) -> dict[str, Any]:
        """The last message in ``chat`` with an inline button whose payload starts so."""
        for (cid, _mid), message in reversed(list(self.fake.messages.items())):
            buttons = message.get("reply_markup", {}).get("inline_keyboard", [])
            if cid == chat and any(
                b["callback_data"].startswith(prefix) for row in buttons for b in row
            ):
                return message
        raise AssertionError(f"no message with a {prefix!r} button in {chat}")


@pytest.fixture(params=["polling", "webhook"])
async def rig(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Rig]:
    fake = await FakeTelegram().start()
    port = free_port()
    table: dict[str, Any] = {}
    if request.param == "webhook":
        table = {
            "mode": "webhook",
            "webhook_url": f"http://127.0.0.1:{port}{telegram.WEBHOOK_PATH}",
            "secret_token": SECRET,
        }
    config = with_telegram(make_config(tmp_path), fake, **table)
    store = Store(config.database, config)
    app = web.Application()
    app[CONFIG] = config
    app[STORE] = store
    app[ENGINE] = Engine(store, config)
    telegram.setup(app)
    server = TestServer(app, host="127.0.0.1", port=port)
    await server.start_server()
    try:
        yield Rig(fake, config, store, app[TELEGRAM], server)
    finally:
        await server.close()
        store.close()
        await fake.close()


# -- helpers driving the dialogues -------------------------------------------------------


async def bind(rig: Rig, person: dict[str, Any], phone: str) -> None:
    await rig.send(rig.fake.text(person, "/start"))
    calls = await rig.send(rig.fake.contact(person, phone.lstrip("+")))
    assert any("张师傅" in c.text or "李师傅" in c.text for c in calls), calls


async def press(rig: Rig, person: dict[str, Any], chat: int, data: str) -> list[Call]:
    message = rig.last_with_buttons(chat, data)
    return await rig.send(rig.fake.press(person, message, data))


async def report_until_summary(rig: Rig, resident: dict[str, Any], phone: str) -> None:
    """/start → report → water → location → spot → contact → description → photo → time."""
    chat = resident["id"]
    calls = await rig.send(rig.fake.text(resident, "/start"))
    menu = [c for c in calls if c.reply_keys()][-1]
    assert [k["text"] for k in menu.reply_keys()] == [
        en("common.menu_report"),
        en("common.menu_my"),
        en("common.menu_help"),
    ]
    calls = await rig.send(rig.fake.text(resident, en("common.menu_report")))
    asked = [c for c in calls if c.reply_keys()][-1]  # categories as a reply keyboard
    assert [k["text"] for k in asked.reply_keys()] == ["Water", "Network", "Power"]
    calls = await rig.send(rig.fake.text(resident, "Water"))  # a typed label works
    assert any(k.get("request_location") for c in calls for k in c.reply_keys())
    assert any(b["callback_data"] == "i:area:east" for c in calls for b in c.buttons())
    await rig.send(rig.fake.location(resident, 31.2304, 121.4737))
    await rig.send(rig.fake.text(resident, "Room 302"))
    calls = await rig.send(rig.fake.text(resident, "hello"))  # not a phone: asked again
    assert any(k.get("request_contact") for c in calls for k in c.reply_keys())
    await rig.send(rig.fake.contact(resident, phone, own=True))
    calls = await rig.send(rig.fake.text(resident, "The bathroom pipe is leaking"))
    assert any(b["callback_data"] == "i:photos_done" for c in calls for b in c.buttons())
    calls = await rig.send(rig.fake.photo(resident, PHOTO, caption="under the sink"))
    assert rig.fake.of("getFile")[-1].params["file_id"] == "file-3"  # the largest size
    await press(rig, resident, chat, "i:photos_done")
    calls = await press(rig, resident, chat, "i:time:any")
    assert any(b["callback_data"] == "i:confirm" for c in calls for b in c.buttons())


async def report(rig: Rig, resident: dict[str, Any], phone: str) -> str:
    await report_until_summary(rig, resident, phone)
    await press(rig, resident, resident["id"], "i:confirm")
    tickets = rig.store.tickets_of("telegram", str(resident["id"]))
    assert tickets, "no ticket was created"
    return tickets[0].number


# -- the journey -------------------------------------------------------------------------


async def test_the_whole_journey(rig: Rig) -> None:
    fake, store = rig.fake, rig.store
    await bind(rig, ZHANG, "+8613800000001")
    await bind(rig, LI, "+8613800000002")
    assert store.chat("telegram", "6001").person == "zhang"

    number = await report(rig, ALICE, "8613812340000")
    ticket = store.get(number)
    assert ticket.phone == "+8613812340000" and ticket.latitude == pytest.approx(31.2304)
    assert ticket.description.startswith("The bathroom pipe is leaking")
    assert len(ticket.photos) == 1
    assert (rig.config.media_dir / ticket.photos[0]).read_bytes() == PHOTO
    # The intake's own reply is the acceptance (no second "accepted" notice).
    assert any(number in c.text for c in rig.fake.sent(0, ALICE["id"]))

    # The group sees the offer with the phone masked and a Claim button.
    offer = await rig.notice(GROUP["id"], "138****0000")
    assert "+8613812340000" not in offer.text and "13812340000" not in offer.text
    assert [b["callback_data"] for b in offer.buttons()] == [f"t:claim:{number}"]
    group_message = rig.last_with_buttons(GROUP["id"], "t:claim:")
    # Bound team members get the offer privately too; wait until every copy is out.
    await rig.notice(LI["id"], "138****0000")
    await rig.notice(ZHANG["id"], "138****0000")

    # Two technicians press Claim at once: exactly one wins, the other gets an alert.
    mark = fake.mark()
    zhang_press = fake.press(ZHANG, group_message, f"t:claim:{number}")
    li_press = fake.press(LI, group_message, f"t:claim:{number}")
    await asyncio.gather(fake.push(zhang_press), fake.push(li_press))
    answers = await fake.wait_for(lambda calls: len(fake.of("answerCallbackQuery", mark)) == 2)
    assert answers
    await rig.channel.idle()
    ticket = store.get(number)
    assert ticket.state is State.ASSIGNED and ticket.holder in ("zhang", "li")
    winner, loser = (ZHANG, LI) if ticket.holder == "zhang" else (LI, ZHANG)
    by_query = {c.params["callback_query_id"]: c for c in fake.of("answerCallbackQuery", mark)}
    lost = by_query[(li_press if loser is LI else zhang_press)["callback_query"]["id"]]
    won = by_query[(zhang_press if winner is ZHANG else li_press)["callback_query"]["id"]]
    assert lost.params.get("show_alert") is True
    assert zh("errors.already_taken", number=number).split("：")[0] in lost.params["text"]
    assert not won.params.get("show_alert")
    assert [e.action.value for e in store.timeline(number)].count("claim") == 1

    # The group message now says who took it, and its Claim button is gone.
    name = "张师傅" if winner is ZHANG else "李师傅"
    await fake.wait_for(
        lambda calls: "reply_markup" not in fake.message(GROUP["id"], group_message["message_id"])
    )
    edited = fake.message(GROUP["id"], group_message["message_id"])
    assert zh("telegram.offer_claimed", name=name) in edited["text"]
    late = await rig.send(fake.press(loser, group_message, f"t:claim:{number}"))
    assert [c.params.get("show_alert") for c in late if c.method == "answerCallbackQuery"] == [True]
    await rig.notice(ALICE["id"], name)  # reporter.assigned

    # The holder signs in with a location, then completes with a note and a photo.
    holder = winner["id"]
    calls = await press(rig, winner, holder, f"t:signin:{number}")
    assert any(k.get("request_location") for c in calls for k in c.reply_keys())
    await rig.send(fake.location(winner, 31.2305, 121.4738))
    assert store.get(number).state is State.ON_SITE
    assert store.get(number).distance_m is not None
    await rig.notice(
        ALICE["id"], en("notices.reporter.on_site", number=number, technician_name=name)
    )
    await press(rig, winner, holder, f"t:done:{number}")
    await rig.send(fake.text(winner, "换了阀门"))
    await rig.send(fake.photo(winner, b"\xff\xd8\xff" + b"fixed" * 40))
    await press(rig, winner, holder, f"t:finish:{number}")
    ticket = store.get(number)
    assert ticket.state is State.RESOLVED and len(ticket.resolution_photos) == 1

    # The reporter gets the resolution with its photo, and rates with the stars.
    resolved = await rig.notice(ALICE["id"], en("notices.reporter.resolved", number=number))
    assert f"r:rate:{number}:5" in [b["callback_data"] for b in resolved.buttons()]
    assert fake.of("sendPhoto") and any(c.chat == str(ALICE["id"]) for c in fake.of("sendPhoto"))
    await press(rig, ALICE, ALICE["id"], f"r:rate:{number}:5")  # a comment is offered
    await press(rig, ALICE, ALICE["id"], f"r:rate:{number}:5:skip")
    ticket = store.get(number)
    assert ticket.state is State.CLOSED and ticket.rating == 5

    kinds = {n.kind for n in store.notices_of(number) if n.chat == str(ALICE["id"])}
    assert {
        "reporter.assigned",
        "reporter.on_site",
        "reporter.resolved",
    } <= kinds
    last = ("reporter.closed", "technician.rated")  # queued by the last press, maybe unsent
    assert all(n.status == "sent" for n in store.notices_of(number) if n.kind not in last)


# -- the guarantees ----------------------------------------------------------------------


async def test_a_redelivered_update_creates_no_second_ticket(
    rig: Rig, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="bots.telegram.channel")
    fake = rig.fake
    await report_until_summary(rig, ALICE, "8613812340000")
    confirm = fake.press(ALICE, rig.last_with_buttons(ALICE["id"], "i:confirm"), "i:confirm")
    again = json.loads(json.dumps(confirm))
    mark = fake.mark()
    if rig.channel.settings.webhook:
        # Telegram did not hear our 200 in time and posts the same update again.
        assert await fake.push(confirm) == [200]
        assert await fake.post_webhook(again, SECRET) == 200
    else:
        # After a restart without confirming the offset, a poll returns it twice.
        await fake.push(confirm, again)
        await fake.wait_for(lambda calls: fake.pending() == 0)
    query = confirm["callback_query"]["id"]
    await fake.wait_for(lambda calls: fake.of("answerCallbackQuery", mark))
    await rig.channel.idle()
    answered = [
        c for c in fake.of("answerCallbackQuery", mark) if c.params["callback_query_id"] == query
    ]
    assert len(answered) == 1  # the second delivery did nothing at all
    assert len(rig.store.tickets_of("telegram", str(ALICE["id"]))) == 1
    assert f"update {confirm['update_id']} delivered again" in caplog.text


async def test_a_forged_button_is_refused_and_changes_nothing(
    rig: Rig, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="bots.telegram.channel")
    ticket = rig.store.create_ticket(
        draft(channel="telegram", chat=str(ALICE["id"]), phone="+8613812340000"),
        datetime.now(UTC),
    )
    number = ticket.number
    await rig.notice(GROUP["id"], "138****0000")
    message = rig.last_with_buttons(GROUP["id"], "t:claim:")
    # Someone who is not a bound technician presses Claim in the group: a toast sends
    # them to the private chat to bind (issue 12, item 10); nothing changes.
    calls = await rig.send(rig.fake.press(STRANGER, message, f"t:claim:{number}"))
    alert = [c for c in calls if c.method == "answerCallbackQuery"]
    assert alert and alert[0].params["text"] == zh("telegram.bind.group_toast")
    assert alert[0].params["url"] == "https://t.me/baoxiu_test_bot?start=bind"
    # Another resident forges the reporter's buttons for a ticket that is not theirs.
    fake_message = {**message, "chat": {"id": BOB["id"], "type": "private", "first_name": "Bob"}}
    for data in (f"r:cancel:{number}", f"r:rate:{number}:1", f"t:signin:{number}"):
        calls = await rig.send(rig.fake.press(BOB, fake_message, data))
        assert any(c.method == "answerCallbackQuery" for c in calls)
    after = rig.store.get(number)
    assert after.version == ticket.version and after.state is State.NEW
    assert [e.action.value for e in rig.store.timeline(number)] == ["accept"]
    assert "unchanged" in caplog.text


@asynccontextmanager
async def webhook_served(
    tmp_path: Path,
) -> AsyncIterator[tuple[FakeTelegram, web.Application, str]]:
    """The Telegram channel in webhook mode on a real server (with its store and engine),
    registered with a fake Bot API: (the fake, the app, the webhook URL)."""
    fake = await FakeTelegram().start()
    port = free_port()
    url = f"http://127.0.0.1:{port}{telegram.WEBHOOK_PATH}"
    config = with_telegram(
        make_config(tmp_path), fake, mode="webhook", webhook_url=url, secret_token=SECRET
    )
    store = Store(config.database, config)
    app = web.Application()
    app[CONFIG], app[STORE], app[ENGINE] = config, store, Engine(store, config)
    telegram.setup(app)
    server = TestServer(app, host="127.0.0.1", port=port)
    await server.start_server()
    try:
        yield fake, app, url
    finally:
        await server.close()
        store.close()
        await fake.close()


async def test_the_webhook_refuses_a_missing_or_wrong_secret(tmp_path: Path) -> None:
    async with webhook_served(tmp_path) as (fake, app, url):
        store = app[STORE]
        assert fake.webhook["url"] == url and fake.webhook["secret_token"] == SECRET
        assert fake.webhook["allowed_updates"] == ["message", "callback_query", "my_chat_member"]
        update = fake.text(ALICE, "/start")
        assert await fake.post_webhook(update, None) == 403
        assert await fake.post_webhook(update, "wrong") == 403
        assert await fake.post_webhook(update, SECRET[:-1]) == 403
        assert not fake.sent()
        assert store.record_update("telegram", update["update_id"])  # never recorded
        headers = {"X-Telegram-Bot-Api-Secret-Token": SECRET}
        async with ClientSession() as session:
            for body in (b"not json", b"[1]", b'{"message": {}}'):
                async with session.post(url, data=body, headers=headers) as resp:
                    assert resp.status == 400
        status = await fake.post_webhook(fake.text(ALICE, "/start"), SECRET)
        assert status == 200
        await fake.wait_for(lambda calls: fake.sent(0, ALICE["id"]))


# -- delivery of notices -------------------------------------------------------------------


@asynccontextmanager
async def channel_sending(
    base: Config,
) -> AsyncIterator[tuple[FakeTelegram, TelegramChannel, Store]]:
    """A channel for ``base`` on a fake Bot API, whose bot is up but which runs no worker
    of its own: (the fake, the channel, its store)."""
    fake = await FakeTelegram().start()
    config = with_telegram(base, fake)
    store = Store(config.database, config)
    channel = TelegramChannel(
        config, TelegramSettings.from_config(config), store, Engine(store, config)
    )
    await channel.application.initialize()
    try:
        yield fake, channel, store
    finally:
        await channel.application.shutdown()
        store.close()
        await fake.close()


@pytest.fixture
async def sending(tmp_path: Path) -> AsyncIterator[tuple[FakeTelegram, TelegramChannel, Store]]:
    async with channel_sending(make_config(tmp_path)) as sent:
        yield sent


class Clock:
    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now


async def test_a_429_waits_in_the_outbox_for_its_retry_after(
    sending: tuple[FakeTelegram, TelegramChannel, Store],
) -> None:
    fake, channel, store = sending
    clock = Clock()
    worker = DeliveryWorker(
        store, channel.config, "telegram", channel.sender, clock=clock, jitter=0.0, base_backoff=1.0
    )
    ticket = store.create_ticket(draft(channel="telegram", chat=str(ALICE["id"])), clock.now)
    fake.fail("sendMessage", 429, retry_after=30)
    assert await worker.run_once() == 0  # the team group's offer hits the 429
    row = next(n for n in store.notices_of(ticket.number) if n.kind == "team.offer")
    assert row.status == "pending" and "rate limited" in row.last_error
    assert row.next_at >= clock.now + timedelta(seconds=30)
    clock.now += timedelta(seconds=10)
    assert await worker.run_once() == 0  # not yet: retry_after is a floor
    clock.now += timedelta(seconds=25)
    assert await worker.run_once() == 1
    row = next(n for n in store.notices_of(ticket.number) if n.kind == "team.offer")
    assert row.status == "sent" and row.provider_id
    assert [c.params.get("chat_id") for c in fake.of("sendMessage")] == [-100123, -100123]


@pytest.mark.parametrize(
    ("status", "description", "outcome"),
    [
        (403, "Forbidden: bot was blocked by the user", "dead"),
        (400, "Bad Request: chat not found", "dead"),
        (502, "Bad Gateway", "pending"),
    ],
)
async def test_delivery_errors_mean_give_up_or_retry(
    sending: tuple[FakeTelegram, TelegramChannel, Store],
    status: int,
    description: str,
    outcome: str,
) -> None:
    fake, channel, store = sending
    worker = DeliveryWorker(store, channel.config, "telegram", channel.sender)
    ticket = store.create_ticket(
        draft(channel="telegram", chat=str(ALICE["id"])), datetime.now(UTC)
    )
    fake.fail("sendMessage", status, description, times=5)
    await worker.run_once()
    row = next(n for n in store.notices_of(ticket.number) if n.kind == "team.offer")
    assert row.status == outcome and description.split(":")[0].lower() in row.last_error.lower()


async def test_an_offer_sent_after_the_claim_is_closed_at_once(
    sending: tuple[FakeTelegram, TelegramChannel, Store],
) -> None:
    fake, channel, store = sending
    ticket = store.create_ticket(
        draft(channel="telegram", chat=str(ALICE["id"])), datetime.now(UTC)
    )
    from tickets.model import Action, Actor, Role

    store.apply(
        ticket.number,
        Action.CLAIM,
        Actor(Role.TECHNICIAN, "li", "李师傅", frozenset({"maint"})),
        datetime.now(UTC),
    )
    worker = DeliveryWorker(store, channel.config, "telegram", channel.sender)
    await worker.run_once()
    offer = next(c for c in fake.sent(0, GROUP["id"]) if c.buttons())
    assert offer.buttons()[0]["callback_data"] == f"t:claim:{ticket.number}"
    edits = fake.of("editMessageText")
    assert edits and zh("telegram.offer_claimed", name="李师傅") in edits[-1].text
    assert channel.tables.offers(ticket.number)[0][2] == "offer_closed"


# -- inbound details -----------------------------------------------------------------------


async def test_album_is_one_message_and_big_files_are_refused(rig: Rig) -> None:
    fake = rig.fake
    await rig.send(fake.text(ALICE, "/start"))
    await rig.send(fake.text(ALICE, en("common.menu_report")))
    await rig.send(fake.text(ALICE, "Water"))
    await rig.send(fake.location(ALICE, 31.23, 121.47))
    await rig.send(fake.text(ALICE, "Room 302"))
    await rig.send(fake.contact(ALICE, "8613812340000"))
    await rig.send(fake.text(ALICE, "The bathroom pipe is leaking"))
    mark = fake.mark()
    await fake.push(
        fake.photo(ALICE, PHOTO, media_group_id="alb1", caption="two views"),
        fake.photo(ALICE, PHOTO + b"2", media_group_id="alb1"),
    )
    await fake.wait_for(lambda calls: fake.sent(mark, ALICE["id"]))
    await rig.channel.idle()
    answers = fake.sent(mark, ALICE["id"])
    assert len(answers) == 1, [a.text for a in answers]
    assert en("intake.ask_photos_more", count=2, left=2).split("(")[0][:12] in answers[0].text
    dialogue = json.loads(rig.store.chat("telegram", str(ALICE["id"])).dialogue or "{}")
    assert len(dialogue["data"]["photos"]) == 2
    assert "two views" in dialogue["data"]["description"]

    calls = await rig.send(fake.photo(ALICE, b"x", file_size=25 * 1024 * 1024))
    assert en("telegram.too_large", size=25, limit=20) in [c.text for c in calls]
    lost = fake.photo(ALICE, b"gone")
    for size in lost["message"]["photo"]:
        del fake.files[size["file_id"]]  # Telegram no longer has it
    calls = await rig.send(lost)
    assert en("telegram.download_failed") in [c.text for c in calls]
    dialogue = json.loads(rig.store.chat("telegram", str(ALICE["id"])).dialogue or "{}")
    assert len(dialogue["data"]["photos"]) == 2  # nothing half-added
    calls = await rig.send(fake.sticker(BOB))  # outside a dialogue, in the default language
    assert zh("common.unsupported") in [c.text for c in calls]


async def test_deep_link_prefills_the_building_and_groups_are_ignored(
    rig: Rig, caplog: pytest.LogCaptureFixture
) -> None:
    fake = rig.fake
    await rig.send(fake.text(ALICE, "/start east__b1"))
    calls = await rig.send(fake.text(ALICE, "Water"))
    assert any(c.markup.get("remove_keyboard") for c in calls)  # the spot, typed freely
    dialogue = json.loads(rig.store.chat("telegram", str(ALICE["id"])).dialogue or "{}")
    assert dialogue["data"]["area"] == "east" and dialogue["data"]["building"] == "b1"
    mark = fake.mark()
    await fake.push(fake.joined(GROUP, ZHANG))  # the operator adds the bot to a group
    await fake.push(fake.text(ZHANG, "hello group", chat=GROUP))
    await rig.send(fake.text(BOB, "/start"))  # handled after the group's updates
    await rig.channel.idle()
    assert not fake.sent(mark, GROUP["id"])
    assert "put -100123 in a team's groups.telegram" in caplog.text


async def test_an_accepted_update_survives_a_crash(tmp_path: Path) -> None:
    fake = await FakeTelegram().start()
    config = with_telegram(make_config(tmp_path), fake)
    store = Store(config.database, config)
    engine = Engine(store, config)
    first = TelegramChannel(config, TelegramSettings.from_config(config), store, engine)
    update = fake.text(ALICE, "/start")
    assert first.tables.accept(update["update_id"], update)  # 200 answered, then the crash
    second = TelegramChannel(config, TelegramSettings.from_config(config), store, engine)
    await second.start()
    try:
        await fake.wait_for(lambda calls: fake.sent(0, ALICE["id"]))
        await second.idle()
        assert second.tables.pending() == []
        assert not second.tables.accept(update["update_id"], update)
    finally:
        await second.stop()
        await first.application.shutdown()
        store.close()
        await fake.close()


async def test_status_shows_the_bot_and_the_webhook(tmp_path: Path) -> None:
    fake = await FakeTelegram().start()
    try:
        await fake.push(fake.text(ALICE, "/start"))  # queued: no webhook yet
        fake.webhook = {
            "url": "https://x.example/telegram/webhook",
            "last_error_message": "Connection refused",
        }
        config = with_telegram(make_config(tmp_path), fake)
        text = await telegram.status_text(config)
        assert "@baoxiu_test_bot" in text and "https://x.example/telegram/webhook" in text
        assert "Connection refused" in text and zh("telegram.status_pending", count=1) in text
        bad = with_telegram(make_config(tmp_path), fake, token="123:WRONG")
        with pytest.raises(ConfigError):
            await telegram.status_text(bad)
    finally:
        await fake.close()


# -- settings and layout -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("table", "names"),
    [
        ({"token": "nope"}, "channels.telegram.token"),
        ({"token": "1:a", "mode": "push"}, "channels.telegram.mode"),
        ({"token": "1:a", "mode": "webhook", "secret_token": SECRET}, "webhook_url: missing"),
        (
            {"token": "1:a", "mode": "webhook", "webhook_url": "https://x.example/t"},
            "secret_token: missing",
        ),
        ({"token": "1:a", "secret_token": "short"}, "secret_token: not a valid secret"),
        ({"token": "1:a", "api_base_url": "ftp://x"}, "channels.telegram.api_base_url"),
        ({"token": "1:a", "allowed_updates": ["message"]}, "allowed_updates"),
        ({"token": "1:a", "allowed_updates": ["message", "callback_query", "poll"]}, "poll"),
        ({"token": "1:a", "max_rate": -1}, "channels.telegram.max_rate"),
        ({"token": "1:a", "tokn": "x"}, "unknown key"),
        ({}, "channels.telegram.token: missing"),
    ],
)
def test_settings_name_the_key_and_the_fix(
    table: dict[str, Any], names: str, tmp_path: Path
) -> None:
    config = replace(make_config(tmp_path), extra_channels=MappingProxyType({"telegram": table}))
    with pytest.raises(ConfigError) as caught:
        TelegramSettings.from_config(config)
    message = str(caught.value)
    assert names in message and " — " in message
    assert "short" not in message  # secrets are never echoed


def test_settings_defaults_and_a_self_hosted_server(tmp_path: Path) -> None:
    table = {"token": "1:abc", "api_base_url": "http://127.0.0.1:8081/bot"}
    config = replace(make_config(tmp_path), extra_channels=MappingProxyType({"telegram": table}))
    settings = TelegramSettings.from_config(config)
    assert settings.mode == "polling" and not settings.webhook
    assert settings.file_base_url == "http://127.0.0.1:8081/file/bot"
    assert settings.allowed_updates == ("message", "callback_query", "my_chat_member")
    assert settings.max_rate == 30 and settings.group_max_rate == 20


@pytest.mark.parametrize(
    ("labels", "expected"),
    [
        (
            [("Fixed", "r:confirm:N"), ("Not fixed", "r:reopen:N")]
            + [(f"★{k}", f"r:rate:N:{k}") for k in range(1, 6)],
            [2, 5],
        ),
        ([("水", "i:cat:water"), ("网络", "i:cat:net"), ("电力", "i:cat:power")], [3]),
        ([("A very long label for a button", "x:1"), ("Another long one here", "x:2")], [1, 1]),
    ],
)
def test_buttons_are_laid_out_in_rows(labels: list[tuple[str, str]], expected: list[int]) -> None:
    laid = rows([Choice(label, data) for label, data in labels])
    assert [len(r) for r in laid] == expected


async def test_an_unreachable_bot_api_is_retried_and_nothing_is_lost(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    port = free_port()
    fake = FakeTelegram()
    fake.port = port  # not listening yet: Telegram is down when the service starts
    config = with_telegram(make_config(tmp_path), fake)
    store = Store(config.database, config)
    channel = TelegramChannel(
        config, TelegramSettings.from_config(config), store, Engine(store, config)
    )
    channel.retry_seconds = 0.05
    await channel.start()  # does not raise: the rest of the service keeps running
    try:
        assert "unreachable" in caplog.text
        update = fake.text(ALICE, "/start")
        assert channel.accept(Incoming.read(update, channel.bot))  # kept in the inbox
        await fake.start(port)
        await fake.wait_for(lambda calls: fake.sent(0, ALICE["id"]))
        await channel.idle()
        assert channel.tables.pending() == []
    finally:
        await channel.stop()
        store.close()
        await fake.close()


def test_every_setting_is_documented() -> None:
    from bots.telegram.settings import KEYS

    text = (Path(__file__).parents[1] / "docs" / "telegram.md").read_text(encoding="utf-8")
    missing = [key for key in KEYS if f"| `{key}` |" not in text]
    assert missing == [], f"docs/telegram.md does not describe {missing}"


async def test_a_failing_update_gets_an_apology_and_is_not_replayed(
    rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("a bug")

    monkeypatch.setattr(rig.channel.engine, "handle", broken)
    calls = await rig.send(rig.fake.text(BOB, "hello"))
    assert [c.text for c in calls if c.method == "sendMessage"] == [zh("telegram.failed")]
    assert rig.channel.tables.pending() == []  # a poison update does not come back


async def test_the_service_runs_the_bot_when_configured(tmp_path: Path) -> None:
    from bots.app import build_app

    fake = await FakeTelegram().start()
    config = with_telegram(make_config(tmp_path), fake)
    store = Store(config.database, config)
    server = TestServer(build_app(config, store=store), host="127.0.0.1")
    await server.start_server()
    try:
        assert fake.of("deleteWebhook")  # polling: any webhook is removed first
        await fake.push(fake.text(ALICE, "/start"))
        await fake.wait_for(lambda calls: fake.sent(0, ALICE["id"]))
        async with (
            ClientSession() as session,
            session.get(server.make_url("/healthz")) as resp,
        ):
            assert (await resp.json())["ok"]  # the rest of the service is up beside it
    finally:
        await server.close()
        store.close()
        await fake.close()
