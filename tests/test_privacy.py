"""Reporters' personal data (issue 10, operations, PIPL): phone numbers masked in logs,
the daily sweep of tickets closed more than ``[privacy] keep_days`` ago, and a person's
export and erase requests through ``baoxiu privacy``."""

from __future__ import annotations

import json
import logging
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import NOW, draft

from bots.cli import main
from bots.engine import open_store
from bots.upkeep import Upkeep
from config.loader import load
from config.model import Config
from conversation.i18n import translate
from tickets import privacy
from tickets.model import Action, Actor, Role, State
from tickets.store import Store

ZHANG = Actor(Role.TECHNICIAN, "zhang", "张师傅", frozenset({"maint"}))
ALICE = Actor.reporter("web", "alice")
PHONE = "+8613812345678"


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("SMS to +8613812345678 sent", "SMS to 861******78 sent"),
        ("phone 13812345678.", "phone 138******78."),
        ("call 138-1234-5678 now", "call 138******78 now"),
        ("+86 138 1234 5678", "861******78"),
        ("to +14155550100", "to 141******00"),
        # Ticket numbers, times and ids stay readable.
        ("BX20261123-0007 at 2026-11-23 08:00:00", "BX20261123-0007 at 2026-11-23 08:00:00"),
        ("outbox 12345678901234567890", "outbox 12345678901234567890"),
    ],
)
def test_mask(text: str, shown: str) -> None:
    assert privacy.mask(text) == shown


def test_log_records_are_masked_whatever_handler_prints_them(
    caplog: pytest.LogCaptureFixture,
) -> None:
    privacy.install_log_mask()
    privacy.install_log_mask()  # twice is harmless
    with caplog.at_level(logging.INFO, logger="baoxiu.test"):
        logging.getLogger("baoxiu.test").info("reporter %s of %s", PHONE, "BX20261123-0007")
    assert PHONE not in caplog.text and "13812345678" not in caplog.text
    assert "861******78" in caplog.text and "BX20261123-0007" in caplog.text


def closed(store: Store, config: Config, when: datetime, chat: str = "alice") -> str:
    """A ticket with a location and photos, resolved, rated and closed at ``when``."""
    refs = (f"{chat}/1.jpg", f"{chat}/2.jpg")
    for ref in refs:
        (config.media_dir / ref).parent.mkdir(parents=True, exist_ok=True)
        (config.media_dir / ref).write_bytes(b"jpeg")
    t = store.create_ticket(
        draft(chat=chat, photos=refs, latitude=31.2, longitude=121.5),
        when,
    )
    store.apply(t.number, Action.CLAIM, ZHANG, when)
    store.apply(t.number, Action.SIGN_IN, ZHANG, when)
    store.apply(t.number, Action.RESOLVE, ZHANG, when, note="换了")
    reporter = Actor.reporter("web", chat)
    store.apply(t.number, Action.RATE, reporter, when, data={"rating": 5})
    return t.number


def test_the_daily_sweep_erases_old_closed_tickets_and_keeps_their_figures(
    config: Config,
) -> None:
    config = replace(config, ops=replace(config.ops, keep_days=30))
    with open_store(config) as store:
        old = closed(store, config, NOW - timedelta(days=40), chat="alice")
        recent = closed(store, config, NOW - timedelta(days=5), chat="bob")
        still_open = store.create_ticket(draft(chat="carol"), NOW - timedelta(days=90)).number
        clock = [NOW]
        upkeep = Upkeep(store, config, clock=lambda: clock[0])
        upkeep.run_once()

        gone = store.get(old)
        assert gone.phone == "" and gone.latitude is None and gone.photos == ()
        assert gone.state == State.CLOSED and gone.rating == 5 and gone.category == "water.leak"
        assert gone.area == "east" and gone.building == "b1" and gone.spot == ""
        last = store.timeline(old)[-1]
        assert last.action == Action.ERASE and last.actor_role == Role.SYSTEM
        assert last.data == {"reason": "keep_days", "photos": 2}
        assert not (config.media_dir / "alice/1.jpg").exists()
        assert store.chat("web", "alice").last_phone is None

        for kept in (recent, still_open):
            assert store.get(kept).phone == PHONE
        assert (config.media_dir / "bob/1.jpg").exists()

        clock[0] = NOW + timedelta(hours=1)
        upkeep.run_once()  # once a day: no second erase event
        assert [e.action for e in store.timeline(old)].count(Action.ERASE) == 1


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Config:
    monkeypatch.setenv("BAOXIU_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("LANG", "")
    monkeypatch.setenv("LC_ALL", "")
    monkeypatch.delenv("BAOXIU_CONFIG", raising=False)
    return load(None)


def test_privacy_export_gives_that_persons_tickets_as_json(env: Config) -> None:
    with open_store(env) as store:
        mine = closed(store, env, NOW, chat="alice")
        store.create_ticket(draft(chat="bob", phone="+8613900000001"), NOW)
    result = CliRunner().invoke(main, ["privacy", "export", "138 1234 5678"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["phone"] == PHONE
    assert [t["number"] for t in data["tickets"]] == [mine]
    assert [e["action"] for e in data["tickets"][0]["timeline"]][:2] == ["accept", "claim"]


def test_privacy_erase_wants_yes_then_erases(env: Config) -> None:
    with open_store(env) as store:
        mine = closed(store, env, NOW, chat="alice")
    loc = env.locale
    result = CliRunner().invoke(main, ["privacy", "erase", PHONE])
    assert result.exit_code == 1
    assert translate(loc, "cli.privacy_needs_yes", count=1) in result.stderr
    result = CliRunner().invoke(main, ["privacy", "erase", PHONE, "--yes"])
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == translate(loc, "cli.privacy_erased", count=1, photos=2)
    with Store(env.database, env) as store:
        assert store.get(mine).phone == ""
        assert store.timeline(mine)[-1].data["reason"] == "request"
    result = CliRunner().invoke(main, ["privacy", "erase", PHONE, "--yes"])
    assert result.exit_code == 1
    assert translate(loc, "cli.privacy_none") in result.stderr


def test_privacy_commands_refuse_a_bad_phone_and_a_missing_database(env: Config) -> None:
    result = CliRunner().invoke(main, ["privacy", "export", "12ab"])
    assert result.exit_code == 1
    assert translate(env.locale, "cli.privacy_bad_phone", given="12ab") in result.stderr
    result = CliRunner().invoke(main, ["privacy", "export", PHONE])
    assert result.exit_code == 2 and not env.database.exists()
