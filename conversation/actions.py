"""Ticket actions a dialogue step asks for. The engine performs them in the same
transaction that saves the dialogue state, then asks the flow named in ``flow`` to
describe the outcome (``outcome`` / ``refused``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from tickets.model import Action, Draft


@dataclass(frozen=True)
class CreateTicket:
    draft: Draft
    flow: str = "intake"


@dataclass(frozen=True)
class Act:
    """Apply ``action`` to ticket ``number``. ``target`` is a technician id (assign,
    transfer) or a master ticket number (merge)."""

    number: str
    action: Action
    note: str = ""
    data: dict[str, Any] = field(default_factory=dict)
    target: str | None = None
    flow: str = "followup"


@dataclass(frozen=True)
class SetLocale:
    locale: str
    flow: str = "common"


@dataclass(frozen=True)
class Bind:
    """Bind this chat to a configured technician or dispatcher (verified phone)."""

    role: str
    person: str
    flow: str = "common"


@dataclass(frozen=True)
class Rule:
    """A rule command that is no single step of one ticket's life: a repeat report, joining
    a large-area incident, opening or closing one, publishing or cancelling a planned
    outage. The engine hands it to ``Store.perform_rule(kind, params, actor, now)``."""

    kind: str  # e.g. "repeat.hurry", "incident.join", "outage.add" (tickets.rule_effects)
    params: dict[str, Any] = field(default_factory=dict)
    flow: str = "dispatcher"


@dataclass(frozen=True)
class SetPreference:
    """How this chat's person wants notices about their reports (/notify): ``choice`` is
    chat_only | chat_then_sms | sms_too; ``email`` an address for copies ("" clears it)."""

    choice: str | None = None
    email: str | None = None
    flow: str = "preferences"


@dataclass(frozen=True)
class SendCode:
    """Send the one-time ``code`` by SMS to ``phone`` (E.164), which the person typed and
    must confirm (``conversation.phone_code``)."""

    phone: str
    code: str
    flow: str = "intake"


TicketAction = CreateTicket | Act | SetLocale | Bind | Rule | SetPreference | SendCode
