"""Telegram messages that fail half-way or in an outage are not lost nor sent twice.

The real python-telegram-bot client against the fake Bot API server:

- a notice of a photo and a text whose text part answers 429 once is retried from the
  text — the person sees the photo once — and the attempt says how far it got (issue 10,
  defect 4);
- a dialogue reply that meets a 502 is kept in the outbox and retried like a notice, and
  a later reply to that chat waits behind it (issue 10, defect 6).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from conftest import make_config
from fake_telegram import FakeTelegram
from test_telegram import ALICE, Rig, channel_sending, en, rig

from bots.telegram import TelegramChannel
from notify.delivery import DeliveryWorker
from tickets import outbox
from tickets.store import Store

PHOTO = b"\xff\xd8\xff\xe0" + b"fixed" * 50


class Clock:
    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
async def sending(tmp_path: Path) -> AsyncIterator[tuple[FakeTelegram, TelegramChannel, Store]]:
    async with channel_sending(make_config(tmp_path)) as sent:
        yield sent


async def test_a_notice_failing_on_its_text_resumes_after_its_photo(
    sending: tuple[FakeTelegram, TelegramChannel, Store],
) -> None:
    fake, channel, store = sending
    clock = Clock()
    config = channel.config
    config.media_dir.mkdir(parents=True, exist_ok=True)
    (config.media_dir / "fixed.jpg").write_bytes(PHOTO)
    outbox.queue(
        store,
        key="1:reporter.resolved:telegram:alice",
        number="20261123-0001",
        event_id=None,
        kind="reporter.resolved",
        channel="telegram",
        chat=str(ALICE["id"]),
        locale="en",
        params={"number": "20261123-0001", "resolution_photos": ["fixed.jpg"]},
        priority=1,
        now=clock.now,
    )
    worker = DeliveryWorker(store, config, "telegram", channel.sender, clock=clock, jitter=0.0)
    fake.fail("sendMessage", 429, retry_after=2)  # exactly the text part, once

    assert await worker.run_once() == 0
    (row,) = store.notices_of("20261123-0001")
    assert row.status == "pending" and row.parts_sent == 1 and row.attempts == 0
    (attempt,) = outbox.attempts(store, row.id)
    assert attempt.outcome == "rate_limited" and "after 1 of the notice's calls" in attempt.error

    clock.now += timedelta(seconds=2)
    assert await worker.run_once() == 1
    (row,) = store.notices_of("20261123-0001")
    assert row.status == "sent" and row.parts_sent == 2
    photos = [c for c in fake.of("sendPhoto") if c.chat == str(ALICE["id"])]
    assert len(photos) == 1  # shown once, not again with the retried text
    texts = [c for c in fake.of("sendMessage") if c.chat == str(ALICE["id"])]
    assert len(texts) == 2 and "r:confirm:20261123-0001" in str(texts[-1].params)


__all__ = ["rig"]  # the fixture of test_telegram, used here


def kept_rows(store: Store) -> list[dict[str, object]]:
    return store.query("SELECT * FROM outbox WHERE kind = 'dialogue.reply' ORDER BY id")


def texts_to(rig: Rig, chat: int) -> list[tuple[str, dict[str, object]]]:
    """The messages the chat shows, in the order they arrived (failed calls left out)."""
    return [(m.get("text", ""), m) for (cid, _), m in rig.fake.messages.items() if cid == chat]


async def test_a_reply_in_an_outage_is_kept_and_a_later_one_waits_behind_it(rig: Rig) -> None:
    fake, store = rig.fake, rig.store
    worker = rig.channel.worker
    worker.base_backoff, worker.jitter = 0.2, 0.0
    # The reply to /start fails, and so does its first retry from the outbox.
    fake.fail("sendMessage", 502, "Bad Gateway", times=2)
    await fake.push(fake.text(ALICE, "/start"))
    await fake.wait_for(lambda calls: fake.of("sendMessage"))  # the failed reply
    await rig.channel.idle()
    kept = store.query("SELECT * FROM outbox WHERE kind = 'dialogue.reply'")
    assert kept and kept[0]["chat"] == str(ALICE["id"]) and kept[0]["priority"] == 0

    # Meanwhile the resident asks for help: that answer must not overtake the menu.
    mark = fake.mark()
    await fake.push(fake.text(ALICE, "/help"))
    await fake.wait_for(lambda calls: fake.of("sendMessage", mark) or len(kept_rows(store)) > 1)
    await rig.channel.idle()
    menu = en("common.menu_report")
    for _ in range(300):  # the worker's retries: 0.2 s, then at once for the one behind
        if not store.query("SELECT id FROM outbox WHERE status = 'pending'"):
            break
        await asyncio.sleep(0.05)
    shown = texts_to(rig, ALICE["id"])
    assert fake.failures.get("sendMessage") == []  # both failures were met
    rows = store.query(
        "SELECT status, attempts FROM outbox WHERE kind = 'dialogue.reply' ORDER BY id"
    )
    assert [r["status"] for r in rows] == ["sent", "sent"] and rows[0]["attempts"] >= 1
    menu_at = next(i for i, (_, m) in enumerate(shown) if menu in str(m))
    help_at = max(i for i, (t, _) in enumerate(shown) if "/notify" in t or "/help" in t)
    assert menu_at < help_at, shown
