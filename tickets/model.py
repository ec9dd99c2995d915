"""Records of the domain: tickets, events, actors, drafts. Frozen, typed, no behaviour."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any


class State(StrEnum):
    NEW = "new"
    ASSIGNED = "assigned"
    ON_SITE = "on_site"
    PAUSED = "paused"
    RESOLVED = "resolved"
    CLOSED = "closed"
    CANCELLED = "cancelled"
    DUPLICATE = "duplicate"


OPEN_STATES = frozenset({State.NEW, State.ASSIGNED, State.ON_SITE, State.PAUSED})
"""States in which someone still has to do something about the fault."""

FINAL_STATES = frozenset({State.CLOSED, State.CANCELLED, State.DUPLICATE})


class Action(StrEnum):
    ACCEPT = "accept"  # the ticket is created; only the store writes this event
    CLAIM = "claim"
    ASSIGN = "assign"
    SIGN_IN = "sign_in"
    PAUSE = "pause"
    RESUME = "resume"
    RESOLVE = "resolve"
    CONFIRM = "confirm"
    RATE = "rate"
    REOPEN = "reopen"
    CANCEL = "cancel"
    RELEASE = "release"
    TRANSFER = "transfer"
    HURRY = "hurry"
    ADD_INFO = "add_info"
    MERGE = "merge"
    PRIORITY = "priority"  # the dispatcher (or a rule) changes the priority
    REMIND = "remind"  # a time limit is half or mostly used up; the holder is reminded
    ESCALATE = "escalate"  # a time limit is breached; the dispatcher (then the lead) is told
    FOLLOW_UP = "follow_up"  # the dispatcher records the outcome of a satisfaction call
    ERASE = "erase"  # the reporter's personal data was erased (tickets.privacy); state stays
    NOTE = "note"  # console staff add an internal note; the state stays (no workflow rule)
    PHONE_SHOWN = "phone_shown"  # console staff were shown the reporter's full phone
    ACKNOWLEDGE = "acknowledge"  # the holder confirms receipt of an assigned job (接单确认)


class Role(StrEnum):
    REPORTER = "reporter"
    TECHNICIAN = "technician"
    DISPATCHER = "dispatcher"
    SYSTEM = "system"


class Mode(StrEnum):
    """How a category's tickets find their technician."""

    CLAIM = "claim"
    AUTO = "auto"
    MANUAL = "manual"


class Priority(StrEnum):
    URGENT = "urgent"
    HIGH = "high"
    NORMAL = "normal"
    LOW = "low"


@dataclass(frozen=True)
class Actor:
    """Who does something.

    ``id`` is ``"channel:chat"`` for a reporter, the configured person id for a
    technician or dispatcher, and ``"system"`` for rules and timers. ``teams`` is the
    set of teams a technician belongs to (checked by ``claim``).
    """

    role: Role
    id: str
    name: str = ""
    teams: frozenset[str] = frozenset()

    @staticmethod
    def reporter(channel: str, chat: str) -> Actor:
        return Actor(Role.REPORTER, f"{channel}:{chat}")

    @staticmethod
    def system() -> Actor:
        return Actor(Role.SYSTEM, "system", "system")


@dataclass(frozen=True)
class Draft:
    """What a reporter has told us, before it becomes a ticket."""

    category: str  # leaf code, e.g. "water.leak"
    phone: str  # E.164
    description: str
    reporter_channel: str
    reporter_chat: str
    reporter_locale: str = "zh_CN"
    area: str = ""
    building: str = ""
    spot: str = ""
    latitude: float | None = None
    longitude: float | None = None
    photos: tuple[str, ...] = ()
    preferred_time: str = ""


@dataclass(frozen=True)
class Ticket:
    number: str
    state: State
    category: str
    team: str
    priority: Priority
    mode: Mode
    phone: str
    description: str
    reporter_channel: str
    reporter_chat: str
    reporter_locale: str
    created_at: datetime
    updated_at: datetime
    area: str = ""
    building: str = ""
    spot: str = ""
    latitude: float | None = None
    longitude: float | None = None
    photos: tuple[str, ...] = ()
    preferred_time: str = ""
    holder: str | None = None  # technician id
    paused_from: State | None = None
    pause_reason: str = ""
    claim_due: datetime | None = None
    arrive_due: datetime | None = None
    resolve_due: datetime | None = None
    signed_in_at: datetime | None = None
    resolved_at: datetime | None = None
    closed_at: datetime | None = None
    resolution: str = ""
    resolution_photos: tuple[str, ...] = ()
    distance_m: float | None = None
    rating: int | None = None
    comment: str = ""
    hurry_count: int = 0
    reopen_count: int = 0
    master: str | None = None
    # The limits it broke ("claim", "arrive", "resolve", comma-separated): kept after the
    # job is done, for the statistics. Set by the store, not by the workflow.
    overdue: str = ""
    version: int = 1
    # When the holder acknowledged the job (接单确认): set by a claim, an acknowledge or a
    # sign-in; cleared by an assignment or transfer, which must be acknowledged again.
    acknowledged_at: datetime | None = None

    @property
    def reporter(self) -> str:
        """The reporter's actor id."""
        return f"{self.reporter_channel}:{self.reporter_chat}"

    @property
    def is_open(self) -> bool:
        return self.state in OPEN_STATES


@dataclass(frozen=True)
class Event:
    """One row of a ticket's append-only timeline."""

    number: str
    at: datetime
    actor_role: Role
    actor_id: str
    action: Action
    from_state: State | None
    to_state: State
    note: str = ""
    data: dict[str, Any] = field(default_factory=dict)
    id: int | None = None
