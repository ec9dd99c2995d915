"""The web chat's in-memory tails (``bots.web.tail``): polls and button labels answered
from memory never show a message that is not committed, one of another chat, or an old
picture of a chat that someone else (another process on the same file) wrote to since.
"""

from __future__ import annotations

import asyncio
import json

import pytest
from conftest import NOW

from bots.web import tail
from bots.web.inbox import WebInbox
from bots.web.tail import KEEP
from bots.web.writer import Writer
from config.model import Config
from tickets.store import Store


def texts(inbox: WebInbox, chat: str, after: int = 0) -> list[str]:
    return [m.get("text", "") for m in inbox.messages(chat, after)]


def polled(inbox: WebInbox, chat: str, after: int = 0) -> list[str]:
    """Every message after ``after`` as the page gets them: poll until nothing is new."""
    got: list[str] = []
    while True:
        text, count, after = inbox.page(chat, after)
        if not count:
            return got
        got += [m.get("text", "") for m in json.loads(text)]


def say(*lines: str) -> list[tuple[str, dict[str, str]]]:
    return [("reply", {"text": line}) for line in lines]


def test_a_poll_is_answered_from_the_tail_with_the_chats_own_messages(store: Store) -> None:
    inbox = WebInbox(store)
    inbox.append("a", say("a1", "a2"), NOW)
    inbox.append("b", say("b1"), NOW)
    inbox.append("a", say("a3"), NOW)
    assert inbox.tails.page("a", 1, 100) == inbox.page("a", 1)  # from memory
    assert texts(inbox, "a") == ["a1", "a2", "a3"] and texts(inbox, "b") == ["b1"]
    assert texts(inbox, "a", 2) == ["a3"] and texts(inbox, "a", 3) == []
    assert inbox.page("a", 7) == ("[]", 0, 7)  # ahead of the chat: as the store says


def test_a_long_chat_keeps_its_last_messages_and_older_ones_come_from_the_store(
    store: Store,
) -> None:
    inbox = WebInbox(store)
    lines = [f"m{i}" for i in range(1, 3 * KEEP)]
    for line in lines:
        inbox.append("a", say(line), NOW)
    assert inbox.tails.page("a", 0, 100) is None  # not in memory
    assert texts(inbox, "a") == lines
    assert texts(inbox, "a", len(lines) - 3) == lines[-3:]


def test_another_process_writing_is_seen_at_the_next_poll(config: Config, store: Store) -> None:
    inbox = WebInbox(store)
    inbox.append("a", say("ours"), NOW)
    with Store(config.database, config) as other_store:  # another process, same file
        other = WebInbox(other_store)
        other.append("a", say("theirs"), NOW)
        other.append("b", say("b1"), NOW)
    # A poll after our last message, which the tail has nothing new for, asks the store.
    assert texts(inbox, "a", 1) == ["theirs"]
    # One from the start may stop at the tail's last (all of them the store's, in order):
    # the page polls again from there, as it always does, and gets theirs.
    assert texts(inbox, "a")[:1] == ["ours"]
    assert polled(inbox, "a") == ["ours", "theirs"]
    assert polled(inbox, "b") == ["b1"]
    # Our next write follows theirs in the chat, and the tails start over from the store.
    assert inbox.append("a", say("ours again"), NOW) == 3
    assert inbox.append("b", say("b2"), NOW) == 2
    assert texts(inbox, "a") == ["ours", "theirs", "ours again"]
    assert texts(inbox, "b") == ["b1", "b2"]
    assert inbox.tails.page("b", 0, 100) is not None  # in memory again


def test_a_label_is_the_stores_even_when_another_process_showed_a_newer_one(
    config: Config, store: Store
) -> None:
    inbox = WebInbox(store)
    old = {"text": "x", "choices": [{"data": "i:area:east", "label": "东区（旧）"}]}
    inbox.append("a", [("reply", old)], NOW)
    with Store(config.database, config) as other_store:
        new = {"text": "y", "choices": [{"data": "i:area:east", "label": "东区"}]}
        WebInbox(other_store).append("a", [("reply", new)], NOW)
    with store.transaction():
        last = inbox.last_seq("a", writing=True)
        assert inbox.label_of("a", "i:area:east", last=last) == "东区"
        assert inbox.label_of("a", "i:area:west", last=last) == ""
    assert inbox.label_of("a", "i:area:east") == "东区"


def test_nothing_rolled_back_is_ever_shown(store: Store) -> None:
    inbox = WebInbox(store)
    inbox.append("a", say("kept"), NOW)
    with pytest.raises(RuntimeError), store.transaction():
        inbox.append("a", say("taken back"), NOW, wake=False)
        raise RuntimeError("the step failed after writing")
    assert texts(inbox, "a") == ["kept"]
    assert inbox.append("a", say("next"), NOW) == 2
    assert texts(inbox, "a") == ["kept", "next"]


async def test_a_step_the_writer_takes_back_leaves_nothing_in_the_tail(store: Store) -> None:
    inbox = WebInbox(store)
    inbox.append("a", say("before"), NOW)
    writer = Writer(store)

    def step(line: str, fail: bool = False) -> int:
        last = inbox.append("a", say(line), NOW, wake=False, then=writer.after_commit)
        if fail:
            raise ValueError("the step fails after writing")
        return last

    try:
        jobs = [
            writer.run(lambda: step("one")),
            writer.run(lambda: step("failed", fail=True)),
            writer.run(lambda: step("two")),
        ]
        results = await asyncio.gather(*jobs, return_exceptions=True)
    finally:
        writer.close()
    assert results[0] == 2 and isinstance(results[1], ValueError) and results[2] == 3
    assert inbox.tails.page("a", 0, 100) is not None
    assert texts(inbox, "a") == ["before", "one", "two"]
    assert [m["seq"] for m in json.loads(inbox.page("a", 0)[0])] == [1, 2, 3]


def test_tails_are_kept_for_the_chats_written_to_last(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tail, "TAILS", 3)
    inbox = WebInbox(store)
    for chat in ("a", "b", "c", "d"):
        inbox.append(chat, say(f"{chat}1"), NOW)
    inbox.append("b", say("b2"), NOW)
    inbox.append("e", say("e1"), NOW)
    kept = [c for c in "abcde" if inbox.tails.page(c, 0, 100) is not None]
    assert kept == ["b", "d", "e"]  # a and c were written to longest ago
    assert polled(inbox, "a") == ["a1"] and polled(inbox, "b") == ["b1", "b2"]
    assert inbox.append("a", say("a2"), NOW) == 2  # its tail is made again from the store
    assert polled(inbox, "a") == ["a1", "a2"]
