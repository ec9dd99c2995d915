"""Fake SMS vendors and an SMTP server on 127.0.0.1, each speaking its real wire format,
for the real clients (the vendors' own SDKs, aiohttp, aiosmtplib) to talk to.

- ``FakeAliyun``: dysmsapi ``SendSms`` (query parameters, ACS3-HMAC-SHA256 checked);
- ``FakeTencent``: SMS 2021-01-11 ``SendSms`` (JSON body, TC3-HMAC-SHA256 checked);
- ``FakeTwilio``: ``POST /2010-04-01/Accounts/{sid}/Messages.json`` (form, Basic auth);
- ``FakeGateway``: an in-house JSON/form gateway that honours ``Idempotency-Key``;
- ``FakeSmtp``: enough ESMTP (EHLO, MAIL, RCPT, DATA, QUIT) to take a message.

Each records what it received (``received``) and answers from a script: ``fail(...)``
queues failures that come before the normal answer.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from aiohttp import web

SECRET = "test-secret"


@dataclass
class Answer:
    status: int
    body: Any
    headers: dict[str, str] = field(default_factory=dict)


class FakeServer:
    """An aiohttp app on a free 127.0.0.1 port with a failure script."""

    def __init__(self) -> None:
        self.app = web.Application()
        self.app.router.add_route("*", "/{tail:.*}", self._handle)
        self.script: list[Answer] = []
        self.received: list[dict[str, Any]] = []
        self.refused: list[str] = []  # why requests were refused (bad signature, …)
        self._runner: web.AppRunner | None = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> FakeServer:
        self._runner = web.AppRunner(self.app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        server = site._server
        assert server is not None
        self.port = server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return self

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    def fail(self, status: int, body: Any = None, *, times: int = 1, **headers: str) -> None:
        for _ in range(times):
            self.script.append(Answer(status, body if body is not None else {}, headers))

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        raw = await request.read()
        record = await self.parse(request, raw)
        problem = self.check(request, raw)
        if problem:
            self.refused.append(problem)
            return self.refuse(problem)
        self.received.append(record)
        if self.script:
            answer = self.script.pop(0)
            if isinstance(answer.body, str):
                return web.Response(status=answer.status, text=answer.body, headers=answer.headers)
            return self.json(answer.body, answer.status, answer.headers)
        return self.ok(record)

    content_type = "application/json; charset=utf-8"

    def json(self, body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Any:
        return web.Response(
            body=json.dumps(body, ensure_ascii=False).encode(),
            status=status,
            headers={**(headers or {}), "Content-Type": self.content_type},
        )

    async def parse(self, request: web.Request, raw: bytes) -> dict[str, Any]:
        return {
            "path": request.path,
            "query": dict(request.query),
            "headers": dict(request.headers),
        }

    def check(self, request: web.Request, raw: bytes) -> str | None:
        return None

    def refuse(self, problem: str) -> web.StreamResponse:
        return web.json_response({"error": problem}, status=401)

    def ok(self, record: dict[str, Any]) -> web.StreamResponse:
        return web.json_response({"ok": True})


def _rfc3986(text: str) -> str:
    return quote(text, safe="-_.~")


class FakeAliyun(FakeServer):
    """Aliyun dysmsapi: checks the ACS3-HMAC-SHA256 signature with ``SECRET``."""

    def check(self, request: web.Request, raw: bytes) -> str | None:
        auth = request.headers.get("Authorization", "")
        if not auth.startswith("ACS3-HMAC-SHA256 "):
            return "no ACS3 signature"
        parts = dict(p.split("=", 1) for p in auth.removeprefix("ACS3-HMAC-SHA256 ").split(","))
        signed = parts["SignedHeaders"].split(";")
        query = "&".join(f"{_rfc3986(k)}={_rfc3986(v)}" for k, v in sorted(request.query.items()))
        headers = "".join(f"{h}:{request.headers.get(h, '').strip()}\n" for h in signed)
        canonical = "\n".join(
            [
                request.method,
                request.path,
                query,
                headers,
                parts["SignedHeaders"],
                hashlib.sha256(raw).hexdigest(),
            ]
        )
        to_sign = "ACS3-HMAC-SHA256\n" + hashlib.sha256(canonical.encode()).hexdigest()
        expected = hmac.new(SECRET.encode(), to_sign.encode(), hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, parts["Signature"]):
            return "SignatureDoesNotMatch"
        if request.headers.get("x-acs-action") != "SendSms":
            return "wrong action"
        return None

    def refuse(self, problem: str) -> web.StreamResponse:
        return web.json_response(
            {"Code": "SignatureDoesNotMatch", "Message": problem, "RequestId": "r"}, status=400
        )

    def ok(self, record: dict[str, Any]) -> web.StreamResponse:
        n = len(self.received)
        return web.json_response(
            {"Code": "OK", "Message": "OK", "BizId": f"9006197469364984{n:02d}^0", "RequestId": "r"}
        )

    def sent(self) -> list[dict[str, str]]:
        return [r["query"] for r in self.received]


class FakeTencent(FakeServer):
    """Tencent Cloud SMS: checks the TC3-HMAC-SHA256 signature with ``SECRET``."""

    content_type = "application/json"  # exactly: the SDK looks for errors only then

    async def parse(self, request: web.Request, raw: bytes) -> dict[str, Any]:
        return {"body": json.loads(raw or b"{}"), "headers": dict(request.headers)}

    def check(self, request: web.Request, raw: bytes) -> str | None:
        auth = request.headers.get("Authorization", "")
        if not auth.startswith("TC3-HMAC-SHA256 "):
            return "no TC3 signature"
        parts = dict(
            p.strip().split("=", 1) for p in auth.removeprefix("TC3-HMAC-SHA256 ").split(",")
        )
        _, date, service, _ = parts["Credential"].split("/")
        signed = parts["SignedHeaders"].split(";")
        headers = "".join(f"{h}:{request.headers.get(h, '').lower()}\n" for h in signed)
        canonical = "\n".join(
            ["POST", "/", "", headers, parts["SignedHeaders"], hashlib.sha256(raw).hexdigest()]
        )
        timestamp = request.headers.get("X-TC-Timestamp", "")
        scope = f"{date}/{service}/tc3_request"
        to_sign = "\n".join(
            ["TC3-HMAC-SHA256", timestamp, scope, hashlib.sha256(canonical.encode()).hexdigest()]
        )

        def mac(key: bytes, text: str) -> bytes:
            return hmac.new(key, text.encode(), hashlib.sha256).digest()

        key = mac(mac(mac(("TC3" + SECRET).encode(), date), service), "tc3_request")
        expected = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, parts["Signature"]):
            return "AuthFailure.SignatureFailure"
        if request.headers.get("X-TC-Action") != "SendSms":
            return "wrong action"
        return None

    def refuse(self, problem: str) -> web.StreamResponse:
        return self.json(
            {"Response": {"Error": {"Code": problem, "Message": problem}, "RequestId": "r"}}
        )

    def ok(self, record: dict[str, Any]) -> web.StreamResponse:
        return self.json(self.status("Ok", "send success", record))

    def status(self, code: str, message: str, record: dict[str, Any] | None = None) -> Any:
        body = (record or {}).get("body", {})
        phone = (body.get("PhoneNumberSet") or ["+8613800000000"])[0]
        return {
            "Response": {
                "SendStatusSet": [
                    {
                        "SerialNo": f"5000:{len(self.received)}",
                        "PhoneNumber": phone,
                        "Fee": 1,
                        "SessionContext": body.get("SessionContext", ""),
                        "Code": code,
                        "Message": message,
                        "IsoCode": "CN",
                    }
                ],
                "RequestId": "r",
            }
        }

    def sent(self) -> list[dict[str, Any]]:
        return [r["body"] for r in self.received]


class FakeTwilio(FakeServer):
    """Twilio's Messages resource: Basic auth of ``AC1`` / ``SECRET``, a form body."""

    async def parse(self, request: web.Request, raw: bytes) -> dict[str, Any]:
        form = await request.post()
        return {"path": request.path, "form": {k: str(v) for k, v in form.items()}}

    def check(self, request: web.Request, raw: bytes) -> str | None:
        expected = "Basic " + base64.b64encode(f"AC1:{SECRET}".encode()).decode()
        if request.headers.get("Authorization") != expected:
            return "Authenticate"
        if request.path != "/2010-04-01/Accounts/AC1/Messages.json":
            return "not found"
        return None

    def refuse(self, problem: str) -> web.StreamResponse:
        return web.json_response(
            {"code": 20003, "message": problem, "more_info": "", "status": 401}, status=401
        )

    def ok(self, record: dict[str, Any]) -> web.StreamResponse:
        form = record["form"]
        sid = f"SM{len(self.received):032d}"
        return web.json_response(
            {"sid": sid, "status": "queued", "to": form.get("To"), "body": form.get("Body")},
            status=201,
        )

    @staticmethod
    def error(status: int, code: int, message: str) -> dict[str, Any]:
        return {"code": code, "message": message, "more_info": "", "status": status}

    def sent(self) -> list[dict[str, str]]:
        return [r["form"] for r in self.received]


class FakeGateway(FakeServer):
    """An in-house gateway: JSON or form; a repeated ``Idempotency-Key`` is answered with
    the first answer and not shown again. ``shown`` is what phones displayed."""

    def __init__(self) -> None:
        super().__init__()
        self.shown: list[dict[str, str]] = []
        self.keys: dict[str, str] = {}
        self.requests = 0
        self.hold_from: int | None = None  # this request (1-based) and later wait for…
        self.gate = asyncio.Event()  # …this to be set
        self.holding = asyncio.Event()  # a request is being held

    async def parse(self, request: web.Request, raw: bytes) -> dict[str, Any]:
        if request.content_type == "application/json":
            fields = json.loads(raw)
        else:
            fields = {k: str(v) for k, v in (await request.post()).items()}
        return {
            "fields": fields,
            "key": request.headers.get("Idempotency-Key", ""),
            "auth": request.headers.get("Authorization", ""),
            "type": request.content_type,
        }

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        self.requests += 1
        if self.hold_from is not None and self.requests >= self.hold_from:
            self.holding.set()
            await self.gate.wait()
        return await super()._handle(request)

    def ok(self, record: dict[str, Any]) -> web.StreamResponse:
        key = record["key"]
        if key and key in self.keys:
            return web.json_response({"data": {"msgid": self.keys[key]}, "duplicate": True})
        msgid = f"m{len(self.shown) + 1}"
        if key:
            self.keys[key] = msgid
        self.shown.append(record["fields"])
        return web.json_response({"data": {"msgid": msgid}})


class FakeSmtp:
    """Takes mail over plain ESMTP; ``messages`` holds (sender, recipients, data)."""

    def __init__(self) -> None:
        self.messages: list[tuple[str, list[str], bytes]] = []
        self.refuse_rcpt: dict[str, str] = {}  # address -> "550 …" answer
        self.busy = 0  # answer this many connections with 421 first
        self._server: asyncio.Server | None = None
        self.port = 0

    async def start(self) -> FakeSmtp:
        self._server = await asyncio.start_server(self._session, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def _session(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        async def say(line: str) -> None:
            writer.write(line.encode() + b"\r\n")
            await writer.drain()

        try:
            if self.busy:
                self.busy -= 1
                await say("421 4.3.2 try again later")
                return
            await say("220 fake.smtp ESMTP")
            sender, recipients = "", []
            while line := await reader.readline():
                command = line.decode().strip()
                verb = command.split(" ", 1)[0].upper()
                if verb in ("EHLO", "HELO"):
                    await say("250-fake.smtp")
                    await say("250 8BITMIME")
                elif verb == "MAIL":
                    sender = command.split(":", 1)[1].strip().strip("<>").split(">")[0]
                    await say("250 OK")
                elif verb == "RCPT":
                    address = command.split(":", 1)[1].strip().strip("<>").split(">")[0]
                    if address in self.refuse_rcpt:
                        await say(self.refuse_rcpt[address])
                    else:
                        recipients.append(address)
                        await say("250 OK")
                elif verb == "DATA":
                    await say("354 end with .")
                    data = b""
                    while (chunk := await reader.readline()) not in (b".\r\n", b""):
                        data += chunk
                    self.messages.append((sender, recipients, data))
                    await say("250 queued")
                elif verb == "QUIT":
                    await say("221 bye")
                    break
                else:
                    await say("250 OK")
        finally:
            writer.close()
            await writer.wait_closed()
