"""Staff accounts: the roles' rights (pure), the store's accounts and throttle, and
``baoxiu user add|passwd|disable|list`` on a real database file."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import NOW

from bots.cli import main
from config.loader import load
from config.model import Config
from tickets import staff_store
from tickets.errors import InvalidInput
from tickets.staff import Can, StaffRole, check_login, may
from tickets.store import Store

PASSWORD = "correct horse battery"


@pytest.mark.parametrize(
    ("role", "allowed"),
    [
        (StaffRole.AGENT, {Can.VIEW, Can.INTAKE, Can.NOTE, Can.CALL}),
        (StaffRole.DISPATCHER, {Can.VIEW, Can.INTAKE, Can.NOTE, Can.CALL, Can.ACT, Can.INCIDENTS}),
        (StaffRole.LEAD, set(Can) - {Can.ACCOUNTS}),
        (StaffRole.ADMIN, set(Can)),
    ],
)
def test_each_role_may_what_the_ones_before_it_may_and_more(
    role: StaffRole, allowed: set[Can]
) -> None:
    assert {c for c in Can if may(role, c)} == allowed


@pytest.mark.parametrize("bad", ["", "a", "Has Space", "x" * 40, "中文"])
def test_bad_login_names_are_refused(bad: str) -> None:
    with pytest.raises(InvalidInput):
        check_login(bad)


def test_a_password_is_stored_hashed_and_checked(store: Store) -> None:
    staff_store.add(store, "amy", "Amy", StaffRole.AGENT, PASSWORD, NOW)
    stored = store.query("SELECT password_hash FROM staff")[0]["password_hash"]
    assert stored.startswith("$argon2id$") and PASSWORD not in stored
    assert staff_store.check(store, "amy", PASSWORD, "1.2.3.4", NOW) is not None
    assert staff_store.check(store, "amy", "wrong password", "1.2.3.4", NOW) is None
    with pytest.raises(InvalidInput):
        staff_store.add(store, "amy", "Amy", StaffRole.AGENT, "short", NOW)


def test_five_failures_throttle_the_account_and_the_address_for_a_while(store: Store) -> None:
    staff_store.add(store, "amy", "Amy", StaffRole.AGENT, PASSWORD, NOW)
    for _ in range(5):
        staff_store.check(store, "amy", "guess guess", "1.2.3.4", NOW)
    assert staff_store.throttled(store, "amy", "5.6.7.8", NOW)  # the account
    assert staff_store.throttled(store, "bob", "1.2.3.4", NOW)  # the address
    assert not staff_store.throttled(store, "bob", "5.6.7.8", NOW)
    later = NOW + staff_store.WINDOW + timedelta(seconds=1)
    assert not staff_store.throttled(store, "amy", "1.2.3.4", later)


@pytest.fixture
def default(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Config]:
    monkeypatch.setenv("BAOXIU_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("LANG", "")
    monkeypatch.setenv("LC_ALL", "")
    monkeypatch.delenv("BAOXIU_CONFIG", raising=False)
    config = load(None)
    config.database.parent.mkdir(parents=True)
    Store(config.database, config).close()
    yield config


def invoke(*args: str, input: str = "") -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args), input=input)
    return result.exit_code, result.output


def test_user_commands(default: Config) -> None:
    twice = f"{PASSWORD}\n{PASSWORD}\n"
    code, out = invoke("user", "add", "amy", "--role", "agent", "--name", "Amy", input=twice)
    assert code == 0 and "amy" in out
    code, out = invoke("user", "add", "amy", "--role", "agent", input=twice)
    assert code == 1 and "amy" in out
    dispatcher = default.dispatchers[0].id
    code, _ = invoke("user", "passwd", dispatcher, input=twice)  # a configured dispatcher
    assert code == 0
    assert invoke("user", "disable", "amy")[0] == 0
    assert invoke("user", "disable", "nobody")[0] == 1
    with Store(default.database, default) as store:
        assert not staff_store.member(store, "amy").active  # type: ignore[union-attr]
        made = staff_store.member(store, dispatcher)
        assert made is not None and made.role is StaffRole.DISPATCHER
        assert made.actor_id == dispatcher
        assert staff_store.check(store, dispatcher, PASSWORD, "-", NOW) is not None
    code, out = invoke("user", "list")
    assert code == 0 and dispatcher in out
