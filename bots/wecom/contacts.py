"""WeCom's contact changes (通讯录变更): the ``change_contact`` events posted to the app's
callback, turned into changes of who a member's chat acts as.

WeCom sends them from ``sys`` (not from a member) when the 通讯录 changes, for members in
the app's visible range (可见范围), with ``ChangeType``:

- ``delete_user`` (``UserID``): the member left the corporation. Their chat is unbound
  at once; a technician left with no bound chat holding jobs alerts the dispatchers.
- ``update_user`` (``UserID``; ``NewUserID`` when the 账号 was changed; ``Mobile`` when
  the mobile was — WeCom sends it only to apps allowed to read it): a new 账号 moves the
  binding to it. A new mobile that is no longer the bound person's configured phone
  unbinds — unless the configuration names this very 账号 for them
  (``wecom_userid``), which is the operator's word and outranks the mobile.

Other changes (create_user, parties, tags) change no binding: a new member is bound when
they first write, as always. The event is recorded in ``processed_updates`` in its own
transaction, so WeCom's retry changes nothing twice. The work is ``bots.wecom.members``';
this module only reads the event.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from bots.wecom import members
from bots.wecom.people import by_userid, e164
from config.model import Config
from tickets.store import Store

log = logging.getLogger(__name__)

EVENT = "change_contact"
DELETE_USER = "delete_user"
UPDATE_USER = "update_user"


def is_contact_change(fields: Mapping[str, Any]) -> bool:
    return str(fields.get("MsgType") or "") == "event" and str(fields.get("Event") or "") == EVENT


class Contacts:
    def __init__(self, store: Store, config: Config) -> None:
        self.store = store
        self.config = config

    def changed(self, key: str, fields: Mapping[str, Any], now: datetime) -> None:
        """Apply one ``change_contact`` event (once, however often WeCom posts it)."""
        change = str(fields.get("ChangeType") or "")
        userid = str(fields.get("UserID") or "").strip()
        with self.store.transaction():
            if not self.store.record_update(members.CHANNEL, key) or not userid:
                return
            if change == DELETE_USER:
                person = members.unbind(self.store, userid, now, state=members.DELETED)
                if person:
                    log.info("WeCom member %s deleted: unbound from %s", userid, person)
            elif change == UPDATE_USER:
                self._updated(userid, fields, now)

    def _updated(self, userid: str, fields: Mapping[str, Any], now: datetime) -> None:
        new = str(fields.get("NewUserID") or "").strip()
        if new and new.lower() != userid.lower():
            person = members.move(self.store, userid, new, now)
            log.info("WeCom member %s is now %s (bound: %s)", userid, new, person or "nobody")
            userid = new
        if "Mobile" not in fields:  # not changed, or the app may not read it
            return
        record = self.store.chat(members.CHANNEL, members.chat_of(self.store, userid))
        if not record.person:
            return
        bound = self.config.technician(record.person) or self.config.dispatcher(record.person)
        if bound is None:
            return
        if by_userid(self.config, userid) is bound:
            return  # configured by 账号: the configuration decides, not the mobile
        if e164(str(fields.get("Mobile") or "")) != bound.phone:
            # No mark: the mobile match may bind the 账号 again, to whom the new mobile is.
            members.unbind(self.store, userid, now, state=None)
            log.info("WeCom member %s has a new mobile: unbound from %s", userid, bound.id)
