"""tickets.search: Chinese 1-, 2- and 3+-character terms, mixed terms, numbers, phone
tails, notes, ranking, pages, hostile input, and the index kept in the event's
transaction (and rebuilt by the migration's backfill to the same rows)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from conftest import NOW, draft

from tickets import search
from tickets.model import Action, Actor, Role
from tickets.store import Store

ZHANG = Actor(Role.TECHNICIAN, "zhang", "张师傅", frozenset({"maint"}))


def minutes(n: int) -> timedelta:
    return timedelta(minutes=n)


@pytest.fixture
def filed(store: Store) -> dict[str, str]:
    """Label → number of a few tickets."""
    made = {
        "leak": store.create_ticket(
            draft(description="卫生间漏水严重", spot="3号楼302", phone="+8613811112222"), NOW
        ),
        "power": store.create_ticket(
            draft("power.outage", chat="bob", description="整栋楼停电了", spot="5号楼"),
            NOW + timedelta(minutes=1),
        ),
        "wifi": store.create_ticket(
            draft("net.broadband", chat="carol", description="WiFi断网 router 坏了", spot="A座"),
            NOW + timedelta(minutes=2),
        ),
        "leak2": store.create_ticket(
            draft(chat="dave", description="厨房漏水", spot="7号楼"), NOW + timedelta(minutes=3)
        ),
    }
    return {label: t.number for label, t in made.items()}


def found(store: Store, text: str) -> list[str]:
    return [t.number for t in search.search(store, text, limit=50).tickets]


@pytest.mark.parametrize(
    ("query", "labels"),
    [
        ("漏水", {"leak", "leak2"}),
        ("停", {"power"}),
        ("停电", {"power"}),
        ("卫生间", {"leak"}),
        ("卫生间漏水严重", {"leak"}),
        ("3号楼 漏水", {"leak"}),
        ("3号楼漏水", {"leak"}),
        ("wifi", {"wifi"}),
        ("ROUTER 坏了", {"wifi"}),
        ("2222", {"leak"}),
        ("8613811112222", {"leak"}),
        ("燃气", set()),
        ("间水", set()),  # 卫生间 and 水 are not adjacent: no false bigram match
        ("漏水 停电", set()),
    ],
)
def test_queries(store: Store, filed: dict[str, str], query: str, labels: set[str]) -> None:
    assert set(found(store, query)) == {filed[label] for label in labels}


def test_number_finds_its_ticket(store: Store, filed: dict[str, str]) -> None:
    number = filed["wifi"]
    assert found(store, number) == [number]
    assert found(store, number.lower()) == [number]


@pytest.mark.parametrize(
    "query",
    [
        '"',
        "'",
        '漏水"',
        "a OR b",
        "NEAR(x y)",
        "*",
        "^漏",
        "uni:漏",
        "'; DROP TABLE tickets; --",
        "(",
        ")",
        "-",
        "漏水 AND",
        "NOT 漏水",
        "",
        "   ",
        "%_",
        "\x00",
    ],
)
def test_syntax_characters_are_safe(store: Store, filed: dict[str, str], query: str) -> None:
    search.search(store, query)  # no error
    assert len(store.query("SELECT number FROM tickets")) == 4


def test_operators_are_words_not_syntax(store: Store, filed: dict[str, str]) -> None:
    assert found(store, "漏水 OR 停电") == []  # 'or' is a term nobody wrote, not OR


def test_notes_and_resolution_are_found(store: Store, filed: dict[str, str]) -> None:
    number = filed["leak"]
    store.apply(number, Action.CLAIM, ZHANG, NOW + timedelta(minutes=5))
    store.apply(number, Action.SIGN_IN, ZHANG, NOW + timedelta(minutes=30))
    store.apply(number, Action.RESOLVE, ZHANG, NOW + timedelta(hours=1), note="更换角阀")
    assert found(store, "角阀") == [number]
    assert found(store, "换") == [number]


def test_ranked_best_first(store: Store, filed: dict[str, str]) -> None:
    best = store.create_ticket(
        draft(chat="erin", description="漏水 漏水 漏水", spot="9"), NOW + timedelta(minutes=9)
    )
    assert found(store, "漏水")[0] == best.number


def test_pages(store: Store, filed: dict[str, str]) -> None:
    first = search.search(store, "楼", limit=2)
    assert len(first.tickets) == 2 and first.after is not None
    second = search.search(store, "楼", limit=2, after=first.after)
    numbers = [t.number for t in first.tickets + second.tickets]
    assert len(set(numbers)) == len(numbers) == 3 and second.after is None


def test_backfill_gives_the_same_index(store: Store, filed: dict[str, str]) -> None:
    store.apply(filed["leak"], Action.CLAIM, ZHANG, NOW + timedelta(minutes=5), note="马上到")
    with store.transaction():  # new tickets are indexed in batches; a search does this first
        search.catch_up(store.db.conn)
    kept = store.query("SELECT rowid, uni, bi FROM ticket_search ORDER BY rowid")
    with store.transaction():
        search.rebuild(store.db.conn)
    assert store.query("SELECT rowid, uni, bi FROM ticket_search ORDER BY rowid") == kept


def oldest_best(store: Store) -> str:
    """The best match of 漏水 (three times), filed before all others."""
    return store.create_ticket(
        draft(chat="x", description="漏水 漏水 漏水"), NOW - minutes(5)
    ).number


def test_a_term_with_few_matches_ranks_them_all(store: Store, filed: dict[str, str]) -> None:
    best_but_old = oldest_best(store)
    store.create_ticket(
        draft(chat="erin", description="水管漏水了，楼下也在滴水"), NOW + minutes(9)
    )
    page = search.search(store, "漏水")
    assert page.tickets[0].number == best_but_old and not page.window


def test_a_very_common_term_ranks_its_newest_and_says_so_or_all_when_asked(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    best_but_old = oldest_best(store)
    newer = [
        store.create_ticket(draft(chat=f"n{i}", description=f"{i}楼漏水啦"), NOW + minutes(i))
        for i in range(2)
    ]
    monkeypatch.setattr(search, "RANK_ALL", 2)
    page = search.search(store, "漏水")
    assert {t.number for t in page.tickets} == {t.number for t in newer} and page.window
    whole = search.search(store, "漏水", whole=True)
    assert whole.tickets[0].number == best_but_old and not whole.window


def test_the_next_page_keeps_the_window_of_the_first(
    store: Store, filed: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(search, "RANK_ALL", 2)
    first = search.search(store, "漏水", limit=1)
    store.create_ticket(draft(chat="z", description="又漏水了"), NOW + minutes(30))
    second = search.search(store, "漏水", limit=1, after=first.after)
    shown = {t.number for t in first.tickets + second.tickets}
    assert shown == {filed["leak"], filed["leak2"]} and second.after is None


def test_pages_are_keyset_and_skip_nothing_when_tickets_arrive(
    store: Store, filed: dict[str, str]
) -> None:
    for i in range(5):
        store.create_ticket(draft(chat=f"p{i}", description="水管漏水"), NOW + minutes(10 + i))
    whole = found(store, "漏水")
    first = search.search(store, "漏水", limit=3)
    assert first.after is not None and ":" in first.after
    # A better match filed now belongs on page one; the next page goes on where it was.
    store.create_ticket(draft(chat="z", description="漏水 漏水 漏水 漏水"), NOW + minutes(30))
    rest: list[str] = []
    after: str | None = first.after
    while after is not None:
        page = search.search(store, "漏水", limit=3, after=after)
        rest += [t.number for t in page.tickets]
        after = page.after
    assert [t.number for t in first.tickets] + rest == whole


def test_a_broken_cursor_starts_over(store: Store, filed: dict[str, str]) -> None:
    assert found(store, "漏水")[:1] == [
        t.number for t in search.search(store, "漏水", limit=1, after="x:y").tickets
    ]


def test_the_index_merges_every_8_segments(store: Store) -> None:
    """Migration fan_0001: FTS5's default (every 4) rewrote 10-20 index pages for each
    new ticket at a million tickets (issue 11); the setting lives in the file."""
    rows = store.query("SELECT v FROM ticket_search_config WHERE k = 'automerge'")
    assert rows == [{"v": 8}]
