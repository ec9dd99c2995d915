"""Staff accounts of the console: the four roles and what each may do.

Pure: no database, no hashing, no clock. ``tickets.staff_store`` keeps the accounts;
the console and ``baoxiu user`` ask ``may`` before doing anything. Roles are ordered:
each one may do everything of the roles before it, and more.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from tickets.errors import InvalidInput


class StaffRole(StrEnum):
    AGENT = "agent"  # 坐席: takes phone reports, looks tickets up
    DISPATCHER = "dispatcher"  # everything on tickets
    LEAD = "lead"  # plus statistics and escalations
    ADMIN = "admin"  # plus accounts


ORDER = (StaffRole.AGENT, StaffRole.DISPATCHER, StaffRole.LEAD, StaffRole.ADMIN)


class Can(StrEnum):
    """What a staff member may do in the console."""

    VIEW = "view"  # queue, ticket pages, technicians board, incidents list
    INTAKE = "intake"  # file a ticket for a caller (channel phone)
    NOTE = "note"  # add a note to a ticket
    CALL = "call"  # show the reporter's full phone (logged)
    ACT = "act"  # assign, transfer, merge, priority, cancel, reopen
    INCIDENTS = "incidents"  # open/close incidents, planned outages
    STATS = "stats"
    ACCOUNTS = "accounts"


_LEAST: dict[Can, StaffRole] = {
    Can.VIEW: StaffRole.AGENT,
    Can.INTAKE: StaffRole.AGENT,
    Can.NOTE: StaffRole.AGENT,
    Can.CALL: StaffRole.AGENT,
    Can.ACT: StaffRole.DISPATCHER,
    Can.INCIDENTS: StaffRole.DISPATCHER,
    Can.STATS: StaffRole.LEAD,
    Can.ACCOUNTS: StaffRole.ADMIN,
}

LOGIN = re.compile(r"[a-z0-9][a-z0-9_.-]{1,31}")
MIN_PASSWORD = 10
MAX_PASSWORD = 256


@dataclass(frozen=True)
class StaffMember:
    login: str
    name: str
    role: StaffRole
    active: bool = True
    dispatcher: str | None = None
    """The configured dispatcher id this account acts as (its events' actor id)."""

    @property
    def actor_id(self) -> str:
        return self.dispatcher or f"staff:{self.login}"


def may(role: StaffRole, what: Can) -> bool:
    return ORDER.index(role) >= ORDER.index(_LEAST[what])


def role_of(text: str) -> StaffRole:
    try:
        return StaffRole(text.strip().lower())
    except ValueError:
        raise InvalidInput("console.bad_role", role=text) from None


def check_login(text: str) -> str:
    login = text.strip().lower()
    if not LOGIN.fullmatch(login):
        raise InvalidInput("console.bad_login", login=text)
    return login


def check_password(text: str) -> str:
    """A password long enough to resist guessing, short enough to hash cheaply."""
    if not MIN_PASSWORD <= len(text) <= MAX_PASSWORD:
        raise InvalidInput("console.bad_password", least=MIN_PASSWORD, most=MAX_PASSWORD)
    return text
