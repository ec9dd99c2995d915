"""The web chat's session cookie and language: a token only this server can make (a random
part and its HMAC), the chat id it names (a hash of it, so a chat id seen elsewhere cannot
be turned back into a session), and the language a visitor is answered in.

This module reads requests only; it writes nothing and decides nothing about dialogues.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import re
import secrets

from aiohttp import web

from bots.keys import CONFIG, INBOX
from conversation.i18n import LOCALES

CHANNEL = "web"
COOKIE = "baoxiu_session"
_TOKEN = re.compile(r"[A-Za-z0-9_-]{22,64}")
_SIGNED = re.compile(r"([A-Za-z0-9_-]{32})\.([A-Za-z0-9_-]{22})")
_PLAIN = re.compile(r"[A-Za-z0-9_.-]*")


def chat_of(token: str) -> str:
    return "w" + hashlib.sha256(token.encode()).hexdigest()[:24]


def new_token(secret: bytes) -> str:
    """A session token only this server can make: a random part and its HMAC."""
    nonce = secrets.token_urlsafe(24)
    return f"{nonce}.{_mac(secret, nonce)}"


def _mac(secret: bytes, nonce: str) -> str:
    digest = hmac.digest(secret, nonce.encode(), "sha256")[:16]
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


SESSIONS_KEPT = 50_000
"""Checked session tokens remembered (``WebInbox.sessions``) before the memory starts over."""


def session_token(request: web.Request) -> str | None:
    """The visitor's token if this server issued it; a string a client made up is none.

    Tokens from before signing (plain random strings) are still honoured for chats that
    already have a history, so nobody loses a conversation; no new one is accepted."""
    token = _cookie(request)
    inbox = request.app[INBOX]
    if token in inbox.sessions:
        return token
    signed = _SIGNED.fullmatch(token)
    if signed:
        good = hmac.compare_digest(signed[2], _mac(inbox.secret, signed[1]))
    else:
        good = bool(_TOKEN.fullmatch(token)) and inbox.last_seq(chat_of(token)) > 0
    if not good:
        return None
    # Remembered once checked (a token stays good: the secret and a chat's history are
    # kept); a client cannot fill this with tokens it made up, only with ones it was given.
    if len(inbox.sessions) >= SESSIONS_KEPT:
        inbox.sessions.clear()
    inbox.sessions[token] = chat_of(token)
    return token


def session_chat(request: web.Request) -> str | None:
    """The visitor's chat id, if their session token is good (``session_token``)."""
    token = session_token(request)
    return None if token is None else request.app[INBOX].sessions[token]


_COOKIE_AT = f"{COOKIE}="


def _cookie(request: web.Request) -> str:
    """The session cookie's value ("" if none). Read straight from the header when it
    holds one plain value of it, as the page's requests do (parsing every cookie of the
    header was a tenth of a poll's work); anything else is left to aiohttp's parser."""
    header = request.headers.get("Cookie", "")
    at = header.find(_COOKIE_AT)
    if at < 0:
        return ""
    if (at == 0 or header[at - 1] in " ;") and header.find(_COOKIE_AT, at + 1) < 0:
        end = header.find(";", at)
        value = header[at + len(_COOKIE_AT) : None if end < 0 else end].strip()
        if _PLAIN.fullmatch(value):
            return value
    return request.cookies.get(COOKIE, "")


@functools.lru_cache(maxsize=256)
def browser_locale(header: str) -> str | None:
    """The catalog locale the browser ranks highest (``Accept-Language``), if any (a
    browser sends the same header with each request: each one is parsed once)."""
    ranked: list[tuple[float, int, str]] = []
    for order, part in enumerate(header.split(",")):
        tag, _, params = part.strip().partition(";")
        tag = tag.strip().lower()
        locale = "zh_CN" if tag.startswith("zh") else "en" if tag.startswith("en") else None
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                quality = 0.0
        if locale and quality > 0:
            ranked.append((-quality, order, locale))
    return min(ranked)[2] if ranked else None


def locale_for(request: web.Request, chat: str | None) -> str:
    """The chat's chosen language, else the browser's, else the service's."""
    if chat is not None:
        stored = request.app[INBOX].locale_of(CHANNEL, chat)
        if stored in LOCALES:
            return str(stored)
    accepted = browser_locale(request.headers.get("Accept-Language", ""))
    return accepted or request.app[CONFIG].locale
