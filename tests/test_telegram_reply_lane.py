"""Dialogue replies on Telegram take lane 0 of the channel's shared limiter, so a burst
of queued notices never delays them (issue 4); notices are paced by their worker."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bots.telegram.render import Outgoing
from conversation.replies import Ask, Choice, Say
from notify.limits import REPLY


class RecordingLimiter:
    def __init__(self) -> None:
        self.calls: list[tuple[str, int, bool]] = []

    async def acquire(self, chat: str = "", *, lane: int = 1, group: bool = False) -> float:
        self.calls.append((chat, lane, group))
        return 0.0


class RecordingBot:
    def __init__(self) -> None:
        self.sent: list[tuple[Any, str]] = []

    async def send_message(self, chat_id: Any, text: str, **_: Any) -> str:
        self.sent.append((chat_id, text))
        return text


async def test_replies_take_the_reply_lane_and_notices_do_not(tmp_path: Path) -> None:
    limiter = RecordingLimiter()
    bot = RecordingBot()
    out = Outgoing(bot, tmp_path, limiter)  # type: ignore[arg-type]
    replies = [Say("好的"), Ask("请选择", (Choice("水", "i:cat:water"),))]

    await out.send(501, replies, lane=REPLY)
    assert limiter.calls == [("501", REPLY, False), ("501", REPLY, False)]
    assert [text for _, text in bot.sent] == ["好的", "请选择"]

    await out.send(-100123, [Say("新工单")])  # a notice: its worker already took its turn
    assert len(limiter.calls) == 2
