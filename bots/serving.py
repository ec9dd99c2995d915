"""Serving the application on a bound socket, with a cap on open connections.

``web.run_app`` has no cap: 300 clients that open connections and trickle (or idle) are
each given a request handler until their header deadline runs out, and a few thousand
exhaust the process's file descriptors (issue 10, defect 8). Here the listening socket's
protocol factory counts the open handlers first; over ``max_connections`` a connection is
answered with a short localized 503 (``Retry-After``) and closed, without a handler, a
task or a read of its body. Everything else is ``run_app``'s own way: the same runner,
signals (SIGINT, SIGTERM) and clean shutdown of the app's cleanup contexts.

Per-address limits belong to the reverse proxy (docs/operations.md): behind it every
connection comes from the proxy's one address.
"""

from __future__ import annotations

import asyncio
import socket
from contextlib import suppress
from typing import Any

from aiohttp import web
from aiohttp.web_runner import GracefulExit

BUSY_SECONDS = 2.0
"""How long a refused connection may take to send its request head before it is closed:
reading the head first means the client sees the 503 rather than a reset."""


def busy_response(text: str, *, retry_after: int = 5) -> bytes:
    """The whole HTTP answer given to a connection over the cap."""
    body = (text + "\n").encode()
    head = (
        "HTTP/1.1 503 Service Unavailable\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n"
        f"Content-Length: {len(body)}\r\n"
        f"Retry-After: {retry_after}\r\n"
        "Connection: close\r\n\r\n"
    )
    return head.encode() + body


class _Busy(asyncio.Protocol):
    """Answers once, after the first bytes of the request (or a short wait), and closes."""

    def __init__(self, answer: bytes) -> None:
        self._answer = answer
        self._transport: asyncio.Transport | None = None
        self._timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport
        self._timer = asyncio.get_running_loop().call_later(BUSY_SECONDS, self._reply)

    def data_received(self, data: bytes) -> None:
        self._reply()

    def eof_received(self) -> bool:
        self._reply()
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._transport = None

    def _reply(self) -> None:
        transport, self._transport = self._transport, None
        if transport is None or transport.is_closing():
            return
        if self._timer is not None:
            self._timer.cancel()
        transport.write(self._answer)
        transport.close()  # flushes the answer first


class CappedSite(web.SockSite):
    """A ``SockSite`` whose connections beyond ``cap`` get ``answer`` instead of a handler."""

    def __init__(self, runner: web.BaseRunner, sock: socket.socket, *, cap: int, answer: bytes):
        super().__init__(runner, sock)
        self._cap = cap
        self._busy_answer = answer
        self.refused = 0

    async def start(self) -> None:
        await web.BaseSite.start(self)  # registers the site; SockSite.start would serve
        server = self._runner.server
        assert server is not None
        cap, answer = self._cap, self._busy_answer

        def protocol() -> asyncio.BaseProtocol:
            if len(server.connections) >= cap:
                self.refused += 1
                return _Busy(answer)
            return server()

        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(protocol, sock=self._sock)


def serve(app: web.Application, sock: socket.socket, *, cap: int, busy: bytes, **kw: Any) -> None:
    """Serve ``app`` on ``sock`` until SIGINT/SIGTERM, as ``web.run_app`` does; ``kw`` goes
    to the runner (access log class, keep-alive timeout)."""

    async def main() -> None:
        runner = web.AppRunner(app, handle_signals=True, **kw)
        await runner.setup()
        try:
            await CappedSite(runner, sock, cap=cap, answer=busy).start()
            await asyncio.Event().wait()  # until a signal ends the loop
        finally:
            await runner.cleanup()

    # As ``run_app``: on a signal only the main task is cancelled, so that its ``finally``
    # runs the app's cleanup (workers stop in order) before anything else is cancelled.
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    task = loop.create_task(main())
    try:
        loop.run_until_complete(task)
    except (GracefulExit, KeyboardInterrupt):
        pass
    finally:
        if not task.done():
            task.cancel()
            with suppress(asyncio.CancelledError):
                loop.run_until_complete(task)
        left = asyncio.all_tasks(loop)
        for other in left:
            other.cancel()
        loop.run_until_complete(asyncio.gather(*left, return_exceptions=True))
        loop.run_until_complete(loop.shutdown_asyncgens())
        asyncio.set_event_loop(None)
        loop.close()
