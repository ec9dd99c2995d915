"""/notify and what it decides: the dialogue (tables in zh and en), the preference saved
by the engine, and the delivery's fallback — SMS (and email) copies for a reporter whose
chat cannot be reached, and dead-letter alerts to the dispatchers, never a silent drop."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import replace
from datetime import timedelta

import pytest
from conftest import NOW, draft
from dialogue import Dialogue, Not, make_ctx, sample_config

from bots.engine import Engine
from config.model import Config
from config.notify_config import EmailSettings, SmsSettings
from conversation import router
from conversation.actions import SetPreference
from conversation.events import Button, Command
from conversation.replies import Ask, Reply, text_of
from conversation.state import IDLE
from notify.delivery import DeliveryWorker
from notify.render import render_notice
from notify.sms import SmsSender
from notify.sms.log import LogProvider
from tickets import outbox
from tickets.errors import DeliveryError, InvalidInput
from tickets.model import Action, Actor, Role
from tickets.store import ChatRecord, OutboxRow, Store

WANG = Actor(Role.DISPATCHER, "wang", "王调度")
PHONE = "+8613812345678"  # the phone in conftest's drafts
BLOCKED = DeliveryError("forbidden (bot blocked or removed)", retry=False)
EMAIL_ON = EmailSettings(host="127.0.0.1", from_address="repair@example.com")


# -- the dialogue ---------------------------------------------------------------------------


def test_notify_dialogue_zh() -> None:
    d = Dialogue(router.step, make_ctx("zh_CN"), outcome=router.outcome)
    d.run(
        [
            ("/notify", ("怎样接收", "只在聊天中", "聊天，收不到时发短信", "聊天和短信都发")),
            (Button("n:set:sms_too"), ("已设置通知方式：聊天和短信都发", "报修时留下的电话")),
            ("/notify chat", ("已设置通知方式：只在聊天中", Not("短信会发到"))),
            ("/notify sms", "聊天，收不到时发短信"),
            ("/notify both", "聊天和短信都发"),
            ("/notify loudly", "用法：/notify"),
            ("/notify email a@example.com", "本服务没有开通邮件通知"),
            (Button("n:set:telepathy"), Not("已设置")),  # a crafted payload sets nothing
        ]
    )
    assert [a for a in d.actions if isinstance(a, SetPreference)] == [
        SetPreference(choice="sms_too"),
        SetPreference(choice="chat_only"),
        SetPreference(choice="chat_then_sms"),
        SetPreference(choice="sms_too"),
    ]
    assert d.state.flow is None  # /notify keeps no dialogue of its own


def test_notify_dialogue_en_with_email() -> None:
    config = replace(sample_config(), email=EMAIL_ON)
    d = Dialogue(router.step, make_ctx("en", config=config), outcome=router.outcome)
    d.run(
        [
            ("/notify", ("How do you want to hear", "Chat only", "Chat, then SMS if it fails")),
            (Button("n:set:chat_then_sms"), ("Notices: Chat, then SMS if it fails", "SMS go")),
            ("/notify email alice@example.com", "Notices also go to alice@example.com"),
            ("/notify email not-an-address", "is not an email address"),
            ("/notify email off", "No more email notices"),
        ]
    )
    assert [a for a in d.actions if isinstance(a, SetPreference)][1:] == [
        SetPreference(email="alice@example.com"),
        SetPreference(email=""),
    ]


def test_the_buttons_fit_a_payload() -> None:
    (ask,) = router.step(IDLE, Command("notify"), make_ctx("zh_CN")).replies
    assert isinstance(ask, Ask) and ask.inline
    assert all(len(c.data.encode()) <= 64 for c in ask.choices)


def test_the_engine_saves_the_choice(store: Store, config: Config) -> None:
    engine = Engine(store, config)
    engine.handle("telegram", "42", Command("notify"), NOW)
    said = engine.handle("telegram", "42", Button("n:set:chat_only"), NOW)
    assert "只在聊天中" in "\n".join(text_of(r) for r in said)
    assert outbox.preference(store, "telegram", "42") == outbox.Preference("chat_only", None)
    engine.handle("telegram", "42", Command("notify", "both"), NOW)
    assert outbox.preference(store, "telegram", "42").preference == "sms_too"
    with pytest.raises(InvalidInput):
        outbox.save_preference(store, "telegram", "42", NOW, choice="loud")


# -- the fallback ---------------------------------------------------------------------------


class Sender:
    """Records deliveries; fails every send to a chat in ``broken`` with its error."""

    def __init__(self, **broken: DeliveryError) -> None:
        self.broken = broken
        self.sent: list[OutboxRow] = []

    async def send(self, chat: str, replies: Sequence[Reply], notice: OutboxRow) -> str:
        if chat in self.broken:
            raise self.broken[chat]
        self.sent.append(notice)
        return f"id-{notice.id}"


def worker(
    store: Store, config: Config, sender: Sender, channel: str = "telegram"
) -> DeliveryWorker:
    return DeliveryWorker(store, config, channel, sender, jitter=0.0, clock=lambda: NOW)


def filed(store: Store, chat: str = "42", **kw: object) -> str:
    """A ticket a dispatcher filed for the resident of Telegram chat ``chat``: it queues a
    ``reporter.accepted`` for that chat (and the team's offer to its group)."""
    return store.create_ticket(draft(channel="telegram", chat=chat, **kw), NOW, actor=WANG).number


def rows(store: Store, number: str, channel: str, kind: str | None = None) -> list[OutboxRow]:
    return [
        r
        for r in store.notices_of(number)
        if r.channel == channel and (kind is None or r.kind == kind)
    ]


def alerts(store: Store) -> list[OutboxRow]:
    return [r for r in outbox.rows(store, limit=1000) if r.kind == outbox.ALERT_KIND]


def delivering(config: Config) -> Config:
    """The configuration with an SMS provider that really sends (not ``log``)."""
    return replace(config, sms=SmsSettings(provider="http"))


async def test_a_blocked_chat_falls_back_to_sms(store: Store, config: Config) -> None:
    config = delivering(config)
    number = filed(store)
    await worker(store, config, Sender(**{"42": BLOCKED})).run_once()
    (dead,) = rows(store, number, "telegram", "reporter.accepted")
    assert dead.status == "dead"
    (copy,) = rows(store, number, "sms")
    assert (copy.kind, copy.chat, copy.key) == ("reporter.accepted", PHONE, f"{dead.key}>sms")
    assert (copy.status, copy.params, copy.locale) == ("pending", dead.params, dead.locale)
    assert alerts(store) == []  # it is on its way: nobody needs to step in
    # The SMS worker delivers it.
    provider = LogProvider(config.sms)
    sms = DeliveryWorker(store, config, "sms", SmsSender(provider, config), clock=lambda: NOW)
    assert await sms.run_once() == 1
    assert [m.phone for m in provider.sent] == [PHONE]
    assert "已受理" in provider.sent[0].text


async def test_with_the_log_provider_the_dispatchers_are_told_too(
    store: Store, config: Config
) -> None:
    store.save_chat(ChatRecord("web", "disp-wang", role="dispatcher", person="wang"), NOW)
    number = filed(store)
    await worker(store, config, Sender(**{"42": BLOCKED})).run_once()
    assert len(rows(store, number, "sms")) == 1  # written to the log at least
    (alert,) = alerts(store)
    assert (alert.channel, alert.chat, alert.number) == ("web", "disp-wang", number)
    assert alert.params["notice"] == "reporter.accepted" and "blocked" in alert.params["error"]
    zh = "\n".join(text_of(r) for r in render_notice(alert, config))
    assert f"【未送达】工单 {number}" in zh and "telegram 42" in zh
    en = "\n".join(text_of(r) for r in render_notice(replace(alert, locale="en"), config))
    assert "[Undelivered]" in en and "Attempts: 1" in en
    (card,) = render_notice(alert, config)
    assert isinstance(card, Ask) and card.choices[0].data == f"d:show:{number}"


async def test_chat_only_is_not_copied_and_alerts_the_dispatchers(
    store: Store, config: Config
) -> None:
    config = delivering(config)
    outbox.save_preference(store, "telegram", "42", NOW, choice="chat_only")
    number = filed(store)
    await worker(store, config, Sender(**{"42": BLOCKED})).run_once()
    assert rows(store, number, "sms", "reporter.accepted") == []
    # No dispatcher chat is bound: the alert goes to the dispatcher's phone.
    (alert,) = alerts(store)
    assert (alert.channel, alert.chat) == ("sms", "+8613900000009")


async def test_sms_too_copies_every_notice_once(store: Store, config: Config) -> None:
    config = replace(delivering(config), email=EMAIL_ON)
    outbox.save_preference(
        store, "telegram", "42", NOW, choice="sms_too", email="alice@example.com"
    )
    number = filed(store)
    sender = Sender()
    assert await worker(store, config, sender).run_once() == 2  # accepted + the group's offer
    (copy,) = rows(store, number, "sms")
    (mail,) = rows(store, number, "email")
    assert (copy.kind, mail.kind, mail.chat) == (
        "reporter.accepted",
        "reporter.accepted",
        "alice@example.com",
    )
    # The same notice again (a redelivery after a crash) copies nothing twice.
    accepted = rows(store, number, "telegram", "reporter.accepted")[0]
    worker(store, config, sender).fallback.after_sent(accepted, NOW)
    assert len(rows(store, number, "sms")) == 1 and len(rows(store, number, "email")) == 1
    # The team's offer is no reporter notice: never copied.
    assert {r.kind for r in rows(store, number, "sms")} == {"reporter.accepted"}


async def test_retries_run_out_then_the_sms_goes(store: Store, config: Config) -> None:
    config = delivering(config)
    number = filed(store)
    clock = [NOW]
    down = Sender(**{"42": DeliveryError("502 Bad Gateway")})
    delivery = DeliveryWorker(
        store, config, "telegram", down, clock=lambda: clock[0], jitter=0.0, max_attempts=3
    )
    for _ in range(3):
        await delivery.run_once()
        clock[0] += timedelta(hours=1)
    (dead,) = rows(store, number, "telegram", "reporter.accepted")
    assert (dead.status, dead.attempts) == ("dead", 3)
    assert len(rows(store, number, "sms")) == 1 and alerts(store) == []
    tries = [a.outcome for a in outbox.attempts(store, dead.id)]
    assert tries == ["retry", "retry", "dead"]


async def test_a_technician_notice_given_up_on_alerts_the_dispatchers(
    store: Store, config: Config
) -> None:
    config = delivering(config)
    number = filed(store)  # before zhang binds a chat: the team's offer does not reach it
    store.save_chat(ChatRecord("telegram", "7001", role="technician", person="zhang"), NOW)
    store.save_chat(ChatRecord("telegram", "9001", role="dispatcher", person="wang"), NOW)
    store.apply(number, Action.ASSIGN, WANG, NOW, target="zhang")
    await worker(store, config, Sender(**{"7001": BLOCKED})).run_once()
    (alert,) = alerts(store)
    assert (alert.chat, alert.params["notice"]) == ("9001", "technician.assigned")
    assert rows(store, number, "sms", "technician.assigned") == []  # not the reporter's
    # The alert itself goes out through the dispatcher's chat on the next pass.
    sender = Sender()
    await worker(store, config, sender).run_once()
    assert outbox.ALERT_KIND in [n.kind for n in sender.sent]


async def test_a_dead_alert_is_logged_not_alerted_again(
    store: Store, config: Config, caplog: pytest.LogCaptureFixture
) -> None:
    store.save_chat(ChatRecord("telegram", "9001", role="dispatcher", person="wang"), NOW)
    number = filed(store, chat="43")
    broken = {"43": BLOCKED, "9001": BLOCKED}
    await worker(store, config, Sender(**broken)).run_once()
    with caplog.at_level(logging.ERROR, logger="notify.fallback"):
        await worker(store, config, Sender(**broken)).run_once()
    (alert,) = alerts(store)
    assert (alert.status, alert.number) == ("dead", number)
    assert "dead-letter alert" in caplog.text and "could not be delivered either" in caplog.text


async def test_a_phone_only_reporter_hears_by_sms_from_the_start(
    store: Store, config: Config
) -> None:
    ticket = store.create_ticket(draft(channel="sms", chat=PHONE), NOW, actor=WANG)
    provider = LogProvider(config.sms)
    sms = DeliveryWorker(store, config, "sms", SmsSender(provider, config), clock=lambda: NOW)
    assert await sms.run_once() == 1
    (message,) = provider.sent
    assert message.phone == PHONE and ticket.number in message.text
    assert message.kind == "reporter.accepted"


def test_an_undeliverable_notice_with_nobody_to_tell_is_logged(
    store: Store, config: Config, caplog: pytest.LogCaptureFixture
) -> None:
    from notify.fallback import Fallback

    nobody = replace(config, dispatchers=())
    number = filed(store)
    row = rows(store, number, "telegram", "team.offer")[0]
    with caplog.at_level(logging.ERROR, logger="notify.fallback"):
        assert Fallback(store, nobody).alert(row, "chat not found", NOW) == 0
    assert "no dispatcher is configured" in caplog.text


def test_preferences_keep_what_is_not_changed(store: Store) -> None:
    later = NOW + timedelta(minutes=1)
    outbox.save_preference(store, "web", "w1", NOW, email="a@example.com")
    outbox.save_preference(store, "web", "w1", later, choice="sms_too")
    assert outbox.preference(store, "web", "w1") == outbox.Preference("sms_too", "a@example.com")
    outbox.save_preference(store, "web", "w1", later, email="")
    assert outbox.preference(store, "web", "w1") == outbox.Preference("sms_too", None)
    assert outbox.preference(store, "web", "nobody") == outbox.Preference()
