"""The server's one scheduler loop: reminders, escalations, re-offers and auto-closes.

Every ``[dispatch] tick_seconds`` (and at once on start-up, to catch up after downtime)
it asks ``tickets.dispatch_store.fire_due`` to take every timer whose time has come.
The timers live in the store and each is marked fired in the transaction that writes
its event and notices, so stopping this loop at any point loses nothing and repeats
nothing. The clock is injectable (``Scheduler.clock``) so tests drive it by hand.

This module decides nothing about tickets; it only keeps time and wakes the delivery
worker when it queued notices.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime

from aiohttp import web

from bots.keys import CONFIG, STORE, WORKER
from config.model import Config
from tickets.dispatch_store import Fired, backfill, fire_due
from tickets.store import Store

log = logging.getLogger(__name__)

BATCH = 200
"""Tickets handled per transaction round; a round that fills it is followed at once."""


def utcnow() -> datetime:
    return datetime.now(UTC)


class Scheduler:
    def __init__(
        self,
        store: Store,
        config: Config,
        *,
        clock: Callable[[], datetime] = utcnow,
        on_fired: Callable[[], None] | None = None,
    ) -> None:
        self.store = store
        self.config = config
        self.clock = clock
        self.on_fired = on_fired
        self.ticks = 0
        self._backfill: str | None = ""  # where planning old tickets goes on; None: done

    def run_once(self) -> list[Fired]:
        """Fire everything due at ``clock()``; returns what was done (synchronous)."""
        now = self.clock()
        if self._backfill is not None:
            # Tickets filed before timers existed get theirs, a batch per tick.
            self._backfill = backfill(self.store, self._backfill, batch=BATCH)
        done: list[Fired] = []
        while True:
            fired = fire_due(self.store, now, batch=BATCH)
            done.extend(fired)
            if len({f.number for f in fired}) < BATCH:
                break
        self.ticks += 1
        return done

    async def tick(self) -> list[Fired]:
        # The store is synchronous: a round of SQLite work runs off the event loop.
        done = await asyncio.to_thread(self.run_once)
        if any(f.outcome == "fired" for f in done):
            log.info("scheduler: %d timer(s) fired", sum(f.outcome == "fired" for f in done))
            if self.on_fired is not None:
                self.on_fired()
        return done

    async def run(self, stop: asyncio.Event, interval: float | None = None) -> None:
        wait = float(interval if interval is not None else self.config.dispatch.tick_seconds)
        while not stop.is_set():
            try:
                await self.tick()
            except Exception:  # a bad tick must not end the loop; the next one retries
                log.exception("scheduler tick failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), wait)


SCHEDULER = web.AppKey("scheduler", Scheduler)


async def scheduler_ctx(app: web.Application) -> AsyncIterator[None]:
    """``cleanup_ctx``: run the scheduler while the application runs."""

    def wake() -> None:
        worker = app.get(WORKER)
        if worker is not None:
            worker.wake()

    scheduler = Scheduler(app[STORE], app[CONFIG], on_fired=wake)
    app[SCHEDULER] = scheduler
    stop = asyncio.Event()
    task = asyncio.create_task(scheduler.run(stop), name="baoxiu-scheduler")
    yield
    stop.set()
    await task
