"""How fast the web chat is, next to a bare aiohttp handler doing the same request parsing.

Two servers, one after the other, in the same run, each in its own process on a free
127.0.0.1 port: ``baoxiu serve`` itself (the real app, its own temporary data folder,
built-in configuration, its default logging), and a bare aiohttp app whose handlers do
what the web chat does to a request before the engine sees it — verify the signed session
cookie, check the Content-Type, read the body with a size cap, parse the JSON, check the
event's kind — and answer with the same JSON shapes, touching no database (and logging no
access line: the bare side is the best a handler on this transport can do).

This process plays N residents at once over keep-alive HTTP/1.1 (a minimal client on
asyncio streams, so that the client is not the bottleneck of the bare side): each opens
the page (taking its session cookie), reads the greeting, then files full reports one
after another — every step is a ``POST /chat/api/send`` followed by a
``GET /chat/api/messages?after=…&wait=0``, as the page does. Every request counts.

Prints requests/s, p50/p99 latency and the server's CPU time per request (from /proc, all
threads, and in brackets the event loop's thread alone) of both sides and the ratio of
requests/s (target: baoxiu ≥ 0.5 × bare); the CPU ratio is printed as a note, as it moves
less when other processes share the cores.
``--profile FILE`` runs the real server under cProfile and writes its stats there.

Usage: ``python bench/web.py [--residents 16] [--seconds 8] [--profile out.prof]``
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import hmac
import json
import os
import re
import secrets
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.measure import cpu_seconds  # noqa: E402
from tests.web_report import NUMBER, SCRIPT, free_port  # noqa: E402 (after sys.path)


# -- the bare handler (run in a subprocess: --serve-bare PORT) ----------------------------
def serve_bare(port: int) -> None:
    from aiohttp import web

    secret = secrets.token_bytes(32)
    signed = re.compile(r"([A-Za-z0-9_-]{32})\.([A-Za-z0-9_-]{22})")
    seqs: dict[str, int] = {}

    def mac(nonce: str) -> str:
        digest = hmac.new(secret, nonce.encode(), hashlib.sha256).digest()[:16]
        return base64.urlsafe_b64encode(digest).decode().rstrip("=")

    def chat_of(request: web.Request) -> str | None:
        found = signed.fullmatch(request.cookies.get("baoxiu_session", ""))
        if not found or not hmac.compare_digest(found[2], mac(found[1])):
            return None
        return "w" + hashlib.sha256(found[0].encode()).hexdigest()[:24]

    async def page(request: web.Request) -> web.StreamResponse:
        nonce = secrets.token_urlsafe(24)
        response = web.Response(text="<html></html>", content_type="text/html")
        response.set_cookie("baoxiu_session", f"{nonce}.{mac(nonce)}", path="/chat")
        return response

    async def send(request: web.Request) -> web.StreamResponse:
        chat = chat_of(request)
        if chat is None or request.content_type != "application/json":
            return web.json_response({"ok": False}, status=403)
        raw = await request.content.read(16 * 1024)
        body = json.loads(raw)
        kinds = [k for k in ("text", "button", "location", "start") if k in body]
        if len(kinds) != 1 or not isinstance(body[kinds[0]], str):
            return web.json_response({"ok": False}, status=400)
        seqs[chat] = seqs.get(chat, 0) + 2
        return web.json_response({"ok": True, "last": seqs[chat]})

    async def messages(request: web.Request) -> web.StreamResponse:
        chat = chat_of(request)
        if chat is None:
            return web.json_response({"ok": False}, status=403)
        after = int(request.query.get("after", "0"))
        float(request.query.get("wait", "25"))
        last = max(after, seqs.get(chat, 0))
        return web.json_response(
            {"messages": [], "last": last, "more": False}, headers={"Cache-Control": "no-store"}
        )

    app = web.Application()
    app.router.add_get("/chat", page)
    app.router.add_post("/chat/api/send", send)
    app.router.add_get("/chat/api/messages", messages)
    web.run_app(app, host="127.0.0.1", port=port, print=None, access_log=None)


# -- the servers --------------------------------------------------------------------------
def start(kind: str, port: int, data: Path, profile: str | None) -> subprocess.Popen[bytes]:
    env = {**os.environ, "BAOXIU_DATA_DIR": str(data), "PYTHONPATH": str(ROOT)}
    env.pop("BAOXIU_CONFIG", None)
    if kind == "bare":
        argv = [sys.executable, __file__, "--serve-bare", str(port)]
    else:
        prof = ["-m", "cProfile", "-o", profile] if profile else []
        argv = [sys.executable, *prof, "-m", "bots.cli", "serve"]
        argv += ["--host", "127.0.0.1", "--port", str(port)]
    log = open(data / f"{kind}.log", "wb")  # noqa: SIM115 - closed with the process
    return subprocess.Popen(argv, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=data)


async def wait_up(port: int) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            client = await Client.open(port)
            status, _, _ = await client.request("GET", "/chat")
            client.close()
            if status == 200:
                return
        except OSError:
            pass
        await asyncio.sleep(0.1)
    raise SystemExit(f"no server on port {port}")


# -- the residents ------------------------------------------------------------------------
class Client:
    """One keep-alive HTTP/1.1 connection; just enough protocol for these servers."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, port: int):
        self.reader, self.writer, self.port = reader, writer, port
        self.cookie = ""

    @classmethod
    async def open(cls, port: int) -> Client:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        return cls(reader, writer, port)

    async def request(
        self, method: str, path: str, body: bytes = b""
    ) -> tuple[int, dict[str, str], bytes]:
        head = [f"{method} {path} HTTP/1.1", f"Host: 127.0.0.1:{self.port}"]
        if self.cookie:
            head.append(f"Cookie: baoxiu_session={self.cookie}")
        if method == "POST":
            head += ["Content-Type: application/json", f"Content-Length: {len(body)}"]
            head.append(f"Origin: http://127.0.0.1:{self.port}")
        self.writer.write(("\r\n".join(head) + "\r\n\r\n").encode() + body)
        raw = await self.reader.readuntil(b"\r\n\r\n")
        lines = raw.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        headers: dict[str, str] = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            if name.lower() == "set-cookie":
                found = re.match(r"\s*baoxiu_session=([^;]+)", value)
                if found:
                    self.cookie = found[1].strip('"')
            headers[name.lower()] = value.strip()
        data = await self.reader.readexactly(int(headers.get("content-length", "0")))
        return status, headers, data

    def close(self) -> None:
        self.writer.close()


async def resident(
    name: str, port: int, until: float, latencies: list[float], shown: list[str]
) -> int:
    client = await Client.open(port)
    done, seen, reports = 0, 0, 0

    async def call(method: str, path: str, body: bytes = b"") -> bytes:
        nonlocal done
        began = time.perf_counter()
        status, _, data = await client.request(method, path, body)
        latencies.append(time.perf_counter() - began)
        done += 1
        if status != 200:
            raise SystemExit(f"{method} {path} answered {status}: {data[:300]!r}")
        return data

    async def read() -> None:
        nonlocal seen
        body = json.loads(await call("GET", f"/chat/api/messages?after={seen}&wait=0"))
        for message in body["messages"]:
            shown.extend(NUMBER.findall(message.get("text", "")))
        seen = body["last"]

    await call("GET", "/chat")
    await read()
    while time.monotonic() < until:
        reports += 1
        spot = f"{name}-{reports}室"
        phone = f"1390{abs(hash(spot)) % 10_000_000:07d}"
        for kind, value in SCRIPT:
            said = json.dumps({kind: value.format(spot=spot, phone=phone)}, ensure_ascii=False)
            await call("POST", "/chat/api/send", said.encode())
            await read()
    client.close()
    return done


async def measure(kind: str, residents: int, seconds: float, profile: str | None) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix=f"bench-web-{kind}-") as folder:
        data, port = Path(folder), free_port()
        server = start(kind, port, data, profile)
        try:
            await wait_up(port)
            latencies: list[float] = []
            shown: list[str] = []
            cpu, loop_cpu = cpu_seconds(server.pid), cpu_seconds(server.pid, server.pid)
            began = time.perf_counter()
            until = time.monotonic() + seconds
            counts = await asyncio.gather(
                *(resident(f"r{i}", port, until, latencies, shown) for i in range(residents))
            )
            elapsed = time.perf_counter() - began
            cpu = cpu_seconds(server.pid) - cpu
            loop_cpu = cpu_seconds(server.pid, server.pid) - loop_cpu
        finally:
            server.send_signal(signal.SIGINT)
            try:
                server.wait(30)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()
        log = (data / f"{kind}.log").read_text(errors="replace")
        if "Traceback" in log:
            print(log[-3000:], file=sys.stderr)
            raise SystemExit(f"{kind}: the server logged a traceback")
        latencies.sort()
        return {
            "requests": sum(counts),
            "rps": sum(counts) / elapsed,
            "p50": statistics.median(latencies) * 1000,
            "p99": latencies[int(len(latencies) * 0.99)] * 1000,
            "cpu_ms": cpu * 1000 / sum(counts),
            "loop_ms": loop_cpu * 1000 / sum(counts),
            "tickets": len(set(shown)),
            "log_lines": log.count("\n"),
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--residents", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--profile", help="write the real server's cProfile stats here")
    parser.add_argument("--serve-bare", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_bare:
        serve_bare(args.serve_bare)
        return
    profile = str(Path(args.profile).resolve()) if args.profile else None
    results = {}
    for kind in ("bare", "baoxiu"):
        results[kind] = asyncio.run(measure(kind, args.residents, args.seconds, profile))
    print(
        f"web chat, {args.residents} residents filing full reports over HTTP "
        f"(POST send + GET messages per step), {args.seconds:.0f} s each"
    )
    for kind, r in results.items():
        print(
            f"  {kind:7} {r['rps']:8.0f} req/s  p50 {r['p50']:6.2f} ms  p99 {r['p99']:6.2f} ms"
            f"  server CPU {r['cpu_ms']:.2f} ms/req ({r['loop_ms']:.2f} on the event loop)"
            f"  ({r['requests']} requests, {r['tickets']} tickets shown,"
            f" {r['log_lines']} log lines)"
        )
    ratio = results["baoxiu"]["rps"] / results["bare"]["rps"]
    print(f"ratio baoxiu / bare aiohttp handler: {ratio:.2f}x (target >= 0.5x)")
    cpu = results["bare"]["cpu_ms"] / results["baoxiu"]["cpu_ms"]
    print(
        f"note: server CPU per request, bare / baoxiu: {cpu:.2f}x (steadier than req/s on a"
        " busy machine; the client shares the cores)"
    )


if __name__ == "__main__":
    main()
