"""The statistics page in a real headless Chromium (Debian's /usr/bin/chromium, driven
by playwright) against the real server: a lead picks a seeded month grouped by category,
the page shows its counts in the chart and the table, and the CSV and XLSX downloads
open (csv, openpyxl) with the same counts.

Skipped only when /usr/bin/chromium is absent (CI installs it with apt).
"""

from __future__ import annotations

import csv
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp.test_utils import TestServer
from conftest import NOW
from openpyxl import load_workbook
from playwright.async_api import Browser, expect
from test_browser import CHROMIUM, phone_page
from test_console_browser import browser, office_page
from test_console_stats import LEAK, OUTAGE, PASSWORD, seed_month, t

from bots.app import build_app
from config.model import Config
from tickets import staff_store
from tickets.staff import StaffRole
from tickets.store import Store

__all__ = ["browser"]  # the shared Chromium fixture

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(),
    reason="needs Debian's chromium at /usr/bin/chromium (apt install chromium)",
)


@pytest.fixture
async def server(config: Config, store: Store) -> AsyncIterator[TestServer]:
    staff_store.add(store, "lin", "林主管", StaffRole.LEAD, PASSWORD, NOW)
    seed_month(store)
    served = TestServer(build_app(config, store=store), host="127.0.0.1")
    await served.start_server()
    yield served
    await served.close()


async def test_a_lead_reads_a_seeded_month_and_downloads_it(
    server: TestServer, browser: Browser, tmp_path: Path
) -> None:
    desk, errors = await office_page(browser)
    await desk.goto(str(server.make_url("/console/login")))
    await desk.get_by_label(t("console.login_name")).fill("lin")
    await desk.get_by_label(t("console.password")).fill(PASSWORD)
    await desk.get_by_role("button", name=t("console.login"), exact=True).click()
    await desk.get_by_role("link", name=t("console_stats.nav_stats")).click()
    await desk.get_by_label(t("console_stats.from")).fill("2026-10-01")
    await desk.get_by_label(t("console_stats.to")).fill("2026-10-31")
    await desk.get_by_label(t("console_stats.by")).select_option("category")
    await desk.get_by_role("button", name=t("console_stats.show")).click()
    heading = t("console_stats.heading", start="2026-10-01", end="2026-10-31")
    await expect(desk.locator("h1")).to_have_text(heading)
    figures = desk.locator("#figures tbody tr")
    await expect(figures.filter(has_text=LEAK).locator("td").nth(1)).to_have_text("5")
    await expect(figures.filter(has_text=OUTAGE).locator("td").nth(1)).to_have_text("3")
    bars = desk.locator("svg.chart").nth(1).locator("rect[data-value]")
    assert sorted(await bars.evaluate_all("r => r.map(x => x.dataset.value)")) == ["3", "5"]
    await desk.screenshot(path=tmp_path / "stats.png", full_page=True)

    async with desk.expect_download() as csv_download:
        await desk.get_by_role("link", name=t("console_stats.download_csv")).click()
    csv_file = tmp_path / (await csv_download.value).suggested_filename
    await (await csv_download.value).save_as(csv_file)
    assert csv_file.name == "baoxiu-stats-2026-10-01-2026-10-31-category.csv"
    with csv_file.open(encoding="utf-8-sig", newline="") as fh:
        rows = {row[0]: row[1] for row in csv.reader(fh) if len(row) > 1}
    assert (rows[LEAK], rows[OUTAGE]) == ("5", "3")

    async with desk.expect_download() as xlsx_download:
        await desk.get_by_role("link", name=t("console_stats.download_xlsx")).click()
    xlsx_file = tmp_path / (await xlsx_download.value).suggested_filename
    await (await xlsx_download.value).save_as(xlsx_file)
    sheet = load_workbook(xlsx_file).active
    assert sheet is not None
    counts = {row[0]: row[1] for row in sheet.iter_rows(values_only=True) if len(row) > 1}
    assert (counts[LEAK], counts[OUTAGE]) == (5, 3)
    assert errors == []


async def test_the_statistics_page_fits_a_phone(
    server: TestServer, browser: Browser, tmp_path: Path
) -> None:
    page, errors = await phone_page(browser, "zh-CN")
    await page.goto(str(server.make_url("/console/login")))
    await page.get_by_label(t("console.login_name")).fill("lin")
    await page.get_by_label(t("console.password")).fill(PASSWORD)
    await page.get_by_role("button", name=t("console.login"), exact=True).click()
    await page.goto(str(server.make_url("/console/stats?from=2026-10-01&to=2026-10-31&by=area")))
    await expect(page.locator("#figures")).to_be_visible()
    width = await page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390  # tables scroll inside their boxes, charts shrink
    await page.screenshot(path=tmp_path / "stats-phone.png", full_page=True)
    assert errors == []
