"""The dispatcher's commands on the command line: ``baoxiu assign``, ``transfer``,
``merge``, ``priority``, ``incident open|close|list``, ``outage add|list|cancel`` and
``followup list|done`` (回访).

Each does what the same command does in a dispatcher's chat: the ticket actions go
through ``Store.apply`` (the workflow's checks), incidents and outages through
``Store.perform_rule``, and what is printed is the chat flow's own reply
(``conversation.dispatcher.outcome``), in the configuration's language. A refusal is
printed on stderr with exit status 1.

Attached to ``bots.cli.main`` by ``register``; like ``bots.cli.telegram`` it takes the
CLI's session from click's context rather than importing ``bots.cli``.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, NoReturn

import click

from bots.cli.base import DeskGroup
from config.model import Config
from conversation import dispatch_followup, dispatch_rules, dispatcher
from conversation.actions import Act, Rule
from conversation.common import describe_error
from conversation.context import Ctx
from conversation.dispatch_rules import find_area, find_category
from conversation.i18n import local_time, translate
from conversation.known_faults import area_name, category_name
from conversation.replies import Reply, Say, text_of
from tickets import followups
from tickets.errors import BaoxiuError
from tickets.incidents import IncidentState
from tickets.model import Action, Priority, Role
from tickets.outages import parse_when, window_end
from tickets.store import Store

LEVELS = [p.value for p in Priority]


def now() -> datetime:
    """The clock of these commands (a test replaces it)."""
    return datetime.now(UTC)


def register(group: click.Group) -> None:
    for command in (
        assign,
        transfer,
        merge,
        priority,
        incident_group,
        outage_group,
        followup_group,
    ):
        group.add_command(command)


def _as_option(func: Any) -> Any:
    return click.option(
        "--as",
        "as_",
        metavar="DISPATCHER",
        help="The configured dispatcher doing it (default: the first one).",
    )(func)


def _fail(message: str, code: int = 1) -> NoReturn:
    click.echo(message, err=True)
    sys.exit(code)


@contextmanager
def _desk(session: Any, as_: str | None) -> Iterator[tuple[Store, Ctx]]:
    """The store and a dispatcher's context, as the chat flow would have them."""
    from bots.cli.base import store_of

    config: Config = session.config
    who = as_ or (config.dispatchers[0].id if config.dispatchers else "operator")
    if as_ is not None and config.dispatcher(as_) is None:
        _fail(_t(config, "dispatch.cli_no_dispatcher", who=as_))
    store = store_of(config)
    try:
        ctx = Ctx(
            config=config,
            now=now(),
            channel="cli",
            chat=who,
            locale=config.locale,
            lookup=store,
            role=Role.DISPATCHER,
            person=who,
        )
        yield store, ctx
    finally:
        store.close()


def _t(config: Config, key: str, **params: Any) -> str:
    return translate(config.locale, key, **params)


def _echo(replies: tuple[Reply, ...]) -> None:
    for reply in replies:
        click.echo(text_of(reply))


def _run(session: Any, as_: str | None, action: Act | Rule) -> None:
    with _desk(session, as_) as (store, ctx):
        actor = ctx.actor
        try:
            with store.transaction():
                if isinstance(action, Rule):
                    ticket = store.perform_rule(action.kind, action.params, actor, ctx.now)
                elif action.action is Action.PRIORITY:
                    # The store's own way: the time limits are counted again.
                    level = str(action.data["priority"])
                    ticket = store.set_priority(action.number, level, actor, ctx.now)
                else:
                    ticket = store.apply(
                        action.number,
                        action.action,
                        actor,
                        ctx.now,
                        note=action.note,
                        data=action.data,
                        target=action.target,
                    )
                said = dispatcher.outcome(action, ticket, ctx)
        except BaoxiuError as error:
            _fail(describe_error(error, ctx))
        _echo(said or (Say(_t(ctx.config, "dispatch.cli_done")),))


def _technician(session: Any, who: str) -> str:
    config: Config = session.config
    for tech in config.technicians:
        if who in (tech.id, tech.name):
            return tech.id
    _fail(_t(config, "errors.unknown_technician", name=who))


# -- ticket actions ---------------------------------------------------------------------


@click.command()
@click.argument("number")
@click.argument("technician")
@_as_option
@click.pass_obj
def assign(session: Any, number: str, technician: str, as_: str | None) -> None:
    """Assign a new ticket to a technician (id or name)."""
    act = Act(number.strip().upper(), Action.ASSIGN, target=_technician(session, technician))
    _run(session, as_, act)


@click.command()
@click.argument("number")
@click.argument("technician")
@_as_option
@click.pass_obj
def transfer(session: Any, number: str, technician: str, as_: str | None) -> None:
    """Move a ticket someone is working on to another technician (id or name)."""
    act = Act(number.strip().upper(), Action.TRANSFER, target=_technician(session, technician))
    _run(session, as_, act)


@click.command()
@click.argument("number")
@click.argument("master")
@_as_option
@click.pass_obj
def merge(session: Any, number: str, master: str, as_: str | None) -> None:
    """Merge ticket NUMBER into MASTER (the same fault): it keeps its number and its
    reporter gets MASTER's notices from now on."""
    act = Act(number.strip().upper(), Action.MERGE, target=master.strip().upper())
    _run(session, as_, act)


@click.command()
@click.argument("number")
@click.argument("level", type=click.Choice(LEVELS))
@_as_option
@click.pass_obj
def priority(session: Any, number: str, level: str, as_: str | None) -> None:
    """Change a ticket's priority (its time limits are counted again)."""
    act = Act(number.strip().upper(), Action.PRIORITY, data={"priority": level})
    _run(session, as_, act)


# -- incidents ---------------------------------------------------------------------------


def _place(session: Any, area: str, category: str) -> dict[str, str]:
    """Area and category codes from codes or names, as in the chat commands."""
    config: Config = session.config
    found_area, found_category = find_area(area, config), find_category(category, config)
    if found_area is None:
        _fail(_t(session.config, "dispatch.unknown_area", area=area))
    if found_category is None:
        _fail(_t(session.config, "dispatch.unknown_category", category=category))
    return {"area": found_area, "category": found_category}


def _moment(session: Any, text: str | None, *, today: bool = False) -> datetime | None:
    if text is None:
        return None
    config: Config = session.config
    moment = parse_when(text, now(), config.timezone, today=today)
    if moment is None:
        _fail(_t(config, "outages.bad_window"))
    return moment


def _window(session: Any, start: str, end: str) -> dict[str, str]:
    """An outage window: a bare time means today (--start 09:00 typed at 10:00 began this
    morning), and a bare end before the start is the next day's."""
    began, ended = _moment(session, start, today=True), _moment(session, end, today=True)
    assert began is not None and ended is not None
    return {"start": began.isoformat(), "end": window_end(began, ended, end).isoformat()}


@click.group("incident", cls=DeskGroup)
def incident_group() -> None:
    """Large-area incidents (大面积故障): open, close, list."""


@incident_group.command("open")
@click.argument("number", required=False)
@click.option("--area", help="Area code or name (instead of NUMBER).")
@click.option("--category", help="Category or group code or name (instead of NUMBER).")
@click.option("--expected", metavar="TIME", help="Expected fixed by: 18:30, 11-24T09:00, +2h.")
@click.option("--note", default="", help="Told to the residents.")
@_as_option
@click.pass_obj
def incident_open(
    session: Any,
    number: str | None,
    area: str | None,
    category: str | None,
    expected: str | None,
    note: str,
    as_: str | None,
) -> None:
    """Open an incident around ticket NUMBER, or for --area and --category, or open a
    proposed one (--area/--category of the proposal, or `incident open` from chat)."""
    params: dict[str, Any] = {"note": note}
    if number:
        params["number"] = number.strip().upper()
    elif area and category:
        params.update(_place(session, area, category))
    else:
        _fail(_t(session.config, "incidents.usage"), code=2)
    if (when := _moment(session, expected)) is not None:
        params["expected"] = when.isoformat()
    _run(session, as_, Rule("incident.open", params))


@incident_group.command("close")
@click.argument("incident_id", metavar="ID", type=click.IntRange(min=1))
@click.option("--note", default="", help="Told to every linked resident.")
@_as_option
@click.pass_obj
def incident_close(session: Any, incident_id: int, note: str, as_: str | None) -> None:
    """Close an incident: its open linked tickets are resolved, and every linked resident
    is told once that it is fixed."""
    _run(session, as_, Rule("incident.close", {"id": incident_id, "note": note}))


@incident_group.command("list")
@click.option("--all", "everything", is_flag=True, help="Closed ones too.")
@click.pass_obj
def incident_list(session: Any, everything: bool) -> None:
    """List proposed and open incidents (with --all, closed ones too)."""
    with _desk(session, None) as (store, ctx):
        if not everything:
            _echo(dispatch_rules.incident_list(ctx))
            return
        found = store.incidents(*IncidentState)
        if not found:
            click.echo(ctx.t("incidents.none"))
        for item in found:
            linked = len(store.linked(item.id))
            state = ctx.t(f"incidents.state_{item.state.value}")
            line = ctx.t(
                "incidents.line",
                code=item.code,
                state=state,
                category=category_name(item.category, ctx),
                area=area_name(item.area, ctx),
                count=linked,
                eta="",
            )
            click.echo(line)


# -- outages ----------------------------------------------------------------------------------


@click.group("outage", cls=DeskGroup)
def outage_group() -> None:
    """Planned outages (停电信息): add, list, cancel."""


@outage_group.command("add")
@click.option("--area", required=True, help="Area code or name.")
@click.option("--category", required=True, help="Category or group code, e.g. power.")
@click.option("--start", required=True, metavar="TIME", help="18:30 (today), 11-24T09:00, +2h.")
@click.option(
    "--end",
    required=True,
    metavar="TIME",
    help="18:30 (today; before the start: the next day), 11-24T09:00, +2h.",
)
@click.option("--reason", default="", help="Why, as residents are told.")
@_as_option
@click.pass_obj
def outage_add(
    session: Any, area: str, category: str, start: str, end: str, reason: str, as_: str | None
) -> None:
    """Publish a planned outage: residents reporting that category there meanwhile are
    told first, and those with an open report are told now."""
    params = {
        **_place(session, area, category),
        **_window(session, start, end),
        "reason": reason,
    }
    _run(session, as_, Rule("outage.add", params))


@outage_group.command("list")
@click.option("--all", "everything", is_flag=True, help="Past and cancelled ones too.")
@click.pass_obj
def outage_list(session: Any, everything: bool) -> None:
    """List planned outages not over yet (with --all, every one)."""
    with _desk(session, None) as (store, ctx):
        if not everything:
            _echo(dispatch_rules.outage_list(ctx))
            return
        for item in store.outages():
            tz = ctx.config.timezone
            when = f"{local_time(item.starts_at, tz)} – {local_time(item.ends_at, tz)}"
            where = f"{area_name(item.area, ctx)} {category_name(item.category, ctx)}"
            click.echo(f"{item.code} {item.state.value} {where} {when} {item.reason}")


@outage_group.command("cancel")
@click.argument("outage_id", metavar="ID", type=click.IntRange(min=1))
@_as_option
@click.pass_obj
def outage_cancel(session: Any, outage_id: int, as_: str | None) -> None:
    """Cancel a published outage."""
    _run(session, as_, Rule("outage.cancel", {"id": outage_id}))


# -- follow-ups ---------------------------------------------------------------------------------


@click.group("followup", cls=DeskGroup)
def followup_group() -> None:
    """Follow-up calls (回访) after a low rating or "not fixed": list, done."""


@followup_group.command("list")
@click.pass_obj
def followup_list(session: Any) -> None:
    """List the open follow-up tasks, oldest first."""
    with _desk(session, None) as (_, ctx):
        _echo(dispatch_followup.task_list(ctx))


@followup_group.command("done")
@click.argument("number")
@click.argument("note", nargs=-1, required=True)
@click.option("--outcome", type=click.Choice(followups.OUTCOMES), default=None)
@_as_option
@click.pass_obj
def followup_done(
    session: Any, number: str, note: tuple[str, ...], outcome: str | None, as_: str | None
) -> None:
    """Record the outcome NOTE of the follow-up call on ticket NUMBER (--outcome
    not_reached keeps the task open, to call again)."""
    data = {"outcome": outcome} if outcome else {}
    act = Act(number.strip().upper(), Action.FOLLOW_UP, note=" ".join(note).strip(), data=data)
    _run(session, as_, act)
