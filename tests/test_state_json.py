"""The saved dialogue's text (``conversation.state``): written by the C encoder directly
and read by the C scanner directly, it must stay exactly what ``json.dumps`` wrote and
``json.loads`` read, or a saved chat would look changed (rewritten) or read otherwise."""

from __future__ import annotations

import json
from typing import Any

import pytest

from conversation.state import IDLE, DialogueState

DATA: list[dict[str, Any]] = [
    {},
    {"category": "water_leak", "spot": "3楼101室", "photos": ["a", "b"], "time": ""},
    {"latitude": 31.2, "longitude": 121.5, "n": 10**30, "done": True, "none": None},
    {"description": 'line\n"quoted"\t\\ \u2028 表情😀', "nested": {"k": [1, {"x": []}]}},
]


@pytest.mark.parametrize("data", DATA)
def test_the_text_is_json_dumps(data: dict[str, Any]) -> None:
    state = DialogueState("intake", "spot", data)
    text = state.to_json()
    assert text == json.dumps({"flow": "intake", "step": "spot", "data": data}, ensure_ascii=False)
    assert DialogueState.from_json(text) == state


def test_what_json_loads_reads_is_read_alike() -> None:
    assert DialogueState.from_json(' {"flow": "intake", "step": "x"} \n').step == "x"
    assert DialogueState.from_json(None) is IDLE
    for broken in ('{"flow": "intake"} x', '{"flow": ', "nul", " "):
        with pytest.raises(ValueError):
            DialogueState.from_json(broken)
    with pytest.raises(TypeError):
        DialogueState("intake", "x", {"x": object()}).to_json()
