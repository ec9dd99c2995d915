"""The engine on a real store: dialogues saved and resumed, actions performed in the
same transaction, refusals rolled back to their savepoint, locale and binding kept."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from conftest import NOW, draft, make_config

from bots.engine import Engine
from config.model import Config
from conversation.events import Button, Command, Contact, InEvent, Text
from conversation.i18n import translate
from conversation.replies import Ask, Reply, text_of
from conversation.state import IDLE, DialogueState
from tickets.errors import InvalidInput
from tickets.model import Action, Actor, Role, State
from tickets.store import ChatRecord, Store

CHANNEL = "terminal"
CHAT = "alice"

# (what the resident sends, a text the answer must contain) — the whole report.
REPORT_ZH: list[tuple[InEvent, str]] = [
    (Command("report"), "水"),
    (Button("i:cat:water"), "东区"),
    (Button("i:area:east"), "1号楼"),
    (Button("i:bld:b1"), ""),
    (Text("3楼302"), ""),
    (Text("13812345678"), ""),
    (Text("卫生间水管漏水"), ""),
    (Button("i:photos_done"), ""),
    (Button("i:time:any"), "13812345678"),  # the summary repeats what was given
    (Button("i:confirm"), "BX20261123-0001"),
]
REPORT_EN: list[tuple[InEvent, str]] = [
    (Command("report"), "Water"),
    (Button("i:cat:water"), "East"),
    (Button("i:area:east"), "Building 1"),
    (Button("i:bld:b1"), ""),
    (Text("room 302"), ""),
    (Text("+86 138 1234 5678"), ""),
    (Text("the pipe under the sink leaks"), ""),
    (Button("i:photos_done"), ""),
    (Button("i:time:any"), "the pipe under the sink leaks"),
    (Button("i:confirm"), "BX20261123-0001"),
]


@pytest.fixture
def engine(store: Store, config: Config) -> Engine:
    return Engine(store, config)


def said(replies: list[Reply]) -> str:
    """Everything the person reads: texts and the labels of the choices."""
    lines: list[str] = []
    for reply in replies:
        lines.append(text_of(reply))
        if isinstance(reply, Ask):
            lines.extend(choice.label for choice in reply.choices)
    return "\n".join(lines)


def talk(engine: Engine, rows: list[tuple[InEvent, str]], chat: str = CHAT) -> list[Reply]:
    replies: list[Reply] = []
    for event, expected in rows:
        replies = engine.handle(CHANNEL, chat, event, NOW)
        assert replies, f"no answer to {event!r}"
        assert expected in said(replies), f"{event!r} → {said(replies)!r}"
    return replies


def dialogue(store: Store, chat: str = CHAT) -> DialogueState:
    return DialogueState.from_json(store.chat(CHANNEL, chat).dialogue)


def counts(store: Store) -> dict[str, int]:
    return {
        table: store.db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]
        for table in ("tickets", "events", "outbox", "day_seq")
    }


# -- a whole report ----------------------------------------------------------------------


@pytest.mark.parametrize(("locale", "rows"), [("zh_CN", REPORT_ZH), ("en", REPORT_EN)])
def test_full_report_creates_the_ticket_and_tells_its_number(
    engine: Engine, store: Store, locale: str, rows: list[tuple[InEvent, str]]
) -> None:
    if locale == "en":
        engine.handle(CHANNEL, CHAT, Command("lang", "en"), NOW)
    last = said(talk(engine, rows))

    ticket = store.get("BX20261123-0001")
    assert ticket.state is State.NEW
    assert (ticket.category, ticket.area, ticket.building) == ("water.leak", "east", "b1")
    assert ticket.phone == "+8613812345678"
    assert ticket.reporter == f"{CHANNEL}:{CHAT}"
    assert ticket.reporter_locale == locale
    assert dialogue(store) == IDLE
    record = store.chat(CHANNEL, CHAT)
    assert record.last_phone == "+8613812345678"
    # The reply is the acceptance, with the expected visit (arrive_due, shown in the
    # service's time zone); no reporter.accepted notice repeats it in the same chat.
    assert ticket.arrive_due == NOW + timedelta(minutes=120)
    eta = translate(locale, "intake.accepted_eta", eta="2026-11-23 18:00")
    assert eta in last
    kinds = {n.kind for n in store.notices_of(ticket.number)}
    assert kinds == {"team.offer"}


def test_last_phone_is_offered_on_the_next_report(engine: Engine) -> None:
    talk(engine, REPORT_ZH)
    replies = talk(engine, REPORT_ZH[:5])  # up to the phone question
    offered = [c for r in replies if isinstance(r, Ask) for c in r.choices]
    assert [c.data for c in offered] == ["i:phone:last"]
    assert "13812345678" in offered[0].label


# -- refusals ------------------------------------------------------------------------------


def test_refused_action_keeps_the_dialogue_and_writes_nothing(engine: Engine, store: Store) -> None:
    talk(engine, REPORT_ZH[:-1])  # at the summary
    summary = dialogue(store)
    assert summary.step == "summary"
    # A crafted state (five photos; the workflow allows four) reaches the store, which
    # refuses it: the report must stay at the summary, nothing half written.
    crafted = replace(summary, data={**summary.data, "photos": [f"p{i}.jpg" for i in range(5)]})
    store.save_chat(replace(store.chat(CHANNEL, CHAT), dialogue=crafted.to_json()), NOW)
    before = counts(store)

    replies = engine.handle(CHANNEL, CHAT, Button("i:confirm"), NOW)

    assert said(replies) == translate("zh_CN", "errors.too_many_photos", limit=4)
    assert "BX" not in said(replies)
    assert dialogue(store) == crafted
    assert counts(store) == before
    assert store.chat(CHANNEL, CHAT).last_phone is None


def test_refusal_from_another_flow_does_not_disturb_a_half_done_report(
    engine: Engine, store: Store
) -> None:
    mine = store.create_ticket(draft(channel=CHANNEL, chat=CHAT), NOW)
    talk(engine, REPORT_ZH[:6])  # a second report, at the description
    half_done = dialogue(store)
    before = counts(store)

    # An old "Fixed" button of the first ticket, which is not resolved at all.
    replies = engine.handle(CHANNEL, CHAT, Button(f"r:confirm:{mine.number}"), NOW)

    state = translate("zh_CN", f"states.{State.NEW.value}")
    assert state in said(replies)
    assert dialogue(store) == half_done
    assert counts(store) == before
    assert store.get(mine.number).state is State.NEW


def _technician_at_finish(engine: Engine, store: Store) -> str:
    """zhang holds a job, on site, with the completion note typed: one tap from Finish."""
    number = store.create_ticket(draft(), NOW).number
    engine.bind(CHANNEL, "tech-zhang", "technician", "zhang", NOW)
    for event in (
        Button(f"t:claim:{number}"),
        Button(f"t:signin:{number}"),
        Button(f"t:here:{number}"),
        Button(f"t:done:{number}"),
        Text("换了水管接头"),
    ):
        engine.handle(CHANNEL, "tech-zhang", event, NOW)
    assert dialogue(store, "tech-zhang").step == "done_photos"
    assert store.get(number).state is State.ON_SITE
    return number


def test_refusal_about_the_ticket_ends_the_dialogue_that_was_ending(
    engine: Engine, store: Store
) -> None:
    number = _technician_at_finish(engine, store)
    wang = Actor(Role.DISPATCHER, "wang", "王调度")
    store.apply(number, Action.TRANSFER, wang, NOW, target="li")
    before = counts(store)

    replies = engine.handle(CHANNEL, "tech-zhang", Button(f"t:finish:{number}"), NOW)

    assert number in said(replies)
    # Typing the note again could only be refused again: the dialogue is over.
    assert dialogue(store, "tech-zhang") == IDLE
    assert counts(store) == before
    assert store.get(number).holder == "li"


def test_finish_goes_through_when_nothing_changed(engine: Engine, store: Store) -> None:
    number = _technician_at_finish(engine, store)
    replies = engine.handle(CHANNEL, "tech-zhang", Button(f"t:finish:{number}"), NOW)
    assert number in said(replies)
    ticket = store.get(number)
    assert (ticket.state, ticket.resolution) == (State.RESOLVED, "换了水管接头")
    assert dialogue(store, "tech-zhang") == IDLE


def test_unexpected_error_rolls_back_everything_and_propagates(
    engine: Engine, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    talk(engine, REPORT_ZH[:-1])
    summary = dialogue(store)
    before = counts(store)
    real = store.create_ticket

    def create_then_crash(*args: Any, **kwargs: Any) -> Any:
        real(*args, **kwargs)
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(store, "create_ticket", create_then_crash)
    with pytest.raises(RuntimeError, match="disk on fire"):
        engine.handle(CHANNEL, CHAT, Button("i:confirm"), NOW)

    assert counts(store) == before
    assert dialogue(store) == summary


# -- restart, language, binding ----------------------------------------------------------------


@pytest.fixture
def reopened(tmp_path: Path) -> Iterator[tuple[Config, list[Store]]]:
    config = make_config(tmp_path)
    stores: list[Store] = []
    yield config, stores
    for opened in stores:
        opened.close()


def test_half_finished_report_resumes_after_a_restart(
    reopened: tuple[Config, list[Store]],
) -> None:
    config, stores = reopened
    first = Store(config.database, config)
    stores.append(first)
    talk(Engine(first, config), REPORT_ZH[:6])
    first.close()
    stores.remove(first)

    # A new process: new store, new engine, same file.
    second = Store(config.database, config)
    stores.append(second)
    assert dialogue(second).step == "description"
    talk(Engine(second, config), REPORT_ZH[6:])
    assert second.get("BX20261123-0001").spot == "3楼302"


def test_language_switch_is_kept_for_the_chat(engine: Engine, store: Store) -> None:
    assert engine.locale_of(CHANNEL, CHAT) == "zh_CN"
    replies = engine.handle(CHANNEL, CHAT, Command("lang", "en"), NOW)
    # Said in the new language, with the menu redrawn in it (issue 12 item 6).
    assert said(replies).startswith(translate("en", "common.lang_set"))
    assert translate("en", "common.menu_report") in said(replies)
    assert engine.locale_of(CHANNEL, CHAT) == "en"
    assert store.chat(CHANNEL, CHAT).locale == "en"

    replies = engine.handle(CHANNEL, CHAT, Command("report"), NOW)
    labels = [c.label for r in replies if isinstance(r, Ask) for c in r.choices]
    assert labels == ["Water", "Network", "Power"]

    engine.handle(CHANNEL, CHAT, Command("lang", "zh_CN"), NOW)
    assert engine.locale_of(CHANNEL, CHAT) == "zh_CN"
    # The report begun in English goes on, now in Chinese.
    replies = engine.handle(CHANNEL, CHAT, Button("i:cat:water"), NOW)
    assert "东区" in said(replies)


def test_an_unknown_saved_locale_falls_back_to_the_configured_one(
    engine: Engine, store: Store
) -> None:
    store.save_chat(ChatRecord(CHANNEL, CHAT, locale="fr"), NOW)
    assert engine.locale_of(CHANNEL, CHAT) == "zh_CN"


def test_bind_makes_the_chat_a_technician(engine: Engine, store: Store) -> None:
    number = store.create_ticket(draft(), NOW).number
    engine.handle(CHANNEL, "tech-zhang", Command("report"), NOW)  # a report begun as resident
    engine.bind(CHANNEL, "tech-zhang", "technician", "zhang", NOW)

    record = store.chat(CHANNEL, "tech-zhang")
    assert (record.role, record.person) == ("technician", "zhang")
    assert dialogue(store, "tech-zhang") == IDLE  # the resident's report means nothing now
    replies = engine.handle(CHANNEL, "tech-zhang", Command("jobs"), NOW)
    assert number in said(replies)
    engine.handle(CHANNEL, "tech-zhang", Button(f"t:claim:{number}"), NOW)
    assert store.get(number).holder == "zhang"


def test_bind_refuses_a_person_not_configured(engine: Engine, store: Store) -> None:
    for role, person in (("technician", "nobody"), ("dispatcher", "zhang"), ("admin", "wang")):
        with pytest.raises(InvalidInput) as refused:
            engine.bind(CHANNEL, "x", role, person, NOW)
        assert refused.value.key == "errors.unknown_person"
    assert store.chat(CHANNEL, "x").role == "reporter"


def test_bind_a_dispatcher(engine: Engine, store: Store) -> None:
    engine.bind(CHANNEL, "disp-wang", "dispatcher", "wang", NOW)
    replies = engine.handle(CHANNEL, "disp-wang", Command("start"), NOW)
    assert translate("zh_CN", "common.welcome_dispatcher") in said(replies)


def test_a_verified_contact_binds_the_chat(engine: Engine, store: Store) -> None:
    replies = engine.handle(
        CHANNEL, "phone-1", Contact("+8613800000001", own=True), NOW, can_share_contact=True
    )
    assert said(replies) == translate("zh_CN", "common.bound_technician", name="张师傅")
    record = store.chat(CHANNEL, "phone-1")
    assert (record.role, record.person) == ("technician", "zhang")


def test_someone_removed_from_the_configuration_is_a_reporter_again(
    engine: Engine, store: Store, config: Config
) -> None:
    number = store.create_ticket(draft(), NOW).number
    engine.bind(CHANNEL, "tech-zhang", "technician", "zhang", NOW)
    without = replace(config, technicians=tuple(t for t in config.technicians if t.id != "zhang"))
    later = Engine(store, without)

    later.handle(CHANNEL, "tech-zhang", Button(f"t:claim:{number}"), NOW + timedelta(days=1))

    assert store.get(number).holder is None
    assert store.timeline(number)[-1].action is Action.ACCEPT


def test_a_corrupt_saved_dialogue_starts_afresh(engine: Engine, store: Store) -> None:
    store.save_chat(ChatRecord(CHANNEL, CHAT, dialogue="{not json"), NOW)
    replies = engine.handle(CHANNEL, CHAT, Command("report"), NOW)
    assert dialogue(store).flow == "intake"
    assert any(isinstance(r, Ask) for r in replies)


def test_opening_shows_the_menu_only_when_no_dialogue_is_going_on(engine: Engine) -> None:
    [menu] = engine.opening("terminal", "carol", NOW)
    assert isinstance(menu, Ask)
    assert [c.data for c in menu.choices] == ["c:report", "c:my", "c:help"]
    engine.handle("terminal", "carol", Button("c:report"), NOW)
    assert engine.opening("terminal", "carol", NOW) == []  # resumes with her next message
