"""The PTB application of the adapter, and its HTTP requests carried by aiohttp.

``build_application`` sets python-telegram-bot up for running inside our aiohttp
process: our Bot API server, Telegram's rate limits, no updater in webhook mode, and
``AiohttpRequest`` as the transport.

PTB lets an application bring its own ``BaseRequest``. Ours reuses aiohttp, which the
service runs on anyway: under load httpx/httpcore spends most of its time re-checking
every pooled connection on each request (measured with bench/telegram.py: ~6 ms of CPU
per update at 40 concurrent chats), while aiohttp's pool and C parser do the same work
for a fraction of that. The wire format is PTB's own (``RequestData``: form fields, or
multipart when a file is uploaded); status codes are still interpreted by PTB
(``BaseRequest._request_wrapper``), so errors surface exactly as with httpx.

No Bot API knowledge here beyond PTB's own.
"""

from __future__ import annotations

import json
import logging
from typing import Any, cast

import aiohttp
from telegram.error import NetworkError, TimedOut
from telegram.ext import AIORateLimiter, Application, ApplicationBuilder, ExtBot
from telegram.request import BaseRequest, RequestData

from bots.telegram.settings import TelegramSettings

CONCURRENCY = 16  # chats handled at once; Telegram HTTP calls share a pool of this size

App = Application[Any, Any, Any, Any, Any, Any]

_DEFAULT = type(BaseRequest.DEFAULT_NONE)
JSON = {"Content-Type": "application/json"}


class JsonBody:
    """Parameters already encoded as one JSON body (``post_json``), passed through
    ``BaseRequest.post`` in place of its ``RequestData`` (a final class)."""

    def __init__(self, body: bytes) -> None:
        self.body = body


async def post_json(
    bot: ExtBot[Any], method: str, params: dict[str, Any], retries: int | None = None
) -> Any:
    """Call ``method`` with plain JSON-able ``params`` and return its raw result.

    The lean way for a call whose result is not read (a dialogue reply): the parameters
    are one JSON body, the answer is not turned into PTB objects. The call still goes
    through the bot's rate limiter (``retries`` 429s waited out) and PTB's own reading of
    the answer (``BaseRequest.post``), so errors are the same ``telegram.error``s."""
    body = JsonBody(json.dumps(params, ensure_ascii=False).encode())
    url = f"{bot.base_url}/{method}"

    async def call() -> Any:
        return await bot.request.post(url, cast(RequestData, body))

    limiter = bot.rate_limiter
    if limiter is None:
        return await call()
    return await limiter.process_request(
        callback=call, args=(), kwargs={}, endpoint=method, data=params, rate_limit_args=retries
    )


class AiohttpRequest(BaseRequest):
    def __init__(
        self,
        *,
        connections: int = 16,
        read_timeout: float | None = 5.0,
        write_timeout: float | None = 5.0,
        connect_timeout: float | None = 5.0,
        pool_timeout: float | None = 30.0,
        media_write_timeout: float | None = 20.0,
        proxy: str | None = None,
    ) -> None:
        self.connections = connections
        self._read_timeout = read_timeout
        self._write_timeout = write_timeout
        self._connect_timeout = connect_timeout
        self._pool_timeout = pool_timeout
        self._media_write_timeout = media_write_timeout
        self._proxy = proxy or None
        self._session: aiohttp.ClientSession | None = None

    @property
    def read_timeout(self) -> float | None:
        return self._read_timeout

    async def initialize(self) -> None:
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(
                limit=self.connections, limit_per_host=self.connections
            )
            self._session = aiohttp.ClientSession(
                connector=connector, headers={"User-Agent": self.USER_AGENT}
            )

    async def shutdown(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: Any = BaseRequest.DEFAULT_NONE,
        write_timeout: Any = BaseRequest.DEFAULT_NONE,
        connect_timeout: Any = BaseRequest.DEFAULT_NONE,
        pool_timeout: Any = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        session = self._session
        if session is None or session.closed:
            raise RuntimeError("AiohttpRequest is not initialized")
        body: Any = request_data  # a JsonBody, from post_json
        files = (
            {}
            if isinstance(body, JsonBody)
            else request_data.multipart_data
            if request_data
            else {}
        )
        read = self._read_timeout if isinstance(read_timeout, _DEFAULT) else read_timeout
        connect = (
            self._connect_timeout if isinstance(connect_timeout, _DEFAULT) else connect_timeout
        )
        pool = self._pool_timeout if isinstance(pool_timeout, _DEFAULT) else pool_timeout
        write = write_timeout
        if isinstance(write, _DEFAULT):
            write = self._media_write_timeout if files else self._write_timeout
        # aiohttp has no write timeout of its own: an upload gets it added to the read one.
        sock_read = None if read is None else read + ((write or 0.0) if files else 0.0)
        timeout = aiohttp.ClientTimeout(
            total=None,
            connect=None if connect is None and pool is None else (connect or 0) + (pool or 0),
            sock_connect=connect,
            sock_read=sock_read,
        )
        data: aiohttp.FormData | dict[str, str] | bytes | None = None
        headers = None
        if isinstance(body, JsonBody):
            data, headers = body.body, JSON
        elif request_data is not None:
            if files:
                form = aiohttp.FormData()
                for name, value in request_data.json_parameters.items():
                    form.add_field(name, value)
                for name, upload in files.items():
                    filename, content, *rest = upload
                    mime = rest[0] if rest else "application/octet-stream"
                    form.add_field(name, content, filename=filename, content_type=mime)
                data = form
            else:
                data = request_data.json_parameters
        try:
            async with session.request(
                method, url, data=data, headers=headers, timeout=timeout, proxy=self._proxy
            ) as response:
                return response.status, await response.read()
        except TimeoutError as err:
            raise TimedOut from err
        except aiohttp.ClientError as err:
            raise NetworkError(f"aiohttp.{type(err).__name__}: {err}") from err


class _OutboxRetries(logging.Filter):
    """PTB's rate limiter logs a 429 it does not retry itself as an error with a traceback;
    ours go back to the outbox, which logs the retry it schedules."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith("Rate limit hit after maximum of")


logging.getLogger("telegram.ext.AIORateLimiter").addFilter(_OutboxRetries())


def build_application(settings: TelegramSettings) -> App:
    """The PTB application: our Bot API server, rate limits, no updater for webhooks."""
    builder = (
        ApplicationBuilder()
        .token(settings.token)
        .base_url(settings.api_base_url)
        .base_file_url(settings.file_base_url)
        .local_mode(settings.local_mode)
        .rate_limiter(
            AIORateLimiter(
                overall_max_rate=settings.max_rate, group_max_rate=settings.group_max_rate
            )
        )
        .concurrent_updates(False)  # accept() is quick; our own per-chat tasks do the work
        .request(AiohttpRequest(connections=CONCURRENCY, proxy=settings.proxy_url))
    )
    if settings.webhook:
        builder = builder.updater(None)
    else:
        # One connection for the long poll, whose read timeout PTB extends by its timeout.
        builder = builder.get_updates_request(
            AiohttpRequest(connections=1, proxy=settings.proxy_url)
        )
    return builder.build()
