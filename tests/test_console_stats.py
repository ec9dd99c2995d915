"""The console's statistics page over HTTP (aiohttp's test client, the real app and a
real store): only leads and admins see it; a seeded month's counts by category; the
CSV and XLSX downloads hold the shown tables with formula-like cells neutralised; a bad
range gets a localized answer."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from conftest import NOW, draft
from openpyxl import load_workbook

from bots.app import build_app
from bots.channel.export import safe
from config.model import Config
from conversation.i18n import CHANNELS, channel_name, translate
from tickets import staff_store
from tickets.staff import StaffRole
from tickets.store import Store

PASSWORD = "correct horse battery"
Client = TestClient[Any, Any]
OCTOBER = "from=2026-10-01&to=2026-10-31"
LEAK, OUTAGE = "水/漏水", "电力/停电"


def seed_month(store: Store) -> None:
    """October 2026: 5 leaks and 3 outages (one reported on a channel named like a
    formula); one leak each on the days before and after the month."""
    for day in range(1, 6):
        store.create_ticket(draft(), datetime(2026, 10, day * 5, 2, 0, tzinfo=UTC))
    for day, channel in ((3, "web"), (9, "telegram"), (27, "=1+2")):
        moment = datetime(2026, 10, day, 3, 0, tzinfo=UTC)
        store.create_ticket(draft("power.outage", chat=f"c{day}", channel=channel), moment)
    store.create_ticket(draft(chat="early"), datetime(2026, 9, 30, 3, 0, tzinfo=UTC))
    store.create_ticket(draft(chat="late"), datetime(2026, 11, 1, 3, 0, tzinfo=UTC))


def t(key: str, **params: Any) -> str:
    return translate("zh_CN", key, **params)


@pytest.fixture
async def client(config: Config, store: Store) -> AsyncIterator[Client]:
    staff_store.add(store, "lin", "林主管", StaffRole.LEAD, PASSWORD, NOW)
    staff_store.add(store, "wang", "王调度", StaffRole.DISPATCHER, PASSWORD, NOW, dispatcher="wang")
    seed_month(store)
    async with TestClient(TestServer(build_app(config, store=store), host="127.0.0.1")) as c:
        yield c


async def login(client: Client, who: str) -> None:
    page = await client.get("/console/login")
    token = re.search(r'name="csrf" value="([^"]+)"', await page.text())
    assert token
    answer = await client.post(
        "/console/login",
        data={"csrf": token[1], "login": who, "password": PASSWORD},
        allow_redirects=False,
    )
    assert answer.status == 303


def cells(html: str, table: str) -> list[list[str]]:
    body = html.split(f'id="{table}"', 1)[1].split("</table>", 1)[0]
    return [
        [re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<t[dh]>(.*?)</t[dh]>", row)]
        for row in re.findall(r"<tr>(.*?)</tr>", body, re.S)
    ]


async def test_a_dispatcher_may_not_see_statistics_and_has_no_link(client: Client) -> None:
    await login(client, "wang")
    assert t("console_stats.nav_stats") not in await (await client.get("/console")).text()
    answer = await client.get("/console/stats")
    assert answer.status == 403
    assert await answer.text() == t("console.forbidden")


async def test_the_months_counts_per_category_and_per_day(client: Client) -> None:
    await login(client, "lin")
    assert t("console_stats.nav_stats") in await (await client.get("/console")).text()
    answer = await client.get(f"/console/stats?{OCTOBER}&by=category&period=month")
    assert answer.status == 200
    html = await answer.text()
    assert t("console_stats.heading", start="2026-10-01", end="2026-10-31") in html
    figures = cells(html, "figures")
    assert figures[0][:2] == [t("cli.stats.group"), t("cli.stats.created")]
    assert {tuple(row[:2]) for row in figures[1:]} == {(LEAK, "5"), (OUTAGE, "3")}
    volume = cells(html, "volume")
    assert dict(zip(volume[0], volume[1], strict=True)) == {
        t("cli.stats.period"): "2026-10",
        LEAK: "5",
        OUTAGE: "3",
    }
    assert html.count("<svg") == 2  # per month stacked by category, and per category
    assert 'data-value="5"' in html and 'data-value="3"' in html


async def test_csv_and_xlsx_hold_the_shown_tables_with_formulas_neutralised(
    client: Client,
) -> None:
    await login(client, "lin")
    shown = cells(
        await (await client.get(f"/console/stats?{OCTOBER}&by=channel")).text(), "figures"
    )
    answer = await client.get(f"/console/stats?{OCTOBER}&by=channel&format=csv")
    assert answer.status == 200 and answer.content_type == "text/csv"
    assert "attachment" in answer.headers["Content-Disposition"]
    rows = list(csv.reader(io.StringIO((await answer.read()).decode("utf-8-sig"))))
    assert [row[:2] for row in rows[: len(shown)]] == [[safe(c) for c in r[:2]] for r in shown]
    assert ["'=1+2", "1"] in [row[:2] for row in rows]
    answer = await client.get(f"/console/stats?{OCTOBER}&by=channel&format=xlsx")
    assert answer.status == 200
    sheet = load_workbook(io.BytesIO(await answer.read())).active
    assert sheet is not None
    values = [[c for c in row] for row in sheet.iter_rows(values_only=True)]
    assert ("'=1+2", 1) in [tuple(row[:2]) for row in values]
    # 5 leaks + 1 outage, as numbers
    assert (channel_name("zh_CN", "web"), 6) in [
        tuple(row[:2]) for row in values
    ]  # 5 leaks + 1 outage: numbers


async def test_a_range_backwards_is_refused_in_words_and_the_default_shown(
    client: Client,
) -> None:
    await login(client, "lin")
    answer = await client.get("/console/stats?from=2026-10-31&to=2026-10-01&format=csv")
    assert answer.status == 200 and answer.content_type == "text/html"
    assert t("console_stats.bad_range") in await answer.text()
    answer = await client.get("/console/stats?from=31.10.2026")
    assert t("console_stats.bad_date") in await answer.text()


def test_a_legend_of_many_groups_wraps_inside_the_chart() -> None:
    from bots.web.charts import stacked_bar_chart

    names = [f"类别{i}" for i in range(12)]
    svg = stacked_bar_chart([("2026-10", {n: 1.0 for n in names})], title="t", width=640)
    xs = [float(x) for x in re.findall(r'<rect x="([\d.]+)" y="[\d.]+" width="10"', svg)]
    assert len(xs) == 12 and max(xs) + 110 <= 640
    assert all(n in svg for n in names)


async def test_per_day_every_day_of_the_range_is_a_row_the_empty_ones_too(
    client: Client,
) -> None:
    await login(client, "lin")
    html = await (await client.get(f"/console/stats?{OCTOBER}&period=day")).text()
    volume = cells(html, "volume")[1:]
    assert [row[0] for row in volume] == [f"2026-10-{d:02d}" for d in range(1, 32)]
    assert sum(int(row[1]) for row in volume) == 8 and ["2026-10-02", "0"] in volume
    html = await (await client.get(f"/console/stats?{OCTOBER}&period=week")).text()
    assert [row[0] for row in cells(html, "volume")[1:]][:2] == ["2026-09-28", "2026-10-05"]


async def test_channels_are_named_for_people(client: Client) -> None:
    await login(client, "lin")
    answer = await client.get(f"/console/stats?{OCTOBER}&by=channel&period=month")
    assert answer.status == 200
    groups = {row[0] for row in cells(await answer.text(), "figures")[1:]}
    assert {channel_name("zh_CN", "web"), "Telegram"} <= groups  # 网页报修, not "web"
    assert not groups & set(CHANNELS)
    assert "=1+2" in groups  # a code no catalog names is shown as it is
