"""The webhook answers once its update is handled (issue 11): a toast or the last reply
rides in the webhook's own answer, as the Bot API allows; the update is recorded in its
handling's transaction; a slow handling still never loses an update answered 200, and a
delivery that comes twice at once is handled once."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import ClientSession
from fake_telegram import FakeTelegram
from test_telegram import ALICE, SECRET, en, webhook_served

from bots.telegram import TELEGRAM, TelegramChannel, hook
from bots.telegram.render import markup, markup_data
from conversation.replies import (
    Ask,
    Choice,
    RemoveKeyboard,
    Reply,
    RequestContact,
    RequestLocation,
    Say,
)


class Hooked:
    def __init__(self, fake: FakeTelegram, channel: TelegramChannel, url: str) -> None:
        self.fake, self.channel, self.url = fake, channel, url

    async def post(self, update: dict[str, Any]) -> tuple[int, dict[str, Any] | None]:
        """POST as Telegram does; the status and the Bot API call the answer carries
        (not performed: the test looks at it)."""
        headers = {"X-Telegram-Bot-Api-Secret-Token": SECRET}
        async with (
            ClientSession() as session,
            session.post(self.url, json=update, headers=headers) as resp,
        ):
            body = await resp.read()
            call = json.loads(body) if resp.content_type == "application/json" else None
            return resp.status, call


@pytest.fixture
async def hooked(tmp_path: Path) -> AsyncIterator[Hooked]:
    async with webhook_served(tmp_path) as (fake, app, url):
        yield Hooked(fake, app[TELEGRAM], url)


def processed(channel: TelegramChannel, update_id: int) -> int:
    rows = channel.store.query(
        "SELECT count(*) AS n FROM processed_updates WHERE channel = 'telegram' AND update_id = ?",
        [str(update_id)],
    )
    return int(rows[0]["n"])


async def test_the_last_reply_and_a_toast_ride_in_the_webhook_answer(hooked: Hooked) -> None:
    fake = hooked.fake
    # /start answers with two messages: the bot sends the greeting and has its answer
    # before the webhook answers with the menu, so Telegram shows them in order.
    start = fake.text(ALICE, "/start")
    status, call = await hooked.post(start)
    assert status == 200 and call is not None and call["method"] == "sendMessage"
    assert [c.text for c in fake.sent(0, ALICE["id"])] == [en("common.welcome_reporter")]
    assert call["text"] == en("common.menu")
    assert processed(hooked.channel, start["update_id"]) == 1
    assert hooked.channel.tables.pending() == []  # no inbox copy: recorded when handled

    # The menu's "report" brings one message (the categories): it is the answer.
    mark = fake.mark()
    status, call = await hooked.post(fake.text(ALICE, en("common.menu_report")))
    assert status == 200 and call is not None
    assert call["method"] == "sendMessage" and call["chat_id"] == ALICE["id"]
    labels = [k["text"] for row in call["reply_markup"]["keyboard"] for k in row]
    assert labels == ["Water", "Network", "Power"]
    assert not fake.sent(mark)  # not sent a second time by the bot
    # The keyboard it carried is known: a press on it (its label) is read as the choice.
    mark = fake.mark()
    status, call = await hooked.post(fake.text(ALICE, "Water"))
    assert status == 200
    asked = [*fake.sent(mark), *([call] if call else [])]
    assert asked, "the category was not taken"

    # A press: the toast (answerCallbackQuery) is the answer; messages go out as calls.
    message = {"message_id": 1, "date": 0, "chat": {"id": ALICE["id"], "type": "private"}}
    press = fake.press(ALICE, message, "i:area:east")
    mark = fake.mark()
    status, call = await hooked.post(press)
    assert status == 200 and call is not None
    assert call["method"] == "answerCallbackQuery"
    assert call["callback_query_id"] == press["callback_query"]["id"]
    assert not fake.of("answerCallbackQuery", mark)


async def test_a_slow_handling_keeps_the_update_before_answering(
    hooked: Hooked, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake, channel = hooked.fake, hooked.channel
    monkeypatch.setattr(hook, "WAIT_SECONDS", 0.05)
    fake.delay = 0.3  # every Bot API call is slow: /start's two replies take 0.6 s
    start = fake.text(ALICE, "/start")
    first = asyncio.create_task(hooked.post(start))
    await asyncio.sleep(0.1)  # /start is handled (recorded), its replies are going out
    assert processed(channel, start["update_id"]) == 1
    follow = fake.text(ALICE, en("common.menu_report"))
    status, call = await hooked.post(follow)  # waits behind /start in the chat's order
    assert status == 200 and call is None
    # Answered 200 before it was handled: it is kept, so a crash now would not lose it.
    assert [b["update_id"] for b in channel.tables.pending()] == [follow["update_id"]]
    assert await first == (200, None)
    await channel.idle()
    assert channel.tables.pending() == []
    assert len(fake.sent(0, ALICE["id"])) == 3  # all sent by the bot: the webhooks had left
    assert processed(channel, follow["update_id"]) == 1
    # Delivered again (Telegram missed our 200): nothing is done.
    fake.delay = 0
    mark = fake.mark()
    assert await hooked.post(follow) == (200, None)
    await channel.idle()
    assert not fake.sent(mark)


async def test_an_update_delivered_twice_at_once_is_handled_once(hooked: Hooked) -> None:
    fake, channel = hooked.fake, hooked.channel
    await hooked.post(fake.text(ALICE, "/start"))
    update = fake.text(ALICE, en("common.menu_report"))
    mark = fake.mark()
    answers = await asyncio.gather(hooked.post(update), hooked.post(json.loads(json.dumps(update))))
    await channel.idle()
    calls = [call for _, call in answers if call is not None]
    assert sorted(status for status, _ in answers) == [200, 200]
    # One handling: one reply in all, carried by one answer or sent once.
    assert len(calls) + len(fake.sent(mark, ALICE["id"])) == 1
    assert processed(channel, update["update_id"]) == 1


def test_reply_markup_as_plain_data_is_what_ptb_would_send() -> None:
    """The lean paths build the keyboards' JSON directly; it must equal PTB's."""
    choices = (
        Choice("水", "i:cat:water"),
        Choice("网络", "i:cat:net"),
        Choice("电", "i:cat:power"),
    )
    stars = tuple(Choice(f"★{n}", f"r:rate:BX1:{n}") for n in range(1, 6))
    replies: list[Reply] = [
        Say("好的"),
        Ask("请选择", choices),
        Ask("请选择", choices, inline=True),
        Ask("评分", stars, inline=True),
        RequestContact("请分享", "分享手机号"),
        RequestLocation("请分享", "分享位置"),
        RemoveKeyboard("好的"),
    ]
    for reply in replies:
        keys = markup(reply)
        assert markup_data(reply) == (None if keys is None else keys.to_dict()), reply
