"""The service's own health routes: ``/readyz`` (ready to serve: database writable,
channels connected, outbox backlog) and ``/metrics`` (Prometheus text format), plus the
latency measurements behind them. ``/healthz`` (alive) stays in ``bots.app``.

``setup(app)`` — one line in ``bots.app.build_app`` — adds the routes, the webhook
timing middleware, the dialogue step timer and ``bots.upkeep`` (service lock, scheduled
backups, privacy sweep), and masks phone numbers in the log. Nothing here answers with
personal data: counts and ages only. ``/metrics`` answers only the ``[metrics] allow``
addresses or a request with ``Authorization: Bearer <[metrics] token>``.
"""

from __future__ import annotations

import asyncio
import functools
import hmac
import ipaddress
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from datetime import UTC, datetime
from typing import Any

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from bots import upkeep
from bots.engine import Engine
from bots.keys import CONFIG, ENGINE, STORE
from bots.telegram import TELEGRAM
from bots.telegram.settings import TelegramSettings
from tickets.privacy import install_log_mask
from tickets.rows import aware
from tickets.store import Store

WEBHOOK_PREFIXES = ("/telegram/", "/wechat/", "/wecom/")
STEP_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


class Meters:
    """The in-process instruments of one application, in its own registry (so two apps
    in one process — tests — never share or clash)."""

    def __init__(self, store_of: Callable[[], Store | None]) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.steps = Histogram(
            "baoxiu_dialogue_step_seconds",
            "Time of one Engine.handle call (one dialogue step), by channel.",
            ["channel"],
            buckets=STEP_BUCKETS,
            registry=self.registry,
        )
        self.webhooks = Histogram(
            "baoxiu_webhook_seconds",
            "Time to answer one platform webhook request, by path.",
            ["path"],
            buckets=STEP_BUCKETS,
            registry=self.registry,
        )
        self.registry.register(StoreCollector(store_of))


METERS = web.AppKey("meters", Meters)


class StoreCollector(Collector):
    """Figures read from the database at scrape time, so every process and restart
    agrees on them: tickets by channel, notices by outcome, the outbox backlog."""

    def __init__(self, store_of: Callable[[], Store | None]) -> None:
        self.store_of = store_of

    def describe(self) -> list[Metric]:
        return []  # figures come from the database: nothing to describe before it opens

    def collect(self) -> Iterator[Metric]:
        store = self.store_of()
        if store is None:
            return
        created = CounterMetricFamily(
            "baoxiu_tickets_created", "Tickets reported, by channel.", labels=["channel"]
        )
        q = "SELECT reporter_channel AS c, count(*) AS n FROM tickets GROUP BY reporter_channel"
        for row in store.query(q):
            created.add_metric([row["c"]], row["n"])
        yield created
        notices = CounterMetricFamily(
            "baoxiu_notices",
            "Notices by channel and outcome (sent, failed attempts, dead).",
            labels=["channel", "outcome"],
        )
        q = "SELECT channel AS c, status AS s, count(*) AS n FROM outbox GROUP BY channel, status"
        backlog: dict[str, int] = {}
        for row in store.query(q):
            if row["s"] == "pending":
                backlog[row["c"]] = row["n"]
            else:
                notices.add_metric([row["c"], row["s"]], row["n"])
        q = (
            "SELECT o.channel AS c, count(*) AS n FROM outbox_attempts a "
            "JOIN outbox o ON o.id = a.outbox_id WHERE a.outcome = 'retry' GROUP BY o.channel"
        )
        for row in store.query(q):
            notices.add_metric([row["c"], "failed"], row["n"])
        yield notices
        pending = GaugeMetricFamily(
            "baoxiu_outbox_backlog", "Notices waiting to be sent, by channel.", labels=["channel"]
        )
        for channel, count in sorted(backlog.items()):
            pending.add_metric([channel], count)
        yield pending
        yield GaugeMetricFamily(
            "baoxiu_outbox_oldest_pending_seconds",
            "Age of the oldest notice waiting to be sent (0: none).",
            value=outbox_state(store)[1],
        )


def outbox_state(store: Store, now: datetime | None = None) -> tuple[int, float]:
    """(notices pending, age in seconds of the oldest of them)."""
    rows = store.query(
        "SELECT count(*) AS n, min(created_at) AS oldest FROM outbox WHERE status = 'pending'"
    )
    count, oldest = rows[0]["n"], rows[0]["oldest"]
    if not oldest:
        return count, 0.0
    age = (now or datetime.now(UTC)) - aware(datetime.fromisoformat(oldest))
    return count, max(age.total_seconds(), 0.0)


def setup(app: web.Application) -> None:
    """Add readiness, metrics, timing and upkeep to the app (after its store and engine
    contexts, so the step timer finds the engine)."""
    install_log_mask()
    app[METERS] = Meters(lambda: app.get(STORE))
    app.middlewares.append(_time_webhooks)
    app.router.add_get("/readyz", _readyz)
    app.router.add_get("/metrics", _metrics)
    app.cleanup_ctx.append(_time_steps)
    app.cleanup_ctx.append(upkeep.upkeep_ctx)


def timed(engine: Engine, steps: Histogram) -> None:
    """Time every ``engine.handle`` call from the outside (the engine stays as it is)."""
    handle = engine.handle

    @functools.wraps(handle)
    def timed_handle(channel: str, *args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        try:
            return handle(channel, *args, **kwargs)
        finally:
            steps.labels(channel).observe(time.perf_counter() - start)

    engine.handle = timed_handle  # type: ignore[method-assign]


async def _time_steps(app: web.Application) -> AsyncIterator[None]:
    timed(app[ENGINE], app[METERS].steps)
    yield


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def _time_webhooks(request: web.Request, handler: Handler) -> web.StreamResponse:
    if not request.path.startswith(WEBHOOK_PREFIXES):
        return await handler(request)
    start = time.perf_counter()
    try:
        return await handler(request)
    finally:
        # The route's pattern, not the raw path: a path label must not grow without bound.
        route = request.match_info.route.resource
        path = route.canonical if route is not None else "other"
        request.app[METERS].webhooks.labels(path).observe(time.perf_counter() - start)


async def _readyz(request: web.Request) -> web.StreamResponse:
    app = request.app
    store = app.get(STORE)
    writable = store is not None and await asyncio.to_thread(_writable, store)
    channels = {"web": app[CONFIG].web.enabled}
    if TelegramSettings.configured(app[CONFIG]):
        channels["telegram"] = app.get(TELEGRAM) is not None
    backlog, oldest = 0, 0.0
    if writable and store is not None:
        backlog, oldest = await asyncio.to_thread(outbox_state, store)
    ready = writable and all(channels.values())
    body = {
        "ready": ready,
        "database": "writable" if writable else "unavailable",
        "channels": channels,
        "outbox": {"backlog": backlog, "oldest_pending_seconds": round(oldest, 1)},
    }
    return web.json_response(body, status=200 if ready else 503)


def _writable(store: Store) -> bool:
    try:
        with store.transaction():  # BEGIN IMMEDIATE takes the write lock: proof enough
            store.db.execute("SELECT 1")
        return True
    except Exception:  # any failure means "not ready", said in the answer
        return False


async def _metrics(request: web.Request) -> web.StreamResponse:
    ops = request.app[CONFIG].ops
    # A request relayed by a proxy comes from the proxy's address: only a token opens it.
    relayed = "X-Forwarded-For" in request.headers or "Forwarded" in request.headers
    local = not relayed and _allowed(request.remote, ops.metrics_allow)
    if not (local or _bearer_ok(request, ops.metrics_token)):
        raise web.HTTPForbidden()
    body = await asyncio.to_thread(generate_latest, request.app[METERS].registry)
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})


def _bearer_ok(request: web.Request, token: str) -> bool:
    given = request.headers.get("Authorization", "")
    return bool(token) and hmac.compare_digest(given.encode(), f"Bearer {token}".encode())


def _allowed(remote: str | None, allow: tuple[str, ...]) -> bool:
    try:
        address = ipaddress.ip_address(remote or "")
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    return any(address in ipaddress.ip_network(item, strict=False) for item in allow)
