"""A team offer costs the same number of SQL statements whatever the team's size (issue
11): the members' bound chats get their rows from one INSERT … SELECT, params encoded
once, one row per chat so that each chat keeps its order, retries and dead letters."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from conftest import NOW, draft, make_config

from config.model import Config, Team, Technician
from tickets.rows import ChatRecord
from tickets.store import Store


def team_of(root: Path, members: int) -> Config:
    root.mkdir(exist_ok=True)
    config = make_config(root)
    people = tuple(f"t{i:03d}" for i in range(members))
    techs = tuple(Technician(p, f"师傅{p}", f"+86139{i:08d}") for i, p in enumerate(people))
    maint: Team = replace(config.teams[0], members=people)
    return replace(config, technicians=techs, teams=(maint, *config.teams[1:]))


def statements_of_a_new_ticket(root: Path, members: int) -> tuple[int, Store]:
    config = team_of(root, members)
    store = Store(config.database, config)
    for i, person in enumerate(config.teams[0].members):
        locale = "en" if i % 2 else None
        record = ChatRecord("telegram", str(7000 + i), locale=locale, person=person)
        store.save_chat(replace(record, role="technician"), NOW)
    store.save_chat(ChatRecord("web", "w-t001", role="technician", person="t001"), NOW)
    count = 0

    def trace(_sql: str) -> None:
        nonlocal count
        count += 1

    store.db.conn.set_trace_callback(trace)
    store.create_ticket(draft(), NOW)
    store.db.conn.set_trace_callback(None)
    return count, store


def test_a_team_offer_costs_the_same_statements_for_3_or_60_members(tmp_path: Path) -> None:
    small, store = statements_of_a_new_ticket(tmp_path / "small", 3)
    store.close()
    big, store = statements_of_a_new_ticket(tmp_path / "big", 60)
    try:
        assert big == small
        number = store.all_tickets()[0].number
        assert sum(n.kind == "team.offer" for n in store.notices_of(number)) == 1 + 60 + 1
    finally:
        store.close()


def test_every_bound_chat_of_the_team_gets_one_row_in_its_language(tmp_path: Path) -> None:
    _, store = statements_of_a_new_ticket(tmp_path, 5)
    try:
        number = store.all_tickets()[0].number
        offers = [n for n in store.notices_of(number) if n.kind == "team.offer"]
        chats = [(n.channel, n.chat, n.locale) for n in offers]
        group = ("telegram", "-100123", "zh_CN")  # the team's group first, then members
        members = [("telegram", str(7000 + i), "en" if i % 2 else "zh_CN") for i in range(5)]
        web = ("web", "w-t001", "zh_CN")  # a member's chats in (channel, chat) order
        assert chats == [group, *members[:2], web, *members[2:]]
        assert len({n.key for n in offers}) == len(offers)
        assert all(n.params == offers[0].params for n in offers)
    finally:
        store.close()
