"""The web chat's writer: one thread that runs the dialogue steps and commits them in groups.

A step (``Engine.handle`` and the inbox messages it keeps) is synchronous SQLite work;
on the event loop it stalled every other request, long-polls included, for as long as it
took — COMMIT was 40 % of it (bench/web.py). Here the loop hands each step to one thread
and awaits its result; the thread takes every step waiting in its queue (up to ``GROUP``),
runs each in its own SAVEPOINT and commits them with one COMMIT. So:

- each step is still all-or-nothing (a step that raises rolls back its own savepoint
  only, and its caller gets the exception);
- nothing is answered before it is committed: the callers' futures are resolved after
  the COMMIT, and if the COMMIT fails every step of the group fails;
- one thread, first come first served, keeps each chat's events in the order they came.

This module knows nothing of dialogues or tickets; it runs the callables it is given.
"""

from __future__ import annotations

import asyncio
import queue
import threading
from collections.abc import Callable
from typing import Any, TypeVar

from tickets.store import Store

T = TypeVar("T")
GROUP = 16
"""Most steps committed together: bounds how long the store's lock is held at once."""

_Job = tuple[Callable[[], Any], asyncio.Future[Any]]


class Writer:
    """Runs callables on one thread inside the store's transactions (see the module)."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._queue: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._work, name="baoxiu-web-writer", daemon=True)
        self._thread.start()

    async def run(self, job: Callable[[], T]) -> T:
        """Run ``job`` on the writer thread; return once what it wrote is committed."""
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._queue.put((job, future))
        return await future

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
        try:
            with self.store.transaction():
                for job, future in group:
                    try:
                        with self.store.transaction():  # a SAVEPOINT of its own
                            outcomes.append((future, True, job()))
                    except Exception as error:  # handed to its caller
                        outcomes.append((future, False, error))
        except Exception as error:  # the COMMIT failed: none was kept
            outcomes = [(future, False, error) for _, future in group]
        for future, ok, value in outcomes:
            future.get_loop().call_soon_threadsafe(_settle, future, ok, value)


def _settle(future: asyncio.Future[Any], ok: bool, value: Any) -> None:
    if future.done():  # the request went away meanwhile
        return
    if ok:
        future.set_result(value)
    else:
        future.set_exception(value)
