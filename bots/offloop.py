"""Background work on a thread with an event loop of its own, off the requests' loop.

The delivery workers' passes query and write the store (under its lock) every half
second and whenever woken. On the requests' event loop each pass waited there for the
web chat's writer thread to commit its group: 5 % of the loop's time under load went to
such waits, every request arriving meanwhile waited too (issue 11: "a slow query never
stalls webhooks and long-polls"). ``OffLoop`` runs such coroutines on a thread of their
own; ``OffLoopWorker`` is a ``DeliveryWorker`` whose ``wake`` may be called from the
requests' loop while it runs there.

What runs off the loop must keep its asyncio objects (client sessions, events) on that
loop: create and close them there (``OffLoop.run``). The store is shared: it serializes
its threads itself. Nothing here decides what is delivered.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

from notify.delivery import DeliveryWorker

T = TypeVar("T")


class OffLoop:
    """An event loop running on a daemon thread of its own until ``close``."""

    def __init__(self, name: str) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._serve, name=name, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        asyncio.set_event_loop(self.loop)
        try:
            self.loop.run_forever()
        finally:
            self.loop.run_until_complete(self.loop.shutdown_asyncgens())
            self.loop.close()

    async def run(self, work: Coroutine[Any, Any, T]) -> T:
        """Run ``work`` on this loop; wait for its result from the calling loop."""
        return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(work, self.loop))

    def start(self, work: Coroutine[Any, Any, None]) -> asyncio.Future[None]:
        """Start ``work`` on this loop; the caller's future of its end."""
        return asyncio.wrap_future(asyncio.run_coroutine_threadsafe(work, self.loop))

    def call(self, callback: Any) -> None:
        """Call ``callback()`` on this loop's thread, soon."""
        self.loop.call_soon_threadsafe(callback)

    async def close(self) -> None:
        """Stop the loop once what is running has been awaited by its caller."""
        self.loop.call_soon_threadsafe(self.loop.stop)
        await asyncio.to_thread(self._thread.join)


class OffLoopWorker(DeliveryWorker):
    """A ``DeliveryWorker`` that runs on ``off``'s loop (set it before starting ``run``
    there): ``wake`` is passed to that loop from any other thread."""

    off: OffLoop | None = None

    def wake(self) -> None:
        off = self.off
        if off is None or _running_loop() is off.loop:
            super().wake()
        else:
            off.call(super().wake)


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None
