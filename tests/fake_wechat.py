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

The server, the tokens and the posting are ``fake_weixin``'s, shared with the fake WeCom.
"""

from __future__ import annotations

import hashlib
import itertools
import time
from dataclasses import dataclass, field
from typing import Any

import xmltodict
from aiohttp import web
from fake_weixin import FakeServer, Poster, Tokens, encrypted
from fake_weixin import error as _error
from wechatpy.crypto import WeChatCrypto

APP_ID = "wx0123456789abcdef"
APP_SECRET = "0123456789abcdef0123456789abcdef"
TOKEN = "baoxiutoken"
AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
ACCOUNT = "gh_0123456789ab"
WINDOW_SECONDS = 48 * 3600


@dataclass
class FakeWeChatApi(FakeServer):
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
        self.tokens = Tokens(self.now)
        self._ids = itertools.count(1000)
        self._runner = None

    # -- what tests arrange ---------------------------------------------------------------
    def now(self) -> float:
        return time.time() + self.offset

    def advance(self, seconds: float) -> None:
        self.offset += seconds

    def expire_tokens(self) -> None:
        self.tokens.expire()

    # -- life -----------------------------------------------------------------------------
    def routes(self, app: web.Application) -> None:
        app.router.add_post("/cgi-bin/stable_token", self._token)
        app.router.add_get("/cgi-bin/media/get", self._media)
        app.router.add_post("/cgi-bin/message/custom/send", self._custom)
        app.router.add_post("/cgi-bin/message/template/send", self._template)
        app.router.add_post("/cgi-bin/menu/create", self._menu)
        app.router.add_post("/cgi-bin/qrcode/create", self._qrcode)

    # -- endpoints ------------------------------------------------------------------------
    async def _token(self, request: web.Request) -> web.Response:
        body = await request.json()
        if (body.get("appid"), body.get("secret")) != (self.app_id, self.secret):
            return _error(40125, "invalid appsecret")
        self.token_fetches += 1
        live = self.tokens.live()
        # stable_token: every caller gets the same valid token, unless it forces a new one.
        fresh = bool(body.get("force_refresh")) or not live
        token = self.tokens.issue(7200) if fresh else live[0]
        return web.json_response(
            {"access_token": token, "expires_in": int(self.tokens.until[token] - self.now())}
        )

    def _check(self, request: web.Request) -> web.Response | None:
        state = self.tokens.state(request.query.get("access_token", ""))
        if state == "unknown":
            return _error(40001, "invalid credential, access_token is invalid or not latest")
        if state == "expired":
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


class WeChatUser(Poster):
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
        super().__init__(callback_url, timeout=timeout, retries=retries)
        self.open_id = open_id
        self.api = api
        self.crypto = WeChatCrypto(token, aes_key, app_id)
        self.token = token

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
        sealed, nonce, timestamp = encrypted(self.crypto, plain, timestamp)
        signature = hashlib.sha1("".join(sorted([self.token, str(timestamp), nonce])).encode())
        query = {
            "signature": signature.hexdigest(),
            "timestamp": str(timestamp),
            "nonce": nonce,
            "openid": self.open_id,
            "encrypt_type": "aes",
            "msg_signature": sealed["MsgSignature"],
        }
        body = (
            f"<xml><ToUserName><![CDATA[{ACCOUNT}]]></ToUserName>"
            f"<Encrypt><![CDATA[{sealed['Encrypt']}]]></Encrypt></xml>"
        )
        return query, body

    async def send(self, kind: str, **fields: Any) -> str:
        """Post one message as WeChat does (timeout, retries of the same message); the
        text of the reply ("" for none)."""
        if self.api is not None and kind != "event":
            self.api.last_seen[self.open_id] = self.api.now()
        text = await self.deliver(self.xml(kind, **fields))
        return "" if text is None else self.open_reply(text)

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
