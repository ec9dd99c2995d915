"""The web chat's inbox: each chat's messages numbered 1, 2, 3… in order, a keyed message
(a notice delivered again after a crash) shown once, and a button's label as the chat was
last shown it."""

from __future__ import annotations

import json

from conftest import NOW

from bots.web.inbox import WebInbox
from tickets.store import Store


def test_messages_are_numbered_per_chat_and_a_key_is_shown_once(store: Store) -> None:
    inbox = WebInbox(store)
    assert inbox.append("a", [("user", {"text": "1"}), ("reply", {"text": "2"})], NOW) == 2
    assert inbox.append("b", [("reply", {"text": "b1"})], NOW) == 1
    notice = [("notice", {"text": "n1"}), ("notice", {"text": "n2"})]
    assert inbox.append("a", notice, NOW, key="outbox:7") == 4
    # Delivered again: nothing added, the chat's last number is still 4.
    assert inbox.append("a", notice, NOW, key="outbox:7") == 4
    assert inbox.append("a", [("reply", {"text": "5"})], NOW) == 5
    shown = inbox.messages("a", 0)
    assert [(m["seq"], m["text"]) for m in shown] == [
        (1, "1"),
        (2, "2"),
        (3, "n1"),
        (4, "n2"),
        (5, "5"),
    ]
    assert inbox.last_seq("a") == 5 and inbox.last_seq("b") == 1


def test_a_buttons_label_is_the_one_last_shown(store: Store) -> None:
    inbox = WebInbox(store)
    old = {"text": "x", "choices": [{"data": "i:area:east", "label": "东区（旧）"}]}
    mention = {"text": 'says "i:area:east" but offers no such button'}
    new = {"text": "y", "choices": [{"data": "i:area:east", "label": "东区"}]}
    inbox.append("a", [("reply", old), ("reply", new), ("reply", mention)], NOW)
    inbox.append("a", [("user", {"text": '"i:area:east"'})], NOW)
    assert inbox.label_of("a", "i:area:east") == "东区"
    assert inbox.label_of("a", "i:area:west") == ""
    assert inbox.label_of("b", "i:area:east") == ""


def test_a_page_is_the_messages_as_json(store: Store) -> None:
    inbox = WebInbox(store)
    inbox.append("a", [("reply", {}), ("reply", {"text": '水管 "漏"\n', "inline": True})], NOW)
    inbox.append("a", [("notice", {"text": "x", "kind": "own"})], NOW)
    text, count, last = inbox.page("a", 0)
    assert (count, last) == (3, 3)
    at = NOW.isoformat()
    assert json.loads(text) == [
        {"seq": 1, "at": at, "kind": "reply"},
        {"seq": 2, "at": at, "kind": "reply", "text": '水管 "漏"\n', "inline": True},
        {"seq": 3, "at": at, "kind": "own", "text": "x"},  # the payload's own key wins
    ]
    assert inbox.page("a", 3) == ("[]", 0, 3)
    assert inbox.page("a", 1, limit=1)[1:] == (1, 2)


def test_an_inbox_made_by_an_earlier_version_keeps_its_messages_and_its_keys(
    store: Store,
) -> None:
    """The indexes of earlier versions — (chat, seq), and every row's key, NULLs too —
    are replaced by a key index holding the notices' keys alone; a notice already shown
    is still shown once, and the chat reads the same."""
    with store.transaction():
        store.db.execute(
            "CREATE TABLE web_messages (seq INTEGER PRIMARY KEY, chat TEXT NOT NULL,"
            " at TEXT NOT NULL, kind TEXT NOT NULL, payload TEXT NOT NULL, key TEXT, n INTEGER)"
        )
        store.db.execute("CREATE INDEX idx_web_messages_chat_seq ON web_messages (chat, seq)")
        store.db.execute("CREATE UNIQUE INDEX idx_web_messages_chat_n ON web_messages (chat, n)")
        store.db.execute("CREATE UNIQUE INDEX idx_web_messages_key ON web_messages (key)")
        store.db.execute(
            "INSERT INTO web_messages (chat, at, kind, payload, key, n) VALUES"
            " ('a', ?, 'reply', ?, NULL, 1),"
            " ('a', ?, 'notice', '{\"text\": \"n\"}', 'outbox:1#0', 2)",
            [
                NOW.isoformat(),
                json.dumps({"text": "x", "choices": [{"data": "d", "label": "L"}]}),
                NOW.isoformat(),
            ],
        )
    inbox = WebInbox(store)
    indexes = {
        r["name"]: r["sql"]
        for r in store.query(
            "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'web_messages'"
        )
    }
    assert set(indexes) == {"idx_web_messages_chat_n", "web_messages_key"}
    assert "WHERE key IS NOT NULL" in indexes["web_messages_key"]
    assert inbox.append("a", [("notice", {"text": "n"})], NOW, key="outbox:1") == 2
    assert inbox.append("a", [("user", {"text": "u"}), ("reply", {"text": "r"})], NOW) == 4
    assert [m["text"] for m in inbox.messages("a", 0)] == ["x", "n", "u", "r"]
    assert inbox.label_of("a", "d") == "L"
