"""The ``log`` SMS provider (the default): writes what would be sent, sends nothing.

The outbox row is marked sent with a ``log:`` id, so an operator sees in ``baoxiu outbox
show`` what went where; the fallback treats it as *not* reaching the person
(``SmsSettings.delivers``) and alerts the dispatchers as well.
"""

from __future__ import annotations

import logging
from collections import deque

from config.notify_config import SmsSettings
from notify.sms import SmsMessage
from tickets.notices import mask_phone

log = logging.getLogger(__name__)


class LogProvider:
    name = "log"

    def __init__(self, settings: SmsSettings) -> None:
        self.settings = settings
        self.sent: deque[SmsMessage] = deque(maxlen=100)  # the latest, for tests and REPLs

    async def send(self, message: SmsMessage) -> str:
        self.sent.append(message)
        log.info("SMS (log only) to %s: %s", mask_phone(message.phone), message.text)
        return f"log:{message.key}"

    async def close(self) -> None:
        return None
