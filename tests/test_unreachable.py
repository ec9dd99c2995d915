"""A job nobody can be told about is a dispatcher alert (issue 10, defect 13).

A new ticket whose team has no bound group and no bound member used to write no outbox
row at all: nobody was ever told of it."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from conftest import NOW, draft, make_config

from config.model import Config
from notify.render import render_notice
from tests.rules_support import bind
from tickets import notice_rows, outbox
from tickets.notice_rows import FANOUT_CHAT
from tickets.store import Store


@pytest.fixture
def config(tmp_path: Path) -> Config:
    """The test configuration with no team group: only bound members can hear offers."""
    base = make_config(tmp_path)
    return replace(base, teams=tuple(replace(t, groups={}) for t in base.teams))


def kinds(store: Store, number: str) -> list[tuple[str, str, str]]:
    return [(r.kind, r.channel, r.chat) for r in store.notices_of(number)]


def test_an_offer_nobody_can_receive_goes_to_the_dispatchers_by_sms(
    store: Store, config: Config
) -> None:
    number = store.create_ticket(draft(), NOW).number
    phones = [d.phone for d in config.dispatchers]
    assert kinds(store, number) == [(outbox.UNREACHABLE_KIND, "sms", p) for p in phones]
    [row, *_] = store.notices_of(number)
    [text] = (reply.text for reply in render_notice(row, config))  # type: ignore[union-attr]
    assert number in text and "无人可通知" in text


def test_a_bound_dispatcher_hears_it_in_chat(store: Store, config: Config) -> None:
    bind(store, "web", "wang-chat", "dispatcher", config.dispatchers[0].id, "zh_CN")
    number = store.create_ticket(draft(), NOW).number
    assert kinds(store, number) == [(outbox.UNREACHABLE_KIND, "web", "wang-chat")]


def test_a_reachable_team_raises_no_alert(store: Store, config: Config) -> None:
    bind(store, "web", "zhang-chat", "technician", "zhang", "zh_CN")
    number = store.create_ticket(draft(), NOW).number
    assert outbox.UNREACHABLE_KIND not in {k for k, _, _ in kinds(store, number)}
    assert ("team.offer", "web", FANOUT_CHAT) in kinds(store, number)
    notice_rows.expand(store, "web", NOW)
    assert ("team.offer", "web", "zhang-chat") in kinds(store, number)
