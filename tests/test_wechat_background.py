"""bots.channel.callbacks.background, which runs the WeChat and WeCom delivery workers
and card sweeps: every job runs while the context is open, is stopped at its close, and
one job's failure is logged without keeping the others from stopping."""

from __future__ import annotations

import asyncio
import logging

import pytest

from bots.channel.callbacks import background


async def test_jobs_run_until_the_context_closes(caplog: pytest.LogCaptureFixture) -> None:
    ran: list[str] = []

    async def worker(stop: asyncio.Event) -> None:
        ran.append("started")
        await stop.wait()
        ran.append("stopped")

    async def failing(stop: asyncio.Event) -> None:
        await stop.wait()
        raise RuntimeError("boom")

    with caplog.at_level(logging.ERROR, logger="bots.channel.callbacks"):
        async with background(worker=worker, failing=failing):
            await asyncio.sleep(0)
            assert ran == ["started"]
    assert ran == ["started", "stopped"]
    assert [r.getMessage() for r in caplog.records] == ["failing failed"]
