"""Slow clients are timed out and the service keeps answering (issue 10, defect 8):
300 connections trickling their headers once stayed open for good.

The app runs as ``baoxiu serve`` runs it (the runner's keep-alive timer, here shortened)
on a real 127.0.0.1 port; the clients are raw sockets."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import ClientSession, web

from bots import app as service
from bots import serving
from bots.app import build_app
from config.model import Config
from conversation.i18n import translate
from tickets.store import Store

TRICKLERS = 60


@pytest.fixture
async def served(config: Config, store: Store) -> AsyncIterator[int]:
    runner = web.AppRunner(build_app(config, store=store), keepalive_timeout=1.0)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield port
    finally:
        await runner.cleanup()


async def trickle(port: int, stop: asyncio.Event) -> bool:
    """Send a request's headers a byte at a time; True if the server hung up on us."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        for byte in b"GET /chat HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 10_000:
            if stop.is_set():
                return False
            writer.write(bytes([byte]))
            await writer.drain()
            try:
                if await asyncio.wait_for(reader.read(1), 0.2) == b"":
                    return True
            except TimeoutError:
                continue
        return False
    except ConnectionError:
        return True
    finally:
        writer.close()


async def test_trickling_headers_are_cut_off_and_others_still_served(served: int) -> None:
    stop = asyncio.Event()
    slow = [asyncio.create_task(trickle(served, stop)) for _ in range(TRICKLERS)]
    await asyncio.sleep(0.3)
    async with ClientSession() as http, http.get(f"http://127.0.0.1:{served}/healthz") as resp:
        assert resp.status == 200  # a normal request is answered meanwhile
    try:
        async with asyncio.timeout(10):
            hung_up = await asyncio.gather(*slow)
    finally:
        stop.set()
    assert all(hung_up), f"{hung_up.count(False)} slow clients kept their connection"


async def test_a_trickled_body_gets_a_408(
    served: int, monkeypatch: pytest.MonkeyPatch, config: Config
) -> None:
    monkeypatch.setattr("bots.web.chat.JSON_BODY_SECONDS", 0.5)
    async with ClientSession() as http, http.get(f"http://127.0.0.1:{served}/chat") as page:
        cookie = page.cookies["baoxiu_session"].value
    reader, writer = await asyncio.open_connection("127.0.0.1", served)
    body = b'{"text": "hello there"}'
    head = (
        "POST /chat/api/send HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\nCookie: baoxiu_session={cookie}\r\n\r\n"
    )
    writer.write(head.encode() + body[:3])  # and then nothing more
    await writer.drain()
    answer: Any = await asyncio.wait_for(reader.read(4096), 5)
    writer.close()
    assert answer.startswith(b"HTTP/1.1 408")
    said = json.loads(answer.split(b"\r\n\r\n", 1)[1])
    assert said["error"] == translate("zh_CN", "web.error_too_slow")


def test_the_service_runs_with_the_header_deadline(
    config: Config, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[dict[str, Any]] = []
    monkeypatch.setattr(serving, "serve", lambda app, sock, **kw: calls.append(kw) or sock.close())
    service.run(config)
    [options] = calls
    assert options["keepalive_timeout"] == service.HEADER_SECONDS
