"""SMS: the ``sms`` channel's ``Sender`` and its providers.

``SmsSender`` is the ``notify.delivery.Sender`` of channel ``sms`` (the chat is an E.164
phone number): it composes the short text of the notice (``notify.sms.text``) and hands
an ``SmsMessage`` to the configured ``Provider``:

- ``log`` (the default) writes what would be sent to the log;
- ``aliyun`` — Aliyun SMS (dysmsapi 2017-05-25) through its SDK;
- ``tencent`` — Tencent Cloud SMS (2021-01-11) through its SDK;
- ``twilio`` — Twilio Programmable Messaging through its SDK;
- ``http`` — an in-house gateway: a URL, JSON or form fields from a template.

Each provider turns its vendor's answers into ``DeliveryError`` with ``retry`` set as the
answer means: a bad number or an unapproved template is not retried, a throttle or a
server error is. Vendor SDKs are optional extras, imported only by their provider.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from config.model import Config
from config.notify_config import SmsSettings
from conversation.replies import Reply
from notify.sms.text import compose, with_sign
from tickets.rows import OutboxRow

CHANNEL = "sms"


@dataclass(frozen=True)
class SmsMessage:
    phone: str  # E.164
    text: str  # what the phone shows: signature and body
    body: str  # without the signature (vendors with templates add it themselves)
    kind: str  # the notice kind whose text this is ("generic" if it had none)
    params: dict[str, str] = field(default_factory=dict)  # the text's placeholders, in order
    key: str = ""  # the notice's idempotency key
    locale: str = "zh_CN"


class Provider(Protocol):
    name: str

    async def send(self, message: SmsMessage) -> str:
        """Send; return the provider's message id. Raise ``DeliveryError``."""
        ...

    async def close(self) -> None: ...


class SmsSender:
    """``notify.delivery.Sender`` for channel ``sms``."""

    def __init__(self, provider: Provider, config: Config) -> None:
        self.provider = provider
        self.config = config

    def message(self, phone: str, notice: OutboxRow) -> SmsMessage:
        text = compose(notice, self.config)
        return SmsMessage(
            phone=phone,
            text=with_sign(text.body, self.config.sms.sign_name),
            body=text.body,
            kind=text.kind,
            params=text.params,
            key=notice.key,
            locale=text.locale,
        )

    async def send(self, chat: str, replies: Sequence[Reply], notice: OutboxRow) -> str:
        # An SMS has its own short text; the chat replies are not used.
        return await self.provider.send(self.message(chat, notice))

    async def close(self) -> None:
        await self.provider.close()


def build_provider(settings: SmsSettings) -> Provider:
    """The configured provider (its SDK imported only now)."""
    if settings.provider == "aliyun":
        from notify.sms.aliyun import AliyunProvider

        return AliyunProvider(settings)
    if settings.provider == "tencent":
        from notify.sms.tencent import TencentProvider

        return TencentProvider(settings)
    if settings.provider == "twilio":
        from notify.sms.twilio import TwilioProvider

        return TwilioProvider(settings)
    if settings.provider == "http":
        from notify.sms.http import HttpProvider

        return HttpProvider(settings)
    from notify.sms.log import LogProvider

    return LogProvider(settings)


__all__ = ["CHANNEL", "Provider", "SmsMessage", "SmsSender", "build_provider"]
