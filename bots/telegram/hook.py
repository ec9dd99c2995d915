"""One Bot API call carried back in the webhook's own HTTP answer (``Hook``).

Telegram lets a bot answer a webhook update with one Bot API method in the response body
(``{"method": "sendMessage", …}``) and performs it itself. That call costs the bot no
request of its own — no connection, no form encoding, no parsing of a result — which is
most of what a dialogue step spends on Telegram (bench/telegram.py). The price is that
its result is never known: no message id, and no error (a blocked bot, a malformed
text) reaches the log. So a hook carries only calls whose result nobody reads: the
answer to a button press (``answerCallbackQuery``), or a dialogue reply that is the
update's one and only message while no later update of the same chat waits (anything
sent after it could overtake it).

The webhook request waits for its update's handling at most ``WAIT_SECONDS``; the
handling puts its call into the hook (``take``) or closes it. Whether the update is
already recorded in the store (``recorded``) decides what a webhook left without a call
answers: until the handling's transaction records it, only a non-200 answer is safe
(Telegram delivers it again). Pure asyncio: no Telegram objects, no store.
"""

from __future__ import annotations

import asyncio
from typing import Any

WAIT_SECONDS = 2.0
"""How long a webhook request waits for its update's call before it answers plain 200."""


class Hook:
    def __init__(self, update_id: int) -> None:
        self.update_id = update_id
        self.recorded = False  # in processed_updates (with an inbox copy, or handled)
        self._expired = False
        self._call: asyncio.Future[dict[str, Any] | None] = (
            asyncio.get_running_loop().create_future()
        )

    @staticmethod
    def mark_recorded(hooks: list[Hook]) -> None:
        """Their updates' transaction committed: they are recorded now."""
        for hook in hooks:
            hook.recorded = True

    @property
    def open(self) -> bool:
        return not self._call.done()

    def take(self, method: str, params: dict[str, Any]) -> bool:
        """Carry this call in the webhook's answer; False when the webhook has already
        answered (the caller makes the call itself)."""
        if self._call.done():
            return False
        self._call.set_result({"method": method, **params})
        return True

    def close(self) -> None:
        """The handling is over without a call for the webhook."""
        if not self._call.done():
            self._call.set_result(None)

    async def wait(self) -> dict[str, Any] | None:
        """The call to answer with (None: none). Raises TimeoutError after
        ``WAIT_SECONDS``; the hook is closed then, so a late call is made by the handling
        itself."""
        # A timer on the future itself: asyncio.wait_for adds a second future and its
        # callbacks to every webhook request.
        timer = asyncio.get_running_loop().call_later(WAIT_SECONDS, self._expire)
        try:
            call = await self._call
        finally:
            timer.cancel()
        if self._expired:
            raise TimeoutError
        return call

    def _expire(self) -> None:
        if not self._call.done():
            self._expired = True
            self._call.set_result(None)
