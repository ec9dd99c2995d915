"""Follow-up tasks (回访) end to end, through the engine and a real store: the dispatcher's
/followup (list, record by command or button, wrong state, others refused) in zh_CN and
en; the reporter's "not fixed" on a ticket already closed opening one task and one
dispatcher notice; and ``baoxiu followup list|done`` on the command line."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import NOW, draft
from rules_support import bind, rendered, rows, say

from bots.cli import dispatch as cli_dispatch
from bots.cli import main
from bots.engine import Engine
from config.loader import load
from config.model import Config
from conversation.events import Button, InEvent
from conversation.i18n import translate
from tests.conftest import said as cli_said
from tickets import dispatch_store
from tickets.errors import NotAllowed
from tickets.model import Action, Actor, Role, State
from tickets.store import Store

ZHANG = Actor(Role.TECHNICIAN, "zhang", "张师傅", frozenset({"maint"}))
ALICE = Actor.reporter("web", "alice")
Row = tuple[InEvent | str, str | tuple[str, ...]]


def closed(store: Store, chat: str = "alice", rating: int | None = 1) -> str:
    """A ticket fixed and closed by its reporter (``rating`` 1: a follow-up task opens)."""
    number = store.create_ticket(draft(chat=chat), NOW).number
    store.apply(number, Action.CLAIM, ZHANG, NOW)
    store.apply(number, Action.SIGN_IN, ZHANG, NOW + timedelta(minutes=10))
    store.apply(number, Action.RESOLVE, ZHANG, NOW + timedelta(minutes=20), note="换阀门")
    reporter = Actor.reporter("web", chat)
    later = NOW + timedelta(minutes=30)
    if rating is None:
        store.apply(number, Action.CONFIRM, reporter, later)
    else:
        store.apply(number, Action.RATE, reporter, later, data={"rating": rating})
    return number


TABLES: dict[str, list[Row]] = {
    "zh_CN": [
        ("/followup", ("待回访（1）：", "{A} · 评价较低 · 2026-11-23 16:30", "记录回访 {A}")),
        ("/followup {O} 打过电话", "工单当前状态为“已受理（待派工）”，不能回访"),
        ("/followup BX20990101-0001 好", "没有找到工单 BX20990101-0001"),
        (Button("d:fu:{A}"), "请输入工单 {A} 的回访结果"),
        ("已电话回访，报修人表示理解", "回访结果已记录"),
        ("/followup", "没有待处理的回访任务"),
    ],
    "en": [
        ("/followup", ("Follow-up calls (1):", "{A} · low rating · 2026-11-23 16:30", "Record")),
        ("/followup {O} called", "you cannot follow-up call it now"),
        ("/followup BX20990101-0001 ok", "No ticket BX20990101-0001"),
        ("/followup {A} called, the reporter accepts it", "Follow-up outcome recorded"),
        ("/followup", "No follow-up call is waiting."),
    ],
}


@pytest.mark.parametrize("locale", ["zh_CN", "en"])
def test_followup_command(store: Store, config: Config, locale: str) -> None:
    engine = Engine(store, config)
    done = closed(store)
    still_open = store.create_ticket(draft(chat="bob"), NOW).number
    bind(store, "web", "wang-chat", "dispatcher", "wang", locale)
    for i, (said, expected) in enumerate(TABLES[locale]):
        event: InEvent | str = (
            Button(said.data.format(A=done)) if isinstance(said, Button) else said
        )
        if isinstance(event, str):
            event = event.format(A=done, O=still_open)
        answer = say(engine, "web", "wang-chat", event, NOW + timedelta(hours=1, minutes=i))
        for part in (expected,) if isinstance(expected, str) else expected:
            wanted = part.format(A=done, O=still_open)
            assert wanted in answer, f"row {i} {said!r}: {wanted!r} not in\n{answer}"
    [task] = dispatch_store.follow_ups(store, status="done")
    assert (task.number, task.done_by) == (done, "wang")
    assert task.outcome in ("已电话回访，报修人表示理解", "called, the reporter accepts it")
    assert store.timeline(done)[-1].action is Action.FOLLOW_UP


@pytest.mark.parametrize("said", ["/followup", Button("d:fu:BX20261123-0001")])
def test_only_dispatchers_follow_up(store: Store, config: Config, said: str | Button) -> None:
    engine = Engine(store, config)
    number = closed(store)
    bind(store, "web", "zhang-chat", "technician", "zhang", "zh_CN")
    assert "只有调度员" in say(engine, "web", "alice", said)
    assert "只有调度员" in say(engine, "web", "zhang-chat", "/followup")
    assert [t.number for t in dispatch_store.follow_ups(store)] == [number]


@pytest.mark.parametrize(
    ("locale", "asked", "passed"),
    [
        ("zh_CN", "还有什么问题", "已转交调度员回访"),
        ("en", "What is still wrong", "Passed to the dispatcher for a follow-up"),
    ],
)
def test_not_fixed_after_close_opens_one_follow_up(
    store: Store, config: Config, locale: str, asked: str, passed: str
) -> None:
    engine = Engine(store, config)
    bind(store, "web", "wang-chat", "dispatcher", "wang", locale)
    bind(store, "web", "alice", "reporter", "", locale)
    number = closed(store, rating=None)  # confirmed, not rated: no task yet
    assert dispatch_store.follow_ups(store) == []
    later = NOW + timedelta(days=2)
    assert asked in say(engine, "web", "alice", Button(f"r:reopen:{number}"), later)
    assert passed in say(engine, "web", "alice", "水管还是在滴水", later)
    # The same button pressed again adds nothing: one task per closed ticket.
    say(engine, "web", "alice", Button(f"r:reopen:{number}"), later)
    say(engine, "web", "alice", "还是滴水", later)

    [task] = dispatch_store.follow_ups(store)
    assert (task.number, task.reason, task.opened_at) == (number, "not_fixed_after_close", later)
    assert store.get(number).state is State.CLOSED
    [notice] = rows(store, "dispatcher.follow_up")
    assert (notice.chat, notice.params["comment"]) == ("wang-chat", "水管还是在滴水")
    text = rendered(notice, config)
    assert number in text and "水管还是在滴水" in text
    assert ("没有修好" if locale == "zh_CN" else "not fixed") in text

    # The dispatcher records it; the task is done.
    store.apply(number, Action.FOLLOW_UP, Actor(Role.DISPATCHER, "wang"), later, note="已上门复查")
    assert dispatch_store.follow_ups(store) == []


def test_someone_elses_closed_ticket_opens_nothing(store: Store, config: Config) -> None:
    engine = Engine(store, config)
    number = closed(store, rating=None)
    # Answered like a number that does not exist: a stranger learns nothing from it.
    answer = say(engine, "web", "bob", Button(f"r:reopen:{number}"))
    assert answer == translate("zh_CN", "errors.ticket_not_found", number=number)
    with pytest.raises(NotAllowed):
        store.perform_rule(
            "followup.request",
            {"number": number, "note": "坏了"},
            Actor.reporter("web", "bob"),
            NOW,
        )
    assert dispatch_store.follow_ups(store) == []


# -- the command line --------------------------------------------------------------------


@pytest.fixture
def default(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Config:
    for name, value in {
        "BAOXIU_DATA_DIR": str(tmp_path / "data"),
        "LANG": "",
        "LC_ALL": "",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("BAOXIU_CONFIG", raising=False)
    monkeypatch.setattr(cli_dispatch, "now", lambda: NOW + timedelta(hours=1))
    return load(None)


def invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, cli_said(result)


def test_cli_followup_list_and_done(default: Config) -> None:
    default.database.parent.mkdir(parents=True)
    with Store(default.database, default) as store:
        number = closed(store)
        still_open = store.create_ticket(draft(chat="bob"), NOW).number
    code, out = invoke("followup", "list")
    assert code == 0 and f"{number} · 评价较低 · 2026-11-23 16:30" in out
    code, out = invoke("followup", "done", still_open, "打过电话")
    assert code == 1 and "不能回访" in out
    # Nobody answered: recorded with its outcome, and the task stays open.
    code, out = invoke("followup", "done", number, "无人接听", "--outcome", "not_reached")
    assert code == 0 and f"{number} · 评价较低" in invoke("followup", "list")[1]
    assert invoke("followup", "done", number, "x", "--outcome", "happy")[0] == 2
    code, out = invoke("followup", "done", number, "已回访，", "报修人满意")
    assert (code, out) == (0, f"回访结果已记录（工单 {number}）。\n")
    assert invoke("followup", "list") == (0, "没有待处理的回访任务。\n")
    assert invoke("followup", "done", number, "x", "--as", "nobody")[0] == 1
    with Store(default.database, default) as store:
        [task] = dispatch_store.follow_ups(store, status="done")
    assert (task.outcome, task.done_by) == ("已回访， 报修人满意", default.dispatchers[0].id)
    for command in (["followup"], ["followup", "list"], ["followup", "done"]):
        assert "Usage:" in invoke(*command, "--help")[1]
