"""The staff console in a real headless Chromium (Debian's /usr/bin/chromium, driven by
playwright) against the real server on 127.0.0.1: a dispatcher logs in on an office
screen, a resident reports in the web chat on a phone, the ticket appears in the open
queue without a reload, the dispatcher assigns it and the technician's chat is sent the
job; five wrong passwords are throttled; a POST without the CSRF token is refused.

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
from conftest import NOW
from playwright.async_api import Browser, Page, async_playwright, expect
from test_browser import ARGS, CHROMIUM, phone_page, say, tap

from bots.app import build_app
from bots.keys import ENGINE
from config.model import Config
from conversation.i18n import translate
from tickets import staff_store
from tickets.model import State
from tickets.staff import StaffRole
from tickets.store import Store

PASSWORD = "correct horse battery"
OFFICE: Any = {"width": 1366, "height": 768}

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(),
    reason="needs Debian's chromium at /usr/bin/chromium (apt install chromium)",
)


def t(key: str, **params: Any) -> str:
    return translate("zh_CN", key, **params)


@pytest.fixture
async def server(config: Config, store: Store) -> AsyncIterator[TestServer]:
    staff_store.add(store, "wang", "王调度", StaffRole.DISPATCHER, PASSWORD, NOW, dispatcher="wang")
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


async def office_page(browser: Browser) -> tuple[Page, list[str]]:
    context = await browser.new_context(viewport=OFFICE, locale="zh-CN")
    page = await context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on(
        "console",
        lambda m: (
            errors.append(m.text)
            if m.type == "error" and not re.search(r"status of (401|403|429)", m.text)
            else None
        ),
    )
    return page, errors


async def log_in(page: Page, server: TestServer, password: str = PASSWORD) -> None:
    await page.goto(str(server.make_url("/console/login")))
    await page.get_by_label(t("console.login_name")).fill("wang")
    await page.get_by_label(t("console.password")).fill(password)
    await page.get_by_role("button", name=t("console.login"), exact=True).click()


async def test_a_report_appears_live_and_the_dispatcher_assigns_it(
    server: TestServer, browser: Browser, store: Store, tmp_path: Path
) -> None:
    app = server.app
    assert app is not None
    app[ENGINE].bind("terminal", "zhang-term", "technician", "zhang", datetime.now(UTC))
    desk, errors = await office_page(browser)
    await log_in(desk, server)
    await expect(desk.locator("h1")).to_have_text(t("console.nav_queue"))
    await expect(desk.locator("#queue")).to_contain_text(t("console.no_tickets"))
    await desk.screenshot(path=tmp_path / "1-empty-queue.png")

    phone, phone_errors = await phone_page(browser, "zh-CN")
    await phone.goto(str(server.make_url("/chat")))
    await tap(phone, t("common.menu_report"))
    await tap(phone, "水")
    await tap(phone, t("intake.share_location"))
    await expect(phone.locator("#log")).to_contain_text(t("intake.ask_spot"))
    await say(phone, "3楼302")
    await say(phone, "13812345678")
    await say(phone, "卫生间水管漏水")
    await tap(phone, t("intake.photos_skip"))
    await tap(phone, t("intake.time_any"))
    await tap(phone, t("intake.confirm"))
    await expect(phone.locator("#log")).to_contain_text(re.compile(r"BX\d{8}-\d{4}"))
    number = store.query("SELECT number FROM tickets")[0]["number"]

    # The open queue shows it without a reload.
    row = desk.locator("#queue tr.fresh", has_text=number)
    await expect(row).to_be_visible(timeout=15_000)
    await desk.screenshot(path=tmp_path / "2-live.png")
    await row.get_by_role("link", name=number).click()
    await expect(desk.locator("h1")).to_have_text(t("console.ticket_heading", number=number))
    assign = desk.locator("form[data-action=assign]")
    await assign.locator("select").select_option("zhang")
    await assign.get_by_role("button").click()
    await expect(desk.locator(".message")).to_contain_text("张师傅")
    await desk.screenshot(path=tmp_path / "3-assigned.png", full_page=True)
    ticket = store.get(number)
    assert (ticket.state, ticket.holder) == (State.ASSIGNED, "zhang")
    assert store.timeline(number)[-1].actor_id == "wang"
    job = [n for n in store.notices_of(number) if (n.channel, n.chat) == ("terminal", "zhang-term")]
    assert "technician.assigned" in [n.kind for n in job]
    assert errors == [] and phone_errors == []


async def test_five_wrong_passwords_are_throttled(server: TestServer, browser: Browser) -> None:
    desk, errors = await office_page(browser)
    for _ in range(5):
        await log_in(desk, server, "not the password")
        await expect(desk.locator(".error")).to_have_text(t("console.login_failed"))
    await log_in(desk, server)
    await expect(desk.locator(".error")).to_have_text(t("console.login_throttled"))
    assert errors == []


async def test_a_post_without_the_csrf_token_is_refused(
    server: TestServer, browser: Browser, store: Store
) -> None:
    desk, _errors = await office_page(browser)
    await log_in(desk, server)
    await expect(desk.locator("h1")).to_have_text(t("console.nav_queue"))
    status = await desk.evaluate(
        """async () => (await fetch('/console/logout', {method: 'POST',
            headers: {'Content-Type': 'application/x-www-form-urlencoded'}, body: 'x=1'})).status"""
    )
    assert status == 403
    await desk.reload()
    await expect(desk.locator("h1")).to_have_text(t("console.nav_queue"))  # still logged in


async def test_an_agent_taking_a_call_is_shown_the_callers_open_ticket(
    server: TestServer, browser: Browser, store: Store, tmp_path: Path
) -> None:
    from conftest import draft

    staff_store.add(store, "amy", "Amy", StaffRole.AGENT, PASSWORD, NOW)
    number = store.create_ticket(draft(), NOW).number  # open: a leak at east b1 302
    desk, errors = await office_page(browser)
    await desk.goto(str(server.make_url("/console/login")))
    await desk.get_by_label(t("console.login_name")).fill("amy")
    await desk.get_by_label(t("console.password")).fill(PASSWORD)
    await desk.get_by_role("button", name=t("console.login"), exact=True).click()
    await desk.get_by_role("link", name=t("console.nav_intake")).click()
    await desk.get_by_label(t("console.f_phone")).fill("138 1234 5678")
    await desk.get_by_role("button", name=t("console.intake_lookup")).click()
    await expect(desk.locator(".caller")).to_contain_text(number)  # shown first
    form = desk.locator("form.intake")
    await form.locator("select[name=category]").select_option("water.leak")
    await form.locator("select[name=area]").select_option("east")
    await form.locator("select[name=building]").select_option("b1")
    await form.locator("input[name=spot]").fill("302")
    await form.locator("textarea[name=description]").fill("还在漏水，越来越大")
    await desk.screenshot(path=tmp_path / "intake.png", full_page=True)
    await form.get_by_role("button", name=t("console.intake_submit")).click()
    await expect(desk.locator(".message")).to_contain_text(
        t("console.intake_repeat", number=number)
    )
    assert store.query("SELECT count(*) AS n FROM tickets")[0]["n"] == 1
    assert store.get(number).hurry_count == 1
    assert errors == []


async def test_the_queue_fits_a_phone(server: TestServer, browser: Browser, tmp_path: Path) -> None:
    page, errors = await phone_page(browser, "zh-CN")
    await log_in(page, server)
    await expect(page.locator("h1")).to_have_text(t("console.nav_queue"))
    width = await page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390  # the table scrolls inside its box, the page does not
    await page.screenshot(path=tmp_path / "queue-phone.png", full_page=True)
    assert errors == []
