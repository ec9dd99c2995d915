"""The saved state of one dialogue, stored as JSON per (channel, chat)."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from json.encoder import encode_basestring
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
        return _encode({"flow": self.flow, "step": self.step, "data": self.data})

    @staticmethod
    def from_json(raw: str | None) -> DialogueState:
        if not raw:
            return IDLE
        obj = _decode(raw)
        return DialogueState(obj.get("flow"), obj.get("step"), dict(obj.get("data") or {}))


# Every step saves its dialogue and reads it at the next: the text is exactly
# json.dumps(…, ensure_ascii=False)'s, without building an encoder (and its checks for
# circular references: the data are JSON values only) at every call.
_ENCODER = json.JSONEncoder(ensure_ascii=False)
_MAKE: Callable[..., Callable[[Any, int], Any]] | None = getattr(
    json.encoder, "c_make_encoder", None
)  # CPython's C encoder (None in a Python without it: then the encoder's own path)
_C_ENCODE = (
    None
    if _MAKE is None
    else _MAKE(
        None,
        _ENCODER.default,
        encode_basestring,
        None,
        _ENCODER.key_separator,
        _ENCODER.item_separator,
        False,
        False,
        True,
    )
)


def _encode(obj: dict[str, Any]) -> str:
    if _C_ENCODE is None:
        return _ENCODER.encode(obj)
    return "".join(_C_ENCODE(obj, 0))


# (typeshed lacks scan_once, the decoder's C scanner)
_SCAN: Callable[[str, int], tuple[Any, int]] = getattr(json.JSONDecoder(), "scan_once")  # noqa: B009


def _decode(raw: str) -> Any:
    """``json.loads(raw)``; the text as saved (one value, nothing around it) is read
    without the wrapper's checks, anything else goes through them (and their errors)."""
    try:
        obj, end = _SCAN(raw, 0)
    except (StopIteration, ValueError):
        end = -1
    return obj if end == len(raw) else json.loads(raw)


IDLE = DialogueState()
