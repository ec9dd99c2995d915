"""The aiohttp application: health, security headers, unknown paths, the media route's
refusal of anything outside what a chat may see, and the resources' life cycle."""

from __future__ import annotations

import asyncio
import socket
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from conftest import draft
from test_webchat import Resident, png_bytes

from bots import app as server
from bots import serving
from bots.app import CSP, build_app
from bots.keys import ENGINE, INBOX, STORE, WORKER
from bots.web.chat import COOKIE
from config.model import Config
from conversation.i18n import translate
from tests.web_report import free_port
from tickets.store import Store


def assert_secured(headers: Any) -> None:
    assert headers["Content-Security-Policy"] == CSP
    assert "default-src 'self'" in CSP and "frame-ancestors 'none'" in CSP
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == "same-origin"


async def test_healthz_says_alive_and_nothing_more(
    client: TestClient[Any, Any], store: Store
) -> None:
    store.create_ticket(draft(), datetime.now(UTC))
    resp = await client.get("/healthz")
    # It once returned the ticket count to anyone who asked.
    assert resp.status == 200 and await resp.json() == {"ok": True}


async def test_root_redirects_to_the_chat(client: TestClient[Any, Any]) -> None:
    resp = await client.get("/", allow_redirects=False)
    assert resp.status == 302 and resp.headers["Location"] == "/chat"


@pytest.mark.parametrize(
    "path", ["/chat", "/healthz", "/", "/nope", "/chat/api/nope", "/chat/static/chat.js"]
)
async def test_every_response_carries_the_security_headers(
    client: TestClient[Any, Any], path: str
) -> None:
    resp = await client.get(path, allow_redirects=False)
    assert_secured(resp.headers)


async def test_page_loads_only_its_own_assets(client: TestClient[Any, Any]) -> None:
    page = await (await client.get("/chat")).text()
    assert "http://" not in page and "https://" not in page  # no CDN
    assert "<script>" not in page.replace('<script id="texts" type="application/json">', "")
    for asset, kind in (("chat.js", "javascript"), ("chat.css", "text/css")):
        assert f"/chat/static/{asset}?v=" in page
        resp = await client.get(f"/chat/static/{asset}")
        assert resp.status == 200 and kind in resp.content_type


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/nope", 404),
        ("GET", "/chat/api/nope", 404),
        ("GET", "/chat/static/nope.js", 404),
        ("GET", "/chat/static/../webchat.py", 404),
        ("GET", "/chat/static/%2e%2e/webchat.py", 404),
        ("POST", "/chat", 405),
        ("GET", "/chat/api/send", 405),
        ("DELETE", "/healthz", 405),
    ],
)
async def test_unknown_paths_and_methods(
    client: TestClient[Any, Any], method: str, path: str, status: int
) -> None:
    if method == "GET":
        assert (await raw_get(client, path))[0] == status
    else:
        assert (await client.request(method, path)).status == status


@pytest.mark.parametrize(
    "ref",
    [
        "../baoxiu.db",
        "..%2Fbaoxiu.db",
        "%2e%2e/%2e%2e/etc/passwd",
        "web/../../baoxiu.db",
        "web/..%2F..%2Fsecret.png",
        "/etc/passwd",
        "%2Fetc%2Fpasswd",
        "web/.hidden.png",
        "web/a/b/c.png",
        "web/secret.png%00.png",
        "secret.png",  # inside the media folder, but never shown to this chat
        "web/not-there.png",
    ],
)
async def test_media_route_refuses_anything_but_the_chats_own_photos(
    client: TestClient[Any, Any], config: Config, ref: str
) -> None:
    config.media_dir.mkdir(parents=True, exist_ok=True)
    (config.media_dir / "secret.png").write_bytes(png_bytes())
    (config.database.parent / "secret.png").write_bytes(png_bytes())
    resident = Resident(client)
    await resident.open()
    status, body = await raw_get(client, f"/chat/api/media/{ref}", f"{COOKIE}={resident.token}")
    assert status == 404
    assert png_bytes() not in body


async def raw_get(client: TestClient[Any, Any], path: str, cookie: str = "") -> tuple[int, bytes]:
    """GET ``path`` byte for byte: an HTTP client library would resolve the dot segments."""
    reader, writer = await asyncio.open_connection(client.server.host, client.server.port)
    try:
        head = f"GET {path} HTTP/1.1\r\nHost: {client.server.host}\r\nConnection: close\r\n"
        if cookie:
            head += f"Cookie: {cookie}\r\n"
        writer.write((head + "\r\n").encode())
        await writer.drain()
        answer = await reader.read()
    finally:
        writer.close()
        await writer.wait_closed()
    status_line, _, rest = answer.partition(b"\r\n")
    return int(status_line.split()[1]), rest


async def test_media_route_needs_a_session(client: TestClient[Any, Any]) -> None:
    resp = await client.get("/chat/api/media/web/aaaa.png")
    assert resp.status == 403


async def test_the_app_opens_and_closes_its_own_resources(config: Config, tmp_path: Path) -> None:
    config = replace(config, database=tmp_path / "data" / "own.db", media_dir=tmp_path / "m")
    app = build_app(config)
    async with TestClient(TestServer(app, host="127.0.0.1")) as c:
        assert (await c.get("/healthz")).status == 200
        store = app[STORE]
        assert store.path == config.database and config.media_dir.is_dir()
        assert app[ENGINE].store is store and app[WORKER].channel == "web"
        inbox = app[INBOX]
        assert set(store.db.table_names()) >= {"web_messages", "web_media", "tickets"}
    assert inbox.closing  # long-pollers were let go
    with pytest.raises(Exception, match="closed"):
        store.db.execute("SELECT 1")


async def test_a_given_store_stays_open(config: Config, store: Store) -> None:
    async with TestClient(TestServer(build_app(config, store=store), host="127.0.0.1")) as c:
        assert (await c.get("/healthz")).status == 200
    assert store.db.execute("SELECT COUNT(*) FROM web_messages").fetchone() == (0,)


async def test_disabled_web_chat_has_no_routes(config: Config, store: Store) -> None:
    config = replace(config, web=replace(config.web, enabled=False))
    async with TestClient(TestServer(build_app(config, store=store), host="127.0.0.1")) as c:
        assert (await c.get("/chat")).status == 404
        assert (await c.get("/healthz")).status == 200


def test_run_serves_on_the_configured_address(
    config: Config, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    calls: list[tuple[web.Application, socket.socket, dict[str, Any]]] = []
    monkeypatch.setattr(serving, "serve", lambda app, sock, **kw: calls.append((app, sock, kw)))
    config = replace(config, web=replace(config.web, host="127.0.0.1", port=free_port()))
    with caplog.at_level("INFO", logger="bots.app"):
        server.run(config)
    ((app, sock, options),) = calls
    assert isinstance(app, web.Application)
    assert options["cap"] == config.web.max_connections
    try:
        assert sock.getsockname() == ("127.0.0.1", config.web.port)
    finally:
        sock.close()
    assert f"http://127.0.0.1:{config.web.port}/chat" in caplog.text


def test_a_busy_port_is_one_clear_line_and_exit_2(
    config: Config, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        config = replace(config, web=replace(config.web, host="127.0.0.1", port=port))
        with caplog.at_level("INFO", logger="bots.app"), pytest.raises(SystemExit) as exited:
            server.run(config)
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert err.strip() == translate("zh_CN", "cli.port_in_use", port=port)
    assert "Traceback" not in err and "serving" not in caplog.text
