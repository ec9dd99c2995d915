"""A Telegram notice of several Bot API calls resumes where it stopped (issue 10, defect 4).

The real python-telegram-bot client against the fake Bot API server: a notice of a photo
and a text whose text part answers 429 once is retried from the text — the person sees
the photo once — and the attempt says how far it got.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from conftest import make_config
from fake_telegram import FakeTelegram
from test_telegram import ALICE, with_telegram

from bots.engine import Engine
from bots.telegram import TelegramChannel
from bots.telegram.settings import TelegramSettings
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
    fake = await FakeTelegram().start()
    config = with_telegram(make_config(tmp_path), fake)
    store = Store(config.database, config)
    channel = TelegramChannel(
        config, TelegramSettings.from_config(config), store, Engine(store, config)
    )
    await channel.application.initialize()
    try:
        yield fake, channel, store
    finally:
        await channel.application.shutdown()
        store.close()
        await fake.close()


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
