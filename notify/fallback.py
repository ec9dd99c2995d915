"""What happens after a notice is sent or given up on: copies by SMS (and email) for a
reporter who wants them, and an alert to the dispatchers for a notice nobody received.

The reporter's choice (``/notify``, stored per chat, default ``[delivery] preference``):

- ``chat_only``: the chat, nothing else;
- ``chat_then_sms`` (default): the chat; when the chat cannot be reached (the person
  blocked the bot, the chat is gone, WeChat's 48-hour window has passed — any notice the
  chat's worker gives up on) the notice goes by SMS to the phone given in the report, and
  by email if the reporter gave an address and ``[email]`` is configured;
- ``sms_too``: every notice also by SMS (and email) as soon as the chat has it.

A reporter from a phone-only source is filed with ``reporter_channel = "sms"`` (or
``"phone"``, a caller filed at the console) and his phone as chat: his notices are SMS
from the start and need no fallback.

A notice given up on that was not passed on to a channel that really delivers (SMS with
the ``log`` provider only writes it down) becomes a ``dispatcher.dead_letter`` notice to
every chat bound to a dispatcher, or by SMS to the dispatchers' phones when none is
bound — never silently dropped. An alert that dies itself is logged as an error only.

Copies and alerts are ordinary outbox rows with keys derived from the original's, so a
retry of this step queues nothing twice. Nothing is sent from here.
"""

from __future__ import annotations

import logging
from datetime import datetime

from config.model import Config
from tickets import outbox
from tickets.notices import PERSONAL, mask_phone
from tickets.store import OutboxRow, Store

log = logging.getLogger(__name__)

OFF_CHAT = (outbox.SMS, outbox.EMAIL, outbox.PHONE)


class Fallback:
    def __init__(self, store: Store, config: Config) -> None:
        self.store = store
        self.config = config

    def after_sent(self, row: OutboxRow, now: datetime) -> None:
        """``row`` reached its chat: copy it off-chat for a reporter who chose ``sms_too``."""
        if self._choice(row) == "sms_too":
            self._copy(row, now)

    def after_dead(self, row: OutboxRow, reason: str, now: datetime) -> None:
        """``row`` was given up on: pass it on, or alert the dispatchers."""
        if row.kind == outbox.ALERT_KIND:
            log.error(
                "dead-letter alert %s to %s:%s could not be delivered either (%s)",
                row.id,
                row.channel,
                row.chat,
                reason,
            )
            return
        if row.kind == outbox.REPLY_KIND:
            # A dialogue answer given up on is stale: no SMS copy, no alert.
            log.warning(
                "dialogue reply %s to %s:%s given up: %s", row.id, row.channel, row.chat, reason
            )
            return
        choice = self._choice(row)
        if choice in ("chat_then_sms", "sms_too") and self._copy(row, now):
            return
        self.alert(row, reason, now)

    def alert(self, row: OutboxRow, reason: str, now: datetime) -> int:
        """Queue a ``dispatcher.dead_letter`` notice about ``row``; return how many rows."""
        params = {
            "number": row.number or "",
            "notice": row.kind,
            "channel": row.channel,
            "to": mask_phone(row.chat) if row.channel == outbox.SMS else row.chat,
            "error": reason[:200],
            "attempts": row.attempts + 1,
        }
        subject = row.number or f"#{row.id}"
        targets = [
            (channel, chat, locale)
            for channel, chat, locale in outbox.dispatcher_chats(self.store, self.config)
            if (channel, chat) != (row.channel, row.chat)
        ]
        if not targets:
            targets = [(outbox.SMS, d.phone, self.config.locale) for d in self.config.dispatchers]
        queued = 0
        for channel, chat, locale in targets:
            queued += outbox.queue(
                self.store,
                key=f"alert:{subject}:{row.kind}:{channel}:{chat}",
                number=row.number,
                event_id=row.event_id,
                kind=outbox.ALERT_KIND,
                channel=channel,
                chat=chat,
                locale=locale,
                params=params,
                priority=PERSONAL,
                now=now,
            )
        if not targets:
            log.error(
                "notice %s (%s to %s:%s) was given up on and no dispatcher is configured "
                "to be told: %s",
                row.id,
                row.kind,
                row.channel,
                row.chat,
                reason,
            )
        return queued

    # -- internals ----------------------------------------------------------------------
    def _choice(self, row: OutboxRow) -> str | None:
        """The reporter's choice if ``row`` is a notice to a reporter in his chat."""
        if row.channel in OFF_CHAT or not row.kind.startswith("reporter.") or not row.number:
            return None
        ticket = self.store.ticket(row.number)
        if ticket is None or (ticket.reporter_channel, ticket.reporter_chat) != (
            row.channel,
            row.chat,
        ):
            return None
        own = outbox.preference(self.store, row.channel, row.chat).preference
        return own or self.config.delivery.preference

    def _copy(self, row: OutboxRow, now: datetime) -> bool:
        """Queue the SMS/email copies of a reporter's notice; True if one of them really
        reaches him (the log provider does not)."""
        ticket = self.store.ticket(row.number or "")
        if ticket is None:
            return False
        reaches = False
        if ticket.phone:
            outbox.copy(self.store, row, outbox.SMS, ticket.phone, now, suffix=outbox.SMS)
            reaches = self.config.sms.delivers
        email = outbox.preference(self.store, row.channel, row.chat).email
        if email and self.config.email.enabled:
            outbox.copy(self.store, row, outbox.EMAIL, email, now, suffix=outbox.EMAIL)
            reaches = True
        return reaches
