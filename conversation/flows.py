"""The shape every flow module has, so the router can treat them alike.

A flow module (``intake``, ``followup``, ``technician``, ``dispatcher``) provides:

- ``step(state, event, ctx) -> Step`` for events while ``state.flow`` is its name;
- ``command(name, arg, state, ctx) -> Step | None`` for the slash commands it owns;
- ``button(data, state, ctx) -> Step | None`` for button payloads with its prefix, which
  may arrive in any dialogue state (a notice's buttons are pressed much later);
- ``outcome(action, ticket, ctx) -> tuple[Reply, ...]`` describing a performed action.
"""

from __future__ import annotations

from typing import Protocol

from conversation.actions import TicketAction
from conversation.context import Ctx
from conversation.events import InEvent
from conversation.replies import Reply
from conversation.state import DialogueState
from conversation.step import Step
from tickets.model import Ticket


class Flow(Protocol):
    NAME: str
    PREFIX: str  # button payload prefix, e.g. "r" for "r:rate:BX…:5"

    def step(self, state: DialogueState, event: InEvent, ctx: Ctx) -> Step: ...

    def command(self, name: str, arg: str, state: DialogueState, ctx: Ctx) -> Step | None: ...

    def button(self, data: str, state: DialogueState, ctx: Ctx) -> Step | None: ...

    def outcome(self, action: TicketAction, ticket: Ticket, ctx: Ctx) -> tuple[Reply, ...]: ...
