"""``/readyz`` and ``/metrics`` (issue 10, operations) on a real server: readiness says
what is wrong without personal data; metrics are Prometheus text, open to the allowed
addresses or a bearer token only; dialogue steps and webhooks are timed."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from conftest import draft
from prometheus_client.parser import text_string_to_metric_families

from bots.app import build_app
from bots.keys import ENGINE
from config.model import Config
from conversation.events import Text
from tickets.store import Store

TOKEN = "s3cret-token-0123456789"


async def serve(app: web.Application) -> AsyncIterator[TestClient[Any, Any]]:
    async with TestClient(TestServer(app, host="127.0.0.1")) as client:
        yield client


@pytest.fixture
async def client(config: Config, store: Store) -> AsyncIterator[TestClient[Any, Any]]:
    async for c in serve(build_app(config, store=store)):
        yield c


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    found = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            found[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return found


async def test_readyz_is_ready_and_shows_the_backlog_without_personal_data(
    client: TestClient[Any, Any], store: Store
) -> None:
    ticket = store.create_ticket(draft(), datetime(2026, 1, 1, tzinfo=UTC))
    resp = await client.get("/readyz")
    body = await resp.json()
    assert resp.status == 200 and body["ready"] is True
    assert body["database"] == "writable" and body["channels"] == {"web": True}
    assert body["outbox"]["backlog"] >= 1  # the job offer to the team's Telegram group
    assert body["outbox"]["oldest_pending_seconds"] > 0
    text = await resp.text()
    assert ticket.number not in text and ticket.phone not in text and "alice" not in text


async def test_readyz_is_503_when_the_database_is_gone(config: Config, store: Store) -> None:
    async for client in serve(build_app(config, store=store)):
        store.close()
        resp = await client.get("/readyz")
        assert resp.status == 503
        assert (await resp.json())["database"] == "unavailable"


async def test_metrics_count_tickets_notices_and_time_the_steps(
    client: TestClient[Any, Any], store: Store
) -> None:
    store.create_ticket(draft(), datetime.now(UTC))
    store.create_ticket(draft(channel="telegram", chat="42"), datetime.now(UTC))
    engine = client.app[ENGINE]
    engine.handle("web", "bob", Text("hello"), datetime.now(UTC))
    engine.handle("web", "bob", Text("1"), datetime.now(UTC))
    resp = await client.get("/metrics")
    assert resp.status == 200 and resp.headers["Content-Type"].startswith("text/plain")
    found = samples(await resp.text())
    assert found[("baoxiu_tickets_created_total", (("channel", "web"),))] == 1
    assert found[("baoxiu_tickets_created_total", (("channel", "telegram"),))] == 1
    assert found[("baoxiu_outbox_backlog", (("channel", "telegram"),))] >= 2
    assert found[("baoxiu_dialogue_step_seconds_count", (("channel", "web"),))] == 2
    assert ("baoxiu_outbox_oldest_pending_seconds", ()) in found


async def test_webhook_requests_are_timed_by_route(config: Config, store: Store) -> None:
    app = build_app(config, store=store)

    async def hook(request: web.Request) -> web.StreamResponse:
        return web.Response(text="ok")

    app.router.add_post("/wechat/{account}/webhook", hook)
    async for client in serve(app):
        for account in ("a", "b", "c"):
            assert (await client.post(f"/wechat/{account}/webhook", data=b"<xml/>")).status == 200
        found = samples(await (await client.get("/metrics")).text())
        # One series for the route, not one per account: labels stay bounded.
        key = ("baoxiu_webhook_seconds_count", (("path", "/wechat/{account}/webhook"),))
        assert found[key] == 3


@pytest.mark.parametrize(
    ("allow", "headers", "status"),
    [
        (("127.0.0.1",), {}, 200),
        (("10.0.0.0/8",), {}, 403),
        (("10.0.0.0/8",), {"Authorization": f"Bearer {TOKEN}"}, 200),
        (("10.0.0.0/8",), {"Authorization": "Bearer wrong-token-0123456789"}, 403),
        # Through a reverse proxy every request comes from 127.0.0.1: a token is needed.
        (("127.0.0.1",), {"X-Forwarded-For": "203.0.113.9"}, 403),
        (
            ("127.0.0.1",),
            {"X-Forwarded-For": "203.0.113.9", "Authorization": f"Bearer {TOKEN}"},
            200,
        ),
    ],
)
async def test_metrics_only_for_allowed_addresses_or_the_token(
    config: Config, store: Store, allow: tuple[str, ...], headers: dict[str, str], status: int
) -> None:
    config = replace(config, ops=replace(config.ops, metrics_allow=allow, metrics_token=TOKEN))
    async for client in serve(build_app(config, store=store)):
        resp = await client.get("/metrics", headers=headers)
        assert resp.status == status
        if status == 403:
            assert "baoxiu_" not in await resp.text()
