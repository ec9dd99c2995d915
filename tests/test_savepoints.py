"""Nested store transactions (``Store.transaction``): a savepoint each, except directly
inside a savepoint that has written nothing yet — there the enclosing one already marks
the same point, and a failure goes back to it without ending it."""

from __future__ import annotations

import pytest
from conftest import NOW
from test_chat_rows import sent, statements

from tickets.rows import ChatRecord
from tickets.store import Store


def dialogues(store: Store) -> dict[str, str | None]:
    return {r["chat"]: r["dialogue"] for r in store.query("SELECT chat, dialogue FROM chats")}


def test_a_transaction_directly_inside_a_fresh_savepoint_opens_none(store: Store) -> None:
    with store.transaction(), statements(store) as seen, store.transaction(), store.transaction():
        store.save_chat(ChatRecord("web", "a", dialogue="1"), NOW)
    assert [s.split()[0] for s in sent(seen) if "baoxiu" in s] == ["SAVEPOINT", "RELEASE"]
    assert dialogues(store) == {"a": "1"}


def test_a_failure_inside_goes_back_to_the_enclosing_savepoint_which_goes_on(
    store: Store,
) -> None:
    with store.transaction():
        store.save_chat(ChatRecord("web", "before", dialogue="kept"), NOW)
        with store.transaction():
            with pytest.raises(RuntimeError), store.transaction():
                store.save_chat(ChatRecord("web", "inner", dialogue="undone"), NOW)
                raise RuntimeError("refused")
            assert store.chat("web", "inner") == ChatRecord("web", "inner")
            store.save_chat(ChatRecord("web", "after", dialogue="kept"), NOW)
    assert dialogues(store) == {"before": "kept", "after": "kept"}


def test_after_a_write_a_nested_transaction_has_its_own_savepoint(store: Store) -> None:
    with store.transaction(), store.transaction():
        store.save_chat(ChatRecord("web", "outer", dialogue="kept"), NOW)
        with statements(store) as seen, pytest.raises(RuntimeError), store.transaction():
            store.save_chat(ChatRecord("web", "inner", dialogue="undone"), NOW)
            raise RuntimeError("refused")
    assert [s.split()[0] for s in sent(seen) if "baoxiu" in s] == [
        "SAVEPOINT",
        "ROLLBACK",
        "RELEASE",
    ]
    assert dialogues(store) == {"outer": "kept"}
