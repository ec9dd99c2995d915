"""Email as a channel: ``EmailSender`` is the ``notify.delivery.Sender`` of channel
``email`` (the chat is an address), sending through the ``[email]`` SMTP server with
aiosmtplib (extra ``email``).

The body is the text of the same replies a chat would show (buttons listed by their
labels, since a mail cannot press them), then a footer; the subject names the ticket.
The ``Message-ID`` is made from the notice's idempotency key, so a resend after a crash
carries the same id and mail clients that look at it show it once; it is also the
provider id recorded in the outbox.

SMTP answers decide: a refused recipient or a permanent (5xx) answer is not retried; a
temporary (4xx) answer, a dropped connection, a time-out are.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from email.message import EmailMessage
from email.utils import formatdate

from config.model import Config
from conversation.i18n import translate
from conversation.replies import Ask, Reply, ShowPhotos
from tickets.errors import DeliveryError
from tickets.rows import OutboxRow

CHANNEL = "email"


def message_id(key: str, domain: str) -> str:
    return f"<{hashlib.sha256(key.encode()).hexdigest()[:32]}@{domain}>"


def compose(
    address: str, replies: Sequence[Reply], notice: OutboxRow, config: Config
) -> EmailMessage:
    settings = config.email
    locale = notice.locale
    lines: list[str] = []
    for reply in replies:
        lines.append(reply.caption if isinstance(reply, ShowPhotos) else reply.text)
        if isinstance(reply, Ask) and reply.choices:
            labels = " / ".join(choice.label for choice in reply.choices)
            lines.append(translate(locale, "email.choices", labels=labels))
    lines += ["", "--", translate(locale, "email.footer")]
    message = EmailMessage()
    number = notice.number or ""
    message["Subject"] = (
        translate(locale, "email.subject", number=number)
        if number
        else translate(locale, "email.subject_general")
    )
    message["From"] = settings.from_address
    message["To"] = address
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = message_id(notice.key, settings.from_address.rpartition("@")[2])
    message.set_content("\n".join(line for line in lines if line is not None))
    return message


class EmailSender:
    """``notify.delivery.Sender`` for channel ``email``."""

    def __init__(self, config: Config) -> None:
        self.config = config

    async def send(self, chat: str, replies: Sequence[Reply], notice: OutboxRow) -> str:
        import aiosmtplib

        settings = self.config.email
        message = compose(chat, replies, notice, self.config)
        try:
            await aiosmtplib.send(
                message,
                hostname=settings.host,
                port=settings.port,
                username=settings.username or None,
                password=settings.password or None,
                use_tls=settings.security == "tls",
                start_tls=settings.security == "starttls",
                timeout=settings.timeout,
            )
        except aiosmtplib.SMTPRecipientsRefused as exc:
            raise DeliveryError(f"smtp: recipient refused: {exc}", retry=False) from exc
        except aiosmtplib.SMTPResponseException as exc:
            permanent = 500 <= exc.code < 600
            raise DeliveryError(f"smtp {exc.code}: {exc.message}", retry=not permanent) from exc
        except (aiosmtplib.SMTPException, OSError) as exc:
            raise DeliveryError(f"smtp: {exc}", retry=True) from exc
        return str(message["Message-ID"])
