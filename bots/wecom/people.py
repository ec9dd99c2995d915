"""Who a WeCom member is: the configured technician or dispatcher their chat acts as.

A member is bound by the ``wecom_userid`` configured for a person (all of them bound when
the service starts, so job offers reach them before they ever write), or else by the
mobile WeCom's ``user/get`` returns for them, matched against the configured phones — so
an operator need not copy every 账号. WeCom vouches for both: there is no self-binding by
a typed phone here. A person configured with another 账号 is never bound by mobile. A
member who is nobody's is a reporter, like anyone writing to a chat; their ``user/get``
answer is remembered for a while, so their messages do not each cost a call.

No dialogue here; the binding itself is ``Engine.bind``'s.
"""

from __future__ import annotations

import logging
import time
from datetime import datetime

import phonenumbers

from bots.engine import Engine
from bots.wecom.client import WeChatError, WeComClient
from bots.wecom.members import mark_of
from bots.wecom.store import CHANNEL
from config.model import Config, Dispatcher, Technician
from tickets.model import Role

log = logging.getLogger(__name__)

FORGET_SECONDS = 600.0
"""How long a member found to be nobody's is not looked up again."""
PHONE_REGION = "CN"

Person = Technician | Dispatcher


def role_of(config: Config, person: Person) -> str:
    return (Role.TECHNICIAN if person in config.technicians else Role.DISPATCHER).value


def by_userid(config: Config, userid: str) -> Person | None:
    people: tuple[Person, ...] = (*config.technicians, *config.dispatchers)
    wanted = userid.lower()  # WeCom 账号 are case-insensitive
    return next((p for p in people if p.wecom_userid.lower() == wanted and wanted), None)


def e164(mobile: str) -> str:
    try:
        number = phonenumbers.parse(mobile, PHONE_REGION)
    except phonenumbers.NumberParseException:
        return ""
    if not phonenumbers.is_valid_number(number):
        return ""
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


class People:
    def __init__(self, engine: Engine, client: WeComClient) -> None:
        self.engine = engine
        self.config = engine.config
        self.client = client
        self._nobody: dict[str, float] = {}  # userid -> when user/get matched no one

    def bind_configured(self, now: datetime) -> int:
        """Bind every person's configured 账号; return how many."""
        people: tuple[Person, ...] = (*self.config.technicians, *self.config.dispatchers)
        bound = 0
        for person in people:
            # One WeCom deleted or renamed, or an operator unbound, stays so (bots.wecom.members).
            if person.wecom_userid and mark_of(self.engine.store, person.wecom_userid) is None:
                self.engine.bind(
                    CHANNEL, person.wecom_userid, role_of(self.config, person), person.id, now
                )
                bound += 1
        return bound

    async def identify(self, userid: str, now: datetime) -> None:
        """Bind ``userid``'s chat if they are a configured person and it is not yet."""
        record = self.engine.store.chat(CHANNEL, userid)
        person = by_userid(self.config, userid)
        if person is not None and (record.role, record.person) == (
            role_of(self.config, person),
            person.id,
        ):
            return  # bound already: the usual case, no look-up of marks
        if person is not None and mark_of(self.engine.store, userid) is not None:
            person = None  # the configured 账号 was unbound (bots.wecom.members)
        if person is None and record.person and self._still_configured(record.person):
            return
        if person is None:
            person = await self._by_mobile(userid)
        if person is None:
            return
        role = role_of(self.config, person)
        if (record.role, record.person) != (role, person.id):
            log.info("WeCom member %s acts as %s %s", userid, role, person.id)
            self.engine.bind(CHANNEL, userid, role, person.id, now)

    def _still_configured(self, person: str) -> bool:
        return (self.config.technician(person) or self.config.dispatcher(person)) is not None

    async def _by_mobile(self, userid: str) -> Person | None:
        if mark_of(self.engine.store, userid) is not None:
            return None  # unbound by an operator, or gone from WeCom (bots.wecom.members)
        checked = self._nobody.get(userid)
        if checked is not None and time.monotonic() - checked < FORGET_SECONDS:
            return None
        try:
            member = await self.client.user(userid)
        except WeChatError as error:
            log.warning("WeCom user/get %s failed: %s", userid, error)
            if error.code not in (None, -1):  # refused (unknown, not visible to the app)
                self._nobody[userid] = time.monotonic()
            return None  # busy or unreachable: the next message asks again
        phone = e164(str(member.get("mobile") or ""))
        found = self.config.person_by_phone(phone) if phone else None
        if (
            found is not None
            and found.wecom_userid
            and found.wecom_userid.lower() != userid.lower()
        ):
            log.warning(
                "WeCom member %s has the phone of %s, who is configured as %s: not bound",
                userid,
                found.id,
                found.wecom_userid,
            )
            found = None
        if found is None:
            self._nobody[userid] = time.monotonic()
        return found
