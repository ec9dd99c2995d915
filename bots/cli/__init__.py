"""The ``baoxiu`` command: run the service, chat from a terminal, and the operator's
tasks (start a configuration, check it, look at and export tickets).

What an operator reads comes from the ``cli`` catalog in the configuration's language
(before a configuration is loaded: the shell's, from ``LC_ALL``/``LANG``). A bad
configuration ends every command with its message and exit status 2. This module only
wires commands to the pieces that do the work; it holds no rules of its own.
"""

from __future__ import annotations

import asyncio
import csv
import io
import os
import sys
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields, replace
from datetime import datetime
from pathlib import Path
from typing import Any, NoReturn

import click

from bots.cli.dispatch import register as register_dispatch
from bots.cli.outbox import delivery_lines, outbox_group
from bots.cli.telegram import telegram_group
from bots.engine import open_store
from config.loader import check as check_config
from config.loader import load, starter_text
from config.model import Config
from conversation.i18n import DEFAULT_LOCALE, local_time, normalize, translate
from tickets.errors import BaoxiuError, ConfigError
from tickets.model import Event, State, Ticket

CONFIG_ENV = "BAOXIU_CONFIG"
DEFAULT_INIT_PATH = "baoxiu.toml"
CONFIG_ERROR_EXIT = 2
CSV_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
"""A cell starting with one of these is a formula to Excel: a reporter's text must not be."""


@dataclass
class Session:
    """What the group's options leave for the subcommands; the configuration loads once."""

    config_path: Path | None = None
    _config: Config | None = None

    @property
    def config(self) -> Config:
        if self._config is None:
            try:
                self._config = load(self.config_path)
            except ConfigError as error:
                fail(self.locale, "config_invalid", message=error.message)
        return self._config

    @property
    def locale(self) -> str:
        if self._config is not None:
            return self._config.locale
        shell = os.environ.get("LC_ALL") or os.environ.get("LANG") or ""
        return normalize(shell) if shell.lower().startswith("en") else DEFAULT_LOCALE


def say(locale: str, key: str, /, **params: Any) -> str:
    return translate(locale, f"cli.{key}", **params)


def fail(locale: str, key: str, /, *, code: int = CONFIG_ERROR_EXIT, **params: Any) -> NoReturn:
    click.echo(say(locale, key, **params), err=True)
    sys.exit(code)


def _use_config(ctx: click.Context, _param: click.Parameter, value: Path | None) -> None:
    if value is not None:
        ctx.ensure_object(Session).config_path = value


def config_option(func: Callable[..., Any]) -> Callable[..., Any]:
    """``--config PATH`` on a subcommand too (``baoxiu serve --config x.toml``)."""
    return click.option(
        "--config",
        "config_path",
        type=click.Path(dir_okay=False, path_type=Path),
        callback=_use_config,
        expose_value=False,
        is_eager=True,
        help="Configuration file (TOML); default: $BAOXIU_CONFIG, else the built-in default.",
    )(func)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False, path_type=Path),
    envvar=CONFIG_ENV,
    help="Configuration file (TOML); default: $BAOXIU_CONFIG, else the built-in default.",
)
@click.version_option(package_name="baoxiu", message="%(prog)s %(version)s")
@click.pass_context
def main(ctx: click.Context, config_path: Path | None) -> None:
    """baoxiu (报修): a chat-first repair desk."""
    ctx.obj = Session(config_path)


pass_session = click.make_pass_decorator(Session, ensure=True)


# -- running ---------------------------------------------------------------------------


@main.command()
@config_option
@click.option("--host", help="Address to listen on (overrides [channels.web] host).")
@click.option("--port", type=click.IntRange(1, 65535), help="Port (overrides [channels.web] port).")
@pass_session
def serve(session: Session, host: str | None, port: int | None) -> None:
    """Run the service: the web chat, the chat bots (Telegram) and notice delivery."""
    from bots.app import run  # the web stack is needed by this command only

    config = session.config
    web = replace(config.web, host=host or config.web.host, port=port or config.web.port)
    config.database.parent.mkdir(parents=True, exist_ok=True)  # the loader may not make it
    run(replace(config, web=web))


@main.command("chat")
@config_option
@click.option(
    "--as",
    "as_",
    metavar="ROLE:ID",
    help="Chat as a configured person: technician:ID or dispatcher:ID.",
)
@click.option("--chat", "chat_id", metavar="ID", help="Chat id (default: term-<login name>).")
@pass_session
def chat_command(session: Session, as_: str | None, chat_id: str | None) -> None:
    """Talk to the repair desk from this terminal (a resident, or --as a technician)."""
    from bots.terminal import chat

    config = session.config
    if not config.terminal_enabled:
        fail(config.locale, "terminal_disabled")
    role = person = None
    if as_ is not None:
        role, _, person = as_.partition(":")
        if role not in ("technician", "dispatcher") or not person:
            fail(config.locale, "as_invalid", given=as_)
    try:
        code = asyncio.run(chat(config, chat_id=chat_id, role=role, person=person))
    except BaoxiuError as error:
        fail(config.locale, "refused", message=translate(config.locale, error.key, **error.params))
    sys.exit(code)


# -- configuration -----------------------------------------------------------------------


@main.command()
@click.argument(
    "path", required=False, type=click.Path(dir_okay=False, path_type=Path), metavar="[PATH]"
)
@click.option("--force", is_flag=True, help="Overwrite the file if it exists.")
@pass_session
def init(session: Session, path: Path | None, force: bool) -> None:
    """Write a commented starter configuration to PATH (default: baoxiu.toml)."""
    target = path or Path(DEFAULT_INIT_PATH)
    if target.exists() and not force:
        fail(session.locale, "init_exists", code=1, path=target)
    target.write_text(starter_text(), encoding="utf-8")
    click.echo(say(session.locale, "init_written", path=target))


@main.group("config")
def config_group() -> None:
    """Check the configuration."""


@config_group.command("check")
@click.argument(
    "path", required=False, type=click.Path(dir_okay=False, path_type=Path), metavar="[PATH]"
)
@pass_session
def config_check(session: Session, path: Path | None) -> None:
    """Check a configuration file (default: --config, $BAOXIU_CONFIG, or the built-in one).

    Prints OK and a summary, or the problem and exits with status 2.
    """
    chosen = path or session.config_path
    try:
        config = check_config(chosen) if chosen is not None else load(None)
        _check_channels(config)
    except ConfigError as error:
        fail(session.locale, "config_invalid", message=error.message)
    click.echo("\n".join(summary(config)))


def _check_channels(config: Config) -> None:
    """Channel tables are validated by their adapters; refuse them here as serve would."""
    from bots.telegram.settings import TelegramSettings

    if TelegramSettings.configured(config):
        TelegramSettings.from_config(config)


def summary(config: Config) -> list[str]:
    leaves = config.all_categories()
    loc = config.locale
    return [
        say(loc, "check_ok", source=config.source),
        say(loc, "summary_service", language=config.locale, timezone=config.timezone),
        say(loc, "summary_paths", database=config.database, media=config.media_dir),
        say(loc, "summary_categories", groups=len(config.categories), leaves=len(leaves)),
        say(
            loc,
            "summary_areas",
            areas=len(config.areas),
            buildings=sum(len(a.buildings) for a in config.areas),
        ),
        say(
            loc,
            "summary_people",
            teams=len(config.teams),
            technicians=len(config.technicians),
            dispatchers=len(config.dispatchers),
        ),
        say(loc, "summary_web", host=config.web.host, port=config.web.port)
        if config.web.enabled
        else say(loc, "summary_web_off"),
    ]


# -- tickets ---------------------------------------------------------------------------------


@main.group()
def tickets() -> None:
    """Look at tickets and export them."""


@tickets.command("list")
@config_option
@click.option("--state", type=click.Choice([s.value for s in State]), help="Only this state.")
@click.option("--limit", type=click.IntRange(min=1), default=50, show_default=True)
@pass_session
def tickets_list(session: Session, state: str | None, limit: int) -> None:
    """List tickets, newest first."""
    config = session.config
    with open_store(config) as store:
        found = store.all_tickets(state=state, limit=limit)
    loc = config.locale
    if not found:
        click.echo(say(loc, "list_empty"))
        return
    columns = ("number", "state", "category", "place", "holder", "created_at")
    rows = [[say(loc, f"field.{c}") for c in columns]]
    rows += [
        [
            t.number,
            translate(loc, f"states.{t.state.value}"),
            category_name(config, t.category, loc),
            place(config, t, loc),
            holder_name(config, t.holder),
            local_time(t.created_at, config.timezone),
        ]
        for t in found
    ]
    click.echo("\n".join(table(rows)))


@tickets.command("show")
@config_option
@click.argument("number")
@pass_session
def tickets_show(session: Session, number: str) -> None:
    """Show one ticket: its fields and its timeline, in local time."""
    config = session.config
    loc = config.locale
    with open_store(config) as store:
        ticket = store.ticket(number.strip().upper())
        if ticket is None:
            fail(
                loc,
                "refused",
                code=1,
                message=translate(loc, "errors.ticket_not_found", number=number),
            )
        events = store.timeline(ticket.number)
        deliveries = delivery_lines(store, ticket.number, config)
    click.echo("\n".join(describe(config, ticket, loc)))
    click.echo("\n" + "\n".join(deliveries) + "\n")
    click.echo(say(loc, "timeline"))
    click.echo("\n".join(table([timeline_row(config, e, loc) for e in events])))


@tickets.command("export")
@config_option
@click.option("--csv", "as_csv", is_flag=True, default=True, help="CSV (the only format).")
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False, path_type=Path),
    help="File to write (default: standard output).",
)
@pass_session
def tickets_export(session: Session, as_csv: bool, output: Path | None) -> None:
    """Export every ticket, one row each, as CSV in UTF-8 with a BOM (opens in Excel)."""
    config = session.config
    with open_store(config) as store:
        found = store.all_tickets()
    data = export_csv(config, found).encode("utf-8-sig")
    if output is None:
        click.echo(data, nl=False)  # bytes go out as they are: the BOM included
        return
    output.write_bytes(data)
    click.echo(say(config.locale, "export_written", count=len(found), path=output), err=True)


# -- presentation -------------------------------------------------------------------------

FIELDS = tuple(f.name for f in fields(Ticket))


def category_name(config: Config, code: str, locale: str) -> str:
    leaf = config.category(code)
    if leaf is None:
        return code
    group = config.group(leaf.group)
    return f"{group.name(locale)}/{leaf.name(locale)}" if group else leaf.name(locale)


def place(config: Config, ticket: Ticket, locale: str) -> str:
    area = config.area(ticket.area) if ticket.area else None
    building = area.building(ticket.building) if area and ticket.building else None
    parts = [
        area.name(locale) if area else ticket.area,
        building.name(locale) if building else ticket.building,
        ticket.spot,
    ]
    return " ".join(p for p in parts if p)


def holder_name(config: Config, holder: str | None) -> str:
    if not holder:
        return ""
    tech = config.technician(holder)
    return f"{tech.name} ({holder})" if tech else holder


def value_text(config: Config, name: str, value: Any, locale: str) -> str:
    """A ticket field as an operator reads it: local times, names, no None."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return local_time(value, config.timezone, "%Y-%m-%d %H:%M:%S")
    if isinstance(value, tuple):
        return " ".join(str(v) for v in value)
    if name in ("state", "paused_from"):
        return translate(locale, f"states.{value}")
    if name == "category":
        return f"{category_name(config, value, locale)} ({value})"
    if name == "holder":
        return holder_name(config, value)
    if name in ("priority", "mode"):
        return say(locale, f"{name}.{value}")
    if name == "team" and (team := config.team(value)) is not None:
        return f"{team.name} ({value})"
    return str(value)


def describe(config: Config, ticket: Ticket, locale: str) -> list[str]:
    rows = [
        [say(locale, f"field.{name}"), value_text(config, name, getattr(ticket, name), locale)]
        for name in FIELDS
    ]
    rows.insert(
        FIELDS.index("spot") + 1, [say(locale, "field.place"), place(config, ticket, locale)]
    )
    return table([r for r in rows if r[1] not in ("", "0")])


def timeline_row(config: Config, event: Event, locale: str) -> list[str]:
    moved = translate(locale, f"states.{event.to_state.value}")
    if event.from_state is not None and event.from_state != event.to_state:
        moved = f"{translate(locale, f'states.{event.from_state.value}')} → {moved}"
    who = event.actor_id
    person = config.technician(who) or config.dispatcher(who)
    if person is not None:
        who = f"{person.name} ({who})"
    extra = " ".join(f"{k}={v}" for k, v in sorted(event.data.items()))
    return [
        local_time(event.at, config.timezone, "%Y-%m-%d %H:%M:%S"),
        translate(locale, f"actions.{event.action.value}"),
        moved,
        f"{translate(locale, f'cli.role.{event.actor_role.value}')} {who}",
        " ".join(p for p in (event.note, extra) if p),
    ]


def export_csv(config: Config, found: Sequence[Ticket]) -> str:
    loc = config.locale
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([say(loc, f"field.{name}") for name in FIELDS])
    for ticket in found:
        writer.writerow(
            [_cell(value_text(config, name, getattr(ticket, name), loc)) for name in FIELDS]
        )
    return buffer.getvalue()


def _cell(text: str) -> str:
    return f"'{text}" if text.startswith(CSV_FORMULA_START) else text


def width(text: str) -> int:
    """Columns ``text`` takes on a terminal: Chinese characters take two."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def table(rows: Sequence[Sequence[str]]) -> list[str]:
    """Rows as aligned columns; multi-line cells are flattened to one line."""
    flat = [[" ".join(cell.split("\n")) for cell in row] for row in rows]
    if not flat:
        return []
    widths = [max(width(row[i]) for row in flat) for i in range(len(flat[0]))]
    return [
        "  ".join(
            cell + " " * (w - width(cell)) for cell, w in zip(row, widths, strict=True)
        ).rstrip()
        for row in flat
    ]


if __name__ == "__main__":
    main()


main.add_command(telegram_group)
main.add_command(outbox_group)
register_dispatch(main)  # assign, transfer, merge, priority, incident, outage
