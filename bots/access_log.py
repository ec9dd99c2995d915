"""The access log an operator reads: errors and slow requests, one line each.

aiohttp's default writes a formatted line for every request, long-polls included: a web
chat page open for 12 minutes wrote 526 lines, and formatting them took up to a quarter
of the event loop's time under load (bench/web.py). This logger decides from the status
and the time alone, before formatting anything; the long-poll routes are never logged
unless they fail. Paths are logged without their query string.
"""

from __future__ import annotations

import logging

from aiohttp.abc import AbstractAccessLogger
from aiohttp.web import BaseRequest, StreamResponse

SLOW_SECONDS = 1.0
LONG_POLLS = frozenset({"/chat/api/messages", "/console/api/new"})
"""Requests that wait on purpose (up to 25 s): their duration says nothing."""


class QuietAccessLogger(AbstractAccessLogger):
    def log(self, request: BaseRequest, response: StreamResponse, time: float) -> None:
        failed = response.status >= 400
        slow = time >= SLOW_SECONDS and request.path not in LONG_POLLS
        if not (failed or slow):
            return
        self.logger.info(
            "%s %s %s %d %.3fs",
            request.remote,
            request.method,
            request.path,
            response.status,
            time,
        )

    @property
    def enabled(self) -> bool:
        return self.logger.isEnabledFor(logging.INFO)
