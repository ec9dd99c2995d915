"""The console's search page: over HTTP (1-, 2-, 3+-character Chinese, mixed terms,
ranked rows linking to the ticket page, keyset "more", the window notice of a very
common term, hostile input) and in a real Chromium (the header's box, "more", a result
opening its ticket page)."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from conftest import NOW, draft
from playwright.async_api import Browser, expect
from test_browser import CHROMIUM
from test_console_browser import browser, office_page
from test_console_stats import PASSWORD, login, t

from bots.app import build_app
from config.model import Config
from tickets import search, staff_store
from tickets.staff import StaffRole
from tickets.store import Store

__all__ = ["browser"]  # the shared Chromium fixture
Client = TestClient[Any, Any]


def file(store: Store) -> dict[str, str]:
    made = {
        "leak": draft(description="卫生间漏水严重", spot="3号楼302", phone="+8613811112222"),
        "power": draft("power.outage", chat="b", description="整栋楼停电了", spot="5号楼"),
        "wifi": draft("net.broadband", chat="c", description="WiFi断网 router 坏了"),
        "leak2": draft(chat="d", description="厨房漏水", spot="7号楼"),
    }
    return {
        label: store.create_ticket(d, NOW + timedelta(minutes=i)).number
        for i, (label, d) in enumerate(made.items())
    }


@pytest.fixture
async def client(config: Config, store: Store) -> AsyncIterator[Client]:
    staff_store.add(store, "amy", "Amy", StaffRole.AGENT, PASSWORD, NOW)
    async with TestClient(TestServer(build_app(config, store=store), host="127.0.0.1")) as c:
        yield c


def numbers(html: str) -> list[str]:
    table = html.split('id="results"', 1)[1] if 'id="results"' in html else ""
    return re.findall(r'href="/console/ticket/([^"]+)"', table)


@pytest.mark.parametrize(
    ("query", "labels"),
    [
        ("停", ["power"]),
        ("停电", ["power"]),
        ("卫生间", ["leak"]),
        ("3号楼漏水", ["leak"]),
        ("ROUTER 坏了", ["wifi"]),
        ("2222", ["leak"]),
        ("燃气", []),
    ],
)
async def test_queries_of_every_length(
    client: Client, store: Store, query: str, labels: list[str]
) -> None:
    filed = file(store)
    await login(client, "amy")
    answer = await client.get("/console/search", params={"q": query})
    assert answer.status == 200
    html = await answer.text()
    assert numbers(html) == [filed[label] for label in labels]
    if not labels:
        assert t("console_stats.search_none", text=query) in html


async def test_more_pages_through_every_match_once(client: Client, store: Store) -> None:
    for i in range(25):
        store.create_ticket(draft(chat=f"c{i}", description="楼道灯不亮"), NOW + timedelta(i))
    await login(client, "amy")
    seen: list[str] = []
    path: str | None = "/console/search?q=%E7%81%AF"  # 灯
    while path:
        html = await (await client.get(path)).text()
        seen += numbers(html)
        more = re.search(r'id="more" href="([^"]+)"', html)
        path = more[1].replace("&amp;", "&") if more else None
    assert len(seen) == len(set(seen)) == 25


async def test_a_very_common_term_says_only_its_newest_are_ranked(
    client: Client, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    file(store)
    monkeypatch.setattr(search, "RANK_ALL", 1)
    await login(client, "amy")
    html = await (await client.get("/console/search", params={"q": "漏水"})).text()
    assert t("console_stats.search_window", count=1) in html and len(numbers(html)) == 1
    whole = await (await client.get("/console/search", params={"q": "漏水", "all": "1"})).text()
    assert 'id="window"' not in whole and len(numbers(whole)) == 2


@pytest.mark.parametrize("query", ['"', "a OR b", "NEAR(", "*", "'; DROP TABLE tickets;--"])
async def test_hostile_input_is_just_text(client: Client, store: Store, query: str) -> None:
    file(store)
    await login(client, "amy")
    answer = await client.get("/console/search", params={"q": query})
    assert answer.status == 200 and numbers(await answer.text()) == []


@pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium")
async def test_the_header_box_finds_and_opens_a_ticket(
    config: Config, store: Store, browser: Browser
) -> None:
    filed = file(store)
    for i in range(21):
        store.create_ticket(draft(chat=f"c{i}", description=f"{i}号门锁坏了"), NOW + timedelta(i))
    staff_store.add(store, "amy", "Amy", StaffRole.AGENT, PASSWORD, NOW)
    served = TestServer(build_app(config, store=store), host="127.0.0.1")
    await served.start_server()
    try:
        desk, errors = await office_page(browser)
        await desk.goto(str(served.make_url("/console/login")))
        await desk.get_by_label(t("console.login_name")).fill("amy")
        await desk.get_by_label(t("console.password")).fill(PASSWORD)
        await desk.get_by_role("button", name=t("console.login"), exact=True).click()
        box = desk.get_by_role("searchbox", name=t("console_stats.search_box"))
        await box.fill("门锁")
        await box.press("Enter")
        await expect(desk.locator("#results tbody tr")).to_have_count(20)
        await desk.locator("#more").click()
        await expect(desk.locator("#results tbody tr")).to_have_count(1)
        await desk.locator("main").get_by_role("searchbox").fill("卫生间")
        await desk.get_by_role("button", name=t("console_stats.search_go")).click()
        await desk.get_by_role("link", name=filed["leak"]).click()
        heading = t("console.ticket_heading", number=filed["leak"])
        await expect(desk.locator("h1")).to_have_text(heading)
        assert errors == []
    finally:
        await served.close()
