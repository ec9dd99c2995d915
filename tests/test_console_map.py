"""The technicians board's map: with ``[console] map_tiles`` the board loads the vendored
Leaflet, puts a marker at each technician's last sign-in (the location shared when
signing in, else the ticket's own) on tiles from a local tile server, and allows images
from that origin only; without tiles there is no map and no script. In a real Chromium
(Debian's /usr/bin/chromium) and over HTTP; ``[console]`` checked by the loader."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from conftest import NOW, draft
from playwright.async_api import Browser, expect
from test_browser import CHROMIUM
from test_console_browser import browser, office_page
from test_console_stats import PASSWORD, login, t

from bots.app import CSP, build_app
from bots.web.console import board
from config import load_text
from config.console_config import ConsoleSettings
from config.model import Config
from tickets import staff_store
from tickets.errors import ConfigError
from tickets.model import Action, Actor, Role
from tickets.staff import StaffRole
from tickets.store import Store

__all__ = ["browser"]  # the shared Chromium fixture
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII="
)


@pytest.fixture
async def tiles() -> AsyncIterator[tuple[TestServer, list[str]]]:
    """A tile server on 127.0.0.1 that answers every tile with a 1×1 PNG."""
    asked: list[str] = []

    async def tile(request: web.Request) -> web.Response:
        asked.append(request.path)
        return web.Response(body=PNG, content_type="image/png")

    app = web.Application()
    app.router.add_get("/tiles/{z}/{x}/{y}.png", tile)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    yield server, asked
    await server.close()


def signed_in(store: Store) -> None:
    """zhang shared his location when signing in; li signed in without one at a ticket
    with a place on the map; zhao has never signed in."""
    zhang = Actor(Role.TECHNICIAN, "zhang", "张师傅", frozenset({"maint"}))
    li = Actor(Role.TECHNICIAN, "li", "李师傅", frozenset({"maint"}))
    first = store.create_ticket(draft(), NOW).number
    store.apply(first, Action.CLAIM, zhang, NOW)
    store.apply(first, Action.SIGN_IN, zhang, NOW, data={"latitude": 31.2, "longitude": 121.5})
    second = store.create_ticket(draft(chat="b", latitude=31.3, longitude=121.4), NOW).number
    store.apply(second, Action.CLAIM, li, NOW)
    store.apply(second, Action.SIGN_IN, li, NOW)


async def served(config: Config, store: Store) -> TestServer:
    staff_store.add(store, "wang", "王调度", StaffRole.DISPATCHER, PASSWORD, NOW, dispatcher="wang")
    signed_in(store)
    server = TestServer(build_app(config, store=store), host="127.0.0.1")
    await server.start_server()
    return server


async def open_board(browser: Browser, server: TestServer) -> tuple[Any, list[str]]:
    desk, errors = await office_page(browser)
    await desk.goto(str(server.make_url("/console/login")))
    await desk.get_by_label(t("console.login_name")).fill("wang")
    await desk.get_by_label(t("console.password")).fill(PASSWORD)
    await desk.get_by_role("button", name=t("console.login"), exact=True).click()
    await desk.get_by_role("link", name=t("console.nav_board")).click()
    await expect(desk.locator("h1")).to_have_text(t("console.nav_board"))
    return desk, errors


@pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium")
async def test_the_map_shows_a_marker_per_technician_on_the_configured_tiles(
    config: Config,
    store: Store,
    browser: Browser,
    tiles: tuple[TestServer, list[str]],
    tmp_path: Path,
) -> None:
    tile_server, asked = tiles
    url = str(tile_server.make_url("/tiles/")) + "{z}/{x}/{y}.png"
    server = await served(replace(config, console=ConsoleSettings(url, "© test tiles")), store)
    try:
        desk, errors = await open_board(browser, server)
        markers = desk.locator("#map .leaflet-marker-icon")
        await expect(markers).to_have_count(2)
        titles = await markers.evaluate_all("m => m.map(x => x.title).sort()")
        assert titles == sorted(["张师傅", "李师傅"])
        await expect(desk.locator("#map img.leaflet-tile-loaded").first).to_be_visible()
        await expect(desk.locator(".leaflet-control-attribution")).to_contain_text("© test tiles")
        await desk.screenshot(path=tmp_path / "board-map.png")
        assert asked and all(p.startswith("/tiles/") for p in asked)
        assert errors == []  # no CSP refusal, no script error
    finally:
        await server.close()


@pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium")
async def test_without_tiles_the_board_is_a_table(
    config: Config, store: Store, browser: Browser
) -> None:
    server = await served(config, store)
    try:
        desk, errors = await open_board(browser, server)
        await expect(desk.locator("table.board tbody tr")).to_have_count(len(config.technicians))
        assert await desk.locator("#map").count() == 0
        assert await desk.evaluate("typeof window.L") == "undefined"
        assert errors == []
    finally:
        await server.close()


async def test_only_the_board_with_tiles_allows_their_origin(config: Config, store: Store) -> None:
    assert board.SERVICE_CSP == CSP
    url = "https://tiles.example.cn/{z}/{x}/{y}.png"
    staff_store.add(store, "wang", "王调度", StaffRole.DISPATCHER, PASSWORD, NOW, dispatcher="wang")
    signed_in(store)
    app = build_app(replace(config, console=ConsoleSettings(url)), store=store)
    async with TestClient(TestServer(app, host="127.0.0.1")) as client:
        await login(client, "wang")
        shown = await client.get("/console/technicians")
        assert (
            "img-src 'self' data: https://tiles.example.cn"
            in shown.headers["Content-Security-Policy"]
        )
        assert 'data-lat="31.2"' in await shown.text()
        queue = await client.get("/console")
        assert queue.headers["Content-Security-Policy"] == CSP


@pytest.mark.parametrize(
    ("tiles", "fine"),
    [
        ("https://tiles.example.cn/{z}/{x}/{y}.png", True),
        ("https://{s}.tile.example.org/{z}/{x}/{y}.png", True),
        ("ftp://tiles.example.cn/{z}/{x}/{y}.png", False),
        ("https://tiles.example.cn/tile.png", False),
        ('https://x.cn/{z}/{x}/{y}.png" onerror="alert(1)', False),
    ],
)
def test_map_tiles_are_checked(tiles: str, fine: bool) -> None:
    from test_config import BASE

    text = BASE + f"\n[console]\nmap_tiles = '{tiles}'\n"
    if fine:
        assert load_text(text).console.map_tiles == tiles
    else:
        with pytest.raises(ConfigError, match="map_tiles"):
            load_text(text)
