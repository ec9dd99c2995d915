"""Twilio Programmable Messaging through Twilio's own SDK (``twilio``, extra
``sms-twilio``). The SDK's synchronous client (requests) runs in a worker thread: its
asyncio client logs in with ``aiohttp.BasicAuth``, which aiohttp 3.14 deprecates.
``endpoint`` replaces ``https://api.twilio.com`` (a test server).

Twilio takes free text, so the signature-led catalog text is sent as it is. Errors:
an invalid, unreachable or unsubscribed number (21211, 21214, 21610, 21612, 21614, …)
or any other 4xx — not retried; 429 and 5xx — retried. Twilio has no idempotency key
for sending: a resend after a crash can arrive twice.
"""

from __future__ import annotations

import asyncio
from typing import Any

from config.notify_config import SmsSettings
from notify.sms import SmsMessage
from tickets.errors import DeliveryError

RETRY_STATUSES = frozenset({401, 408, 409, 429, 500, 502, 503, 504})
# 401: a wrong token is the operator's to fix; the notices wait for it.


class TwilioProvider:
    name = "twilio"

    def __init__(self, settings: SmsSettings) -> None:
        self.settings = settings

    def client(self) -> Any:
        from twilio.http.http_client import TwilioHttpClient
        from twilio.rest import Client

        options = self.settings.options
        client = Client(
            options["account_sid"],
            options["auth_token"],
            http_client=TwilioHttpClient(timeout=self.settings.timeout),
        )
        client.api.base_url = str(options["endpoint"]).rstrip("/")
        return client

    def _send(self, message: SmsMessage) -> str:
        options = self.settings.options
        extra: dict[str, str] = {}
        if options.get("messaging_service_sid"):
            extra["messaging_service_sid"] = str(options["messaging_service_sid"])
        else:
            extra["from_"] = str(options["from_number"])
        created = self.client().messages.create(to=message.phone, body=message.text, **extra)
        return str(created.sid or "")

    async def send(self, message: SmsMessage) -> str:
        from twilio.base.exceptions import TwilioException, TwilioRestException

        try:
            return await asyncio.to_thread(self._send, message)
        except TwilioRestException as exc:
            reason = f"twilio {exc.status} ({exc.code}): {exc.msg}"
            raise DeliveryError(
                reason, retry=exc.status in RETRY_STATUSES or exc.status >= 500
            ) from exc
        except (TwilioException, OSError) as exc:
            raise DeliveryError(f"twilio: {exc}", retry=True) from exc

    async def close(self) -> None:
        return None
