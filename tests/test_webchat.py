"""The web chat over real HTTP: an aiohttp test server on 127.0.0.1 with the real app,
the real engine and a real store on a file under the test's folder.

A resident reports a fault through the JSON API exactly as the page's script does, a
technician works the job from the terminal channel, and the resident's long-poll
receives each notice; bad input, foreign origins and non-images are refused with a
localized error and change nothing.
"""

from __future__ import annotations

import asyncio
import io
import re
import struct
import zlib
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest
from aiohttp import ClientSession, CookieJar, FormData, web
from aiohttp.test_utils import TestClient, TestServer
from conftest import draft

from bots.app import build_app
from bots.keys import ENGINE, INBOX, STORE, WORKER
from bots.web.chat import CHANNEL, COOKIE, chat_of
from bots.web.inbox import InboxSender
from config.model import Config
from conversation.events import Button, Text
from conversation.i18n import translate
from conversation.replies import Ask, Choice, Say
from tickets.model import Actor, Role, State
from tickets.store import OutboxRow, Store

NUMBER = re.compile(r"BX\d{8}-\d{4}")
DESCRIPTION = "<script>alert(1)</script> 卫生间水管漏水"


def png_bytes(width: int = 2, height: int = 2) -> bytes:
    """A real (tiny, blue) PNG, so a browser can show it too."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = zlib.crc32(kind + body) & 0xFFFFFFFF
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)

    rows = b"".join(b"\x00" + b"\x10\x60\xa0" * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


class Resident:
    """One browser's session, speaking to the API the way chat.js does."""

    def __init__(self, client: TestClient[Any, Any], accept_language: str = "") -> None:
        self.client = client
        self.seen = 0
        self.headers = {"Accept-Language": accept_language} if accept_language else {}
        self.origin = f"http://{client.server.host}:{client.server.port}"

    @property
    def token(self) -> str:
        morsel = self.client.session.cookie_jar.filter_cookies(self.client.make_url("/chat"))
        return morsel[COOKIE].value

    @property
    def chat(self) -> str:
        return chat_of(self.token)

    async def open(self, path: str = "/chat") -> str:
        resp = await self.client.get(path, headers=self.headers)
        assert resp.status == 200
        return await resp.text()

    async def post(self, body: Any, **headers: str) -> tuple[int, dict[str, Any]]:
        resp = await self.client.post(
            "/chat/api/send", json=body, headers={**self.headers, **headers}
        )
        return resp.status, await resp.json()

    async def send(self, **body: Any) -> None:
        status, answer = await self.post(body)
        assert (status, answer["ok"]) == (200, True), answer

    async def upload(
        self,
        data: bytes | io.BytesIO,
        content_type: str = "image/png",
        caption: str = "",
        **headers: str,
    ) -> tuple[int, dict[str, Any]]:
        form = FormData()
        form.add_field("photo", data, filename="p.png", content_type=content_type)
        if caption:
            form.add_field("caption", caption)
        resp = await self.client.post(
            "/chat/api/photo", data=form, headers={"Origin": self.origin, **self.headers, **headers}
        )
        return resp.status, await resp.json()

    async def new(self, wait: float = 0) -> list[dict[str, Any]]:
        resp = await self.client.get(
            f"/chat/api/messages?after={self.seen}&wait={wait}", headers=self.headers
        )
        assert resp.status == 200
        body = await resp.json()
        self.seen = body["last"]
        return list(body["messages"])

    async def until(self, found: Callable[[dict[str, Any]], bool]) -> list[dict[str, Any]]:
        """Long-poll until a message satisfies ``found``; every message received."""
        got: list[dict[str, Any]] = []
        async with asyncio.timeout(20):
            while not any(found(m) for m in got):
                got += await self.new(wait=10)
        return got


def app_of(client: TestClient[Any, Any]) -> web.Application:
    assert isinstance(client.server, TestServer)
    return client.server.app


def texts(messages: list[dict[str, Any]]) -> str:
    return "\n".join(m.get("text", "") for m in messages)


def choices(messages: list[dict[str, Any]]) -> list[str]:
    return [c["data"] for m in messages for c in m.get("choices", ())]


@pytest.fixture
async def resident(client: TestClient[Any, Any]) -> Resident:
    person = Resident(client)
    await person.open()
    return person


# -- session and language -----------------------------------------------------------------
async def test_first_visit_sets_a_private_session_cookie(client: TestClient[Any, Any]) -> None:
    resp = await client.get("/chat")
    cookie = resp.headers["Set-Cookie"]
    assert cookie.startswith(f"{COOKIE}=")
    for flag in ("HttpOnly", "SameSite=Lax", "Path=/chat"):
        assert flag in cookie
    assert "Secure" not in cookie  # plain http on 127.0.0.1
    token = resp.cookies[COOKIE].value
    assert len(token) >= 32

    again = await client.get("/chat")
    assert again.cookies[COOKIE].value == token  # the same chat on every visit


async def test_cookie_is_secure_behind_an_https_public_url(config: Config, store: Store) -> None:
    config = replace(config, web=replace(config.web, public_url="https://repair.example.org"))
    async with TestClient(TestServer(build_app(config, store=store), host="127.0.0.1")) as c:
        resp = await c.get("/chat")
        assert "Secure" in resp.headers["Set-Cookie"]


async def test_a_forged_cookie_gets_a_fresh_session(client: TestClient[Any, Any]) -> None:
    client.session.cookie_jar.update_cookies({COOKIE: "../../etc"}, client.make_url("/chat"))
    resp = await client.get("/chat")
    assert re.fullmatch(r"[A-Za-z0-9_-]{32}\.[A-Za-z0-9_-]{22}", resp.cookies[COOKIE].value)


async def test_a_token_the_client_made_up_is_no_session(client: TestClient[Any, Any]) -> None:
    # Any 22-64 character string used to be taken as a session (and a chat of its own).
    made_up = "a" * 40
    client.session.cookie_jar.update_cookies({COOKIE: made_up}, client.make_url("/chat"))
    refused = await client.post("/chat/api/send", json={"text": "hi"})
    assert refused.status == 403
    page = await client.get("/chat")
    issued = page.cookies[COOKIE].value
    assert issued != made_up and "." in issued
    forged = issued[:-2] + ("AA" if not issued.endswith("AA") else "BB")
    client.session.cookie_jar.clear()
    client.session.cookie_jar.update_cookies({COOKIE: forged}, client.make_url("/chat"))
    assert (await client.post("/chat/api/send", json={"text": "hi"})).status == 403


async def test_the_session_cookie_is_found_among_others_however_it_is_written(
    client: TestClient[Any, Any],
) -> None:
    # The cookie is read straight from the header when it is there once and plain, and by
    # aiohttp's parser otherwise: each way names the same chat, and a cookie whose name
    # only ends in the session's is none.
    token = (await client.get("/chat")).cookies[COOKIE].value
    client.session.cookie_jar.clear()
    mine = {"Origin": f"http://{client.server.host}:{client.server.port}"}
    for header in (
        f"{COOKIE}={token}",
        f"theme=dark; {COOKIE}={token}; lang=en",
        f'theme=dark;{COOKIE}="{token}"',
        f"x{COOKIE}=nothing; {COOKIE}={token}",
    ):
        answer = await client.get(
            "/chat/api/messages?after=0&wait=0", headers={"Cookie": header, **mine}
        )
        assert answer.status == 200, header
        assert (await answer.json())["messages"], header
    store = app_of(client)[STORE]
    assert [r["chat"] for r in store.query("SELECT DISTINCT chat FROM web_messages")] == [
        chat_of(token)
    ]  # greeted once: each way found the same chat
    for header in (f"x{COOKIE}={token}", f"{COOKIE}={token}x", ""):
        answer = await client.get("/chat/api/messages?after=0", headers={"Cookie": header})
        assert answer.status == 403, header


async def test_message_numbers_count_this_chat_only(client: TestClient[Any, Any]) -> None:
    # The page once saw the table's global sequence: how busy the whole desk was.
    first, second = Resident(client), Resident(client)
    await first.open()
    await first.new()
    first_last = first.seen
    client.session.cookie_jar.clear()
    await second.open()
    got = await second.new()
    assert [m["seq"] for m in got] == list(range(1, len(got) + 1))
    assert first_last == len(got)  # both were greeted alike, each counted from 1


async def test_api_without_a_session_is_refused(client: TestClient[Any, Any]) -> None:
    resp = await client.post("/chat/api/send", json={"text": "hi"})
    assert resp.status == 403
    assert (await resp.json())["error"] == translate("zh_CN", "web.error_no_session")


async def test_page_and_greeting_follow_the_browser_language(
    client: TestClient[Any, Any],
) -> None:
    english = Resident(client, accept_language="en-GB,en;q=0.9,zh-CN;q=0.5")
    page = await english.open()
    assert '<html lang="en">' in page and translate("en", "web.title") in page
    greeting = await english.new()
    assert translate("en", "common.welcome_reporter") in texts(greeting)
    assert app_of(english.client)[STORE].chat(CHANNEL, english.chat).locale == "en"


async def test_the_chats_chosen_language_wins_over_the_browser(resident: Resident) -> None:
    await resident.new()
    await resident.send(button="c:lang:en")
    resident.headers = {"Accept-Language": "zh-CN"}
    page = await resident.open()
    assert translate("en", "web.heading") in page
    assert translate("en", "common.lang_set") in texts(await resident.new())


# -- the whole journey ---------------------------------------------------------------------
async def report(resident: Resident, *, photo: bool = True) -> str:
    """Report a leak in East / Building 1 through the API; the ticket number."""
    assert translate("zh_CN", "common.welcome_reporter") in texts(await resident.new())
    await resident.send(button="c:report")
    assert "i:cat:water" in choices(await resident.new())
    await resident.send(button="i:cat:water")
    shown = await resident.new()
    assert "i:area:east" in choices(shown)
    assert any(m.get("request_location") for m in shown)  # the page's share-location button
    await resident.send(button="i:area:east")
    await resident.send(button="i:bld:b1")
    await resident.send(text="3楼302室")
    await resident.send(text="138 1234 5678")
    await resident.send(text=DESCRIPTION)
    if photo:
        status, answer = await resident.upload(png_bytes(), caption="")
        assert status == 200 and answer["ref"].startswith("web/")
    await resident.send(button="i:photos_done")
    await resident.send(button="i:time:any")
    summary = await resident.new()
    assert DESCRIPTION in texts(summary) and "i:confirm" in choices(summary)
    await resident.send(button="i:confirm")
    accepted = await resident.until(lambda m: bool(NUMBER.search(m.get("text", ""))))
    found = NUMBER.search(texts(accepted))
    assert found is not None
    return found.group(0)


async def test_resident_reports_technician_works_resident_rates(
    client: TestClient[Any, Any], resident: Resident, store: Store
) -> None:
    number = await report(resident)
    ticket = store.get(number)
    assert (ticket.state, ticket.area, ticket.building, ticket.spot) == (
        State.NEW,
        "east",
        "b1",
        "3楼302室",
    )
    assert ticket.description.startswith(DESCRIPTION)
    assert ticket.reporter == f"web:{resident.chat}" and len(ticket.photos) == 1

    # The technician works from the terminal channel while the resident long-polls.
    app = app_of(client)
    engine, worker = app[ENGINE], app[WORKER]

    def technician(event: Button | Text) -> None:
        engine.handle("terminal", "zhang-term", event, datetime.now(UTC))
        worker.wake()  # in production another process queues; the worker polls

    engine.bind("terminal", "zhang-term", "technician", "zhang", datetime.now(UTC))
    poll = asyncio.create_task(
        resident.until(lambda m: number in m.get("text", "") and "张师傅" in m.get("text", ""))
    )
    technician(Button(f"t:claim:{number}"))
    assigned = await poll
    assert all(m["kind"] == "notice" for m in assigned)

    technician(Button(f"t:signin:{number}"))
    technician(Button(f"t:here:{number}"))
    on_site = translate(
        "zh_CN", "notices.reporter.on_site", number=number, technician_name="张师傅"
    )
    assert on_site in texts(await resident.until(lambda m: m.get("text") == on_site))

    technician(Button(f"t:done:{number}"))
    technician(Text("更换了水管接头"))
    technician(Button(f"t:finish:{number}"))
    resolved = await resident.until(lambda m: f"r:rate:{number}:5" in choices([m]))
    assert "更换了水管接头" in texts(resolved)
    assert store.get(number).state is State.RESOLVED

    await resident.send(button=f"r:rate:{number}:5")
    asked = await resident.new()  # an optional comment, or Skip
    assert f"r:rate:{number}:5:skip" in choices(asked)
    await resident.send(text="师傅很专业")
    closed_ticket = store.get(number)
    assert (closed_ticket.state, closed_ticket.rating, closed_ticket.comment) == (
        State.CLOSED,
        5,
        "师傅很专业",
    )
    thanked = translate("zh_CN", "followup.rated", number=number)
    assert thanked in texts(await resident.new())  # the resident's own act: a reply, no notice

    # A reload shows the whole conversation, both sides, in order.
    resident.seen = 0
    everything: list[dict[str, Any]] = []
    while batch := await resident.new():
        everything += batch
    seqs = [m["seq"] for m in everything]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    mine = [m for m in everything if m["kind"] == "user"]
    assert DESCRIPTION in texts(mine) and "★5" in texts(mine)  # a pressed button's label
    assert on_site in texts(everything)


async def test_deep_link_starts_a_report_with_the_place_filled(resident: Resident) -> None:
    page = await resident.open("/chat?area=east&building=b1")
    assert '"start": "area=east\\u0026building=b1"' in page  # for chat.js to send once
    await resident.send(start="area=east&building=b1")
    shown = await resident.new()
    assert "东区 1号楼" in texts(shown)
    assert "i:cat:water" in choices(shown)
    await resident.send(button="i:cat:water")
    asked = await resident.new()
    assert translate("zh_CN", "intake.ask_spot") in texts(asked)  # area and building skipped
    assert not any(c.startswith("i:area:") for c in choices(asked))


async def test_a_crafted_deep_link_is_ignored_and_escaped(resident: Resident) -> None:
    page = await resident.open("/chat?area=%3Cscript%3Ealert(1)%3C/script%3E&building=b1")
    assert "<script>alert" not in page
    assert '"start": "building=b1"' in page
    await resident.send(start="area=<script>&building=../../x")  # nothing usable: a plain start
    assert translate("zh_CN", "common.welcome_reporter") in texts(await resident.new())


async def test_no_html_response_carries_a_description_unescaped(
    client: TestClient[Any, Any], resident: Resident
) -> None:
    await report(resident, photo=False)
    for path in ("/chat", "/chat?area=east", "/", "/nope"):
        resp = await client.get(path)
        assert "<script>alert(1)" not in await resp.text()
    resp = await client.get("/chat/api/messages?after=0&wait=0")
    assert resp.content_type == "application/json"  # never rendered as a page


# -- photos ------------------------------------------------------------------------------
async def to_the_description(resident: Resident) -> None:
    """Walk a report up to the step that asks for a description (and takes photos)."""
    for step in ("c:report", "i:cat:water", "i:area:east", "i:bld:b1"):
        await resident.send(button=step)
    for typed in ("3楼302室", "138 1234 5678"):
        await resident.send(text=typed)
    await resident.new()


async def test_photo_is_saved_and_only_its_chat_may_fetch_it(
    client: TestClient[Any, Any], resident: Resident, config: Config
) -> None:
    await resident.new()
    await to_the_description(resident)
    status, answer = await resident.upload(png_bytes(), caption="漏水的位置")
    assert status == 200
    ref = answer["ref"]
    assert re.fullmatch(r"web/[0-9a-f]{32}\.png", ref)
    assert (config.media_dir / ref).read_bytes() == png_bytes()
    shown = await resident.new()
    assert {"kind": "user", "photos": [ref], "text": "漏水的位置"}.items() <= shown[0].items()

    resp = await client.get(f"/chat/api/media/{ref}")
    assert resp.status == 200 and resp.content_type == "image/png"
    assert await resp.read() == png_bytes()

    async with ClientSession(cookie_jar=CookieJar(unsafe=True)) as stranger:
        await stranger.get(client.make_url("/chat"))
        assert (await stranger.get(client.make_url(f"/chat/api/media/{ref}"))).status == 404


@pytest.mark.parametrize(
    ("data", "content_type"),
    [
        (b"hello, I am text", "image/png"),  # an image type, not an image
        (
            b"<svg xmlns='http://www.w3.org/2000/svg'><script>alert(1)</script></svg>",
            "image/svg+xml",
        ),
        (png_bytes(), "text/html"),  # image bytes, declared as something else
        (b"%PDF-1.7", "application/pdf"),
    ],
)
async def test_non_images_are_refused_and_nothing_is_kept(
    resident: Resident, config: Config, data: bytes, content_type: str
) -> None:
    await resident.new()
    status, answer = await resident.upload(data, content_type)
    assert status == 400
    assert answer["error"] == translate("zh_CN", "web.error_not_image")
    assert not list(config.media_dir.rglob("*.*"))
    assert await resident.new() == []


async def test_oversized_upload_gets_413_with_a_localized_message(
    config: Config, store: Store
) -> None:
    config = replace(config, web=replace(config.web, max_upload_mb=1))
    async with TestClient(TestServer(build_app(config, store=store), host="127.0.0.1")) as c:
        english = Resident(c, accept_language="en")
        await english.open()
        big = io.BytesIO(b"\xff\xd8\xff\xe0" + b"\0" * (1024 * 1024 + 10))
        status, answer = await english.upload(big, "image/jpeg")
        assert status == 413
        assert answer["error"] == translate("en", "web.error_too_large", limit=1)

        async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: counted as it streams
            boundary = b"--xyz\r\n"
            yield boundary + b'Content-Disposition: form-data; name="photo"; filename="a.jpg"'
            yield b"\r\nContent-Type: image/jpeg\r\n\r\n"
            for _ in range(20):
                yield b"\xff\xd8\xff" + b"\0" * 65536
            yield b"\r\n--xyz--\r\n"

        resp = await c.post(
            "/chat/api/photo",
            data=chunks(),
            headers={"Content-Type": "multipart/form-data; boundary=xyz", "Origin": english.origin},
        )
        assert resp.status == 413
        assert not list(config.media_dir.rglob("*.*"))


# -- refusals ----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("body", "key", "params"),
    [
        ({"text": ""}, "error_empty", {}),
        ({"text": "   \n "}, "error_empty", {}),
        ({"text": "长" * 1001}, "error_too_long", {"length": 1001, "limit": 1000}),
        ({"text": 42}, "error_bad_type", {"field": "text"}),
        ({"text": "a\x00b"}, "error_bad_type", {"field": "text"}),
        ({"button": "x" * 65}, "error_bad_type", {"field": "button"}),
        ({"button": ["i:confirm"]}, "error_bad_type", {"field": "button"}),
        ({"location": {"lat": 91, "lon": 0}}, "error_bad_location", {}),
        ({"location": {"lat": True, "lon": 0}}, "error_bad_location", {}),
        ({"location": {"lat": "31.2", "lon": "121.5"}}, "error_bad_location", {}),
        ({"location": {"lat": float("nan"), "lon": 0}}, "error_bad_location", {}),
        ({"text": "hi", "button": "c:report"}, "error_bad_type", {"field": "button, text"}),
        ({"sticker": "cat"}, "error_bad_type", {"field": "sticker"}),
        (["text", "hi"], "error_bad_json", {}),
    ],
)
async def test_bad_input_is_refused_with_a_localized_error_and_changes_nothing(
    resident: Resident, store: Store, body: Any, key: str, params: dict[str, Any]
) -> None:
    await resident.new()
    before = store.chat(CHANNEL, resident.chat)
    for locale, language in (("zh_CN", "zh-CN"), ("en", "en-US")):
        status, answer = await resident.post(body, **{"Accept-Language": language})
        assert (status, answer["ok"], answer["code"]) == (400, False, key)
        assert answer["error"] == translate(locale, f"web.{key}", **params)
    assert await resident.new() == []
    assert store.chat(CHANNEL, resident.chat) == before


async def test_malformed_or_mistyped_bodies_are_refused(
    client: TestClient[Any, Any], resident: Resident
) -> None:
    await resident.new()
    bad_json = await client.post(
        "/chat/api/send", data=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert bad_json.status == 400
    assert (await bad_json.json())["error"] == translate("zh_CN", "web.error_bad_json")
    form = await client.post("/chat/api/send", data={"text": "hi"})  # a cross-site form's type
    assert form.status == 400
    huge = await client.post(
        "/chat/api/send",
        data=b"{" + b" " * 20000 + b"}",
        headers={"Content-Type": "application/json"},
    )
    assert huge.status == 413
    assert await resident.new() == []


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": "http://evil.example"},
        {"Origin": "null"},
        {"Sec-Fetch-Site": "cross-site"},
        {"Sec-Fetch-Site": "same-site"},
    ],
)
async def test_other_origins_cannot_act_for_the_visitor(
    resident: Resident, headers: dict[str, str]
) -> None:
    await resident.new()
    status, answer = await resident.post({"text": "hi"}, **headers)
    assert status == 403
    assert answer["error"] == translate("zh_CN", "web.error_forbidden")
    status, answer = await resident.upload(png_bytes(), **headers)
    assert status == 403
    assert await resident.new() == []


async def test_an_upload_must_say_where_it_comes_from(
    client: TestClient[Any, Any], resident: Resident
) -> None:
    form = FormData()
    form.add_field("photo", png_bytes(), filename="p.png", content_type="image/png")
    resp = await client.post("/chat/api/photo", data=form)  # neither Origin nor Sec-Fetch-Site
    assert resp.status == 403
    await to_the_description(resident)
    ok = await resident.upload(png_bytes(), **{"Sec-Fetch-Site": "same-origin"})
    assert ok[0] == 200


# -- the inbox ---------------------------------------------------------------------------
async def test_long_poll_returns_when_a_notice_arrives(
    client: TestClient[Any, Any], resident: Resident, store: Store
) -> None:
    await resident.new()
    poll = asyncio.create_task(resident.new(wait=20))
    # Filed by a dispatcher on her behalf, so she is told (her own report's reply would do).
    wang = Actor(Role.DISPATCHER, "wang", "王调度")
    ticket = store.create_ticket(draft(chat=resident.chat), datetime.now(UTC), actor=wang)
    app_of(client)[WORKER].wake()
    async with asyncio.timeout(15):
        got = await poll
    assert ticket.number in texts(got) and {m["kind"] for m in got} == {"notice"}


async def test_a_notice_delivered_twice_is_shown_once(
    client: TestClient[Any, Any], resident: Resident
) -> None:
    await resident.new()
    sender = InboxSender(app_of(client)[INBOX])
    now = datetime.now(UTC)
    row = OutboxRow(
        1,
        "7:reporter.closed:web:x",
        "BX1",
        7,
        "reporter.closed",
        CHANNEL,
        resident.chat,
        "zh_CN",
        {},
        1,
        "pending",
        0,
        now,
        now,
    )
    replies = (Say("一"), Ask("二", (Choice("好", "c:help"),), inline=True))
    first = await sender.send(resident.chat, replies, row)
    again = await sender.send(resident.chat, replies, row)
    assert first == again
    shown = await resident.new()
    assert [m["text"] for m in shown] == ["一", "二"]
    assert shown[1]["choices"] == [{"label": "好", "data": "c:help"}] and shown[1]["inline"]


# -- what the hostile runs found (issue 10) -----------------------------------------------
async def test_a_ticket_and_the_reply_with_its_number_commit_together(
    client: TestClient[Any, Any], resident: Resident, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The engine used to commit the ticket and the inbox to keep the reply in a second
    # transaction: a crash between them left a ticket whose number the page never showed,
    # and pressing Submit again said the button had expired.
    assert translate("zh_CN", "common.welcome_reporter") in texts(await resident.new())
    for step in ("c:report", "i:cat:water", "i:area:east", "i:bld:b1"):
        await resident.send(button=step)
    for typed in ("3楼302室", "138 1234 5678", DESCRIPTION):
        await resident.send(text=typed)
    await resident.send(button="i:photos_done")
    await resident.send(button="i:time:any")
    assert "i:confirm" in choices(await resident.new())

    inbox = app_of(client)[INBOX]

    def crash(*args: Any, **kwargs: Any) -> int:
        raise RuntimeError("the process died here")

    monkeypatch.setattr(inbox, "append", crash)
    status, _ = await resident.post({"button": "i:confirm"})
    assert status == 500
    assert store.query("SELECT COUNT(*) AS n FROM tickets")[0]["n"] == 0  # nothing half-made
    monkeypatch.undo()

    await resident.send(button="i:confirm")  # the same press again: the report goes in
    accepted = texts(await resident.new())
    [number] = set(NUMBER.findall(accepted))
    assert store.get(number).state == State.NEW


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("after=" + "9" * 20, "after"),  # over 2^63: OverflowError in SQLite once
        ("after=" + "9" * 5000, "after"),  # over Python's int digit limit
        ("after=-1", "after"),
        ("after=%C2%B2", "after"),  # '²' is a digit to str.isdigit, not to int()
    ],
)
async def test_a_malformed_poll_is_a_400_not_a_500(
    client: TestClient[Any, Any], resident: Resident, query: str, field: str
) -> None:
    resp = await client.get(f"/chat/api/messages?{query}")
    assert resp.status == 400
    assert (await resp.json())["error"] == translate("zh_CN", "web.error_bad_type", field=field)


@pytest.mark.parametrize(
    "body",
    [
        '{"text": "\\ud800"}',  # a lone surrogate: UTF-8 cannot hold it
        '{"button": "c:\\udfff"}',
        '{"start": "area=\\ud800"}',
    ],
)
async def test_a_lone_surrogate_is_refused_before_anything_is_written(
    client: TestClient[Any, Any], resident: Resident, store: Store, body: str
) -> None:
    await resident.new()
    before = store.chat(CHANNEL, resident.chat)
    resp = await client.post(
        "/chat/api/send", data=body.encode(), headers={"Content-Type": "application/json"}
    )
    assert resp.status == 400 and (await resp.json())["code"] == "error_bad_type"
    assert store.chat(CHANNEL, resident.chat) == before
    assert await resident.new() == []


@pytest.mark.parametrize("latitude", ["9" * 400, "-" + "9" * 400, "1e400"])
async def test_an_absurd_latitude_is_a_bad_location(
    client: TestClient[Any, Any], resident: Resident, latitude: str
) -> None:
    await resident.new()
    body = f'{{"location": {{"lat": {latitude}, "lon": 116.4}}}}'
    resp = await client.post(
        "/chat/api/send", data=body.encode(), headers={"Content-Type": "application/json"}
    )
    assert resp.status == 400
    assert (await resp.json())["error"] == translate("zh_CN", "web.error_bad_location")


async def test_a_nul_in_an_upload_filename_is_a_400(
    client: TestClient[Any, Any], resident: Resident, caplog: pytest.LogCaptureFixture
) -> None:
    await resident.new()
    boundary = "xyz"
    body = (
        (
            f"--{boundary}\r\n"
            'Content-Disposition: form-data; name="photo"; filename="\x00.png"\r\n'
            "Content-Type: image/png\r\n\r\n"
        ).encode()
        + png_bytes()
        + f"\r\n--{boundary}--\r\n".encode()
    )
    resp = await client.post(
        "/chat/api/photo",
        data=body,
        headers={
            "Content-Type": f"multipart/form-data; boundary={boundary}",
            "Origin": resident.origin,
        },
    )
    assert resp.status == 400
    assert "Traceback" not in caplog.text and "ERROR" not in caplog.text


async def test_no_photo_reaches_the_disk_when_no_step_wants_one(
    resident: Resident, config: Config
) -> None:
    # An idle session once wrote 120 photos to disk.
    await resident.new()
    status, answer = await resident.upload(png_bytes())
    assert (status, answer["error"]) == (409, translate("zh_CN", "web.error_photo_not_now"))
    assert not (config.media_dir / "web").exists() or not any((config.media_dir / "web").iterdir())


async def test_photos_per_hour_are_capped(
    resident: Resident, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("bots.web.chat.PHOTOS_PER_HOUR", 2)
    await resident.new()
    await to_the_description(resident)
    assert (await resident.upload(png_bytes()))[0] == 200
    assert (await resident.upload(png_bytes()))[0] == 200
    status, answer = await resident.upload(png_bytes())
    assert (status, answer["error"]) == (429, translate("zh_CN", "web.error_photo_quota", limit=2))
