"""The webhook route's work: ``receive`` checks the secret, reads the update, and
answers once the channel has handled it — with the one Bot API call the handling put
into the update's ``Hook`` (``bots.telegram.hook``), or plain 200.

An update the channel keeps for later (an album's photo, a Bot API not connected yet) or
has seen before is answered 200 at once. A handling slower than ``WAIT_SECONDS`` gets
its update kept in the inbox first, then 200: an update answered 200 is never lost. A
service stopped before it handled the update answers 503, so Telegram delivers it again.

``answer_press`` answers a button press, in the webhook's answer when it can. No
dialogue logic here.
"""

from __future__ import annotations

import hmac
import json
import logging
from typing import TYPE_CHECKING, Any

from aiohttp import web
from telegram.error import TelegramError
from telegram.ext import ExtBot

from bots.telegram.hook import Hook
from bots.telegram.incoming import Incoming

if TYPE_CHECKING:
    from bots.telegram.channel import TelegramChannel

log = logging.getLogger("bots.telegram.channel")

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"


async def receive(channel: TelegramChannel, request: web.Request) -> web.StreamResponse:
    given = request.headers.get(SECRET_HEADER, "")
    expected = channel.settings.secret_token
    if not expected or not hmac.compare_digest(given.encode(), expected.encode()):
        log.warning("Telegram webhook call from %s without the secret: refused", request.remote)
        raise web.HTTPForbidden()
    try:
        body = json.loads(await request.read())
    except ValueError:
        raise web.HTTPBadRequest() from None
    if not isinstance(body, dict) or not isinstance(body.get("update_id"), int):
        raise web.HTTPBadRequest()
    try:
        update = Incoming.read(body, channel.bot)
    except Exception:  # Telegram would redeliver it forever: take it and drop it
        log.exception("Telegram update %s could not be read: dropped", body["update_id"])
        return web.Response(status=200)
    hook = channel.begin(update)
    if hook is None:
        return web.Response(status=200)
    try:
        call = await hook.wait()
    except TimeoutError:  # a slow handling: keep the update before answering 200
        if not hook.recorded:  # (unless its handling's transaction recorded it already)
            channel.tables.accept(hook.update_id, body)
            hook.recorded = True
        return web.Response(status=200)
    if call is not None:  # UTF-8 as it is: a Chinese text is a third of its \u escapes
        body = json.dumps(call, ensure_ascii=False).encode()
        return web.Response(body=body, content_type="application/json")
    # Stopped before it was handled: Telegram delivers it again after the restart.
    return web.Response(status=200 if hook.recorded else 503)


async def answer_press(
    bot: ExtBot[Any],
    query_id: str,
    text: str | None,
    alert: bool = False,
    url: str | None = None,
    hook: Hook | None = None,
) -> bool:
    """Answer a button press (stops the spinner), in the webhook's answer when ``hook``
    is still open; True once tried."""
    if hook is not None:
        params: dict[str, Any] = {"callback_query_id": query_id}
        if text:
            params["text"] = text
        if alert:
            params["show_alert"] = True
        if url:
            params["url"] = url
        if hook.take("answerCallbackQuery", params):
            return True
    try:  # what CallbackQuery.answer calls
        await bot.answer_callback_query(query_id, text or None, show_alert=alert, url=url)
    except TelegramError as exc:  # e.g. "query is too old": nothing to stop
        log.info("callback query %s not answered: %s", query_id, exc)
    return True
