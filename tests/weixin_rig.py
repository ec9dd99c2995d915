"""What the WeChat and WeCom rigs (``wechat_rig``, ``wecom_rig``) share: the service built
for a configuration with one more channel table, on a real HTTP server beside its fake
API, with the platform's posters (followers, members) closed at the end; and waiting for
the outbox to get something done.

Each rig adds its own channel table, people and route.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from typing import Any, ClassVar

from aiohttp.test_utils import TestServer
from fake_weixin import FakeServer, Poster

from config.model import Config
from tickets.store import Store

WAIT_S = 15.0


def with_channel(config: Config, name: str, table: Mapping[str, Any]) -> Config:
    """``config`` with ``[channels.<name>]`` = ``table``."""
    channels: Mapping[str, Any] = {**config.extra_channels, name: table}
    return replace(config, extra_channels=channels)


@dataclass
class ServedRig:
    config: Config
    store: Store
    api: Any  # the fake API (each rig names its type)
    server: TestServer
    posters: list[Poster] = field(default_factory=list)

    PATH: ClassVar[str] = "/"

    @property
    def url(self) -> str:
        return str(self.server.make_url(self.PATH))

    def _wake(self) -> None:
        """Wake the channel's delivery worker (a rig that waits on the outbox says how)."""

    async def until(self, done: Callable[[], Any]) -> Any:
        """Wait (at most ``WAIT_S``) until ``done()`` is true, waking the worker meanwhile."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + WAIT_S
        while not (found := done()):
            assert loop.time() < deadline, "waited too long"
            self._wake()
            await asyncio.sleep(0.02)
        return found


@asynccontextmanager
async def served(
    config: Config, api: FakeServer, make: Callable[..., ServedRig]
) -> AsyncIterator[Any]:
    """The service for ``config`` on 127.0.0.1 while the body runs; then its posters,
    the server, the store and the fake ``api`` are closed, in that order."""
    from bots.app import build_app

    try:
        store = Store(config.database, config)
        server = TestServer(build_app(config, store=store), host="127.0.0.1")
        await server.start_server()
        found = make(config, store, api, server)
        try:
            yield found
        finally:
            for poster in found.posters:
                await poster.close()
            await server.close()
            store.close()
    finally:
        await api.close()
