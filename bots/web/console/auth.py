"""Who is using the console: sessions, the CSRF token, login (throttled), logout.

A session is a random token in an HttpOnly, SameSite=Strict cookie (Secure when the
public URL is https) naming an entry kept in this process: the account's login, the
session's CSRF token and when it was last used. A session idle for ``IDLE`` is gone;
so is every session when the service restarts (staff log in again). Every POST must
carry the session's CSRF token (form field ``csrf`` or header ``X-CSRF-Token``): without
it the answer is 403 and nothing is done. Accounts and the failure record that
throttles guessing are ``tickets.staff_store``'s.
"""

from __future__ import annotations

import asyncio
import hmac
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp import BodyPartReader, MultipartReader, web

from bots.keys import CONFIG, STORE
from bots.web.console.render import render, t
from bots.web.session import browser_locale
from tickets import staff_store
from tickets.staff import Can, StaffMember, may

COOKIE = "baoxiu_console"
MULTIPART = web.RequestKey("console_multipart", MultipartReader)
"""The multipart reader ``check_csrf`` started (its first part, the token, read)."""
IDLE = timedelta(minutes=30)


@dataclass
class Session:
    login: str
    csrf: str
    last_seen: datetime


class Sessions:
    def __init__(self) -> None:
        self._by_token: dict[str, Session] = {}

    def open(self, login: str, now: datetime) -> tuple[str, Session]:
        self._sweep(now)
        token = secrets.token_urlsafe(32)
        session = Session(login, secrets.token_urlsafe(32), now)
        self._by_token[token] = session
        return token, session

    def get(self, token: str, now: datetime) -> Session | None:
        session = self._by_token.get(token)
        if session is None:
            return None
        if now - session.last_seen > IDLE:
            del self._by_token[token]
            return None
        session.last_seen = now
        return session

    def close(self, token: str) -> None:
        self._by_token.pop(token, None)

    def _sweep(self, now: datetime) -> None:
        for token, session in list(self._by_token.items()):
            if now - session.last_seen > IDLE:
                del self._by_token[token]


SESSIONS = web.AppKey("console_sessions", Sessions)


@dataclass(frozen=True)
class Staff:
    """The request's staff member, their session and language."""

    member: StaffMember
    session: Session
    locale: str


def locale_of(request: web.Request) -> str:
    return browser_locale(request.headers.get("Accept-Language", "")) or request.app[CONFIG].locale


def now() -> datetime:
    return datetime.now(UTC)


def _secure(request: web.Request) -> bool:
    return request.app[CONFIG].web.public_url.startswith("https:")


def current(request: web.Request) -> Staff | None:
    token = request.cookies.get(COOKIE, "")
    session = request.app[SESSIONS].get(token, now()) if token else None
    if session is None:
        return None
    member = staff_store.member(request.app[STORE], session.login)
    if member is None or not member.active:
        request.app[SESSIONS].close(token)
        return None
    return Staff(member, session, locale_of(request))


Handler = Callable[[web.Request, Staff], Awaitable[web.StreamResponse]]


def staff(can: Can) -> Callable[[Handler], Callable[[web.Request], Awaitable[web.StreamResponse]]]:
    """Wrap a console handler: logged in (else to the login page, or 401 for the API),
    allowed by role (else 403), and for a POST the session's CSRF token (else 403)."""

    def wrap(handler: Handler) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
        async def wrapped(request: web.Request) -> web.StreamResponse:
            who = current(request)
            if who is None:
                if request.method == "GET" and "/api/" not in request.path:
                    raise web.HTTPSeeOther("/console/login")
                raise web.HTTPUnauthorized(text=t(locale_of(request), "login_needed"))
            if request.method == "POST":
                await check_csrf(request, who.session.csrf, who.locale)
            if not may(who.member.role, can):
                raise web.HTTPForbidden(text=t(who.locale, "forbidden"))
            return await handler(request, who)

        return wrapped

    return wrap


async def check_csrf(request: web.Request, expected: str, locale: str) -> None:
    given = request.headers.get("X-CSRF-Token", "")
    if not given and request.content_type == "application/x-www-form-urlencoded":
        form = await request.post()
        value = form.get("csrf", "")
        given = value if isinstance(value, str) else ""
    elif not given and request.content_type == "multipart/form-data":
        # Streamed (photos may exceed what request.post() buffers): the token must be
        # the first part (it is the form's first field); the handler reads on from the
        # same reader.
        reader = await request.multipart()
        request[MULTIPART] = reader
        part = await reader.next()
        if isinstance(part, BodyPartReader) and part.name == "csrf":
            given = (await part.text())[:128]
    if not given or not hmac.compare_digest(given, expected):
        raise web.HTTPForbidden(text=t(locale, "csrf_refused"))


# -- login / logout ---------------------------------------------------------------------
LOGIN_CSRF = "baoxiu_console_login"


async def login_page(request: web.Request) -> web.StreamResponse:
    if current(request) is not None:
        raise web.HTTPSeeOther("/console")
    return _login_form(request, locale_of(request), "", 200)


def _login_form(request: web.Request, locale: str, error: str, status: int) -> web.Response:
    # Before login there is no session: the CSRF token is a random value in its own
    # SameSite=Strict cookie that the form must echo (double submit).
    token = request.cookies.get(LOGIN_CSRF) or secrets.token_urlsafe(32)
    response = render(request, "login.html", locale, csrf=token, error=error, staff=None)
    response.set_status(status)
    response.set_cookie(
        LOGIN_CSRF,
        token,
        httponly=True,
        samesite="Strict",
        secure=_secure(request),
        path="/console",
    )
    return response


async def login(request: web.Request) -> web.StreamResponse:
    locale = locale_of(request)
    await check_csrf(request, request.cookies.get(LOGIN_CSRF) or "-" * 43, locale)
    form = await request.post()
    login_name = str(form.get("login", ""))[:64].strip().lower()
    password = str(form.get("password", ""))[:256]
    address = request.remote or "-"
    store, moment = request.app[STORE], now()
    if staff_store.throttled(store, login_name, address, moment):
        return _login_form(request, locale, t(locale, "login_throttled"), 429)
    # argon2 takes tens of milliseconds of CPU: off the event loop.
    member = await asyncio.to_thread(
        staff_store.check, store, login_name, password, address, moment
    )
    if member is None:
        return _login_form(request, locale, t(locale, "login_failed"), 401)
    token, _session = request.app[SESSIONS].open(member.login, moment)
    response = web.HTTPSeeOther("/console")
    response.set_cookie(
        COOKIE, token, httponly=True, samesite="Strict", secure=_secure(request), path="/console"
    )
    raise response


@staff(Can.VIEW)
async def logout(request: web.Request, who: Staff) -> web.StreamResponse:
    request.app[SESSIONS].close(request.cookies.get(COOKIE, ""))
    response = web.HTTPSeeOther("/console/login")
    response.del_cookie(COOKIE, path="/console")
    raise response


def page_context(who: Staff) -> dict[str, Any]:
    return {
        "staff": who.member,
        "csrf": who.session.csrf,
        "can": lambda c: may(who.member.role, Can(c)),
    }
