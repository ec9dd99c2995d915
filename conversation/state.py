"""The saved state of one dialogue, stored as JSON per (channel, chat)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from typing import Any


@dataclass(frozen=True)
class DialogueState:
    """``flow`` names the module driving the dialogue (``intake``, ``followup``,
    ``technician``, ``dispatcher``) or is ``None`` when idle; ``step`` is that flow's
    own position; ``data`` holds what has been collected so far (JSON values only)."""

    flow: str | None = None
    step: str | None = None
    data: dict[str, Any] = field(default_factory=dict)

    def to(self, step: str | None, **updates: Any) -> DialogueState:
        """Same flow, another step, with ``data`` updated."""
        return replace(self, step=step, data={**self.data, **updates})

    def to_json(self) -> str:
        return _ENCODE({"flow": self.flow, "step": self.step, "data": self.data})

    @staticmethod
    def from_json(raw: str | None) -> DialogueState:
        if not raw:
            return IDLE
        obj = json.loads(raw)
        return DialogueState(obj.get("flow"), obj.get("step"), dict(obj.get("data") or {}))


# json.dumps(…, ensure_ascii=False) builds a new encoder at every call (once per step).
_ENCODE = json.JSONEncoder(ensure_ascii=False).encode

IDLE = DialogueState()
