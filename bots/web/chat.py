"""The web chat: a page at /chat a resident opens without an account, and its JSON API.

A random session token in a cookie names the chat (the chat id is a hash of it, so a chat
id seen elsewhere — in a ticket, a log — cannot be turned back into a session). Events go
through ``Engine.handle`` on channel ``web``; the replies, the resident's own messages and
the notices the ``web`` delivery worker hands to ``bots.web.inbox.InboxSender`` are kept in
the inbox (``web_messages``, in the store's file), which the page long-polls, so a reload
shows the whole conversation. Uploaded photos are checked by their bytes and saved under the
media folder; a chat may fetch only media it uploaded or was shown.

This module must not decide anything about tickets or dialogues: that is the engine's.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import os
import re
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import jinja2
from aiohttp import BodyPartReader, ClientPayloadError, web
from aiohttp.http_exceptions import HttpProcessingError
from aiohttp.streams import EofStream

from bots.channel.media import IMAGE_EXTENSIONS, image_type
from bots.engine import private_folder
from bots.keys import CONFIG, ENGINE, INBOX, STORE, WORKER
from bots.web.inbox import PAGE, payload
from bots.web.session import (
    CHANNEL,
    COOKIE,
    SESSIONS_KEPT,
    browser_locale,
    chat_of,
    locale_for,
    new_token,
    session_chat,
    session_token,
)
from bots.web.writer import Writer
from config.org_config import LOGO_TYPES
from conversation.actions import TicketAction
from conversation.events import Button, Command, InEvent, Location, Photo, parse_text
from conversation.i18n import translate
from conversation.replies import Reply
from conversation.router import MAX_TEXT
from tickets.outbox import has_pending

log = logging.getLogger(__name__)

POLL_SECONDS = 25
WRITER = web.AppKey("web_writer", Writer)
"""The one thread the web chat's dialogue steps are written on (``bots.web.writer``)."""
PHOTOS_PER_HOUR = 20
"""Uploads one web chat may make in an hour (a report takes at most 4, a completion 4)."""
MAX_JSON_BYTES = 16 * 1024
MAX_BUTTON_BYTES = 64
_CODE = re.compile(r"[A-Za-z0-9_-]{1,32}")
_SEGMENT = r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}"
_MEDIA_REF = re.compile(rf"(?:{_SEGMENT}/)?{_SEGMENT}\.[a-z0-9]{{2,5}}")
_HERE = Path(__file__).parent
_templates = jinja2.Environment(
    loader=jinja2.FileSystemLoader(_HERE / "templates"),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
)


# -- refusals -------------------------------------------------------------------------
class Refused(Exception):
    """A request we answer with a localized JSON error; nothing has been written."""

    def __init__(self, status: int, key: str, **params: Any) -> None:
        super().__init__(key)
        self.status, self.key, self.params = status, key, params


def _check_origin(request: web.Request, *, required: bool) -> None:
    """Cross-site requests may not act for the visitor (CSRF).

    JSON bodies cannot be posted cross-site without a CORS preflight we never answer, so
    for them the headers are checked when present; a multipart form can be, so for
    uploads one of them must be present (every current browser sends both).
    """
    site = request.headers.get("Sec-Fetch-Site")
    origin = request.headers.get("Origin")
    if required and site is None and origin is None:
        raise Refused(403, "error_forbidden")
    if site is not None and site != "same-origin":
        raise Refused(403, "error_forbidden")
    if origin is not None:
        netloc = urlsplit(origin).netloc
        public = urlsplit(request.app[CONFIG].web.public_url).netloc
        if not netloc or netloc not in (request.host, public):
            raise Refused(403, "error_forbidden")


Locale = Callable[[], str]
"""The visitor's language, looked up when first asked for: most answers need none."""
ApiHandler = Callable[[web.Request, str, Locale], Awaitable[web.StreamResponse]]
"""An API handler gets the request, the visitor's chat id and their language."""


def api(handler: ApiHandler) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    """Wrap an API handler: session, CSRF check, localized errors, no stack traces out."""

    async def wrapped(request: web.Request) -> web.StreamResponse:
        chat = session_chat(request)
        known: list[str] = []

        def locale() -> str:
            if not known:
                known.append(locale_for(request, chat))
            return known[0]

        try:
            if chat is None:
                raise Refused(403, "error_no_session")
            if request.method == "POST":
                _check_origin(request, required=request.content_type.startswith("multipart/"))
            response: web.StreamResponse = await handler(request, chat, locale)
            return response
        except Refused as refusal:
            text = translate(locale(), f"web.{refusal.key}", **refusal.params)
            return web.json_response(
                {"ok": False, "code": refusal.key, "error": text}, status=refusal.status
            )
        except web.HTTPException:
            raise
        except (ConnectionResetError, ClientPayloadError, EofStream) as dropped:
            # The client went away mid-request (a dropped upload): nothing to answer.
            log.warning(
                "web chat %s %s: client went away (%s)", request.method, request.path, dropped
            )
            return web.json_response({"ok": False, "code": "error_bad_type"}, status=400)
        except Exception:
            log.exception("web chat %s %s failed", request.method, request.path)
            text = translate(locale(), "web.error_server")
            return web.json_response(
                {"ok": False, "code": "error_server", "error": text}, status=500
            )

    return wrapped


async def _run(
    request: web.Request,
    chat: str,
    event: InEvent,
    echo: tuple[str, dict[str, Any]] | None,
    *,
    greeting: bool = False,
) -> int:
    """Hand ``event`` to the engine; keep the echo and the replies in the inbox.

    The whole step runs on the web chat's writer thread (``bots.web.writer``), all or
    nothing: the chat's language, the dialogue step, its ticket and the messages the page
    will show are committed together (possibly with other chats' steps, in one COMMIT)
    before this returns, while the event loop goes on serving other requests. A
    ``greeting`` is made only if the chat is still empty when its turn comes (two first
    polls at once — two tabs — greet once)."""
    app = request.app
    store, engine, inbox, now = app[STORE], app[ENGINE], app[INBOX], datetime.now(UTC)
    writer = app[WRITER]
    accepted = browser_locale(request.headers.get("Accept-Language", ""))
    shown = 0

    def step() -> None:  # on the writer thread, inside its transaction
        last = inbox.last_seq(chat, writing=True)
        if greeting and last > 0:
            return
        said = echo
        if isinstance(event, Button):  # echoed with its label as this chat was shown it
            label = inbox.label_of(chat, event.data, last=last)
            said = ("user", {"text": label}) if label else None
        if chat not in inbox.speaking:
            record = store.chat(CHANNEL, chat)
            if record.locale is None and accepted:
                # The engine speaks the chat's stored language; a new visitor's is the
                # browser's.
                store.save_chat(replace(record, locale=accepted), now)
            elif record.locale is not None:
                if len(inbox.speaking) >= SESSIONS_KEPT:
                    inbox.speaking.clear()  # bounded: a chat forgotten is only read again
                inbox.speaking.add(chat)  # a language once chosen is never unset

        def keep(replies: list[Reply]) -> None:
            # Inside the step's transaction: the ticket a step made and the reply that
            # gives its number are committed together or not at all.
            nonlocal shown
            messages = [*([said] if said else []), *(("reply", payload(r)) for r in replies)]
            shown = inbox.append(
                chat, messages, now, wake=False, last=last, then=writer.after_commit
            )

        engine.handle(
            CHANNEL, chat, event, now, can_share_location=True, keep=keep, performed=performed
        )
        # Its actions may have queued notices, for this chat among others. A step that
        # performed none queued none, and one whose actions queued none for the web (a
        # new ticket's go to the staff) has nothing to deliver here either: a delivery
        # pass (a transaction and a query under the store's lock, on the event loop,
        # waiting for this thread's group) after each of them was 4 % of the web chat's
        # work and its longest stalls.
        if performed:
            deliver.append(has_pending(store, CHANNEL))

    performed: list[TicketAction] = []
    deliver: list[bool] = []
    await writer.run(step)
    inbox.notify(chat)  # after the commit: a woken poller reads on its own connection
    if any(deliver):
        app[WORKER].wake()
    return shown


# -- the API --------------------------------------------------------------------------
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")
"""Control characters, and lone surrogates (JSON can escape them; UTF-8 cannot hold them)."""
_SEQ = re.compile(r"[0-9]{1,15}")


def _event_of(
    body: dict[str, Any], locale: Locale
) -> tuple[InEvent, tuple[str, dict[str, Any]] | None]:
    kinds = [k for k in ("text", "button", "location", "start") if k in body]
    if len(kinds) != 1:
        raise Refused(400, "error_bad_type", field=", ".join(sorted(map(str, body))) or "{}")
    kind, value = kinds[0], body[kinds[0]]
    if kind == "text":
        if not isinstance(value, str) or _CONTROL.search(value):
            raise Refused(400, "error_bad_type", field="text")
        text = value.strip()
        if not text:
            raise Refused(400, "error_empty")
        if len(text) > MAX_TEXT:
            raise Refused(400, "error_too_long", length=len(text), limit=MAX_TEXT)
        return parse_text(text), ("user", {"text": text})
    if kind == "button":
        if (
            not isinstance(value, str)
            or not value
            or _CONTROL.search(value)
            or len(value.encode()) > MAX_BUTTON_BYTES
        ):
            raise Refused(400, "error_bad_type", field="button")
        return Button(value), None  # echoed with its label by the step (``_run``)
    if kind == "location":
        lat, lon = _coordinate(value, "lat", 90), _coordinate(value, "lon", 180)
        if lat is None or lon is None:
            raise Refused(400, "error_bad_location")
        text = translate(locale(), "web.location_sent", lat=f"{lat:.5f}", lon=f"{lon:.5f}")
        return Location(lat, lon), ("user", {"text": text})
    if not isinstance(value, str) or len(value) > 200 or _CONTROL.search(value):
        raise Refused(400, "error_bad_type", field="start")
    kept = [(k, v) for k, v in parse_qsl(value) if k in ("area", "building") and _CODE.fullmatch(v)]
    return Command("start", urlencode(dict(kept))), None


def _coordinate(value: Any, name: str, limit: float) -> float | None:
    number = value.get(name) if isinstance(value, dict) else None
    if isinstance(number, bool) or not isinstance(number, int | float):
        return None
    # Compared before any float(): a 400-digit integer overflows a float.
    if not -limit <= number <= limit:
        return None
    return float(number) if math.isfinite(number) else None


JSON_BODY_SECONDS = 10.0
UPLOAD_BODY_SECONDS = 120.0
"""How long a request body may take to arrive (a 5 MB photo on a slow mobile link fits):
a client trickling its body holds a connection no longer (issue 10, defect 8)."""


async def _within(seconds: float, read: Awaitable[bytes]) -> bytes:
    try:
        async with asyncio.timeout(seconds):
            return await read
    except TimeoutError:
        raise Refused(408, "error_too_slow") from None


@contextlib.asynccontextmanager
async def _deadline(when: float) -> AsyncIterator[None]:
    try:
        async with asyncio.timeout_at(when):
            yield
    except TimeoutError:
        raise Refused(408, "error_too_slow") from None


async def _read_limited(request: web.Request, limit: int) -> bytes:
    if request.content_length is not None and request.content_length > limit:
        raise Refused(413, "error_too_long", length=request.content_length, limit=MAX_TEXT)
    if request.content.is_eof():  # all of it came with the head, as a JSON body nearly always
        whole = request.content.read_nowait()
        if len(whole) > limit:
            raise Refused(413, "error_too_long", length=len(whole), limit=MAX_TEXT)
        return whole
    data = bytearray()
    while chunk := await request.content.read(65536):
        data += chunk
        if len(data) > limit:
            raise Refused(413, "error_too_long", length=len(data), limit=MAX_TEXT)
    return bytes(data)


@api
async def send(request: web.Request, chat: str, locale: Locale) -> web.StreamResponse:
    """POST /chat/api/send — ``{text}``, ``{button}``, ``{location: {lat, lon}}`` or ``{start}``."""
    if request.content_type != "application/json":
        raise Refused(400, "error_bad_type", field="Content-Type")
    reading = _read_limited(request, MAX_JSON_BYTES)
    # A small body has nearly always arrived with the request's head: no timer for it.
    raw = await (reading if request.content.is_eof() else _within(JSON_BODY_SECONDS, reading))
    try:
        body = json.loads(raw)
    except ValueError:  # UnicodeDecodeError is one
        raise Refused(400, "error_bad_json") from None
    if not isinstance(body, dict):
        raise Refused(400, "error_bad_json")
    event, echo = _event_of(body, locale)
    last = await _run(request, chat, event, echo)
    return web.Response(text=f'{{"ok":true,"last":{last}}}', content_type="application/json")


async def _read_part(part: BodyPartReader, limit: int) -> bytes | None:
    data = bytearray()
    while chunk := await part.read_chunk(65536):
        data += chunk
        if len(data) > limit:
            return None
    return bytes(data)


@api
async def photo(request: web.Request, chat: str, locale: Locale) -> web.StreamResponse:
    """POST /chat/api/photo — multipart ``photo`` (an image) and optional ``caption``."""
    config = request.app[CONFIG]
    cap = config.web.max_upload_mb * 1024 * 1024
    too_large = Refused(413, "error_too_large", limit=config.web.max_upload_mb)
    if not request.content_type.startswith("multipart/form-data"):
        raise Refused(400, "error_bad_type", field="Content-Type")
    if request.content_length is not None and request.content_length > cap + 64 * 1024:
        raise too_large
    image, declared, caption = None, "", ""
    deadline = asyncio.get_running_loop().time() + UPLOAD_BODY_SECONDS
    try:
        async with _deadline(deadline):
            reader = await request.multipart()
            async for part in reader:
                if not isinstance(part, BodyPartReader):
                    raise Refused(400, "error_bad_type", field="multipart")
                if part.name == "photo" and image is None:
                    declared = part.headers.get("Content-Type", "").split(";")[0].strip().lower()
                    image = await _read_part(part, cap)
                    if image is None:
                        raise too_large
                elif part.name == "caption":
                    raw = await _read_part(part, MAX_TEXT * 4)
                    caption = (raw or b"").decode("utf-8").strip()
                    if raw is None or len(caption) > MAX_TEXT:
                        raise Refused(400, "error_too_long", length=len(caption), limit=MAX_TEXT)
                else:
                    await part.release()
    except (ValueError, AssertionError, UnicodeDecodeError, HttpProcessingError):
        # aiohttp refuses malformed part headers (a NUL in a filename) with InvalidHeader.
        raise Refused(400, "error_bad_type", field="multipart") from None
    if not image:
        raise Refused(400, "error_no_photo")
    proven = image_type(image[:16])
    if proven is None or declared not in IMAGE_EXTENSIONS or _CONTROL.search(caption):
        raise Refused(400, "error_not_image")
    # Checked before anything is saved: nothing reaches the disk that no step will keep.
    if not request.app[ENGINE].wants_photo(CHANNEL, chat):
        raise Refused(409, "error_photo_not_now")
    since = datetime.now(UTC) - timedelta(hours=1)
    if request.app[INBOX].photos_since(chat, since) >= PHOTOS_PER_HOUR:
        raise Refused(429, "error_photo_quota", limit=PHOTOS_PER_HOUR)
    ref = f"web/{secrets.token_hex(16)}{IMAGE_EXTENSIONS[proven]}"
    await asyncio.to_thread(_save, config.media_dir / ref, image)
    echo = ("user", {"text": caption, "photos": [ref]})
    last = await _run(request, chat, Photo(ref, caption), echo)
    return web.json_response({"ok": True, "last": last, "ref": ref})


def _save(path: Path, data: bytes) -> None:
    private_folder(path.parent)
    partial = path.with_suffix(".part")
    # Owner-only like the database: a reporter's photo may show their home.
    fd = os.open(partial, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as file:
        file.write(data)
    partial.replace(path)


@api
async def messages(request: web.Request, chat: str, locale: Locale) -> web.StreamResponse:
    """GET /chat/api/messages?after=SEQ[&wait=S] — new messages, long-polled."""
    raw_after = request.query.get("after", "0")
    if not _SEQ.fullmatch(raw_after):
        raise Refused(400, "error_bad_type", field="after")
    after = int(raw_after)
    try:
        wait = min(max(0.0, float(request.query.get("wait", POLL_SECONDS))), POLL_SECONDS)
    except ValueError:
        raise Refused(400, "error_bad_type", field="wait") from None
    inbox = request.app[INBOX]
    found, count, last = inbox.page(chat, after)
    if after == 0 and not count:  # a new visitor
        await _run(request, chat, Command("start"), None, greeting=True)
        found, count, last = inbox.page(chat, after)
    if not count:
        await inbox.wait(chat, wait)
        found, count, last = inbox.page(chat, after)
    more = "true" if count == PAGE else "false"
    return web.Response(
        text=f'{{"messages":{found},"last":{last},"more":{more}}}',
        content_type="application/json",
        headers={"Cache-Control": "no-store"},
    )


@api
async def media(request: web.Request, chat: str, locale: Locale) -> web.StreamResponse:
    """GET /chat/api/media/REF — a photo this chat uploaded or was shown, nothing else."""
    ref = request.match_info["ref"]
    if not _MEDIA_REF.fullmatch(ref) or not request.app[INBOX].may_see(chat, ref):
        raise web.HTTPNotFound()
    root = request.app[CONFIG].media_dir.resolve()
    path = (root / ref).resolve()
    kind = {ext: kind for kind, ext in IMAGE_EXTENSIONS.items()}.get(path.suffix)
    if kind is None or not path.is_relative_to(root) or not path.is_file():
        raise web.HTTPNotFound()
    return web.FileResponse(
        path,
        headers={
            "Content-Type": kind,
            "Cache-Control": "private, max-age=86400",
            "Content-Disposition": "inline",
        },
    )


# -- the page -------------------------------------------------------------------------
_CLIENT_TEXTS = (
    "you",
    "desk",
    "share_location",
    "locating",
    "location_unavailable",
    "phone_placeholder",
    "phone_send",
    "uploading",
    "offline",
    "photo_alt",
    "error_server",
)
_PAGE_TEXTS = (
    "title",
    "heading",
    "subtitle",
    "placeholder",
    "send",
    "photo",
    "switch_language",
    "noscript",
)


async def page(request: web.Request) -> web.StreamResponse:
    """GET /chat — the page; a first visit gets its session cookie here."""
    config = request.app[CONFIG]
    token = session_token(request)
    known = token is not None
    token = token or new_token(request.app[INBOX].secret)
    locale = locale_for(request, chat_of(token) if known else None)
    texts = {key: translate(locale, f"web.{key}") for key in (*_CLIENT_TEXTS, *_PAGE_TEXTS)}
    texts["too_large"] = translate(locale, "web.error_too_large", limit=config.web.max_upload_mb)
    texts["text_limit"] = translate(locale, "web.text_limit", limit=MAX_TEXT)
    limit = config.web.max_upload_mb
    for key in ("new_messages", "shrinking", "still_too_large", "cannot_read", "viewer_close"):
        texts[key] = translate(locale, f"web.page.{key}", limit=limit)
    org = config.org
    if org.name:  # the operator's own name heads the page and its tab (issue 12 item 15)
        texts["title"] = translate(locale, "web.page.title_org", name=org.name)
        texts["heading"] = org.name
    deep = [
        (k, v) for k, v in request.query.items() if k in ("area", "building") and _CODE.fullmatch(v)
    ]
    static = request.app.router["chat_static"]
    html = _templates.get_template("chat.html").render(
        t=texts,
        html_lang="en" if locale == "en" else "zh-CN",
        other_locale="zh_CN" if locale == "en" else "en",
        max_text=MAX_TEXT,
        static_url=lambda name: _static_url(static, name),
        logo_url="/chat/logo" if org.logo else _static_url(static, "icon.svg"),
        hotline=translate(locale, "web.page.hotline", hotline=org.hotline) if org.hotline else "",
        hotline_dial=org.hotline_dial,
        client={
            "api": "/chat/api",
            "texts": texts,
            "max_upload_bytes": config.web.max_upload_mb * 1024 * 1024,
            "poll_seconds": POLL_SECONDS,
            "max_text": MAX_TEXT,
            "pin_icon": _static_url(static, "pin.svg"),
            "start": urlencode(deep) if deep else "",
        },
    )
    response = web.Response(
        text=html, content_type="text/html", charset="utf-8", headers={"Cache-Control": "no-store"}
    )
    response.set_cookie(
        COOKIE,
        token,
        max_age=365 * 24 * 3600,
        path="/chat",
        httponly=True,
        samesite="Lax",
        secure=request.secure or config.web.public_url.startswith("https://"),
    )
    return response


_STATIC_URLS: dict[str, tuple[int, int, str]] = {}


def _static_url(static: web.AbstractResource, name: str) -> str:
    """A static file's URL with its version (a hash of its bytes): aiohttp reads and hashes
    the file for each one, six times a page (half of its rendering). Kept per file while
    its size and time of change stay the same."""
    found = os.stat(_HERE / "static" / name)
    kept = _STATIC_URLS.get(name)
    if kept is not None and kept[:2] == (found.st_mtime_ns, found.st_size):
        return kept[2]
    url = str(static.url_for(filename=name))
    _STATIC_URLS[name] = (found.st_mtime_ns, found.st_size, url)
    return url


async def logo(request: web.Request) -> web.StreamResponse:
    """GET /chat/logo — the operator's logo from ``[org] logo`` (checked at start-up)."""
    path = request.app[CONFIG].org.logo
    if path is None or not path.is_file():
        raise web.HTTPNotFound()
    kind = LOGO_TYPES[path.suffix.lower()]
    return web.FileResponse(
        path, headers={"Content-Type": kind, "Cache-Control": "public, max-age=3600"}
    )


async def _writer(app: web.Application) -> AsyncIterator[None]:
    writer = Writer(app[STORE])
    app[WRITER] = app[INBOX].writer = writer
    yield
    app[INBOX].writer = None  # notices delivered from now on are written where they come
    writer.close()  # the steps already queued are finished, not cut off


def setup(app: web.Application) -> None:
    """Add the web chat's routes to ``app`` (whose CONFIG, STORE, ENGINE, WORKER are set)."""
    app.cleanup_ctx.append(_writer)
    app.router.add_get("/chat", page)
    app.router.add_post("/chat/api/send", send)
    app.router.add_post("/chat/api/photo", photo)
    app.router.add_get("/chat/api/messages", messages)
    app.router.add_get("/chat/api/media/{ref:.+}", media)
    app.router.add_get("/chat/logo", logo)
    app.router.add_static("/chat/static", _HERE / "static", name="chat_static", append_version=True)
