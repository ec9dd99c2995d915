"""A fake WeChat on 127.0.0.1, both directions, in WeChat's wire format.

- ``FakeWeChatApi``: the official-account API the adapter calls (``/cgi-bin/…``):
  ``stable_token`` (tokens expire; ``expire_tokens()`` makes the next call answer 42001),
  ``media/get`` (bytes of an uploaded image, 40007 for an unknown MediaId),
  ``message/custom/send`` (45015 outside the 48-hour window since the follower's last
  message, 45047 when the quota is used up, 43004 after unsubscribe), ``message/template/
  send``, ``menu/create``, ``qrcode/create``. Its clock can be moved (``advance``).
- ``WeChatUser``: a follower whose phone makes WeChat post callbacks to the service:
  XML encrypted and signed with wechatpy's crypto in WeChat's direction (safe mode),
  a 5 s answer timeout and up to 3 retries of the same message (same MsgId), as WeChat
  does. It decrypts the passive reply and returns its text.
"""

from __future__ import annotations

import hashlib
import itertools
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import xmltodict
from aiohttp import web
from wechatpy.crypto import WeChatCrypto

APP_ID = "wx0123456789abcdef"
APP_SECRET = "0123456789abcdef0123456789abcdef"
TOKEN = "baoxiutoken"
AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
ACCOUNT = "gh_0123456789ab"
WINDOW_SECONDS = 48 * 3600


@dataclass
class FakeWeChatApi:
    app_id: str = APP_ID
    secret: str = APP_SECRET
    media: dict[str, bytes] = field(default_factory=dict)
    last_seen: dict[str, float] = field(default_factory=dict)  # openid -> last message time
    unsubscribed: set[str] = field(default_factory=set)
    custom: list[dict[str, Any]] = field(default_factory=list)
    templates: list[dict[str, Any]] = field(default_factory=list)
    menus: list[dict[str, Any]] = field(default_factory=list)
    token_fetches: int = 0
    quota_left: int = 1_000_000
    template_errcode: int = 0
    offset: float = 0.0
    port: int = 0

    def __post_init__(self) -> None:
        self._tokens: dict[str, float] = {}
        self._ids = itertools.count(1000)
        self._runner: web.AppRunner | None = None

    # -- what tests arrange ---------------------------------------------------------------
    def now(self) -> float:
        return time.time() + self.offset

    def advance(self, seconds: float) -> None:
        self.offset += seconds

    def expire_tokens(self) -> None:
        self._tokens.clear()

    @property
    def api_base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/cgi-bin/"

    # -- life -----------------------------------------------------------------------------
    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/cgi-bin/stable_token", self._token)
        app.router.add_get("/cgi-bin/media/get", self._media)
        app.router.add_post("/cgi-bin/message/custom/send", self._custom)
        app.router.add_post("/cgi-bin/message/template/send", self._template)
        app.router.add_post("/cgi-bin/menu/create", self._menu)
        app.router.add_post("/cgi-bin/qrcode/create", self._qrcode)
        return app

    async def start(self, port: int = 0) -> FakeWeChatApi:
        self._runner = web.AppRunner(self.app(), access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", port).start()
        self.port = int(self._runner.addresses[0][1])
        return self

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    # -- endpoints ------------------------------------------------------------------------
    async def _token(self, request: web.Request) -> web.Response:
        body = await request.json()
        if (body.get("appid"), body.get("secret")) != (self.app_id, self.secret):
            return _error(40125, "invalid appsecret")
        self.token_fetches += 1
        live = [t for t, until in self._tokens.items() if until > self.now()]
        if live and not body.get("force_refresh"):
            token = live[0]  # stable_token: every caller gets the same valid token
        else:
            token = secrets.token_hex(16)
            self._tokens[token] = self.now() + 7200
        return web.json_response(
            {"access_token": token, "expires_in": int(self._tokens[token] - self.now())}
        )

    def _check(self, request: web.Request) -> web.Response | None:
        token = request.query.get("access_token", "")
        until = self._tokens.get(token)
        if until is None:
            return _error(40001, "invalid credential, access_token is invalid or not latest")
        if until <= self.now():
            return _error(42001, "access_token expired")
        return None

    async def _media(self, request: web.Request) -> web.Response:
        if (refused := self._check(request)) is not None:
            return refused
        data = self.media.get(request.query.get("media_id", ""))
        if data is None:
            return _error(40007, "invalid media_id")
        return web.Response(body=data, content_type="image/jpeg")

    async def _custom(self, request: web.Request) -> web.Response:
        if (refused := self._check(request)) is not None:
            return refused
        body = await request.json()
        user = body.get("touser", "")
        if user in self.unsubscribed:
            return _error(43004, "require subscribe")
        if self.now() - self.last_seen.get(user, -1e12) > WINDOW_SECONDS:
            return _error(45015, "response out of time limit or subscription is canceled")
        if self.quota_left <= 0:
            return _error(45047, "out of response count limit")
        self.quota_left -= 1
        self.custom.append(body)
        return web.json_response({"errcode": 0, "errmsg": "ok"})

    async def _template(self, request: web.Request) -> web.Response:
        if (refused := self._check(request)) is not None:
            return refused
        body = await request.json()
        if body.get("touser") in self.unsubscribed:
            return _error(43004, "require subscribe")
        if self.template_errcode:
            return _error(self.template_errcode, "template refused")
        self.templates.append(body)
        return web.json_response({"errcode": 0, "errmsg": "ok", "msgid": next(self._ids)})

    async def _menu(self, request: web.Request) -> web.Response:
        if (refused := self._check(request)) is not None:
            return refused
        self.menus.append(await request.json())
        return web.json_response({"errcode": 0, "errmsg": "ok"})

    async def _qrcode(self, request: web.Request) -> web.Response:
        if (refused := self._check(request)) is not None:
            return refused
        body = await request.json()
        scene = body["action_info"]["scene"]["scene_str"]
        ticket = hashlib.sha1(scene.encode()).hexdigest()
        return web.json_response({"ticket": ticket, "url": f"http://weixin.qq.com/q/{ticket[:12]}"})


def _error(code: int, message: str) -> web.Response:
    return web.json_response({"errcode": code, "errmsg": message})


class WeChatUser:
    """A follower: WeChat posting their messages and events to the service's callback."""

    msg_ids = itertools.count(int(time.time()) * 1000)

    def __init__(
        self,
        callback_url: str,
        open_id: str,
        api: FakeWeChatApi | None = None,
        *,
        app_id: str = APP_ID,
        token: str = TOKEN,
        aes_key: str = AES_KEY,
        timeout: float = 5.0,
        retries: int = 3,
    ) -> None:
        self.url = callback_url
        self.open_id = open_id
        self.api = api
        self.crypto = WeChatCrypto(token, aes_key, app_id)
        self.token = token
        self.timeout = timeout
        self.retries = retries
        self.attempts = 0
        self.session: aiohttp.ClientSession | None = None

    async def close(self) -> None:
        if self.session is not None:
            await self.session.close()

    def xml(self, kind: str, **fields: Any) -> str:
        values = {
            "ToUserName": ACCOUNT,
            "FromUserName": self.open_id,
            "CreateTime": int(time.time()),
        }
        values |= {"MsgType": kind, **fields}
        if kind != "event" and "MsgId" not in values:
            values["MsgId"] = next(self.msg_ids)
        return xmltodict.unparse({"xml": values}, full_document=False)

    def sealed(self, plain: str, *, timestamp: int | None = None) -> tuple[dict[str, str], str]:
        """The query and body WeChat posts for ``plain`` (safe mode)."""
        timestamp = timestamp or int(time.time())
        nonce = secrets.token_hex(5)
        encrypted = xmltodict.parse(self.crypto.encrypt_message(plain, nonce, str(timestamp)))[
            "xml"
        ]
        signature = hashlib.sha1("".join(sorted([self.token, str(timestamp), nonce])).encode())
        query = {
            "signature": signature.hexdigest(),
            "timestamp": str(timestamp),
            "nonce": nonce,
            "openid": self.open_id,
            "encrypt_type": "aes",
            "msg_signature": encrypted["MsgSignature"],
        }
        body = (
            f"<xml><ToUserName><![CDATA[{ACCOUNT}]]></ToUserName>"
            f"<Encrypt><![CDATA[{encrypted['Encrypt']}]]></Encrypt></xml>"
        )
        return query, body

    async def post_raw(self, query: dict[str, str], body: str | bytes) -> tuple[int, str]:
        if self.session is None:
            self.session = aiohttp.ClientSession()
        # ceil_threshold above the timeout: aiohttp rounds a deadline up to whole seconds
        # when the timeout exceeds it (0 rounded every one: WeChat's 0.3 s became up to 1.3).
        timeout = aiohttp.ClientTimeout(total=self.timeout, ceil_threshold=3600)
        async with self.session.post(
            self.url, params=query, data=body, timeout=timeout
        ) as response:
            return response.status, await response.text()

    async def send(self, kind: str, **fields: Any) -> str:
        """Post one message as WeChat does (timeout, retries of the same message); the
        text of the reply ("" for none)."""
        if self.api is not None and kind != "event":
            self.api.last_seen[self.open_id] = self.api.now()
        plain = self.xml(kind, **fields)
        for _ in range(1 + self.retries):
            self.attempts += 1
            query, body = self.sealed(plain)
            try:
                status, text = await self.post_raw(query, body)
            except TimeoutError:
                continue
            assert status == 200, (status, text)
            return self.open_reply(text)
        return ""

    def open_reply(self, text: str) -> str:
        if text in ("", "success"):
            return ""
        outer = xmltodict.parse(text)["xml"]
        inner = self.crypto.decrypt_message(
            text, outer["MsgSignature"], outer["TimeStamp"], outer["Nonce"]
        )
        reply = xmltodict.parse(inner)["xml"]
        assert reply["ToUserName"] == self.open_id and reply["FromUserName"] == ACCOUNT
        return str(reply.get("Content") or "")

    async def say(self, text: str) -> str:
        return await self.send("text", Content=text)

    async def event(self, event: str, key: str = "") -> str:
        return await self.send("event", Event=event, EventKey=key)
