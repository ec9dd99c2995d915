"""Random requests against the web chat API (issue 10, "keep it found").

Several sessions send a seeded mix of well-formed steps (pressing the buttons they were
shown, typing answers) and malformed requests (wrong types, huge numbers, lone
surrogates, control characters, broken JSON and multipart, odd query strings). No answer
may be a 5xx, nothing may be logged at ERROR, and every ticket's event log stays one
unbroken chain ending in the ticket's state.

`make test` sends a few hundred requests; `make soak` many more (``BAOXIU_FUZZ_REQUESTS``).
"""

from __future__ import annotations

import itertools
import json
import logging
import os
import random
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import FormData
from aiohttp.test_utils import TestClient, TestServer

from bots.app import build_app
from config.model import Config
from tests.test_webchat import png_bytes
from tickets.store import Store

REQUESTS = int(os.environ.get("BAOXIU_FUZZ_REQUESTS", "400"))
SESSIONS = 5

ODD_STRINGS = [
    "",
    " ",
    "\ud800",
    "a\udfffb",
    "\x00",
    "\x1b[31m",
    "²",
    "①",
    "9" * 5000,
    "-1",
    "1e400",
    "' OR 1=1 --",
    "<script>alert(1)</script>",
    "/start area=east&building=b1",
    "/status BX20990101-0001",
    "/cancel",
    "/lang en",
    "漏水" * 600,
    "c:report",
    "i:cat:water",
    "x" * 70,
    "t:claim:BX20990101-0001",
]
ODD_VALUES: list[Any] = [
    None,
    True,
    0,
    -1,
    10**400,
    1.5,
    [],
    {},
    {"lat": 10**400, "lon": 1},
    {"lat": "31", "lon": "121"},
    {"lat": 31.2, "lon": 121.5},
    ["text", "hi"],
    *ODD_STRINGS,
]


class Fuzzer:
    def __init__(self, client: TestClient[Any, Any], chance: random.Random) -> None:
        self.client, self.chance = client, chance
        self.seen = 0
        self.buttons: list[str] = ["c:report"]

    async def open(self) -> None:
        await self.client.get("/chat")

    async def one(self) -> int:
        pick = self.chance.random()
        if pick < 0.35 and self.buttons:
            return await self.send({"button": self.chance.choice(self.buttons)})
        if pick < 0.5:
            typed = self.chance.choice(["3楼302室", "138 1234 5678", "卫生间水管漏水很严重", "1"])
            return await self.send({"text": typed})
        if pick < 0.7:
            key = self.chance.choice(["text", "button", "location", "start", "sticker"])
            return await self.send({key: self.chance.choice(ODD_VALUES)})
        if pick < 0.8:
            return await self.raw(self.chance.choice(_BROKEN_BODIES))
        if pick < 0.9:
            return await self.poll(self.chance.choice(_QUERIES))
        return await self.upload()

    async def send(self, body: Any) -> int:
        resp = await self.client.post("/chat/api/send", json=body)
        return resp.status

    async def raw(self, body: bytes) -> int:
        resp = await self.client.post(
            "/chat/api/send", data=body, headers={"Content-Type": "application/json"}
        )
        return resp.status

    async def poll(self, query: str) -> int:
        resp = await self.client.get(f"/chat/api/messages?{query}")
        if resp.status == 200 and query.startswith("after=") and "wait=0" in query:
            body = await resp.json()
            for message in body["messages"]:
                shown = [c["data"] for c in message.get("choices", ())]
                if shown:
                    self.buttons = shown
        return resp.status

    async def upload(self) -> int:
        form = FormData()
        data = self.chance.choice([png_bytes(), b"GIF89a" + b"\x00" * 10, b"not an image", b""])
        name = self.chance.choice(["p.png", "../../etc/passwd", "照片.jpg", "a;b=c.png"])
        kind = self.chance.choice(["image/png", "text/html", "image/jpeg"])
        form.add_field("photo", data, filename=name, content_type=kind)
        if self.chance.random() < 0.3:
            caption = self.chance.choice(ODD_STRINGS)
            # A form part is UTF-8 on the wire: a lone surrogate cannot even be sent.
            form.add_field("caption", caption.encode("utf-8", "replace").decode())
        resp = await self.client.post(
            "/chat/api/photo",
            data=form,
            headers={"Origin": f"http://{self.client.host}:{self.client.port}"},
        )
        return resp.status


_BROKEN_BODIES = [
    b"{",
    b"",
    b"null",
    b"[]",
    b'{"text": "\\ud800"}',
    b'{"location": {"lat": ' + b"9" * 400 + b', "lon": 1}}',
    b"\xff\xfe\x00",
    json.dumps({"text": "a" * 5000}).encode(),
    b'{"text": 1e999}',
]
_QUERIES = [
    "after=0&wait=0",
    "after=0&wait=0",
    "after=" + "9" * 20 + "&wait=0",
    "after=" + "9" * 5000,
    "after=-5&wait=0",
    "after=%C2%B2&wait=0",
    "after=1&wait=abc",
    "after=1&wait=-3",
    "wait=0",
]


@pytest.fixture
async def clients(config: Config, store: Store) -> AsyncIterator[list[TestClient[Any, Any]]]:
    server = TestServer(build_app(config, store=store), host="127.0.0.1")
    opened = [TestClient(server) for _ in range(SESSIONS)]
    await opened[0].start_server()
    for client in opened:
        await client.start_server()
    try:
        yield opened
    finally:
        for client in opened:
            await client.close()


async def test_random_requests_get_no_5xx_and_corrupt_nothing(
    clients: list[TestClient[Any, Any]], store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    chance = random.Random(1129)
    fuzzers = [Fuzzer(client, chance) for client in clients]
    for fuzzer in fuzzers:
        await fuzzer.open()
    statuses: dict[int, int] = {}
    with caplog.at_level(logging.WARNING):
        for _ in range(REQUESTS):
            status = await chance.choice(fuzzers).one()
            statuses[status] = statuses.get(status, 0) + 1
    assert all(status < 500 for status in statuses), statuses
    assert statuses.get(200, 0) > REQUESTS // 4, statuses  # the dialogue really went on
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert errors == [], [r.getMessage() for r in errors]
    for ticket in store.query("SELECT number, state FROM tickets"):
        events = store.query(
            "SELECT from_state, to_state FROM events WHERE number = ? ORDER BY id",
            [ticket["number"]],
        )
        assert events[0]["from_state"] is None
        for before, after in itertools.pairwise(events):
            assert after["from_state"] == before["to_state"]
        assert events[-1]["to_state"] == ticket["state"]
