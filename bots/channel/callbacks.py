"""What a channel that a platform calls back (the official account, the WeCom app)
needs from the application: its routes and its background jobs.

``add_routes`` puts the platform's GET handshake and POST callback at a path, both
handled by the channel object the app holds under an ``AppKey`` (made at start-up, in
the channel's cleanup context, after the store and the engine). ``background`` runs
jobs that take a stop event — delivery workers, sweeps — for as long as the context
is open, then stops them and waits for them.

No channel logic here.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from typing import Any, Protocol

from aiohttp import web

log = logging.getLogger(__name__)


class Called(Protocol):
    async def handshake(self, request: web.Request) -> web.StreamResponse: ...

    async def callback(self, request: web.Request) -> web.StreamResponse: ...


Job = Callable[[asyncio.Event], Coroutine[Any, Any, None]]


def add_routes(app: web.Application, path: str, key: web.AppKey[Any]) -> None:
    """GET ``path``: ``app[key].handshake``; POST: ``app[key].callback``."""

    async def handshake(request: web.Request) -> web.StreamResponse:
        called: Called = request.app[key]
        return await called.handshake(request)

    async def callback(request: web.Request) -> web.StreamResponse:
        called: Called = request.app[key]
        return await called.callback(request)

    app.router.add_get(path, handshake)
    app.router.add_post(path, callback)


@asynccontextmanager
async def background(**jobs: Job) -> AsyncIterator[None]:
    """Run each job (named by its keyword: the task's name) until the context closes."""
    stop = asyncio.Event()
    tasks = [asyncio.create_task(job(stop), name=name) for name, job in jobs.items()]
    try:
        yield
    finally:
        stop.set()
        ended = await asyncio.gather(*tasks, return_exceptions=True)
        for task, outcome in zip(tasks, ended, strict=True):
            if isinstance(outcome, Exception):  # one job's failure stops not the others
                log.error("%s failed", task.get_name(), exc_info=outcome)
