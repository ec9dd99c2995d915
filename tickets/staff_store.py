"""Staff accounts in the store's file: add, set a password, disable, check a login, and
the failed-login record that throttles guessing (per account and per address).

Passwords are hashed with argon2id (argon2-cffi); nothing here keeps or logs a password.
Time comes in as an argument; this module does no network and decides no ticket rule.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from tickets.errors import InvalidInput
from tickets.rows import iso
from tickets.staff import StaffMember, StaffRole, check_login, check_password

if TYPE_CHECKING:
    from tickets.store import Store

FAILURES_ALLOWED = 5
"""Wrong passwords per account (or per address) in ``WINDOW`` before logins are refused."""
WINDOW = timedelta(minutes=15)
_hasher = PasswordHasher()
# A hash to verify against when the login is unknown, so that the answer takes as long
# as for a known one and does not tell which logins exist.
_DUMMY = _hasher.hash("baoxiu-no-such-account")


def _member(row: dict[str, object]) -> StaffMember:
    return StaffMember(
        login=str(row["login"]),
        name=str(row["name"]),
        role=StaffRole(str(row["role"])),
        active=bool(row["active"]),
        dispatcher=str(row["dispatcher"]) if row["dispatcher"] else None,
    )


def member(store: Store, login: str) -> StaffMember | None:
    rows = store.query("SELECT * FROM staff WHERE login = ?", [login.strip().lower()])
    return _member(rows[0]) if rows else None


def members(store: Store) -> list[StaffMember]:
    return [_member(r) for r in store.query("SELECT * FROM staff ORDER BY login LIMIT 1000")]


def add(
    store: Store,
    login: str,
    name: str,
    role: StaffRole,
    password: str,
    now: datetime,
    *,
    dispatcher: str | None = None,
) -> StaffMember:
    login = check_login(login)
    digest = _hasher.hash(check_password(password))
    with store.transaction():
        if member(store, login) is not None:
            raise InvalidInput("console.login_taken", login=login)
        store.db.execute(
            "INSERT INTO staff (login, name, role, password_hash, active, dispatcher,"
            " created_at, updated_at) VALUES (?, ?, ?, ?, 1, ?, ?, ?)",
            [login, name.strip() or login, role.value, digest, dispatcher, iso(now), iso(now)],
        )
    found = member(store, login)
    assert found is not None
    return found


def set_password(store: Store, login: str, password: str, now: datetime) -> None:
    digest = _hasher.hash(check_password(password))
    with store.transaction():
        cursor = store.db.execute(
            "UPDATE staff SET password_hash = ?, active = 1, updated_at = ? WHERE login = ?",
            [digest, iso(now), login.strip().lower()],
        )
        if cursor.rowcount != 1:
            raise InvalidInput("console.no_account", login=login)


def disable(store: Store, login: str, now: datetime) -> None:
    with store.transaction():
        cursor = store.db.execute(
            "UPDATE staff SET active = 0, updated_at = ? WHERE login = ?",
            [iso(now), login.strip().lower()],
        )
        if cursor.rowcount != 1:
            raise InvalidInput("console.no_account", login=login)


def throttled(store: Store, login: str, address: str, now: datetime) -> bool:
    """Too many recent failures for this account or from this address."""
    since = iso(now - WINDOW)
    for key in (f"login:{login.strip().lower()}", f"addr:{address}"):
        rows = store.query(
            "SELECT count(*) AS n FROM staff_failures WHERE key = ? AND at > ?", [key, since]
        )
        if int(rows[0]["n"]) >= FAILURES_ALLOWED:
            return True
    return False


def check(
    store: Store, login: str, password: str, address: str, now: datetime
) -> StaffMember | None:
    """The account if ``password`` is right and the account active; else None, and the
    failure is recorded against both the account and the address."""
    rows = store.query("SELECT * FROM staff WHERE login = ?", [login.strip().lower()])
    digest = str(rows[0]["password_hash"]) if rows else _DUMMY
    try:
        good = _hasher.verify(digest, password) and bool(rows) and bool(rows[0]["active"])
    except (VerificationError, InvalidHashError):
        good = False
    with store.transaction():
        if good:
            store.db.execute(
                "DELETE FROM staff_failures WHERE key = ?", [f"login:{login.strip().lower()}"]
            )
        else:
            for key in (f"login:{login.strip().lower()}", f"addr:{address}"):
                store.db.execute(
                    "INSERT INTO staff_failures (key, at) VALUES (?, ?)", [key, iso(now)]
                )
            store.db.execute("DELETE FROM staff_failures WHERE at < ?", [iso(now - WINDOW * 4)])
    return _member(rows[0]) if good else None
