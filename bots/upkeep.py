"""What ``baoxiu serve`` does to look after itself: hold the service lock on its database
(so ``baoxiu restore`` refuses while it runs), take scheduled backups and prune old ones
(``[backup] every_hours``, ``keep``), and once a day erase reporters' personal data of
tickets closed more than ``[privacy] keep_days`` ago.

The work is ``tickets.backup``'s and ``tickets.privacy``'s; this module only keeps time,
runs it off the event loop, deletes erased photo files and, daily, photo files no
ticket refers to (issue 10, defect 7). The clock is injectable.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from aiohttp import web

from bots.keys import CONFIG, STORE
from config.model import Config
from tickets import backup, privacy
from tickets.store import Store

log = logging.getLogger(__name__)

TICK_SECONDS = 300.0
PRIVACY_EVERY = timedelta(days=1)


def utcnow() -> datetime:
    return datetime.now(UTC)


def take_backup(config: Config, target: Path, now: datetime) -> backup.Manifest:
    """One archive of the configuration's database and media folder at ``target``."""
    return backup.create(config.database, config.media_dir, target, now=now)


def remove_photos(media_dir: Path, refs: list[str]) -> int:
    """Delete erased photo files; a reference leading outside the media folder is skipped."""
    root = media_dir.resolve()
    removed = 0
    for ref in refs:
        path = (root / ref).resolve()
        if path.is_relative_to(root) and path.is_file():
            path.unlink()
            removed += 1
    return removed


def erase_expired(store: Store, config: Config, now: datetime) -> int:
    """The daily privacy sweep; returns how many tickets it erased."""
    if config.ops.keep_days <= 0:
        return 0
    numbers = privacy.expired(store, now, config.ops.keep_days)
    if numbers:
        refs = privacy.erase(store, numbers, now, "keep_days")
        remove_photos(config.media_dir, refs)
        log.info("privacy: erased the personal data of %d closed ticket(s)", len(numbers))
    return len(numbers)


MEDIA_GRACE = timedelta(days=1)
"""A photo younger than this may still be on its way into a report: never swept."""

_REFERENCED = """
    SELECT value FROM tickets, json_each(tickets.photos)
    UNION SELECT value FROM tickets, json_each(tickets.resolution_photos)
    UNION SELECT value FROM events, json_each(events.data, '$.photos')
    WHERE json_type(events.data, '$.photos') = 'array'
"""


def sweep_media(database: Path, media_dir: Path, now: datetime) -> int:
    """Delete photo files that no ticket or event refers to once they are a day old (an
    upload a dialogue refused, a report abandoned after its photos); returns how many.

    Reads on a connection of its own, so the service's store is not held meanwhile."""
    if not media_dir.is_dir():
        return 0
    cutoff = (now - MEDIA_GRACE).timestamp()
    root = media_dir.resolve()
    old = [p for p in root.rglob("*") if p.is_file() and p.stat().st_mtime < cutoff]
    if not old:
        return 0
    conn = sqlite3.connect(f"file:{database}?mode=ro", uri=True)
    try:
        kept = {str(row[0]) for row in conn.execute(_REFERENCED)}
    finally:
        conn.close()
    removed = 0
    for path in old:
        if path.relative_to(root).as_posix() not in kept:
            path.unlink(missing_ok=True)
            removed += 1
    if removed:
        log.info("media: removed %d photo file(s) no ticket refers to", removed)
    return removed


class Upkeep:
    def __init__(
        self, store: Store, config: Config, *, clock: Callable[[], datetime] = utcnow
    ) -> None:
        self.store = store
        self.config = config
        self.clock = clock
        self._privacy_at: datetime | None = None

    def backup_due(self, now: datetime) -> bool:
        hours = self.config.ops.backup_every_hours
        if hours <= 0:
            return False
        folder = self.config.ops.backups(self.config.database)
        archives = sorted(folder.glob(f"{backup.PREFIX}*{backup.SUFFIX}"))
        if not archives:
            return True
        newest = datetime.fromtimestamp(archives[-1].stat().st_mtime, UTC)
        return now - newest >= timedelta(hours=hours)

    def run_once(self) -> None:
        """Whatever is due now (synchronous; a restart catches up at once)."""
        now = self.clock()
        if self.backup_due(now):
            folder = self.config.ops.backups(self.config.database)
            target = folder / backup.archive_name(now)
            take_backup(self.config, target, now)
            gone = backup.prune(folder, self.config.ops.backup_keep)
            log.info("backup: wrote %s (%d old archive(s) removed)", target, len(gone))
        if self._privacy_at is None or now - self._privacy_at >= PRIVACY_EVERY:
            erase_expired(self.store, self.config, now)
            sweep_media(self.config.database, self.config.media_dir, now)
            self._privacy_at = now

    async def run(self, stop: asyncio.Event, interval: float = TICK_SECONDS) -> None:
        while not stop.is_set():
            try:
                await asyncio.to_thread(self.run_once)
            except Exception:  # a failed backup must not end the loop; the next tick retries
                log.exception("upkeep failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), interval)


UPKEEP = web.AppKey("upkeep", Upkeep)


async def upkeep_ctx(app: web.Application) -> AsyncIterator[None]:
    """``cleanup_ctx``: hold the service lock and run the upkeep loop while serving."""
    config = app[CONFIG]
    lock = backup.ServiceLock(config.database)
    lock.acquire(wait=False, shared=True)  # a restore holds it exclusively: not now
    upkeep = Upkeep(app[STORE], config)
    app[UPKEEP] = upkeep
    stop = asyncio.Event()
    task = asyncio.create_task(upkeep.run(stop), name="baoxiu-upkeep")
    try:
        yield
    finally:
        stop.set()
        await task
        lock.release()
