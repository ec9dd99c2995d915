"""A flood of idle connections cannot use up the service (issue 10, defect 8).

A real ``baoxiu serve`` with ``[channels.web] max_connections = 8``: eight raw sockets
that never send a request hold every place; the ninth connection is answered at once
with a localized 503 and ``Retry-After`` — no handler, no traceback — and as soon as the
idle ones leave, requests are served again. SIGTERM still shuts the service down cleanly.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import aiohttp

from conversation.i18n import translate
from tests.web_report import free_port

ROOT = Path(__file__).resolve().parent.parent
CAP = 8


async def _get(port: int) -> tuple[int, str, str]:
    """One request on a fresh raw connection: status, Retry-After, body."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        await writer.drain()
        answer = await asyncio.wait_for(reader.read(), 5)
    finally:
        writer.close()
    head, _, body = answer.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    fields = dict(line.split(": ", 1) for line in lines[1:])
    return int(lines[0].split()[1]), fields.get("Retry-After", ""), body.decode()


async def _up(port: int) -> None:
    async with asyncio.timeout(30), aiohttp.ClientSession() as http:
        while True:
            try:
                async with http.get(f"http://127.0.0.1:{port}/healthz") as resp:
                    if resp.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.05)


async def test_connections_beyond_the_cap_are_told_to_come_back(tmp_path: Path) -> None:
    starter = (ROOT / "config" / "starter.toml").read_text(encoding="utf-8")
    assert "max_connections = 1000" in starter
    config = tmp_path / "baoxiu.toml"
    config.write_text(starter.replace("max_connections = 1000", f"max_connections = {CAP}"))
    port = free_port()
    env = {
        **os.environ,
        "BAOXIU_CONFIG": str(config),
        "BAOXIU_DATA_DIR": str(tmp_path / "data"),
        "PYTHONPATH": str(ROOT),
    }
    service = await asyncio.create_subprocess_exec(
        *(sys.executable, "-m", "bots.cli", "serve", "--host", "127.0.0.1", "--port", str(port)),
        env=env,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    idle: list[asyncio.StreamWriter] = []
    try:
        await _up(port)
        for _ in range(CAP):
            _, writer = await asyncio.open_connection("127.0.0.1", port)
            idle.append(writer)
        await asyncio.sleep(0.2)  # the service has accepted them all

        status, retry_after, body = await _get(port)
        assert (status, retry_after) == (503, "5")
        assert body.strip() == translate("zh_CN", "cli.too_many_connections")

        for writer in idle:
            writer.close()
        idle.clear()
        async with asyncio.timeout(10):
            while (await _get(port))[0] != 200:  # the places are free again
                await asyncio.sleep(0.05)
    finally:
        for writer in idle:
            writer.close()
        if service.returncode is None:
            service.send_signal(signal.SIGTERM)
        async with asyncio.timeout(20):
            _, err = await service.communicate()
    assert service.returncode == 0
    assert b"Traceback" not in err, err.decode()
