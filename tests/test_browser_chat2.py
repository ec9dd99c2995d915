"""The web chat's rough edges of issue 12 in a real headless Chromium (items 1, 2, 15):
the newest message stays in view when a photo loads late and a "new messages" pill shows
when the person has scrolled up; a photo over the 5 MB cap is made smaller in the browser
and accepted; the operator's name, logo and hotline head the page; messages not from today
show their date; photos open in a full-screen viewer.

Skipped only when /usr/bin/chromium is absent (CI installs it with apt).
"""

from __future__ import annotations

import asyncio
import os
import re
import struct
import zlib
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestServer
from playwright.async_api import Browser, Page, Route, expect
from test_browser import CHROMIUM, phone_page, say, tap
from test_browser import browser as browser  # the fixture, shared
from test_webchat import png_bytes

from bots.app import build_app
from bots.keys import INBOX
from bots.web.chat import COOKIE, chat_of
from config.model import Config
from config.org_config import OrgSettings
from conversation.i18n import translate
from tickets.store import Store

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(),
    reason="needs Debian's chromium at /usr/bin/chromium (apt install chromium)",
)

LOGO = (
    b'<svg xmlns="http://www.w3.org/2000/svg" width="32" height="32">'
    b'<rect width="32" height="32" fill="#2a7"/></svg>'
)


@pytest.fixture
def org_config(config: Config, tmp_path: Path) -> Config:
    logo = tmp_path / "logo.svg"
    logo.write_bytes(LOGO)
    org = OrgSettings(name="阳光物业", logo=logo, hotline="400-123-4567")
    return replace(config, org=org)


@pytest.fixture
async def server(org_config: Config, store: Store) -> AsyncIterator[TestServer]:
    served = TestServer(build_app(org_config, store=store), host="127.0.0.1")
    await served.start_server()
    yield served
    await served.close()


def t(key: str, **params: Any) -> str:
    return translate("zh_CN", key, **params)


async def to_photos(page: Page, server: TestServer) -> None:
    """Open the chat and answer the report's questions up to its photos."""
    await page.goto(str(server.make_url("/chat")))
    log = page.locator("#log")
    await expect(log).to_contain_text(t("common.welcome_reporter"))
    await tap(page, t("common.menu_report"))
    await tap(page, "水")
    await tap(page, t("intake.share_location"))
    await expect(log).to_contain_text(t("intake.ask_spot"))
    await say(page, "3楼302")
    await expect(log).to_contain_text(t("intake.ask_phone"))
    await say(page, "13812345678")
    await expect(log).to_contain_text(t("intake.ask_description", min=4))
    await say(page, "卫生间水管漏水，地上都是水")
    await expect(log).to_contain_text(t("intake.ask_photos", limit=4))


AT_BOTTOM = "() => { const l = document.getElementById('log'); " + (
    "return l.scrollHeight - l.scrollTop - l.clientHeight < 2; }"
)


async def chat_id(page: Page) -> str:
    cookies = await page.context.cookies()
    return chat_of(next(c["value"] for c in cookies if c["name"] == COOKIE))


async def test_the_newest_message_stays_in_view_after_a_late_photo(
    server: TestServer, browser: Browser, tmp_path: Path
) -> None:
    page, errors = await phone_page(browser, "zh-CN")
    await page.set_viewport_size({"width": 390, "height": 600})
    await to_photos(page, server)

    release = asyncio.Event()

    async def slow_media(route: Route) -> None:
        await release.wait()  # the photo arrives only after the page has scrolled
        await route.continue_()

    await page.route("**/chat/api/media/**", slow_media)
    picture = tmp_path / "tall.png"
    picture.write_bytes(png_bytes(60, 400))
    await page.set_input_files("#photo", str(picture))
    done = page.get_by_role("button", name=t("intake.photos_done"), exact=True).last
    await expect(done).to_be_attached()
    await page.wait_for_function(AT_BOTTOM)
    release.set()
    shown = page.locator(".row.mine .photo img").last
    await expect(shown).to_have_js_property("complete", True)
    await page.wait_for_function("img => img.naturalWidth > 0", arg=await shown.element_handle())
    # The photo grew the conversation by its height; the newest reply and its buttons are
    # still at the bottom of the screen, not below the fold.
    await page.wait_for_function(AT_BOTTOM)
    await expect(done).to_be_in_viewport()
    await page.screenshot(path=tmp_path / "after-photo.png")

    # Scrolled up to read, a new message does not pull the page down: a pill says so.
    pill = page.locator("#newer")
    await expect(pill).to_be_hidden()
    await page.evaluate("document.getElementById('log').scrollTop = 0")
    await page.wait_for_timeout(100)  # the scroll event
    app = server.app
    assert app is not None
    inbox = app[INBOX]
    chat = await chat_id(page)
    inbox.append(chat, [("notice", {"text": "张师傅已接单"})], datetime.now(UTC))
    await expect(page.locator("#log")).to_contain_text("张师傅已接单")
    await expect(pill).to_be_visible()
    await expect(pill).to_have_text(t("web.page.new_messages"))
    assert await page.evaluate("document.getElementById('log').scrollTop") == 0
    await page.screenshot(path=tmp_path / "pill.png")
    await pill.click()
    await page.wait_for_function(AT_BOTTOM)
    await expect(pill).to_be_hidden()
    await expect(page.locator(".bubble.notice", has_text="张师傅已接单")).to_be_in_viewport()

    # At the bottom, the next message is simply shown: no pill.
    inbox.append(chat, [("notice", {"text": "师傅已出发"})], datetime.now(UTC))
    await expect(page.locator(".bubble.notice", has_text="师傅已出发")).to_be_in_viewport()
    await expect(pill).to_be_hidden()
    assert errors == []


def noise_png(width: int, height: int, block: int = 1) -> bytes:
    """A photo-like PNG of random ``block``-pixel squares: noise barely compresses, so it
    is as large as a phone camera's file."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = zlib.crc32(kind + body) & 0xFFFFFFFF
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)

    rows = []
    for _ in range(height // block):
        colours = os.urandom(width // block * 3)
        line = b"\x00" + b"".join(colours[i : i + 3] * block for i in range(0, len(colours), 3))
        rows.append(line * block)
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"".join(rows), 1)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")
    )


def jpeg_size(data: bytes) -> tuple[int, int]:
    """(width, height) from a JPEG's start-of-frame marker."""
    at = 2
    while at < len(data):
        marker, length = data[at + 1], struct.unpack(">H", data[at + 2 : at + 4])[0]
        if marker in (0xC0, 0xC1, 0xC2):
            height, width = struct.unpack(">HH", data[at + 5 : at + 9])
            return width, height
        at += 2 + length
    raise AssertionError("no start of frame")


async def test_a_photo_over_the_cap_is_made_smaller_and_accepted(
    server: TestServer, browser: Browser, store: Store, org_config: Config, tmp_path: Path
) -> None:
    page, errors = await phone_page(browser, "zh-CN")
    await to_photos(page, server)
    picture = tmp_path / "camera.png"
    picture.write_bytes(noise_png(4000, 3000, block=4))
    size = picture.stat().st_size
    assert size > org_config.web.max_upload_mb * 1024 * 1024  # the server alone refuses it
    await page.set_input_files("#photo", str(picture))
    shown = page.locator(".row.mine .photo img").last
    await expect(shown).to_be_visible()
    assert await shown.evaluate("img => [img.naturalWidth, img.naturalHeight]") == [2048, 1536]
    await expect(page.locator("#status")).to_be_hidden()
    saved = list((org_config.media_dir / "web").glob("*"))
    assert [p.suffix for p in saved] == [".jpg"]
    assert saved[0].stat().st_size <= org_config.web.max_upload_mb * 1024 * 1024
    kept = saved[0].read_bytes()
    assert kept.startswith(b"\xff\xd8\xff") and jpeg_size(kept) == (2048, 1536)
    await tap(page, t("intake.photos_done"))
    await expect(page.locator("#log")).to_contain_text(t("intake.ask_time"))
    assert errors == []


async def test_a_photo_still_too_large_says_what_to_do(
    config: Config, store: Store, browser: Browser, tmp_path: Path
) -> None:
    # With a 1 MB cap even the smaller JPEG of pure noise does not fit: the person is
    # told what to do, in their language, and nothing is sent.
    small = replace(config, web=replace(config.web, max_upload_mb=1))
    served = TestServer(build_app(small, store=store), host="127.0.0.1")
    await served.start_server()
    try:
        page, errors = await phone_page(browser, "en-US")
        await page.goto(str(served.make_url("/chat")))
        await tap(page, translate("en", "common.menu_report"))
        await tap(page, "Water")
        await tap(page, translate("en", "intake.share_location"))
        await say(page, "Flat 302")
        await say(page, "+44 7911 123456")
        await say(page, "The kitchen tap leaks all day")
        await expect(page.locator("#log")).to_contain_text(
            translate("en", "intake.ask_photos", limit=4)
        )
        picture = tmp_path / "noise.png"
        picture.write_bytes(noise_png(2000, 1500))
        await page.set_input_files("#photo", str(picture))
        await expect(page.locator("#status")).to_have_text(
            translate("en", "web.page.still_too_large", limit=1)
        )
        assert await page.locator(".row.mine .photo").count() == 0
        assert not (small.media_dir / "web").exists() or not any(
            (small.media_dir / "web").iterdir()
        )
        assert errors == []
    finally:
        await served.close()


async def test_the_page_carries_the_operators_name_logo_and_hotline(
    server: TestServer, browser: Browser, tmp_path: Path
) -> None:
    page, errors = await phone_page(browser, "zh-CN")
    await page.goto(str(server.make_url("/chat")))
    assert await page.title() == t("web.page.title_org", name="阳光物业")
    await expect(page.locator(".bar h1")).to_have_text("阳光物业")
    hotline = page.locator("#hotline")
    await expect(hotline).to_have_text(t("web.page.hotline", hotline="400-123-4567"))
    await expect(hotline).to_have_attribute("href", "tel:4001234567")
    logo = page.locator(".bar .logo")
    await expect(logo).to_have_attribute("src", "/chat/logo")
    await page.wait_for_function(
        "img => img.complete && img.naturalWidth === 32", arg=await logo.element_handle()
    )
    await page.screenshot(path=tmp_path / "header.png")
    assert errors == []


async def test_without_an_org_the_page_keeps_its_own_name(
    config: Config, store: Store, browser: Browser
) -> None:
    served = TestServer(build_app(config, store=store), host="127.0.0.1")
    await served.start_server()
    try:
        page, errors = await phone_page(browser, "en-US")
        await page.goto(str(served.make_url("/chat")))
        assert await page.title() == translate("en", "web.title")
        await expect(page.locator(".bar h1")).to_have_text(translate("en", "web.heading"))
        assert await page.locator("#hotline").count() == 0
        response = await page.request.get(str(served.make_url("/chat/logo")))
        assert response.status == 404
        assert errors == []
    finally:
        await served.close()


async def test_old_messages_show_their_date(server: TestServer, browser: Browser) -> None:
    page, errors = await phone_page(browser, "en-US")
    await page.goto(str(server.make_url("/chat")))
    log = page.locator("#log")
    await expect(log).to_contain_text(translate("en", "common.welcome_reporter"))
    desk = translate("en", "web.desk")
    # Today's: the time alone.
    await expect(page.locator(".row .meta").first).to_have_text(
        re.compile(rf"^{desk} · \d{{1,2}}:\d{{2}}( [AP]M)?$")
    )
    app = server.app
    assert app is not None
    chat = await chat_id(page)
    when = datetime(2025, 3, 7, 8, 15, tzinfo=UTC)  # from last year, kept in the inbox
    app[INBOX].append(chat, [("notice", {"text": "Last spring's notice"})], when)
    old = page.locator(".bubble.notice", has_text="Last spring's notice").locator(".meta")
    await expect(old).to_have_text(re.compile(rf"^{desk} · 3/7/2025 \d{{1,2}}:\d{{2}}"))
    yesterday = datetime.now(UTC) - timedelta(days=1, hours=1)
    app[INBOX].append(chat, [("notice", {"text": "Yesterday's notice"})], yesterday)
    recent = page.locator(".bubble.notice", has_text="Yesterday's notice").locator(".meta")
    await expect(recent).to_have_text(re.compile(rf"^{desk} · \d{{1,2}}/\d{{1,2}}(/\d{{4}})? "))
    assert errors == []


async def test_a_photo_opens_full_screen_and_closes(
    server: TestServer, browser: Browser, tmp_path: Path
) -> None:
    page, errors = await phone_page(browser, "zh-CN")
    await to_photos(page, server)
    picture = tmp_path / "leak.png"
    picture.write_bytes(png_bytes(40, 30))
    await page.set_input_files("#photo", str(picture))
    shown = page.locator(".row.mine .photo img").last
    await expect(shown).to_be_visible()
    viewer = page.locator("#viewer")
    await expect(viewer).to_be_hidden()
    pages = len(page.context.pages)
    await shown.click()
    await expect(viewer).to_be_visible()
    big = page.locator("#viewer-img")
    await page.wait_for_function(
        "img => img.complete && img.naturalWidth === 40", arg=await big.element_handle()
    )
    box = await big.bounding_box()
    assert box is not None and box["width"] >= 380  # the phone's whole width
    assert len(page.context.pages) == pages  # no new tab
    await page.screenshot(path=tmp_path / "viewer.png")
    await page.keyboard.press("Escape")
    await expect(viewer).to_be_hidden()
    await shown.click()
    await expect(viewer).to_be_visible()
    await viewer.click(position={"x": 20, "y": 300})
    await expect(viewer).to_be_hidden()
    assert errors == []
