"""The WeChat official-account API over aiohttp: the dozen endpoints the adapter uses.

Why aiohttp and not wechatpy's client: wechatpy's client is synchronous (requests), has
no timeout by default, hard-codes its token and several endpoint URLs past
``API_BASE_URL`` and retries token errors recursively without limit (see
PITFALLS.md). Here every call is async with a timeout, goes to ``api_base_url`` (a
proxy or a test server), and is retried at most once after a token error
(40001/40014/42001). The envelope's crypto and XML are ``bots.wechat.crypto``'s.

The access token comes from ``stable_token`` (WeChat hands every caller the same valid
token, so two processes never invalidate each other's) and is kept in the store with
its expiry; one lock per client stops concurrent calls fetching it twice.
"""

from __future__ import annotations

import asyncio
import json as jsonlib
import time
from typing import Any

import aiohttp
from aiohttp import hdrs
from yarl import URL

from bots.wechat.settings import WeChatSettings
from bots.wechat.store import WeChatTables

_JSON = {hdrs.CONTENT_TYPE: "application/json"}
TOKEN_ERRORS = frozenset({40001, 40014, 42001})
EARLY_SECONDS = 300.0
"""A token this close to its expiry is fetched anew."""


class WeChatError(Exception):
    """An errcode from WeChat (``code`` -1: busy; 0 never raised), or a transport failure
    (``code`` None)."""

    def __init__(self, code: int | None, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


class ApiClient:
    """What the official account's and WeCom's (``bots.wecom.client``) clients share: the
    stored token (kept under ``token_key``), calls with one retry after a token error,
    media downloads. A subclass says how a token is fetched (``_fetch_token``)."""

    def __init__(self, base: str, timeout: float, token_key: str, tables: WeChatTables) -> None:
        self.tables = tables
        self.base = base
        self.timeout = timeout
        self.token_key = token_key
        self._lock = asyncio.Lock()
        self._session: aiohttp.ClientSession | None = None
        # The stored token as last read or fetched here: a call needs no store read
        # while it is fresh. Another process's newer token is found the usual way: this
        # one is refused (40001 …), dropped, and the store read again.
        self._known: tuple[str, float] | None = None
        self._urls: dict[str, URL] = {}  # by path, with the token ``_urls_token``
        self._urls_token = ""

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            # aiohttp rounds a deadline up to the next whole second when the timeout is
            # above ceil_threshold: 0 rounded every call's 3 s up to as much as 4 s.
            timeout = aiohttp.ClientTimeout(total=self.timeout, ceil_threshold=self.timeout + 1)
            # WeChat's API sets no cookies: a jar that keeps none skips reading and
            # filtering them on every call.
            self._session = aiohttp.ClientSession(
                timeout=timeout, cookie_jar=aiohttp.DummyCookieJar()
            )
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

    # -- token --------------------------------------------------------------------------
    async def token(self, *, force: bool = False, stale: str = "") -> str:
        known = None if force else self._known
        if known and known[0] != stale and known[1] - EARLY_SECONDS > time.time():
            return known[0]
        async with self._lock:
            stored = self.tables.token(self.token_key)
            if stored and stored[0] != stale and stored[1] - EARLY_SECONDS > time.time():
                self._known = stored
                return stored[0]
            answer = await self._fetch_token(force)
            token = str(answer.get("access_token", ""))
            if not token:
                raise WeChatError(None, "no access_token in the answer")
            expires = time.time() + float(answer.get("expires_in", 7200))
            self.tables.save_token(self.token_key, token, expires)
            self._known = (token, expires)
            return token

    def _drop(self, token: str) -> None:
        """Forget a refused ``token`` here and in the store."""
        if self._known and self._known[0] == token:
            self._known = None
        self.tables.drop_token(self.token_key, token)

    async def _fetch_token(self, force: bool) -> dict[str, Any]:
        raise NotImplementedError

    # -- calls ----------------------------------------------------------------------------
    async def call(
        self, method: str, path: str, *, json: Any = None, params: dict[str, str] | None = None
    ) -> dict[str, Any]:
        """One API call with the token; after a token error the token is fetched anew and
        the call tried once more, never more."""
        # The body encoded once, for both tries, as UTF-8 (as wechatpy sends it: Chinese
        # text in \u escapes took twice the bytes) and sent as it is.
        body = None if json is None else jsonlib.dumps(json, ensure_ascii=False).encode()
        token = await self.token()
        try:
            return await self._request(method, self._url(path, token, params), body=body)
        except WeChatError as error:
            if error.code not in TOKEN_ERRORS:
                raise
            self._drop(token)
            token = await self.token(force=True, stale=token)
            return await self._request(method, self._url(path, token, params), body=body)

    def _url(self, path: str, token: str, params: dict[str, str] | None) -> URL:
        """``path`` with the token (and ``params``): built once per path and token —
        parsing and quoting the URL anew was a tenth of a call's time."""
        if params:
            return URL(self.base + path).with_query({**params, "access_token": token})
        if self._urls_token != token:
            self._urls, self._urls_token = {}, token
        url = self._urls.get(path)
        if url is None:
            url = self._urls[path] = URL(self.base + path).with_query(access_token=token)
        return url

    async def _request(
        self,
        method: str,
        where: str | URL,
        *,
        json: Any = None,
        params: dict[str, str] | None = None,
        body: bytes | None = None,
    ) -> dict[str, Any]:
        """``where``: a path under the base URL, or a whole ``URL``; ``body``: JSON
        already encoded (else ``json``, encoded by aiohttp)."""
        raw, kind = await self._fetch(method, where, json=json, params=params, body=body)
        return _answer(raw, kind)

    async def _fetch(
        self,
        method: str,
        where: str | URL,
        *,
        json: Any = None,
        params: dict[str, str] | None = None,
        body: bytes | None = None,
    ) -> tuple[bytes, str]:
        """The answer's bytes and its Content-Type header as sent (not parsed: only an
        image download and an error message look at it)."""
        url = self.base + where if isinstance(where, str) else where
        try:
            headers = None if body is None else _JSON
            async with self._http().request(
                method, url, json=json, params=params, data=body, headers=headers
            ) as response:
                raw = await response.read()
                if response.status >= 500:
                    raise WeChatError(-1, f"HTTP {response.status}")
                return raw, response.headers.get(hdrs.CONTENT_TYPE, "")
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise WeChatError(None, f"{type(exc).__name__}: {exc}") from exc

    async def media(self, media_id: str, max_bytes: int) -> tuple[bytes, str]:
        """A user's image by MediaId: its bytes and content type; ``WeChatError`` 0 with
        "too large" when over ``max_bytes``."""
        for attempt in (0, 1):
            token = await self.token(force=attempt == 1)
            raw, header = await self._fetch(
                "GET", "media/get", params={"access_token": token, "media_id": media_id}
            )
            kind = header.partition(";")[0].strip().lower()
            if kind.startswith("image/"):
                if len(raw) > max_bytes:
                    raise WeChatError(0, "too large")
                return raw, kind
            try:
                _answer(raw, kind)
            except WeChatError as error:
                if error.code in TOKEN_ERRORS and attempt == 0:
                    self._drop(token)
                    continue
                raise
            raise WeChatError(None, f"not an image: {kind}")
        raise WeChatError(None, "unreachable")


class WeChatClient(ApiClient):
    """The official account's API; its token comes from ``stable_token``."""

    def __init__(self, settings: WeChatSettings, tables: WeChatTables) -> None:
        super().__init__(settings.api_base_url, settings.timeout_seconds, settings.app_id, tables)
        self.settings = settings

    async def _fetch_token(self, force: bool) -> dict[str, Any]:
        body = {
            "grant_type": "client_credential",
            "appid": self.settings.app_id,
            "secret": self.settings.app_secret,
            "force_refresh": force,
        }
        return await self._request("POST", "stable_token", json=body)

    async def send_custom(self, body: dict[str, Any]) -> dict[str, Any]:
        return await self.call("POST", "message/custom/send", json=body)

    async def send_template(self, body: dict[str, Any]) -> dict[str, Any]:
        return await self.call("POST", "message/template/send", json=body)

    async def create_menu(self, body: dict[str, Any]) -> dict[str, Any]:
        return await self.call("POST", "menu/create", json=body)

    async def create_qrcode(self, scene: str) -> dict[str, Any]:
        body = {"action_name": "QR_LIMIT_STR_SCENE", "action_info": {"scene": {"scene_str": scene}}}
        return await self.call("POST", "qrcode/create", json=body)


def _answer(raw: bytes, kind: str) -> dict[str, Any]:
    try:
        data = jsonlib.loads(raw or b"{}")
    except ValueError as exc:
        raise WeChatError(None, f"not JSON ({kind})") from exc
    if not isinstance(data, dict):
        raise WeChatError(None, "not a JSON object")
    code = data.get("errcode", 0)
    if code:
        raise WeChatError(int(code), str(data.get("errmsg", "")))
    return data
