"""The access log writes errors and slow requests only (issue 11): a long-poll every
25 s used to write a line each (526 lines in 12 minutes)."""

from __future__ import annotations

import logging

import pytest
from aiohttp import web
from aiohttp.test_utils import make_mocked_request

from bots.access_log import QuietAccessLogger


@pytest.mark.parametrize(
    ("path", "status", "seconds", "logged"),
    [
        ("/chat/api/send", 200, 0.01, False),  # the ordinary fast request
        ("/chat/api/messages?after=3&wait=25", 200, 25.0, False),  # a long-poll waits
        ("/console/api/new", 200, 20.0, False),
        ("/chat/api/send", 200, 1.5, True),  # slow for no reason: worth a line
        ("/chat/api/send", 400, 0.01, True),
        ("/chat/api/messages?after=x", 400, 0.01, True),  # a failing long-poll is logged
        ("/nope", 404, 0.01, True),
    ],
)
def test_only_errors_and_slow_requests_are_logged(
    caplog: pytest.LogCaptureFixture, path: str, status: int, seconds: float, logged: bool
) -> None:
    logger = QuietAccessLogger(logging.getLogger("aiohttp.access"), "")
    with caplog.at_level(logging.INFO, logger="aiohttp.access"):
        logger.log(make_mocked_request("GET", path), web.Response(status=status), seconds)
    assert bool(caplog.records) is logged
    for record in caplog.records:
        assert "?" not in record.getMessage()  # no query string (tokens, numbers) in logs
