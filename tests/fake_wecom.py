"""A fake WeCom (企业微信) on 127.0.0.1, both directions, in WeCom's wire format.

- ``FakeWeComApi``: the API the adapter calls (``/cgi-bin/…``): ``gettoken?corpid&
  corpsecret`` (tokens expire: ``expire_tokens()``), ``message/send`` (text and
  ``template_card``; a card with buttons answers a ``response_code``; a member the app
  cannot reach comes back in ``invaliduser``), ``message/update_template_card`` (spends a
  response_code once, replaces the button's name on the named members' cards),
  ``user/get`` (name and mobile), ``media/get`` (an uploaded picture's bytes). Errors can
  be queued (``fail_next``): -1 busy, 45009 frequency limit.
- ``WeComMember``: a member whose WeCom posts callbacks to the service: XML encrypted and
  signed with wechatpy's enterprise crypto in WeCom's direction (``msg_signature`` over
  the ciphertext, the CorpID inside), a 5 s answer timeout and up to 3 retries of the
  same message; the encrypted GET handshake; a press on a card's button
  (``template_card_event`` with EventKey, TaskId and a fresh ResponseCode).

The server, the tokens and the posting are ``fake_weixin``'s, shared with the fake WeChat.
"""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

import xmltodict
from aiohttp import web
from fake_weixin import FakeServer, Poster, Tokens, encrypted
from fake_weixin import error as _error
from wechatpy.enterprise.crypto import PrpCrypto, WeChatCrypto

CORP_ID = "ww0123456789abcdef"
AGENT_ID = 1000002
SECRET = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
TOKEN = "wecomtoken"
AES_KEY = "ZYXWVUTSRQPONMLKJIHGFEDCBA9876543210zyxwvut"


@dataclass
class FakeCard:
    task_id: str
    userid: str
    body: dict[str, Any]
    codes: set[str] = field(default_factory=set)  # response codes not spent yet
    replaced: str = ""  # the button's name after update_template_card

    @property
    def key(self) -> str:
        return str(self.body["template_card"]["button_list"][0]["key"])


@dataclass
class FakeWeComApi(FakeServer):
    corp_id: str = CORP_ID
    secret: str = SECRET
    agent_id: int = AGENT_ID
    members: dict[str, dict[str, Any]] = field(default_factory=dict)  # userid -> user/get
    media: dict[str, bytes] = field(default_factory=dict)
    uploaded: dict[str, bytes] = field(default_factory=dict)  # media/upload, by media_id
    messages: list[dict[str, Any]] = field(default_factory=list)  # message/send bodies
    cards: dict[str, FakeCard] = field(default_factory=dict)
    updates: list[dict[str, Any]] = field(default_factory=list)
    fail_next: list[int] = field(default_factory=list)  # errcodes for the next sends
    media_delay: float = 0.0  # seconds media/get takes (a slow download)
    update_delay: float = 0.0  # seconds update_template_card answers after the update
    hidden: set[str] = field(default_factory=set)  # members user/get may not describe
    media_gets: int = 0
    token_fetches: int = 0
    user_gets: int = 0
    port: int = 0

    def __post_init__(self) -> None:
        self.tokens = Tokens()
        self._ids = itertools.count(1)
        self._runner = None

    # -- what tests arrange and read ------------------------------------------------------
    def member(self, userid: str, name: str, mobile: str = "") -> None:
        self.members[userid] = {"userid": userid, "name": name, "mobile": mobile}

    def expire_tokens(self) -> None:
        self.tokens.expire()

    def texts(self, userid: str) -> list[str]:
        return [
            str(m["text"]["content"])
            for m in self.messages
            if m.get("touser") == userid and m.get("msgtype") == "text"
        ]

    def images(self, userid: str) -> list[bytes]:
        """The pictures sent to ``userid`` (image messages), as uploaded."""
        return [
            self.uploaded[m["image"]["media_id"]]
            for m in self.messages
            if m.get("touser") == userid and m.get("msgtype") == "image"
        ]

    def cards_of(self, userid: str) -> list[FakeCard]:
        return [c for c in self.cards.values() if c.userid == userid]

    def press_code(self, task_id: str) -> str:
        """The ResponseCode WeCom puts in the callback of a press on this card."""
        code = secrets.token_hex(12)
        self.cards[task_id].codes.add(code)
        return code

    # -- life -----------------------------------------------------------------------------
    def routes(self, app: web.Application) -> None:
        app.router.add_get("/cgi-bin/gettoken", self._token)
        app.router.add_post("/cgi-bin/message/send", self._send)
        app.router.add_post("/cgi-bin/message/update_template_card", self._update)
        app.router.add_get("/cgi-bin/user/get", self._user)
        app.router.add_get("/cgi-bin/media/get", self._media)
        app.router.add_post("/cgi-bin/media/upload", self._upload)

    # -- endpoints ------------------------------------------------------------------------
    async def _token(self, request: web.Request) -> web.Response:
        if request.query.get("corpid") != self.corp_id:
            return _error(40013, "invalid corpid")
        if request.query.get("corpsecret") != self.secret:
            return _error(40001, "invalid secret")
        self.token_fetches += 1
        token = self.tokens.issue(7200)
        return web.json_response(
            {"errcode": 0, "errmsg": "ok", "access_token": token, "expires_in": 7200}
        )

    def _check(self, request: web.Request) -> web.Response | None:
        token = request.query.get("access_token", "")
        if not token:
            return _error(41001, "access_token missing")
        if self.tokens.state(token) != "ok":
            return _error(42001, "access_token expired")
        return None

    async def _send(self, request: web.Request) -> web.Response:
        if (refused := self._check(request)) is not None:
            return refused
        body = await request.json()
        if body.get("agentid") != self.agent_id:
            return _error(40056, "invalid agentid")
        if self.fail_next:
            code = self.fail_next.pop(0)
            return _error(code, "system busy" if code == -1 else "api freq out of limit")
        user = str(body.get("touser", ""))
        if user not in self.members:
            return _error(81013, "user & party & tag all invalid")
        answer: dict[str, Any] = {"errcode": 0, "errmsg": "ok", "invaliduser": ""}
        answer["msgid"] = f"msg{next(self._ids)}"
        if body.get("msgtype") == "template_card":
            card = body["template_card"]
            task = str(card["task_id"])
            if card.get("card_type") != "button_interaction" or not card.get("button_list"):
                return _error(40058, "template_card invalid")
            if task in self.cards:
                return _error(40058, "task_id already exists")  # unique per app
            code = secrets.token_hex(12)
            self.cards[task] = FakeCard(task, user, body, {code})
            answer["response_code"] = code
        elif body.get("msgtype") == "image":
            if body.get("image", {}).get("media_id") not in self.uploaded:
                return _error(40007, "invalid media_id")
        elif body.get("msgtype") != "text":
            return _error(40008, "invalid message type")
        self.messages.append(body)
        return web.json_response(answer)

    async def _update(self, request: web.Request) -> web.Response:
        if (refused := self._check(request)) is not None:
            return refused
        body = await request.json()
        code = str(body.get("response_code", ""))
        found = [c for c in self.cards.values() if code in c.codes]
        if not found:
            return _error(40058, "invalid response_code")  # spent, expired or unknown
        card = found[0]
        card.codes.discard(code)
        if body.get("userids") != [card.userid]:
            return web.json_response(
                {"errcode": 0, "errmsg": "ok", "invaliduser": body.get("userids")}
            )
        card.replaced = str(body["button"]["replace_name"])
        self.updates.append(body)
        await asyncio.sleep(self.update_delay)  # the card shows it; the answer is late
        return web.json_response({"errcode": 0, "errmsg": "ok", "invaliduser": []})

    async def _user(self, request: web.Request) -> web.Response:
        if (refused := self._check(request)) is not None:
            return refused
        self.user_gets += 1
        userid = request.query.get("userid", "")
        if userid in self.hidden:
            return _error(60011, "no privilege to access/modify contact/party/agent")
        member = self.members.get(userid)
        if member is None:
            return _error(60111, "userid not found")
        return web.json_response({"errcode": 0, "errmsg": "ok", **member})

    async def _upload(self, request: web.Request) -> web.Response:
        if (refused := self._check(request)) is not None:
            return refused
        if request.query.get("type") != "image":
            return _error(40004, "invalid media type")
        form = await request.post()
        media = form.get("media")
        if not isinstance(media, web.FileField):
            return _error(41005, "media data missing")
        media_id = f"media-{secrets.token_hex(8)}"
        self.uploaded[media_id] = media.file.read()
        return web.json_response(
            {"errcode": 0, "errmsg": "", "type": "image", "media_id": media_id,
             "created_at": str(int(time.time()))}
        )  # fmt: skip

    async def _media(self, request: web.Request) -> web.Response:
        if (refused := self._check(request)) is not None:
            return refused
        self.media_gets += 1
        await asyncio.sleep(self.media_delay)
        data = self.media.get(request.query.get("media_id", ""))
        if data is None:
            return _error(40007, "invalid media_id")
        return web.Response(body=data, content_type="image/jpeg")


def signature(*parts: str) -> str:
    return hashlib.sha1("".join(sorted(parts)).encode()).hexdigest()


class WeComMember(Poster):
    """A member: WeCom posting their messages, events and card presses to the service."""

    msg_ids = itertools.count(int(time.time()) * 1000)

    def __init__(
        self,
        callback_url: str,
        userid: str,
        api: FakeWeComApi,
        *,
        corp_id: str = CORP_ID,
        token: str = TOKEN,
        aes_key: str = AES_KEY,
        timeout: float = 5.0,
        retries: int = 3,
    ) -> None:
        super().__init__(callback_url, timeout=timeout, retries=retries)
        self.userid = userid
        self.api = api
        self.corp_id = corp_id
        self.crypto = WeChatCrypto(token, aes_key, corp_id)
        self.token = token

    def xml(self, kind: str, **fields: Any) -> str:
        values: dict[str, Any] = {
            "ToUserName": self.corp_id,
            "FromUserName": self.userid,
            "CreateTime": int(time.time()),
            "MsgType": kind,
        }
        values |= fields
        values.setdefault("AgentID", AGENT_ID)
        if kind != "event" and "MsgId" not in values:
            values["MsgId"] = next(self.msg_ids)
        return xmltodict.unparse({"xml": values}, full_document=False)

    def sealed(self, plain: str, *, timestamp: int | None = None) -> tuple[dict[str, str], str]:
        """The query and body WeCom posts for ``plain``."""
        sealed, nonce, timestamp = encrypted(self.crypto, plain, timestamp)
        query = {
            "msg_signature": sealed["MsgSignature"],
            "timestamp": str(timestamp),
            "nonce": nonce,
        }
        body = (
            f"<xml><ToUserName><![CDATA[{self.corp_id}]]></ToUserName>"
            f"<AgentID><![CDATA[{AGENT_ID}]]></AgentID>"
            f"<Encrypt><![CDATA[{sealed['Encrypt']}]]></Encrypt></xml>"
        )
        return query, body

    async def handshake(self, echo: str, *, timestamp: int | None = None) -> tuple[int, str]:
        """WeCom's 验证URL有效性: an encrypted echostr, signed; the answer."""
        timestamp = timestamp or int(time.time())
        nonce = secrets.token_hex(5)
        cipher = PrpCrypto(self.crypto.key).encrypt(echo, self.corp_id)
        cipher = cipher.decode() if isinstance(cipher, bytes) else str(cipher)
        query = {
            "msg_signature": signature(self.token, str(timestamp), nonce, cipher),
            "timestamp": str(timestamp),
            "nonce": nonce,
            "echostr": cipher,
        }
        async with self._http().get(self.url, params=query) as response:
            return response.status, await response.text()

    async def send_plain(self, plain: str) -> None:
        """Post one message as WeCom does (timeout, retries of the same message)."""
        await self.deliver(plain)

    async def send(self, kind: str, **fields: Any) -> str:
        plain = self.xml(kind, **fields)
        await self.send_plain(plain)
        return plain

    async def say(self, text: str) -> str:
        return await self.send("text", Content=text)

    async def location(self, lat: float, lon: float, label: str = "") -> str:
        return await self.send("location", Location_X=lat, Location_Y=lon, Scale=15, Label=label)

    async def image(self, media_id: str) -> str:
        return await self.send("image", PicUrl="http://p.qpic.cn/x", MediaId=media_id)

    async def contact_change(self, change: str, userid: str, **fields: Any) -> str:
        """WeCom's 通讯录变更 event (``change_contact``) from ``sys``, as the 成员变更通知
        documents it (no AgentID, no MsgId); the fake's own directory changes with it."""
        values: dict[str, Any] = {
            "ToUserName": self.corp_id,
            "FromUserName": "sys",
            "CreateTime": int(time.time()),
            "MsgType": "event",
            "Event": "change_contact",
            "ChangeType": change,
            "UserID": userid,
            **fields,
        }
        member = self.api.members.get(userid)
        if change == "delete_user":
            self.api.members.pop(userid, None)
        elif member is not None and change == "update_user":
            if "Mobile" in fields:
                member["mobile"] = str(fields["Mobile"])
            if "NewUserID" in fields:
                member["userid"] = str(fields["NewUserID"])
                self.api.members[member["userid"]] = self.api.members.pop(userid)
        plain = xmltodict.unparse({"xml": values}, full_document=False)
        await self.send_plain(plain)
        return plain

    async def press(self, card: FakeCard) -> str:
        """A press on the card's (first) button."""
        return await self.send(
            "event",
            Event="template_card_event",
            EventKey=card.key,
            TaskId=card.task_id,
            CardType="button_interaction",
            ResponseCode=self.api.press_code(card.task_id),
        )
