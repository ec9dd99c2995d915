"""The web chat's writer: one thread that runs the dialogue steps and commits them in groups.

A step (``Engine.handle`` and the inbox messages it keeps) is synchronous SQLite work;
on the event loop it stalled every other request, long-polls included, for as long as it
took — COMMIT was 40 % of it (bench/web.py). Here the loop hands each step to one thread
and awaits its result; the thread takes every step waiting in its queue (up to ``GROUP``),
runs each in its own SAVEPOINT (one alone needs none) and commits them with one COMMIT. So:

- each step is still all-or-nothing (a step that raises rolls back its own savepoint
  only, and its caller gets the exception);
- nothing is answered before it is committed: the callers' futures are resolved after
  the COMMIT, and if the COMMIT fails every step of the group fails;
- one thread, first come first served, keeps each chat's events in the order they came;
- what a step leaves to do once it is committed (``after_commit``: the inbox's in-memory
  tails) runs on this thread after the COMMIT, before any caller hears of it, and only
  for the steps that were kept;
- the callers of a group are answered with one wake-up of their event loop, not one each.

This module knows nothing of dialogues or tickets; it runs the callables it is given.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import threading
from collections.abc import Callable
from typing import Any, TypeVar

from tickets.store import Store

log = logging.getLogger(__name__)
T = TypeVar("T")
GROUP = 16
"""Most steps committed together: bounds how long the store's lock is held at once."""

_Job = tuple[Callable[[], Any], asyncio.Future[Any]]


class Writer:
    """Runs callables on one thread inside the store's transactions (see the module)."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._queue: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._after: list[Callable[[], None]] = []  # the writer's thread only
        self._thread = threading.Thread(target=self._work, name="baoxiu-web-writer", daemon=True)
        self._thread.start()

    async def run(self, job: Callable[[], T]) -> T:
        """Run ``job`` on the writer thread; return once what it wrote is committed."""
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._queue.put((job, future))
        return await future

    def after_commit(self, then: Callable[[], None]) -> None:
        """From inside a job: run ``then`` on this thread once the job's group is committed
        (never if the job or the COMMIT fails). It must not raise; if it does, it is
        logged."""
        self._after.append(then)

    def close(self) -> None:
        """Finish the steps already queued, then stop the thread."""
        self._queue.put(None)
        self._thread.join()

    def _work(self) -> None:
        while (first := self._queue.get()) is not None:
            group, stop = [first], False
            while len(group) < GROUP:
                try:
                    job = self._queue.get_nowait()
                except queue.Empty:
                    break
                if job is None:
                    stop = True
                    break
                group.append(job)
            self._commit(group)
            if stop:
                return

    def _commit(self, group: list[_Job]) -> None:
        outcomes: list[tuple[asyncio.Future[Any], bool, Any]] = []
        alone = len(group) == 1  # its failure takes the whole transaction back: no SAVEPOINT
        try:
            with self.store.transaction():
                for job, future in group:
                    kept = len(self._after)
                    try:
                        with contextlib.nullcontext() if alone else self.store.transaction():
                            outcomes.append((future, True, job()))
                    except Exception as error:  # handed to its caller
                        if alone:
                            raise
                        del self._after[kept:]  # its writes are gone: so is what follows them
                        outcomes.append((future, False, error))
        except Exception as error:  # the COMMIT failed: none was kept
            outcomes = [(future, False, error) for _, future in group]
        else:
            for then in self._after:
                try:
                    then()
                except Exception:
                    log.exception("web chat writer: an after-commit task failed")
        finally:
            self._after.clear()
        by_loop: dict[asyncio.AbstractEventLoop, list[tuple[asyncio.Future[Any], bool, Any]]] = {}
        for outcome in outcomes:
            by_loop.setdefault(outcome[0].get_loop(), []).append(outcome)
        for loop, settled in by_loop.items():
            loop.call_soon_threadsafe(_settle, settled)


def _settle(outcomes: list[tuple[asyncio.Future[Any], bool, Any]]) -> None:
    for future, ok, value in outcomes:
        if future.done():  # the request went away meanwhile
            continue
        if ok:
            future.set_result(value)
        else:
            future.set_exception(value)
