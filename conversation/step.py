"""The result of one dialogue step."""

from __future__ import annotations

from dataclasses import dataclass

from conversation.actions import TicketAction
from conversation.replies import Reply
from conversation.state import DialogueState


@dataclass(frozen=True)
class Step:
    state: DialogueState
    replies: tuple[Reply, ...] = ()
    actions: tuple[TicketAction, ...] = ()
