"""The web chat's writer thread (issue 11: SQLite work off the event loop).

A dialogue step is written on ``bots.web.writer.Writer``'s thread, so a slow one does not
stall the page's long-polls; steps waiting together are committed together, each in its
own savepoint, so one failing step takes only itself back.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from bots.keys import ENGINE, STORE, WORKER
from bots.web.chat import WRITER
from bots.web.writer import Writer
from tests.web_report import SCRIPT
from tickets import outbox
from tickets.store import Store


async def test_a_page_is_answered_while_a_step_is_being_written(
    client: TestClient[Any, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    other = TestClient(client.server)  # a second browser, with its own session
    await other.start_server()
    try:
        for browser in (client, other):
            assert (await browser.get("/chat")).status == 200
            assert (await browser.get("/chat/api/messages?after=0&wait=0")).status == 200

        engine = client.server.app[ENGINE]  # type: ignore[union-attr]
        entered, release = threading.Event(), threading.Event()
        order: list[str] = []
        handle = engine.handle

        def slow_handle(*args: Any, **kwargs: Any) -> Any:
            # A slow step (a big query, a busy disk): holds the store until released, at
            # most 5 s — on the event loop's thread that would stall every request.
            entered.set()
            release.wait(5)
            order.append("step written")
            return handle(*args, **kwargs)

        monkeypatch.setattr(engine, "handle", slow_handle)
        sending = asyncio.create_task(client.post("/chat/api/send", json={"text": "hello"}))
        await asyncio.to_thread(entered.wait, 5)
        answer = await other.get("/chat/api/messages?after=0&wait=0")
        assert answer.status == 200
        order.append("other page answered")
        release.set()
        assert (await sending).status == 200
        assert order == ["other page answered", "step written"]
    finally:
        await other.close()


async def test_steps_committed_together_fail_alone(store: Store) -> None:
    store.db.execute("CREATE TABLE seen (step INTEGER)")
    writer = Writer(store)
    gate = threading.Event()

    def step(n: int) -> int:
        if n == 0:
            gate.wait(5)  # the others queue up meanwhile and form one group
        store.db.execute("INSERT INTO seen (step) VALUES (?)", [n])
        if n == 2:
            raise ValueError("step 2 fails after writing")
        return n

    try:
        first = asyncio.create_task(writer.run(lambda: step(0)))
        await asyncio.sleep(0)  # the first job is on the thread before the rest arrive
        rest = [asyncio.create_task(writer.run(lambda n=n: step(n))) for n in (1, 2, 3)]
        gate.set()
        results = await asyncio.gather(first, *rest, return_exceptions=True)
    finally:
        writer.close()
    assert results[:2] == [0, 1] and results[3] == 3
    assert isinstance(results[2], ValueError)
    kept = [row["step"] for row in store.query("SELECT step FROM seen ORDER BY step")]
    assert kept == [0, 1, 3]  # step 2's own write was rolled back, nobody else's


async def test_a_step_written_alone_that_fails_leaves_nothing(store: Store) -> None:
    store.db.execute("CREATE TABLE seen (step INTEGER)")
    writer = Writer(store)
    after: list[int] = []

    def step(n: int) -> int:
        store.db.execute("INSERT INTO seen (step) VALUES (?)", [n])
        writer.after_commit(lambda: after.append(n))
        if n == 1:
            raise ValueError("step 1 fails after writing")
        return n

    try:
        assert await writer.run(lambda: step(0)) == 0
        with pytest.raises(ValueError):
            await writer.run(lambda: step(1))  # alone in its group: no SAVEPOINT of its own
        assert await writer.run(lambda: step(2)) == 2
    finally:
        writer.close()
    assert [row["step"] for row in store.query("SELECT step FROM seen ORDER BY step")] == [0, 2]
    assert after == [0, 2]  # what follows a commit follows only the kept steps


async def test_two_first_polls_at_once_greet_once(client: TestClient[Any, Any]) -> None:
    # Two tabs opened together: both ask for the history of a chat that has none while
    # the first greeting is still waiting for the writer.
    assert (await client.get("/chat")).status == 200
    writer = client.server.app[WRITER]  # type: ignore[union-attr]
    gate, busy = threading.Event(), threading.Event()

    def hold() -> None:
        busy.set()
        gate.wait(5)

    held = asyncio.create_task(writer.run(hold))  # the writer is busy
    # Polls sent before the writer took the holding job could join its batch and never
    # show in the queue (a race seen under CI load): wait until it is really held.
    assert await asyncio.to_thread(busy.wait, 5)
    polls = [asyncio.create_task(client.get("/chat/api/messages?after=0&wait=0")) for _ in range(4)]
    async with asyncio.timeout(10):
        while writer._queue.qsize() < 4:  # every poll has asked for a greeting
            await asyncio.sleep(0.01)
    gate.set()
    await held
    answers = await asyncio.gather(*polls)
    assert [a.status for a in answers] == [200] * 4
    shown = [m["text"] for a in answers for m in (await a.json())["messages"]]
    assert shown and len(set(shown)) == len((await answers[0].json())["messages"])
    store = client.server.app[STORE]  # type: ignore[union-attr]
    [row] = store.query("SELECT COUNT(*) AS n FROM web_messages")
    assert row["n"] == len(set(shown))  # the greeting is kept once


async def test_the_delivery_worker_is_woken_only_by_a_step_that_queued_a_web_notice(
    client: TestClient[Any, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    app = client.server.app  # type: ignore[union-attr]
    worker, engine, store = app[WORKER], app[ENGINE], app[STORE]
    woken: list[int] = []
    monkeypatch.setattr(worker, "wake", lambda: woken.append(1))
    assert (await client.get("/chat")).status == 200
    assert (await client.get("/chat/api/messages?after=0&wait=0")).status == 200  # greeted

    def report(spot: str) -> list[dict[str, str]]:
        return [{k: v.format(spot=spot, phone="13800138000")} for k, v in SCRIPT]

    steps = report("3楼302室")
    for body in steps[:-1]:  # every question of a report: no action yet
        assert (await client.post("/chat/api/send", json=body)).status == 200
    assert woken == []
    assert (await client.post("/chat/api/send", json=steps[-1])).status == 200  # confirm
    assert woken == []  # a new ticket's notices go to the staff, none to a web chat

    handle = engine.handle

    def handle_and_tell_a_neighbour(*args: Any, **kwargs: Any) -> Any:
        replies = handle(*args, **kwargs)
        if kwargs.get("performed"):  # as an action whose notice goes to another web chat
            outbox.queue(
                store,
                key="neighbour",
                number=None,
                event_id=None,
                kind="ticket.accepted",
                channel="web",
                chat="wneighbour",
                locale="zh_CN",
                params={},
                priority=1,
                now=args[3],
            )
        return replies

    monkeypatch.setattr(engine, "handle", handle_and_tell_a_neighbour)
    steps = report("3楼303室")
    for body in steps[:-1]:
        assert (await client.post("/chat/api/send", json=body)).status == 200
    assert woken == []
    assert (await client.post("/chat/api/send", json=steps[-1])).status == 200
    assert woken == [1]  # that notice goes out at once
