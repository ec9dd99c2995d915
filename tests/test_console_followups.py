"""Follow-up calls (回访): the deterministic sample of closed tickets (``[followup]
sample_percent``), and the console's list of open calls over HTTP — masked phone, the
full phone shown on request and logged, the outcome recorded as the ticket's event
(a call not answered keeps the task open), bad input refused with nothing written."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from conftest import NOW, draft
from test_console import Client, client, csrf_of, login  # noqa: F401 (client: a fixture)

from config.flow_config import FlowSettings
from config.model import Config
from conversation.i18n import translate
from tickets import dispatch_store, followups
from tickets.model import Action, Actor, Role, State
from tickets.store import Store

ZHANG = Actor(Role.TECHNICIAN, "zhang", "张师傅", frozenset({"maint"}))
MINUTE = timedelta(minutes=1)


def closed(store: Store, chat: str, rating: int | None = None, at: datetime = NOW) -> str:
    """A ticket resolved and then confirmed or rated by its reporter, starting ``at``.

    With a running service pass the real time: its scheduler (a thread, on the wall
    clock) would otherwise find the confirmation window of a ticket resolved on ``NOW``
    long past and close it between the resolve and the confirm."""
    number = store.create_ticket(draft(chat=chat), at).number
    store.apply(number, Action.CLAIM, ZHANG, at)
    store.apply(number, Action.SIGN_IN, ZHANG, at + 10 * MINUTE)
    store.apply(number, Action.RESOLVE, ZHANG, at + 20 * MINUTE, note="换阀门")
    reporter = Actor.reporter("web", chat)
    if rating is None:
        store.apply(number, Action.CONFIRM, reporter, at + 30 * MINUTE)
    else:
        store.apply(number, Action.RATE, reporter, at + 30 * MINUTE, data={"rating": rating})
    return number


def sample(store: Store, config: Config, percent: int) -> None:
    store.config = replace(config, flow=FlowSettings(sample_percent=percent))


def test_the_sample_is_deterministic_and_about_the_share_asked() -> None:
    numbers = [f"BX20261123-{i:04d}" for i in range(1, 2001)]
    ten = [n for n in numbers if followups.sampled(n, 10)]
    assert ten == [n for n in numbers if followups.sampled(n, 10)]  # same answer every time
    assert 150 <= len(ten) <= 250
    assert set(ten) <= {n for n in numbers if followups.sampled(n, 30)}  # a larger share grows
    assert not any(followups.sampled(n, 0) for n in numbers)
    assert all(followups.sampled(n, 100) for n in numbers)


@pytest.mark.parametrize(("percent", "expected"), [(100, ["sampled"] * 2), (0, [])])
def test_closed_tickets_in_the_sample_get_a_follow_up_task(
    store: Store, config: Config, percent: int, expected: list[str]
) -> None:
    sample(store, config, percent)
    closed(store, "alice")
    closed(store, "bob", rating=5)
    store.create_ticket(draft(chat="carol"), NOW)  # open: never sampled
    assert [t.reason for t in store.follow_ups()] == expected


def test_a_low_rating_in_the_sample_opens_one_task_not_two(store: Store, config: Config) -> None:
    sample(store, config, 100)
    number = closed(store, "alice", rating=1)
    assert [(t.number, t.reason) for t in store.follow_ups()] == [(number, "low_rating")]
    # Rating later does not close it again, so it is not sampled twice either.
    assert len(dispatch_store.follow_ups(store, status=None)) == 1


async def test_the_console_lists_open_calls_shows_the_phone_and_records_the_outcome(
    client: Client,  # noqa: F811
    store: Store,
    config: Config,
) -> None:
    sample(store, config, 100)
    number = closed(store, "alice", at=datetime.now(UTC))
    await login(client, "amy")  # an agent makes the calls
    page = await client.get("/console/followups")
    html = await page.text()
    assert page.status == 200 and number in html
    assert translate("zh_CN", "dispatch.followup_reason_sampled") in html
    assert "138****5678" in html and "13812345678" not in html

    token = await csrf_of(client, "/console/followups")
    shown = await client.post(f"/console/followups/{number}/call", data={"csrf": token})
    assert shown.status == 200 and 'href="tel:13812345678"' in await shown.text()
    last = store.timeline(number)[-1]
    assert (last.action, last.actor_id) == (Action.PHONE_SHOWN, "staff:amy")

    # Nobody answered: recorded, and the call stays on the list to be tried again.
    answer = await client.post(
        f"/console/followups/{number}",
        data={"csrf": token, "outcome": "not_reached", "note": "无人接听"},
    )
    assert answer.status == 200 and number in await answer.text()
    last = store.timeline(number)[-1]
    assert (last.action, last.actor_id, last.note, last.data) == (
        Action.FOLLOW_UP,
        "staff:amy",
        "无人接听",
        {"outcome": "not_reached"},
    )
    (call,) = followups.open_calls(store)
    assert call.ticket.number == number and call.attempts == 1

    # Bad input: a clear answer, nothing written.
    events = len(store.timeline(number))
    for data, said in (
        ({"outcome": "happy", "note": "x"}, "未知的回访结果：happy"),
        ({"outcome": "satisfied", "note": " "}, "请填写回访记录"),
    ):
        refused = await client.post(f"/console/followups/{number}", data={"csrf": token, **data})
        assert refused.status == 409 and said in await refused.text()
    assert len(store.timeline(number)) == events

    done = await client.post(
        f"/console/followups/{number}",
        data={"csrf": token, "outcome": "satisfied", "note": "报修人表示满意"},
    )
    text = await done.text()
    assert "工单 " + number + " 的回访已记录：满意" in text
    assert translate("zh_CN", "followup_calls.none") in text
    assert store.follow_ups() == []
    (task,) = dispatch_store.follow_ups(store, status=None)
    assert (task.status, task.outcome, task.done_by) == ("done", "报修人表示满意", "staff:amy")
    assert store.get(number).state is State.CLOSED


async def test_recording_needs_an_open_task_and_the_csrf_token(
    client: Client,  # noqa: F811
    store: Store,
) -> None:
    number = closed(store, "alice", at=datetime.now(UTC))  # not sampled (default share 0)
    await login(client)
    token = await csrf_of(client, "/console/followups")
    refused = await client.post(
        f"/console/followups/{number}", data={"csrf": token, "outcome": "reached", "note": "x"}
    )
    assert refused.status == 409 and f"工单 {number} 没有待回访的任务" in await refused.text()
    forged = await client.post(
        f"/console/followups/{number}", data={"outcome": "reached", "note": "x"}
    )
    assert forged.status == 403
    assert (await client.post("/console/followups/BX2099/call", data={"csrf": token})).status == 404
