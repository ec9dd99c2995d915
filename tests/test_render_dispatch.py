"""The dispatch notices as people read them (notify/render_dispatch.py, through
notify.render.render_notice), in both languages, with the params the store really queues."""

from __future__ import annotations

import string
from dataclasses import replace
from datetime import timedelta
from types import MappingProxyType

import pytest
from conftest import NOW, draft

from config.model import Config
from conversation.i18n import catalog
from conversation.replies import Ask, Reply, Say
from notify.render import kinds, render_notice
from tickets import dispatch_store
from tickets.dispatch_notices import KINDS
from tickets.model import Action, Actor, Role
from tickets.store import OutboxRow, Store

ZHANG = Actor(Role.TECHNICIAN, "zhang", "张师傅", frozenset({"maint"}))
WANG = Actor(Role.DISPATCHER, "wang", "王调度")
ALICE = Actor.reporter("web", "alice")


def text(replies: tuple[Reply, ...]) -> str:
    return "\n".join(r.text for r in replies if isinstance(r, Say | Ask))


def every_kind(store: Store) -> dict[str, OutboxRow]:
    """Drive tickets through the store until each dispatch kind is queued once."""
    for person, chat, role in (("zhang", "7001", "technician"), ("wang", "9001", "dispatcher")):
        store.save_chat(replace(store.chat("web", chat), role=role, person=person), NOW)
    store.config = replace(
        store.config,
        dispatch=replace(store.config.dispatch, team_leads=MappingProxyType({"maint": "zhang"})),
    )
    a = store.create_ticket(draft(), NOW).number
    store.apply(a, Action.CLAIM, ZHANG, NOW)
    store.set_priority(a, "urgent", WANG, NOW)
    dispatch_store.fire_due(store, NOW + timedelta(minutes=30))  # reminder
    dispatch_store.fire_due(store, NOW + timedelta(minutes=90))  # overdue + lead
    store.apply(a, Action.SIGN_IN, ZHANG, NOW + timedelta(minutes=91))
    store.apply(a, Action.RESOLVE, ZHANG, NOW + timedelta(minutes=92), note="换阀门")
    dispatch_store.fire_due(store, NOW + timedelta(days=4))  # auto-close
    store.apply(a, Action.RATE, ALICE, NOW + timedelta(days=4), note="没修好", data={"rating": 1})
    b = store.create_ticket(draft(), NOW).number  # unclaimed: re-offer at the claim limit
    dispatch_store.fire_due(store, NOW + timedelta(minutes=30))
    store.config = replace(store.config, dispatch=replace(store.config.dispatch, max_open_jobs=1))
    store.create_ticket(draft("net.broadband"), NOW)
    store.create_ticket(draft("net.broadband"), NOW)
    store.create_ticket(draft("net.broadband"), NOW)  # both full: unrouted
    store.config = replace(
        store.config, dispatch=replace(store.config.dispatch, unclaimed_minutes=5)
    )
    c = store.create_ticket(draft(), NOW + timedelta(days=5)).number
    dispatch_store.fire_due(store, NOW + timedelta(days=5, minutes=5))
    found: dict[str, OutboxRow] = {}
    for number in (a, b, c, *(t.number for t in store.all_tickets())):
        for row in store.notices_of(number):
            if row.kind in KINDS:
                found.setdefault(row.kind, row)
    return found


def test_every_dispatch_kind_renders_in_both_languages(store: Store, config: Config) -> None:
    found = every_kind(store)
    assert set(found) == KINDS
    for kind, row in found.items():
        for locale in ("zh_CN", "en"):
            shown = text(render_notice(replace(row, locale=locale), store.config))
            assert row.number and row.number in shown, (kind, shown)
            assert "{" not in shown and "None" not in shown, (kind, shown)
            generic = catalog(locale)["notices.generic"].format(number=row.number)
            assert shown != generic, (kind, locale)


def test_the_re_offer_never_shows_the_full_phone(store: Store) -> None:
    row = every_kind(store)["team.reoffer"]
    (ask,) = render_notice(row, store.config)
    assert isinstance(ask, Ask)
    assert [c.data for c in ask.choices] == [f"t:claim:{row.number}"]
    assert "138****5678" in ask.text and "13812345678" not in ask.text


def test_auto_closed_still_offers_the_rating(store: Store) -> None:
    row = every_kind(store)["reporter.auto_closed"]
    (ask,) = render_notice(row, store.config)
    assert isinstance(ask, Ask)
    assert [c.data for c in ask.choices] == [f"r:rate:{row.number}:{k}" for k in range(1, 6)]
    assert "72" in ask.text


def test_dispatch_kinds_stay_out_of_the_domain_kinds() -> None:
    # tickets.notices' own kinds are what test_render checks; these are added on top
    assert KINDS.isdisjoint(kinds())


@pytest.mark.parametrize("domain", ["notices_dispatch", "dispatch_errors"])
def test_catalogs_have_the_same_keys_and_placeholders(domain: str) -> None:
    def placeholders(template: str) -> set[str]:
        return {name for _, name, _, _ in string.Formatter().parse(template) if name}

    zh = {k: v for k, v in catalog("zh_CN").items() if k.startswith(f"{domain}.")}
    en = {k: v for k, v in catalog("en").items() if k.startswith(f"{domain}.")}
    assert zh and zh.keys() == en.keys()
    for key in zh:
        assert placeholders(zh[key]) == placeholders(en[key]), key
