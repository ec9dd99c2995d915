"""Email notices through aiosmtplib to a fake SMTP server on 127.0.0.1: the message a
reporter gets, a stable Message-ID per notice, and SMTP answers mapped to retry or not."""

from __future__ import annotations

import email
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from email.message import Message
from typing import Any

import pytest
from fake_sms import FakeSmtp

from config.loader import default_text, load_text
from config.model import Config
from notify.email import EmailSender, message_id
from notify.render import render_notice
from tickets.errors import ConfigError, DeliveryError
from tickets.rows import OutboxRow

NOW = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
NUMBER = "BX20261123-0007"
ADDRESS = "alice@example.com"


def row(kind: str = "reporter.resolved", locale: str = "zh_CN", **params: Any) -> OutboxRow:
    return OutboxRow(
        id=3,
        key=f"9:{kind}:web:w1>email",
        number=NUMBER,
        event_id=9,
        kind=kind,
        channel="email",
        chat=ADDRESS,
        locale=locale,
        params={"number": NUMBER, "resolution": "换了阀门", **params},
        priority=1,
        status="pending",
        attempts=0,
        next_at=NOW,
        created_at=NOW,
    )


@pytest.fixture
async def smtp() -> AsyncIterator[FakeSmtp]:
    server = await FakeSmtp().start()
    yield server
    await server.close()


def configured(smtp: FakeSmtp) -> Config:
    return load_text(
        default_text() + f'\n[email]\nhost = "127.0.0.1"\nport = {smtp.port}\nsecurity = "none"\n'
        'from_address = "repair@example.com"\ntimeout = 5\n'
    )


def parsed(data: bytes) -> Message:
    return email.message_from_bytes(data)


async def test_a_notice_becomes_a_mail_with_a_stable_message_id(smtp: FakeSmtp) -> None:
    config = configured(smtp)
    notice = row()
    sender = EmailSender(config)
    provider_id = await sender.send(ADDRESS, render_notice(notice, config), notice)
    ((mail_from, recipients, data),) = smtp.messages
    assert (mail_from, recipients) == ("repair@example.com", [ADDRESS])
    mail = parsed(data)
    assert provider_id == mail["Message-ID"] == message_id(notice.key, "example.com")
    assert str(email.header.make_header(email.header.decode_header(mail["Subject"]))) == (
        f"【报修】工单 {NUMBER} 有新进展"
    )
    body = mail.get_payload(decode=True).decode("utf-8")  # type: ignore[union-attr]
    assert f"您的报修工单 {NUMBER} 已处理完成" in body and "换了阀门" in body
    assert "可在聊天中选择：确认修好 / 没修好 / ★1" in body  # a mail cannot press buttons
    assert "/notify" in body
    # The same notice again (a resend after a crash) carries the same Message-ID.
    assert await sender.send(ADDRESS, render_notice(notice, config), notice) == provider_id


async def test_english_mail(smtp: FakeSmtp) -> None:
    config = configured(smtp)
    notice = row("reporter.closed", "en")
    await EmailSender(config).send(ADDRESS, render_notice(notice, config), notice)
    mail = parsed(smtp.messages[0][2])
    assert mail["Subject"] == f"[Repair desk] News about ticket {NUMBER}"


async def test_a_refused_recipient_is_not_retried(smtp: FakeSmtp) -> None:
    config = configured(smtp)
    smtp.refuse_rcpt[ADDRESS] = "550 5.1.1 no such user"
    notice = row()
    with pytest.raises(DeliveryError) as info:
        await EmailSender(config).send(ADDRESS, render_notice(notice, config), notice)
    assert not info.value.retry and "no such user" in info.value.reason
    assert smtp.messages == []


async def test_a_busy_server_is_retried(smtp: FakeSmtp) -> None:
    config = configured(smtp)
    smtp.busy = 1
    notice = row()
    with pytest.raises(DeliveryError) as info:
        await EmailSender(config).send(ADDRESS, render_notice(notice, config), notice)
    assert info.value.retry
    await EmailSender(config).send(ADDRESS, render_notice(notice, config), notice)
    assert len(smtp.messages) == 1


async def test_an_unreachable_server_is_retried() -> None:
    server = await FakeSmtp().start()
    config = configured(server)
    await server.close()
    notice = row()
    with pytest.raises(DeliveryError) as info:
        await EmailSender(config).send(ADDRESS, render_notice(notice, config), notice)
    assert info.value.retry


def test_email_settings_are_checked() -> None:
    config = load_text(default_text())
    assert not config.email.enabled and config.email.port == 587
    tls = load_text(default_text() + '\n[email]\nsecurity = "tls"\n')
    assert tls.email.port == 465
    with pytest.raises(ConfigError, match=r"email.from_address = \"\": not an email address"):
        load_text(default_text() + '\n[email]\nhost = "smtp.example.com"\n')
    with pytest.raises(ConfigError, match="not one of starttls, tls, none"):
        load_text(default_text() + '\n[email]\nsecurity = "ssl"\n')
