"""Delivery passes run on an event loop of their own (``bots.offloop``): a pass waiting
for the store (held by the web chat's writer committing a group, a slow query) does not
stall the requests, and a worker woken from the requests' loop still delivers."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from bots.keys import STORE, WORKER
from bots.notify_workers import WORKERS
from bots.offloop import OffLoop, OffLoopWorker


async def test_a_delivery_pass_waiting_for_the_store_does_not_stall_requests(
    client: TestClient[Any, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    app = client.server.app  # type: ignore[union-attr]
    store = app[STORE]
    workers = [app[WORKER], *app[WORKERS].values()]
    assert all(isinstance(w, OffLoopWorker) and w.off is not None for w in workers)
    worker = app[WORKER]
    passing, held, release = threading.Event(), threading.Event(), threading.Event()
    order: list[str] = []
    run_once = worker.run_once

    async def noted_pass() -> int:
        passing.set()
        return await run_once()

    monkeypatch.setattr(worker, "run_once", noted_pass)

    def hold_the_store() -> None:
        with store.reader():  # as the writer does while it commits a group
            held.set()
            release.wait(5)  # on the requests' loop, a pass would stall them this long
            order.append("store released")

    holder = threading.Thread(target=hold_the_store)
    holder.start()
    try:
        assert await asyncio.to_thread(held.wait, 5)
        passing.clear()
        worker.wake()  # from the requests' loop
        assert await asyncio.to_thread(passing.wait, 5)  # the pass has begun, and waits
        assert (await client.get("/healthz")).status == 200
        order.append("request answered")
    finally:
        release.set()
        await asyncio.to_thread(holder.join)
    assert order == ["request answered", "store released"]


async def test_an_off_loop_runs_work_and_stops() -> None:
    off = OffLoop("test-offloop")
    try:
        here = threading.get_ident()

        async def where() -> int:
            await asyncio.sleep(0)
            return threading.get_ident()

        assert await off.run(where()) != here
    finally:
        await off.close()
    assert off.loop.is_closed()
