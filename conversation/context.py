"""What a dialogue step may know: configuration, time, who is talking, and a read-only
view of tickets (``Lookup``), given as an argument so steps stay pure and testable."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from config.model import Config
from conversation.i18n import translate
from tickets.model import Actor, Role, Ticket


class Lookup(Protocol):
    """Read-only questions a dialogue may ask about tickets."""

    def ticket(self, number: str) -> Ticket | None: ...

    def tickets_of(self, channel: str, chat: str, limit: int = 10) -> Sequence[Ticket]:
        """The reporter's tickets, open first, newest first."""
        ...

    def open_duplicate(
        self, channel: str, chat: str, category: str, spot: str, since: datetime
    ) -> Ticket | None:
        """An open ticket of this reporter with this category and spot created after ``since``."""
        ...

    def jobs_of(self, technician: str) -> Sequence[Ticket]:
        """Open tickets held by this technician."""
        ...

    def offered_to(self, technician: str) -> Sequence[Ticket]:
        """New tickets in claim mode of the technician's teams, oldest first."""
        ...

    def queue(self, limit: int = 20) -> Sequence[Ticket]:
        """Open tickets nobody holds, oldest first (the dispatcher's queue)."""
        ...


@dataclass(frozen=True)
class Ctx:
    config: Config
    now: datetime  # aware, UTC
    channel: str
    chat: str
    locale: str
    lookup: Lookup
    role: Role = Role.REPORTER
    person: str | None = None  # technician/dispatcher id when bound
    last_phone: str | None = None  # the reporter's last phone, offered again
    can_share_contact: bool = False  # the channel has a verified "share contact" button
    can_share_location: bool = False
    random: int = 0  # a random number the engine draws for each step (one-time codes)

    def t(self, key: str, **params: Any) -> str:
        return translate(self.locale, key, **params)

    @property
    def actor(self) -> Actor:
        if self.role is Role.REPORTER or self.person is None:
            return Actor.reporter(self.channel, self.chat)
        name = ""
        teams: frozenset[str] = frozenset()
        if self.role is Role.TECHNICIAN:
            tech = self.config.technician(self.person)
            name = tech.name if tech else self.person
            teams = self.config.teams_of(self.person)
        elif self.role is Role.DISPATCHER:
            disp = self.config.dispatcher(self.person)
            name = disp.name if disp else self.person
        return Actor(self.role, self.person, name, teams)
