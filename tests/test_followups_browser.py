"""The follow-up calls page in a real headless Chromium on an office screen: the
dispatcher opens it from the navigation, shows the reporter's full phone (a ``tel:``
link; logged on the ticket), records "satisfied" with a note, and the call leaves the
list. Skipped only when /usr/bin/chromium is absent, like the other browser tests."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest
from aiohttp.test_utils import TestServer
from playwright.async_api import Browser, expect
from test_browser import CHROMIUM
from test_console_browser import browser, log_in, office_page, server, t  # noqa: F401
from test_console_followups import closed

from config.flow_config import FlowSettings
from config.model import Config
from tickets.model import Action
from tickets.store import Store

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="needs /usr/bin/chromium")


async def test_the_dispatcher_calls_and_records_a_sampled_follow_up(
    server: TestServer,  # noqa: F811
    browser: Browser,  # noqa: F811
    store: Store,
    config: Config,
) -> None:
    store.config = replace(config, flow=FlowSettings(sample_percent=100))
    number = closed(store, "alice", at=datetime.now(UTC))
    page, errors = await office_page(browser)
    await log_in(page, server)
    await page.get_by_role("link", name=t("followup_calls.nav")).click()
    row = page.locator(f'tr[data-number="{number}"]')
    await expect(row).to_contain_text("138****5678")
    await expect(row).to_contain_text(t("dispatch.followup_reason_sampled"))

    await row.get_by_role("button", name=t("console.show_phone")).click()
    call = page.locator(f'tr[data-number="{number}"] a[href="tel:13812345678"]')
    await expect(call).to_be_visible()
    assert store.timeline(number)[-1].action is Action.PHONE_SHOWN

    row = page.locator(f'tr[data-number="{number}"]')
    await row.get_by_label(t("followup_calls.outcome")).select_option("satisfied")
    await row.get_by_label(t("followup_calls.note")).fill("报修人表示满意")
    await row.get_by_role("button", name=t("followup_calls.record")).click()
    await expect(page.get_by_role("status")).to_contain_text(
        t("followup_calls.recorded", number=number, outcome=t("followup_calls.outcome_satisfied"))
    )
    await expect(page.locator("#followups")).to_contain_text(t("followup_calls.none"))
    last = store.timeline(number)[-1]
    assert (last.action, last.actor_id, last.data) == (
        Action.FOLLOW_UP,
        "wang",
        {"outcome": "satisfied"},
    )
    assert errors == []
