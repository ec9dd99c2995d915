"""Nothing acknowledged is lost when the service dies (issue 10, "keep it found").

A real `baoxiu serve` on 127.0.0.1 and its own SQLite file; simulated residents report
faults over the web chat API while the process is SIGKILLed at random moments and started
again. Afterwards: every ticket number a resident was shown exists, every ticket in the
database was shown to its reporter (no ticket whose number nobody saw, no second ticket
for one report), and each ticket's event log is one unbroken chain ending in its state.

`make test` runs a few rounds (about 20 s); `make soak` runs many more
(``BAOXIU_SOAK_ROUNDS``).
"""

from __future__ import annotations

import asyncio
import itertools
import os
import random
import signal
import sys
from collections import defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import aiohttp
import pytest

from config.loader import load
from tests.web_report import NUMBER, SCRIPT, free_port
from tickets.store import Store

ROOT = Path(__file__).resolve().parent.parent
ROUNDS = int(os.environ.get("BAOXIU_SOAK_ROUNDS", "4"))
RESIDENTS = 4


class Service:
    """`baoxiu serve` as a child process that can be killed and started again."""

    def __init__(self, data: Path, port: int) -> None:
        self.data, self.port = data, port
        self.process: asyncio.subprocess.Process | None = None
        self.up = asyncio.Event()

    async def start(self) -> None:
        env = {**os.environ, "BAOXIU_DATA_DIR": str(self.data), "PYTHONPATH": str(ROOT)}
        env.pop("BAOXIU_CONFIG", None)
        self.process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bots.cli",
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            env=env,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )
        async with asyncio.timeout(30), aiohttp.ClientSession() as http:
            while True:
                try:
                    async with http.get(f"http://127.0.0.1:{self.port}/healthz") as resp:
                        if resp.status == 200:
                            break
                except aiohttp.ClientError:
                    pass
                await asyncio.sleep(0.05)
        self.up.set()

    async def kill(self) -> None:
        self.up.clear()
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        await self.process.wait()

    async def stop(self) -> None:
        if self.process is not None and self.process.returncode is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                async with asyncio.timeout(10):
                    await self.process.wait()
            except TimeoutError:
                self.process.kill()
                await self.process.wait()


@dataclass
class Resident:
    """One browser session reporting one fault after another."""

    name: str
    service: Service
    shown: set[str] = field(default_factory=set)
    seen: int = 0
    reports: int = 0

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.service.port}/chat"

    async def run(self, http: aiohttp.ClientSession, stop: asyncio.Event) -> None:
        await self._retry(partial(self._open, http), stop)
        while not stop.is_set():
            self.reports += 1
            spot = f"{self.name}-{self.reports}室"
            phone = f"1390{abs(hash(spot)) % 10_000_000:07d}"
            await self._retry(partial(self._say, http, "text", "/cancel"), stop)
            for kind, value in SCRIPT:
                said = value.format(spot=spot, phone=phone)
                await self._retry(partial(self._say, http, kind, said), stop)
                if stop.is_set():
                    return
            # The number, once committed, is in this chat's history: read until it shows
            # (a kill may have cut the answer to the Submit itself).
            await self._retry(partial(self._read, http), stop)

    async def _retry(self, call: Callable[[], Awaitable[None]], stop: asyncio.Event) -> None:
        while not stop.is_set():
            await self.service.up.wait()
            try:
                await call()
                return
            except (aiohttp.ClientError, TimeoutError, ConnectionError):
                await asyncio.sleep(0.1)

    async def _open(self, http: aiohttp.ClientSession) -> None:
        async with http.get(self.base) as resp:
            assert resp.status == 200

    async def _say(self, http: aiohttp.ClientSession, kind: str, value: str) -> None:
        async with asyncio.timeout(10):
            async with http.post(f"{self.base}/api/send", json={kind: value}) as resp:
                assert resp.status in (200, 400, 409), await resp.text()
        await self._read(http)

    async def _read(self, http: aiohttp.ClientSession) -> None:
        async with asyncio.timeout(10):
            async with http.get(f"{self.base}/api/messages?after={self.seen}&wait=0") as resp:
                assert resp.status == 200, await resp.text()
                body = await resp.json()
        for message in body["messages"]:
            self.shown.update(NUMBER.findall(message.get("text", "")))
        self.seen = body["last"]


@pytest.fixture
async def service(tmp_path: Path) -> AsyncIterator[Service]:
    running = Service(tmp_path / "data", free_port())
    await running.start()
    try:
        yield running
    finally:
        await running.stop()


async def test_sigkill_loses_no_acknowledged_report_and_makes_none_twice(
    service: Service, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    chance = random.Random(20261129)
    stop = asyncio.Event()
    residents = [Resident(f"r{i}", service) for i in range(RESIDENTS)]
    jars = [aiohttp.CookieJar(unsafe=True) for _ in residents]
    sessions = [aiohttp.ClientSession(cookie_jar=jar) for jar in jars]
    try:
        tasks = [
            asyncio.create_task(r.run(s, stop)) for r, s in zip(residents, sessions, strict=True)
        ]
        for _ in range(ROUNDS):
            await asyncio.sleep(chance.uniform(1.0, 3.0))
            await service.kill()
            await service.start()
        await asyncio.sleep(2.0)
        stop.set()
        async with asyncio.timeout(30):
            await asyncio.gather(*tasks)
        # What was shown before the last requests: read every chat to its end.
        for resident, http in zip(residents, sessions, strict=True):
            await resident._read(http)
    finally:
        for http in sessions:
            await http.close()
    await service.stop()

    monkeypatch.setenv("BAOXIU_DATA_DIR", str(tmp_path / "data"))
    config = load(None)
    with Store(config.database, config) as store:
        tickets = store.query("SELECT number, state, reporter_chat FROM tickets")
        shown = set().union(*(r.shown for r in residents))
        numbers = {t["number"] for t in tickets}
        assert shown, "no report got through at all"
        print(f"{len(shown)} reports acknowledged over {ROUNDS} kills")
        assert shown - numbers == set(), "a number a resident was shown does not exist"
        assert numbers - shown == set(), "a ticket whose number its reporter never saw"
        per_chat: dict[str, int] = defaultdict(int)
        for ticket in tickets:
            per_chat[ticket["reporter_chat"]] += 1
        reports = sum(r.reports for r in residents)
        assert sum(per_chat.values()) <= reports, "more tickets than reports"
        for ticket in tickets:
            events = store.query(
                "SELECT from_state, to_state FROM events WHERE number = ? ORDER BY id",
                [ticket["number"]],
            )
            assert events and events[0]["from_state"] is None
            for before, after in itertools.pairwise(events):
                assert after["from_state"] == before["to_state"], ticket["number"]
            assert events[-1]["to_state"] == ticket["state"], ticket["number"]
