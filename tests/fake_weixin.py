"""What the fake WeChat (``fake_wechat``) and the fake WeCom (``fake_wecom``) share: the
fake API's server on 127.0.0.1 and its errcode answers, the access tokens it hands out
and checks, and the platform's side of a callback — encrypting and signing in the
platform's direction, posting with its answer timeout and retrying the same message.

Each fake adds its own endpoints, token dialect and envelope; nothing here knows either.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from typing import Any, Self

import aiohttp
import xmltodict
from aiohttp import web


def error(code: int, message: str) -> web.Response:
    """An API refusal as WeChat and WeCom write it."""
    return web.json_response({"errcode": code, "errmsg": message})


class FakeServer:
    """The fake API's HTTP server: ``routes`` adds the endpoints; ``start`` binds a port."""

    port: int
    _runner: web.AppRunner | None

    def routes(self, app: web.Application) -> None:
        raise NotImplementedError

    def app(self) -> web.Application:
        app = web.Application()
        self.routes(app)
        return app

    @property
    def api_base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/cgi-bin/"

    async def start(self, port: int = 0) -> Self:
        self._runner = web.AppRunner(self.app(), access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", port).start()
        self.port = int(self._runner.addresses[0][1])
        return self

    async def close(self) -> None:
        if getattr(self, "_runner", None) is not None:
            assert self._runner is not None
            await self._runner.cleanup()


class Tokens:
    """Access tokens handed out, each valid until a moment of the fake's clock."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self.clock = clock
        self.until: dict[str, float] = {}

    def issue(self, seconds: float = 7200) -> str:
        token = secrets.token_hex(16)
        self.until[token] = self.clock() + seconds
        return token

    def live(self) -> list[str]:
        return [token for token, until in self.until.items() if until > self.clock()]

    def expire(self) -> None:
        self.until.clear()

    def state(self, token: str) -> str:
        """``"ok"``, ``"unknown"`` (never issued, or dropped) or ``"expired"``."""
        until = self.until.get(token)
        if until is None:
            return "unknown"
        return "ok" if until > self.clock() else "expired"


class Poster:
    """The platform posting callbacks: its answer timeout (exact, not rounded) and up to
    ``retries`` posts of the same message when no answer came in time."""

    def __init__(self, url: str, *, timeout: float = 5.0, retries: int = 3) -> None:
        self.url = url
        self.timeout = timeout
        self.retries = retries
        self.attempts = 0
        self.session: aiohttp.ClientSession | None = None

    async def close(self) -> None:
        if self.session is not None:
            await self.session.close()

    def _http(self) -> aiohttp.ClientSession:
        if self.session is None:
            self.session = aiohttp.ClientSession()
        return self.session

    def sealed(self, plain: str, *, timestamp: int | None = None) -> tuple[dict[str, str], str]:
        raise NotImplementedError

    async def post_raw(self, query: dict[str, str], body: str | bytes) -> tuple[int, str]:
        # ceil_threshold above the timeout: aiohttp rounds a deadline up to whole seconds
        # when the timeout exceeds it (0 would round every one).
        timeout = aiohttp.ClientTimeout(total=self.timeout, ceil_threshold=3600)
        async with self._http().post(
            self.url, params=query, data=body, timeout=timeout
        ) as response:
            return response.status, await response.text()

    async def deliver(self, plain: str) -> str | None:
        """Post ``plain`` sealed anew each time, as the platform retries; the answer's
        text, or None when every post timed out."""
        for _ in range(1 + self.retries):
            self.attempts += 1
            query, body = self.sealed(plain)
            try:
                status, text = await self.post_raw(query, body)
            except TimeoutError:
                continue
            assert status == 200, (status, text)
            return text
        return None


def encrypted(crypto: Any, plain: str, timestamp: int | None) -> tuple[dict[str, str], str, int]:
    """``plain`` encrypted and signed by wechatpy's crypto in the platform's direction:
    the envelope's fields (``Encrypt``, ``MsgSignature``), the nonce and the timestamp."""
    timestamp = timestamp or int(time.time())
    nonce = secrets.token_hex(5)
    fields = xmltodict.parse(crypto.encrypt_message(plain, nonce, str(timestamp)))["xml"]
    return dict(fields), nonce, timestamp
