"""A fake Telegram Bot API server for tests and benchmarks (aiohttp, 127.0.0.1 only).

It speaks the wire format python-telegram-bot really uses: ``POST /bot<token>/<method>``
with an ``application/x-www-form-urlencoded`` body (``multipart/form-data`` for uploads)
in which every non-string parameter is JSON on its own; answers ``{"ok": true, "result":
…}`` or ``{"ok": false, "error_code": …, "description": …, "parameters": …}``. Files are
served at ``GET /file/bot<token>/<file_path>``.

Tests point the real PTB client at it (``api_base_url``), build updates with the helpers
(``text``, ``contact``, ``location``, ``photo``, ``press``), and ``push`` them: to the
webhook when one is set (with its secret header, as Telegram does), else into the queue
that ``getUpdates`` long-polls (``offset``/``timeout`` honoured). Every call is recorded
(``calls``, ``wait_for``); ``fail`` makes the next calls of a method answer 429 with
``parameters.retry_after``, 403 or 400.

Run it on its own (``python tests/fake_telegram.py PORT``) for the benchmark: it then
also answers ``GET /_fake/calls`` with the recorded calls as JSON.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import BodyPartReader, ClientSession, web

TOKEN = "123456:TEST-token_for-the-fake"
BOT_ID = 123456
BOT_USERNAME = "baoxiu_test_bot"
STRING_FIELDS = frozenset(
    {
        "text",
        "caption",
        "callback_query_id",
        "url",
        "secret_token",
        "file_id",
        "parse_mode",
        "inline_message_id",
        "ip_address",
        "business_connection_id",
    }
)
"""Parameters PTB sends as plain text: never JSON-decode them ("123" stays a text)."""


@dataclass
class Call:
    method: str
    params: dict[str, Any]
    files: dict[str, bytes] = field(default_factory=dict)
    at: float = field(default_factory=time.monotonic)

    @property
    def chat(self) -> str:
        return str(self.params.get("chat_id", ""))

    @property
    def text(self) -> str:
        return str(self.params.get("text") or self.params.get("caption") or "")

    @property
    def markup(self) -> dict[str, Any]:
        value = self.params.get("reply_markup")
        return value if isinstance(value, dict) else {}

    def buttons(self) -> list[dict[str, Any]]:
        """Inline buttons (text, callback_data) in order."""
        return [b for row in self.markup.get("inline_keyboard", []) for b in row]

    def reply_keys(self) -> list[dict[str, Any]]:
        """Reply-keyboard buttons in order."""
        return [b for row in self.markup.get("keyboard", []) for b in row]


@dataclass
class Failure:
    status: int
    description: str
    retry_after: int | None = None
    migrate_to: int | None = None


def user(uid: int, name: str, language: str = "zh-hans") -> dict[str, Any]:
    return {"id": uid, "is_bot": False, "first_name": name, "language_code": language}


def group(chat_id: int, title: str) -> dict[str, Any]:
    return {"id": chat_id, "type": "supergroup", "title": title}


def private(person: dict[str, Any]) -> dict[str, Any]:
    return {"id": person["id"], "type": "private", "first_name": person["first_name"]}


class FakeTelegram:
    def __init__(self, token: str = TOKEN) -> None:
        self.token = token
        self.calls: list[Call] = []
        self.failures: dict[str, list[Failure]] = {}
        self.files: dict[str, tuple[str, bytes]] = {}  # file_id -> (file_path, bytes)
        self.messages: dict[tuple[int, int], dict[str, Any]] = {}
        self.webhook: dict[str, Any] = {}
        self._updates: list[dict[str, Any]] = []
        self._update_ids = itertools.count(1000)
        self._message_ids: dict[int, itertools.count[int]] = {}
        self._file_ids = itertools.count(1)
        self._changed = asyncio.Condition()
        self._runner: web.AppRunner | None = None
        self._client: ClientSession | None = None
        self.port = 0
        self.delay = 0.0  # seconds each method call takes (a slower Telegram)
        self.closing = False
        self._streams: set[asyncio.Queue[str]] = set()

    # -- life ---------------------------------------------------------------------------
    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def api_base_url(self) -> str:
        return f"{self.base}/bot"

    @property
    def file_base_url(self) -> str:
        return f"{self.base}/file/bot"

    def app(self) -> web.Application:
        app = web.Application(client_max_size=60 * 1024 * 1024)
        app.router.add_post("/bot{token}/{method}", self._api)
        app.router.add_get("/bot{token}/{method}", self._api)
        app.router.add_get("/file/bot{token}/{path:.+}", self._file)
        app.router.add_get("/_fake/calls", self._dump)
        app.router.add_get("/_fake/stream", self._stream)
        return app

    async def start(self, port: int = 0) -> FakeTelegram:
        self._runner = web.AppRunner(self.app(), access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", port)
        await site.start()
        self.port = int(self._runner.addresses[0][1])
        return self

    async def close(self) -> None:
        self.closing = True  # long polls answer at once instead of holding the shutdown
        async with self._changed:
            self._changed.notify_all()
        if self._client is not None:
            await self._client.close()
        if self._runner is not None:
            await self._runner.cleanup()

    # -- what tests arrange ---------------------------------------------------------------
    def fail(
        self,
        method: str,
        status: int,
        description: str = "",
        *,
        retry_after: int | None = None,
        times: int = 1,
        migrate_to: int | None = None,
    ) -> None:
        """The next ``times`` calls of ``method`` fail with this answer."""
        text = description or {
            429: f"Too Many Requests: retry after {retry_after}",
            403: "Forbidden: bot was blocked by the user",
            400: "Bad Request: chat not found",
        }.get(status, "Error")
        self.failures.setdefault(method, []).extend(
            Failure(status, text, retry_after, migrate_to) for _ in range(times)
        )

    def update(self, **body: Any) -> dict[str, Any]:
        return {"update_id": next(self._update_ids), **body}

    def _message(self, person: dict[str, Any], chat: dict[str, Any] | None, **body: Any) -> dict:
        chat = chat or private(person)
        mid = self._next_message_id(chat["id"])
        message = {"message_id": mid, "date": int(time.time()), "chat": chat, "from": person}
        return self.update(message={**message, **body})

    def text(self, person: dict[str, Any], text: str, chat: dict | None = None) -> dict:
        entities = []
        if text.startswith("/"):
            entities = [{"type": "bot_command", "offset": 0, "length": len(text.split()[0])}]
        extra = {"entities": entities} if entities else {}
        return self._message(person, chat, text=text, **extra)

    def contact(self, person: dict[str, Any], phone: str, *, own: bool = True) -> dict:
        contact = {"phone_number": phone, "first_name": person["first_name"]}
        if own:
            contact["user_id"] = person["id"]
        return self._message(person, None, contact=contact)

    def location(self, person: dict[str, Any], latitude: float, longitude: float) -> dict:
        return self._message(person, None, location={"latitude": latitude, "longitude": longitude})

    def photo(
        self,
        person: dict[str, Any],
        data: bytes,
        *,
        caption: str = "",
        media_group_id: str | None = None,
        file_size: int | None = None,
    ) -> dict:
        """A photo in three sizes; only the largest carries ``data``."""
        sizes = []
        for k, (w, h) in enumerate(((90, 60), (320, 240), (1280, 960))):
            file_id = f"file-{next(self._file_ids)}"
            body = data if k == 2 else b"thumb" * (k + 1)
            self.files[file_id] = (f"photos/{file_id}.jpg", body)
            size = file_size if (k == 2 and file_size is not None) else len(body)
            sizes.append(
                {
                    "file_id": file_id,
                    "file_unique_id": f"u{file_id.replace('-', '')}",
                    "width": w,
                    "height": h,
                    "file_size": size,
                }
            )
        extra: dict[str, Any] = {"photo": sizes}
        if caption:
            extra["caption"] = caption
        if media_group_id:
            extra["media_group_id"] = media_group_id
        return self._message(person, None, **extra)

    def sticker(self, person: dict[str, Any]) -> dict:
        sticker = {
            "file_id": "stk",
            "file_unique_id": "stk",
            "type": "regular",
            "width": 512,
            "height": 512,
            "is_animated": False,
            "is_video": False,
        }
        return self._message(person, None, sticker=sticker)

    def joined(self, chat: dict[str, Any], by: dict[str, Any]) -> dict:
        """The bot was added to ``chat`` by ``by``."""
        me = {"id": BOT_ID, "is_bot": True, "first_name": "报修", "username": BOT_USERNAME}
        return self.update(
            my_chat_member={
                "chat": chat,
                "from": by,
                "date": int(time.time()),
                "old_chat_member": {"status": "left", "user": me},
                "new_chat_member": {"status": "member", "user": me},
            }
        )

    def press(self, person: dict[str, Any], message: dict[str, Any], data: str) -> dict:
        """A press on an inline button of ``message`` (a message the bot sent)."""
        query = {
            "id": str(next(self._update_ids)),
            "from": person,
            "message": message,
            "chat_instance": "ci",
            "data": data,
        }
        return self.update(callback_query=query)

    async def push(self, *updates: dict[str, Any]) -> list[int]:
        """Deliver as Telegram would: to the webhook if set (statuses returned), else queue."""
        if not self.webhook.get("url"):
            async with self._changed:
                self._updates.extend(updates)
                self._changed.notify_all()
            return []
        return [await self.post_webhook(u, self.webhook.get("secret_token")) for u in updates]

    async def post_webhook(
        self, update: dict[str, Any], secret: str | None, url: str | None = None
    ) -> int:
        if self._client is None:
            self._client = ClientSession()
        headers = {"Content-Type": "application/json"}
        if secret is not None:
            headers["X-Telegram-Bot-Api-Secret-Token"] = secret
        target = url or self.webhook["url"]
        async with self._client.post(target, data=json.dumps(update), headers=headers) as resp:
            await resp.read()
            if resp.status == 200 and resp.content_type == "application/json":
                # The webhook answered with a Bot API call: Telegram performs it.
                await self.webhook_reply(await resp.json())
            return resp.status

    async def webhook_reply(self, body: dict[str, Any]) -> None:
        """Perform the method a webhook answered with, as Telegram does (its result is
        not seen by the bot)."""
        params = dict(body)
        method = params.pop("method")
        await self._perform(Call(method, params))

    # -- what tests look at ------------------------------------------------------------
    def mark(self) -> int:
        return len(self.calls)

    def edits(self, since: int = 0, chat: int | str | None = None) -> list[Call]:
        """Edits of messages the bot made since ``since``, in ``chat``."""
        kinds = ("editMessageText", "editMessageCaption", "editMessageReplyMarkup")
        return [
            c
            for c in self.calls[since:]
            if c.method in kinds and (chat is None or c.chat == str(chat))
        ]

    def sent(self, since: int = 0, chat: int | str | None = None) -> list[Call]:
        """Messages the bot sent (text, photos, albums) since ``since``, to ``chat``."""
        kinds = ("sendMessage", "sendPhoto", "sendMediaGroup")
        return [
            c
            for c in self.calls[since:]
            if c.method in kinds and (chat is None or c.chat == str(chat))
        ]

    def of(self, method: str, since: int = 0) -> list[Call]:
        return [c for c in self.calls[since:] if c.method == method]

    async def wait_for(self, predicate: Callable[[list[Call]], Any], timeout: float = 10.0) -> Any:
        """Wait until ``predicate(calls)`` is truthy; return its value."""
        async with self._changed:
            result = predicate(self.calls)
            deadline = time.monotonic() + timeout
            while not result:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(
                        f"fake Telegram: condition not met; last calls: "
                        f"{[(c.method, c.chat, c.text[:40]) for c in self.calls[-8:]]}"
                    )
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._changed.wait(), left)
                result = predicate(self.calls)
            return result

    def message(self, chat: int | str, message_id: int) -> dict[str, Any]:
        return self.messages[(int(chat), int(message_id))]

    def pending(self) -> int:
        return len(self._updates)

    # -- the API ------------------------------------------------------------------------
    async def _api(self, request: web.Request) -> web.StreamResponse:
        if request.match_info["token"] != self.token:
            return _error(401, "Unauthorized")
        params, files = await _read(request)
        return await self._perform(Call(request.match_info["method"], params, files))

    async def _perform(self, call: Call) -> web.StreamResponse:
        method = call.method
        if self.delay:
            await asyncio.sleep(self.delay)
        try:
            return await self._answer(call)
        finally:
            # Recorded once answered, so a test that saw the call also sees its effects.
            self.calls.append(call)
            if self._streams and method in ("sendMessage", "sendPhoto", "sendMediaGroup"):
                for stream in self._streams:
                    stream.put_nowait(call.chat)
            async with self._changed:
                self._changed.notify_all()

    async def _answer(self, call: Call) -> web.StreamResponse:
        method, params, files = call.method, call.params, call.files
        queued = self.failures.get(method)
        if queued:
            failure = queued.pop(0)
            extra: dict[str, Any] = {}
            if failure.retry_after is not None:
                extra["retry_after"] = failure.retry_after
            if failure.migrate_to is not None:
                extra["migrate_to_chat_id"] = failure.migrate_to
            return _error(failure.status, failure.description, extra or None)
        handler = getattr(self, f"_m_{method}", None)
        if handler is None:
            return _error(404, "Not Found: method not found")
        try:
            result = await handler(params, files)
        except _ApiError as exc:
            return _error(exc.status, exc.description)
        return web.json_response({"ok": True, "result": result})

    async def _file(self, request: web.Request) -> web.StreamResponse:
        if request.match_info["token"] != self.token:
            return web.Response(status=401)
        path = request.match_info["path"]
        for file_path, data in self.files.values():
            if file_path == path:
                return web.Response(body=data, content_type="image/jpeg")
        return web.Response(status=404)

    async def _stream(self, request: web.Request) -> web.StreamResponse:
        """One line (the chat id) per message the bot sends, as it arrives (benchmarks)."""
        response = web.StreamResponse()
        response.content_type = "text/plain"
        await response.prepare(request)
        queue: asyncio.Queue[str] = asyncio.Queue()
        self._streams.add(queue)
        try:
            while not self.closing:
                lines = [await queue.get()]
                while not queue.empty():
                    lines.append(queue.get_nowait())
                await response.write("".join(f"{line}\n" for line in lines).encode())
        except ConnectionError:  # the listener went away
            pass
        finally:
            self._streams.discard(queue)
        return response

    async def _dump(self, request: web.Request) -> web.StreamResponse:
        since = int(request.query.get("since", "0"))
        rows = [
            {"method": c.method, "chat": c.chat, "text": c.text, "at": c.at}
            for c in self.calls[since:]
        ]
        return web.json_response(rows)

    # -- methods ----------------------------------------------------------------------
    def _me(self) -> dict[str, Any]:
        return {"id": BOT_ID, "is_bot": True, "first_name": "报修", "username": BOT_USERNAME}

    async def _m_getMe(self, p: dict, f: dict) -> Any:
        me = self._me()
        me.update(
            can_join_groups=True, can_read_all_group_messages=False, supports_inline_queries=False
        )
        return me

    async def _m_getUpdates(self, p: dict, f: dict) -> Any:
        if self.webhook.get("url"):
            raise _ApiError(409, "Conflict: can't use getUpdates method while webhook is active")
        offset = int(p.get("offset") or 0)
        timeout = float(p.get("timeout") or 0)
        limit = int(p.get("limit") or 100)
        deadline = time.monotonic() + timeout
        async with self._changed:
            while True:
                self._updates = [u for u in self._updates if u["update_id"] >= offset]
                if self._updates or self.closing or time.monotonic() >= deadline:
                    return self._updates[:limit]
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._changed.wait(), deadline - time.monotonic())

    async def _m_deleteWebhook(self, p: dict, f: dict) -> Any:
        self.webhook = {}
        if p.get("drop_pending_updates"):
            self._updates.clear()
        return True

    async def _m_setWebhook(self, p: dict, f: dict) -> Any:
        self.webhook = dict(p)
        if p.get("drop_pending_updates"):
            self._updates.clear()
        return True

    async def _m_getWebhookInfo(self, p: dict, f: dict) -> Any:
        info: dict[str, Any] = {
            "url": self.webhook.get("url", ""),
            "has_custom_certificate": False,
            "pending_update_count": len(self._updates),
        }
        if self.webhook.get("allowed_updates"):
            info["allowed_updates"] = self.webhook["allowed_updates"]
        if self.webhook.get("last_error_message"):
            info["last_error_date"] = int(time.time()) - 60
            info["last_error_message"] = self.webhook["last_error_message"]
        return info

    def _next_message_id(self, chat_id: int) -> int:
        counter = self._message_ids.setdefault(int(chat_id), itertools.count(1))
        return next(counter)

    def _chat(self, chat_id: Any) -> dict[str, Any]:
        cid = int(chat_id)
        if cid < 0:
            return group(cid, f"group {cid}")
        return {"id": cid, "type": "private", "first_name": f"user {cid}"}

    def _new_message(self, chat_id: Any, **body: Any) -> dict[str, Any]:
        chat = self._chat(chat_id)
        message = {
            "message_id": self._next_message_id(chat["id"]),
            "date": int(time.time()),
            "chat": chat,
            "from": self._me(),
            **{k: v for k, v in body.items() if v is not None},
        }
        self.messages[(chat["id"], message["message_id"])] = message
        return message

    async def _m_sendMessage(self, p: dict, f: dict) -> Any:
        if not str(p.get("text", "")).strip():
            raise _ApiError(400, "Bad Request: message text is empty")
        if len(str(p["text"])) > 4096:
            raise _ApiError(400, "Bad Request: message is too long")
        markup = p.get("reply_markup")
        return self._new_message(p["chat_id"], text=p["text"], reply_markup=_inline(markup))

    async def _m_sendPhoto(self, p: dict, f: dict) -> Any:
        sizes = [
            {
                "file_id": f"sent-{next(self._file_ids)}",
                "file_unique_id": "s",
                "width": 800,
                "height": 600,
            }
        ]
        if len(str(p.get("caption") or "")) > 1024:
            raise _ApiError(400, "Bad Request: message caption is too long")
        markup = _inline(p.get("reply_markup"))
        return self._new_message(
            p["chat_id"], photo=sizes, caption=p.get("caption"), reply_markup=markup
        )

    async def _m_sendMediaGroup(self, p: dict, f: dict) -> Any:
        media = p.get("media") or []
        if not 2 <= len(media) <= 10:
            raise _ApiError(400, "Bad Request: wrong number of media")
        group_id = str(next(self._file_ids))
        out = []
        for item in media:
            sizes = [
                {
                    "file_id": f"sent-{next(self._file_ids)}",
                    "file_unique_id": "s",
                    "width": 800,
                    "height": 600,
                }
            ]
            out.append(
                self._new_message(
                    p["chat_id"], photo=sizes, caption=item.get("caption"), media_group_id=group_id
                )
            )
        return out

    async def _edited(self, p: dict) -> dict[str, Any]:
        key = (int(p["chat_id"]), int(p["message_id"]))
        if key not in self.messages:
            raise _ApiError(400, "Bad Request: message to edit not found")
        message = dict(self.messages[key])
        message["edit_date"] = int(time.time())
        return message

    async def _m_editMessageText(self, p: dict, f: dict) -> Any:
        message = await self._edited(p)
        if "text" not in message:
            raise _ApiError(400, "Bad Request: there is no text in the message to edit")
        if len(str(p.get("text", ""))) > 4096:
            raise _ApiError(400, "Bad Request: MESSAGE_TOO_LONG")
        return self._store_edit(p, message, "text")

    async def _m_editMessageCaption(self, p: dict, f: dict) -> Any:
        message = await self._edited(p)
        if "photo" not in message:
            raise _ApiError(400, "Bad Request: there is no caption in the message to edit")
        if len(str(p.get("caption") or "")) > 1024:
            raise _ApiError(400, "Bad Request: message caption is too long")
        return self._store_edit(p, message, "caption")

    def _store_edit(self, p: dict, message: dict[str, Any], field: str) -> dict[str, Any]:
        """Telegram refuses an edit that changes nothing, as the real Bot API does."""
        key = (int(p["chat_id"]), int(p["message_id"]))
        before = self.messages[key]
        markup = _inline(p.get("reply_markup"))
        if before.get(field) == p.get(field) and before.get("reply_markup") == markup:
            raise _ApiError(
                400,
                "Bad Request: message is not modified: specified new message content and "
                "reply markup are exactly the same as a current content and reply markup "
                "of the message",
            )
        message[field] = p.get(field)
        message.pop("reply_markup", None)
        if markup:
            message["reply_markup"] = markup
        self.messages[key] = message
        return message

    async def _m_editMessageReplyMarkup(self, p: dict, f: dict) -> Any:
        message = await self._edited(p)
        message.pop("reply_markup", None)
        if _inline(p.get("reply_markup")):
            message["reply_markup"] = p["reply_markup"]
        self.messages[(int(p["chat_id"]), int(p["message_id"]))] = message
        return message

    async def _m_answerCallbackQuery(self, p: dict, f: dict) -> Any:
        if len(str(p.get("text") or "")) > 200:
            raise _ApiError(400, "Bad Request: MESSAGE_TOO_LONG")
        return True

    async def _m_getFile(self, p: dict, f: dict) -> Any:
        file_id = p["file_id"]
        if file_id not in self.files:
            raise _ApiError(400, "Bad Request: invalid file_id")
        path, data = self.files[file_id]
        if len(data) > 20 * 1024 * 1024:
            raise _ApiError(400, "Bad Request: file is too big")
        return {
            "file_id": file_id,
            "file_unique_id": f"u{file_id}",
            "file_size": len(data),
            "file_path": path,
        }

    async def _m_close(self, p: dict, f: dict) -> Any:
        return True


class _ApiError(Exception):
    def __init__(self, status: int, description: str) -> None:
        super().__init__(description)
        self.status = status
        self.description = description


def _inline(markup: Any) -> dict[str, Any] | None:
    return markup if isinstance(markup, dict) and "inline_keyboard" in markup else None


def _error(status: int, description: str, parameters: dict | None = None) -> web.Response:
    body: dict[str, Any] = {"ok": False, "error_code": status, "description": description}
    if parameters:
        body["parameters"] = parameters
    return web.json_response(body, status=status)


def _decode(name: str, value: str) -> Any:
    if name in STRING_FIELDS:
        return value
    try:
        return json.loads(value)
    except ValueError:
        return value


async def _read(request: web.Request) -> tuple[dict[str, Any], dict[str, bytes]]:
    """Parameters as PTB sends them: each non-string field JSON-encoded on its own."""
    params: dict[str, Any] = {}
    files: dict[str, bytes] = {}
    if request.content_type == "multipart/form-data":
        reader = await request.multipart()
        async for part in reader:
            if not isinstance(part, BodyPartReader) or part.name is None:
                continue
            data = await part.read()
            if part.filename:
                files[part.name] = bytes(data)
            else:
                params[part.name] = _decode(part.name, bytes(data).decode("utf-8"))
    elif request.content_type == "application/json":  # the Bot API takes JSON too
        params = dict(await request.json())
    elif request.can_read_body:
        form = await request.post()
        for name, value in form.items():
            if isinstance(value, str):
                params[name] = _decode(name, value)
    return params, files


def main(argv: Iterable[str]) -> None:
    args = list(argv)
    port = int(args[0]) if args else 8081
    fake = FakeTelegram()
    if len(args) > 1:
        fake.delay = float(args[1])
    web.run_app(fake.app(), host="127.0.0.1", port=port, print=None, access_log=None)


if __name__ == "__main__":
    main(sys.argv[1:])
