"""The web chat in a real headless Chromium (Debian's /usr/bin/chromium, driven by
playwright) against the real server on 127.0.0.1: a resident on a phone-sized screen taps
through a report, shares a location, uploads a photo, gets a ticket number, and sees the
technician's notice arrive while the page is open. Screenshots go to the test's folder.

Skipped only when /usr/bin/chromium is absent (CI installs it with apt).
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestServer
from playwright.async_api import Browser, ConsoleMessage, Page, async_playwright, expect
from test_webchat import NUMBER, png_bytes

from bots.app import build_app
from bots.keys import ENGINE, WORKER
from config.model import Config
from conversation.events import Button
from conversation.i18n import translate
from tickets.model import State
from tickets.store import Store

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
PHONE: Any = {"width": 390, "height": 844}  # playwright's ViewportSize

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(),
    reason="needs Debian's chromium at /usr/bin/chromium (apt install chromium)",
)


@pytest.fixture
async def server(config: Config, store: Store) -> AsyncIterator[TestServer]:
    served = TestServer(build_app(config, store=store), host="127.0.0.1")
    await served.start_server()
    yield served
    await served.close()


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as p:
        launched = await p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield launched
        await launched.close()


async def phone_page(browser: Browser, locale: str) -> tuple[Page, list[str]]:
    """A phone-sized page; the list collects script and console errors and dialogs."""
    context = await browser.new_context(
        viewport=PHONE,
        device_scale_factor=2,
        is_mobile=True,
        has_touch=True,
        locale=locale,
        geolocation={"latitude": 31.2304, "longitude": 121.4737},
        permissions=["geolocation"],
    )
    page = await context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("dialog", lambda dialog: errors.append(f"dialog: {dialog.message}"))

    def console(message: ConsoleMessage) -> None:
        # A refused request (a 400 we provoke) is logged too; a CSP violation would be.
        if message.type == "error" and "status of 400" not in message.text:
            errors.append(message.text)

    page.on("console", console)
    return page, errors


async def tap(page: Page, label: str) -> None:
    await page.get_by_role("button", name=label, exact=True).last.click()


async def say(page: Page, text: str) -> None:
    await page.fill("#text", text)
    await page.press("#text", "Enter")
    await expect(page.locator("#text")).to_have_value("")


async def test_resident_reports_from_a_phone(
    server: TestServer, browser: Browser, store: Store, tmp_path: Path
) -> None:
    zh = "zh_CN"

    def t(key: str, **params: Any) -> str:
        return translate(zh, key, **params)

    page, errors = await phone_page(browser, "zh-CN")
    await page.goto(str(server.make_url("/chat")))
    log = page.locator("#log")
    await expect(log).to_contain_text(t("common.welcome_reporter"))
    await page.screenshot(path=tmp_path / "1-welcome.png")

    await tap(page, t("common.menu_report"))
    await tap(page, "水")
    await tap(page, t("intake.share_location"))  # navigator.geolocation
    await expect(log).to_contain_text(t("intake.location_taken"))
    await expect(log).to_contain_text(t("intake.ask_spot"))
    await say(page, "3楼302")
    await expect(log).to_contain_text(t("intake.ask_phone"))
    await say(page, "13812345678")
    await expect(log).to_contain_text(t("intake.ask_description", min=4))
    hostile = '<img src=x onerror="window.__xss=1"><script>window.__xss=1</script> 水管漏水'
    await say(page, hostile)
    await expect(log).to_contain_text(t("intake.ask_photos", limit=4))

    picture = tmp_path / "leak.png"
    picture.write_bytes(png_bytes(40, 30))
    await page.set_input_files("#photo", str(picture))
    shown = page.locator(".row.mine .photo img").last
    await expect(shown).to_be_visible()
    assert await shown.evaluate("img => img.naturalWidth") == 40  # served back from /media
    await tap(page, t("intake.photos_done"))
    await tap(page, t("intake.time_any"))
    await expect(log).to_contain_text("13812345678")  # the summary
    await page.screenshot(path=tmp_path / "2-summary.png")
    await tap(page, t("intake.confirm"))
    await expect(log).to_contain_text(re.compile(r"BX\d{8}-\d{4}"))
    found = NUMBER.search(await log.inner_text())
    assert found is not None
    number = found.group(0)
    ticket = store.get(number)
    assert (ticket.latitude, ticket.spot, len(ticket.photos)) == (31.2304, "3楼302", 1)
    assert ticket.description.startswith(hostile)

    # The description is shown as text: no element was made of it, no script ran.
    assert await page.evaluate("window.__xss") is None
    assert await page.locator("#log img[src='x'], #log script").count() == 0
    await expect(page.locator(".row.mine .text", has_text="window.__xss=1")).to_have_count(1)

    # A technician claims the job; the open page shows the notice without a reload.
    app = server.app
    assert app is not None
    now = datetime.now(UTC)
    app[ENGINE].bind("terminal", "zhang-term", "technician", "zhang", now)
    app[ENGINE].handle("terminal", "zhang-term", Button(f"t:claim:{number}"), now)
    app[WORKER].wake()
    assert store.get(number).state is State.ASSIGNED
    assigned = page.locator(".bubble.notice", has_text="张师傅")
    await expect(assigned).to_contain_text(number)
    await page.screenshot(path=tmp_path / "3-assigned.png")

    # A reload keeps the whole conversation.
    await page.reload()
    await expect(log).to_contain_text(number)
    await expect(page.locator(".row.mine .text", has_text="3楼302")).to_have_count(1)
    await page.screenshot(path=tmp_path / "4-reloaded.png", full_page=True)
    assert (tmp_path / "4-reloaded.png").stat().st_size > 10_000
    assert errors == []


async def test_qr_deep_link_in_english(
    server: TestServer, browser: Browser, tmp_path: Path
) -> None:
    page, errors = await phone_page(browser, "en-US")
    await page.goto(str(server.make_url("/chat?area=east&building=b1")))
    log = page.locator("#log")
    await expect(log).to_contain_text(translate("en", "intake.start_at", place="East Building 1"))
    await expect(page).to_have_url(re.compile(r"/chat$"))  # a reload does not start again
    assert await page.title() == translate("en", "web.title")
    await tap(page, "Water")
    await expect(log).to_contain_text(translate("en", "intake.ask_spot"))

    # Oversized text is refused by the server with a localized message, nothing sent.
    await page.evaluate("document.getElementById('text').removeAttribute('maxlength')")
    await page.fill("#text", "x" * 1001)
    await page.press("#text", "Enter")
    await expect(page.locator("#status")).to_have_text(
        translate("en", "web.error_too_long", length=1001, limit=1000)
    )
    await page.screenshot(path=tmp_path / "deep-link-en.png")
    assert errors == []


async def test_long_text_shows_a_counter_and_says_when_the_limit_is_reached(
    server: TestServer, browser: Browser, tmp_path: Path
) -> None:
    # The textarea stopped taking characters at 1,000 without a word (issue 12 item 3).
    page, errors = await phone_page(browser, "zh-CN")
    await page.goto(str(server.make_url("/chat")))
    await expect(page.locator("#log")).to_contain_text(
        translate("zh_CN", "common.welcome_reporter")
    )
    count = page.locator("#count")
    await page.fill("#text", "漏" * 100)
    await expect(count).to_be_hidden()  # far from the limit: nothing to say
    await page.fill("#text", "漏" * 850)
    await expect(count).to_have_text("850 / 1000")
    await page.fill("#text", "漏" * 1200)  # pasted: the textarea keeps 1,000
    await expect(count).to_have_text(translate("zh_CN", "web.text_limit", limit=1000))
    await page.screenshot(path=tmp_path / "limit.png")
    await page.press("#text", "Enter")  # what is kept is sent, and the counter goes
    await expect(page.locator("#text")).to_have_value("")
    await expect(count).to_be_hidden()
    assert errors == []
