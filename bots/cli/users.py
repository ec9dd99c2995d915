"""``baoxiu user add|passwd|disable|list``: the console's staff accounts.

A configured dispatcher without an account gets one (role dispatcher, acting as that
dispatcher) the first time ``user passwd ID`` gives them a password. Passwords are read
from a hidden prompt (twice), never from the command line's arguments. Texts come from
the ``cli`` catalog; rules from ``tickets.staff``, storage from ``tickets.staff_store``.
"""

from __future__ import annotations

from datetime import UTC, datetime

import click

from bots.cli.base import Session, pass_session, say, store_of, table
from conversation.i18n import translate
from tickets import staff_store
from tickets.errors import BaoxiuError
from tickets.staff import ORDER, StaffRole, role_of

ROLES = [r.value for r in ORDER]


def _password_option(func: click.decorators.FC) -> click.decorators.FC:
    return click.option(
        "--password",
        prompt=True,
        hide_input=True,
        confirmation_prompt=True,
        help="Asked for on the terminal (hidden, twice).",
    )(func)


def _refuse(session: Session, error: BaoxiuError) -> None:
    message = translate(session.locale, error.key, **error.params)
    click.echo(say(session.locale, "refused", message=message), err=True)
    raise SystemExit(1)


@click.group("user")
def user_group() -> None:
    """Console staff accounts: add, passwd, disable, list."""


@user_group.command("add")
@click.argument("login")
@click.option("--role", type=click.Choice(ROLES), required=True)
@click.option("--name", default="", help="Shown in the console and the event log.")
@_password_option
@pass_session
def user_add(session: Session, login: str, role: str, name: str, password: str) -> None:
    """Add a staff account (agent, dispatcher, lead or admin)."""
    config = session.config
    store = store_of(config, create=True)  # a desk is often set up before it first runs
    try:
        found = config.dispatcher(login.strip().lower())
        member = staff_store.add(
            store,
            login,
            name or (found.name if found else ""),
            role_of(role),
            password,
            datetime.now(UTC),
            dispatcher=found.id if found else None,
        )
    except BaoxiuError as error:
        _refuse(session, error)
    finally:
        store.close()
    click.echo(say(config.locale, "user_added", login=member.login, role=member.role.value))


@user_group.command("passwd")
@click.argument("login")
@_password_option
@pass_session
def user_passwd(session: Session, login: str, password: str) -> None:
    """Set a new password (and enable the account); a configured dispatcher's id
    without an account gets one."""
    config = session.config
    store = store_of(config, create=True)
    now = datetime.now(UTC)
    try:
        wanted = login.strip().lower()
        dispatcher = config.dispatcher(wanted)
        if staff_store.member(store, wanted) is None and dispatcher is not None:
            staff_store.add(
                store,
                wanted,
                dispatcher.name,
                StaffRole.DISPATCHER,
                password,
                now,
                dispatcher=dispatcher.id,
            )
        else:
            staff_store.set_password(store, wanted, password, now)
    except BaoxiuError as error:
        _refuse(session, error)
    finally:
        store.close()
    click.echo(say(config.locale, "user_password_set", login=wanted))


@user_group.command("disable")
@click.argument("login")
@pass_session
def user_disable(session: Session, login: str) -> None:
    """Disable an account: it can no longer log in (its history stays)."""
    config = session.config
    store = store_of(config)
    try:
        staff_store.disable(store, login, datetime.now(UTC))
    except BaoxiuError as error:
        _refuse(session, error)
    finally:
        store.close()
    click.echo(say(config.locale, "user_disabled", login=login.strip().lower()))


@user_group.command("list")
@pass_session
def user_list(session: Session) -> None:
    """The accounts, their roles and whether they are active."""
    config = session.config
    store = store_of(config)
    try:
        rows = [
            [
                m.login,
                m.name,
                m.role.value,
                say(config.locale, "user_active" if m.active else "user_inactive"),
            ]
            for m in staff_store.members(store)
        ]
    finally:
        store.close()
    for line in table(rows):
        click.echo(line)
