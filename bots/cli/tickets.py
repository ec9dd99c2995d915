"""``baoxiu tickets list|show|export``: looking at tickets from the shell."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import fields
from datetime import UTC, datetime
from functools import partial
from operator import is_not
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import click

from bots.cli import csv_lines
from bots.cli.base import (
    CSV_FORMULA_START,
    Session,
    config_option,
    fail,
    main,
    pass_session,
    say,
    store_of,
    table,
)
from bots.cli.outbox import delivery_lines
from config.model import Config
from conversation.i18n import local_time, translate
from tickets.errors import InvalidInput
from tickets.model import OPEN_STATES, Event, State, Ticket
from tickets.queries import MAX_LIMIT, SORTS, TicketFilter, page
from tickets.queries import batches as stored_batches
from tickets.store import Store


@main.group()
def tickets() -> None:
    """Look at tickets and export them."""


@tickets.command("list")
@config_option
@click.option(
    "--state",
    "states",
    multiple=True,
    type=click.Choice([s.value for s in State]),
    help="Only these states (repeat the option for several).",
)
@click.option("--open", "open_only", is_flag=True, help="Only open tickets (new … paused).")
@click.option("--area", help="Area code.")
@click.option("--building", help="Building code.")
@click.option("--category", help="Category or category group code.")
@click.option("--team", help="Team code.")
@click.option("--technician", help="Holder (technician id).")
@click.option("--priority", help="Priority code.")
@click.option("--channel", help="Channel the reporter came from.")
@click.option("--overdue", is_flag=True, help="Only tickets past their current time limit.")
@click.option("--from", "created_from", type=click.DateTime(), help="Created at or after (UTC).")
@click.option("--to", "created_to", type=click.DateTime(), help="Created before (UTC).")
@click.option("--number", "number_prefix", help="Ticket number prefix.")
@click.option(
    "--sort",
    type=click.Choice(SORTS),
    default="newest",
    show_default=True,
    help="newest: newest first; deadline: nearest time limit first.",
)
@click.option("--after", help="Cursor printed under the previous page.")
@click.option("--limit", type=click.IntRange(min=1, max=MAX_LIMIT), default=50, show_default=True)
@pass_session
def tickets_list(
    session: Session,
    states: tuple[str, ...],
    open_only: bool,
    sort: str,
    after: str | None,
    limit: int,
    created_from: datetime | None,
    created_to: datetime | None,
    number_prefix: str | None,
    **filters: Any,
) -> None:
    """List tickets, newest first (or by deadline), one page at a time: the line
    ``--after CURSOR`` under a full page is the option that shows the next one."""
    config = session.config
    if open_only:
        states = tuple(sorted({*states, *(s.value for s in OPEN_STATES)}))
    flt = TicketFilter(
        states=tuple(sorted(set(states))),
        created_from=created_from and created_from.replace(tzinfo=UTC),
        created_to=created_to and created_to.replace(tzinfo=UTC),
        number_prefix=number_prefix.strip().upper() if number_prefix else None,
        **filters,
    )
    with store_of(config) as store:
        try:
            got = page(store, flt, sort=sort, after=after, limit=limit, now=datetime.now(UTC))
        except InvalidInput as error:
            message = translate(config.locale, error.key, **error.params)
            fail(config.locale, "refused", message=f"{message} (--{error.params['field']})")
    found = got.tickets
    loc = config.locale
    if not found:
        click.echo(say(loc, "list_empty"))
        return
    click.echo("\n".join(ticket_table(config, found, "holder")))
    if got.next_cursor is not None:
        click.echo(f"--after {got.next_cursor}")


def ticket_table(config: Config, found: Sequence[Ticket], middle: str) -> list[str]:
    """Tickets as aligned lines under a header: number, state, category, place, then
    ``middle`` (``holder`` for lists, ``description`` for search hits), then filed at."""
    loc = config.locale
    columns = ("number", "state", "category", "place", middle, "created_at")

    def cell(ticket: Ticket) -> str:
        if middle == "holder":
            return holder_name(config, ticket.holder)
        return ticket.description[:40]

    rows = [[say(loc, f"field.{c}") for c in columns]]
    rows += [
        [
            t.number,
            translate(loc, f"states.{t.state.value}"),
            category_name(config, t.category, loc),
            place(config, t, loc),
            cell(t),
            local_time(t.created_at, config.timezone),
        ]
        for t in found
    ]
    return table(rows)


@tickets.command("show")
@config_option
@click.argument("number")
@pass_session
def tickets_show(session: Session, number: str) -> None:
    """Show one ticket: its fields and its timeline, in local time. NUMBER may be
    BX20261123-0007, 20261123-0007 (that day's), or 7 / 0007 (today's)."""
    config = session.config
    loc = config.locale
    with store_of(config) as store:
        ticket = store.ticket(full_number(number, config, now()))
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
    """Export every ticket, one row each, as CSV in UTF-8 with a BOM (opens in Excel).
    Rows are written as they are read (constant memory at a million tickets)."""
    config = session.config
    with store_of(config) as store:
        if output is None:
            write_csv(config, export_batches(store), lambda data: click.echo(data, nl=False))
            return
        with output.open("wb") as stream:
            count = write_csv(config, export_batches(store), stream.write)
    click.echo(say(config.locale, "export_written", count=count, path=output), err=True)


def export_batches(store: Store) -> Iterator[tuple[tuple[str, ...], list[tuple[Any, ...]]]]:
    """The stored rows ``tickets export`` writes, in the batches it reads them in: 250
    rows (11,000 cells) stay in the CPU's caches while they are rendered and joined, where
    the default 1,000 did not (issue 11: ~10 % of the export's time, measured at 100k)."""
    return stored_batches(store, columns=FIELDS, batch=250)


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
    extra = data_text(config, event.data, locale)
    return [
        local_time(event.at, config.timezone, "%Y-%m-%d %H:%M:%S"),
        translate(locale, f"actions.{event.action.value}"),
        moved,
        f"{translate(locale, f'cli.role.{event.actor_role.value}')} {who}",
        " ".join(p for p in (event.note, extra) if p),
    ]


def full_number(typed: str, config: Config, at: datetime) -> str:
    """The ticket number an operator means: ``7`` or ``0007`` is today's (in the service's
    time zone), ``20261123-0007`` that day's; anything else is taken as typed."""
    text = typed.strip().upper()
    if text.isdecimal() and len(text) <= 6:
        day = local_time(at, config.timezone, "%Y%m%d")
        return f"BX{day}-{int(text):04d}"
    day, dash, seq = text.partition("-")
    if dash and len(day) == 8 and day.isdecimal() and seq.isdecimal():
        return f"BX{day}-{int(seq):04d}"
    return text


def now() -> datetime:
    return datetime.now(UTC)


def data_text(config: Config, data: dict[str, Any], locale: str) -> str:
    """An event's data as an operator reads it: the routing decision in words, people
    by name, lists joined; never a raw Python dict."""
    parts: list[str] = []
    for key, value in sorted(data.items()):
        if key == "route" and isinstance(value, dict):
            parts.append(_route_text(config, value, locale))
        elif isinstance(value, dict):
            inner = ", ".join(f"{k} {_plain(v)}" for k, v in sorted(value.items()) if v)
            parts.append(f"{_data_name(key, locale)}: {inner}")
        elif value not in (None, "", [], ()):
            parts.append(f"{_data_name(key, locale)}: {_plain(value)}")
    return "; ".join(parts)


def _data_name(key: str, locale: str) -> str:
    """A data key by its field name where it has one (rating → 评价)."""
    try:
        return say(locale, f"field.{key}")
    except KeyError:
        return key


def _route_text(config: Config, route: dict[str, Any], locale: str) -> str:
    team = str(route.get("team") or "")
    found = config.team(team)
    why = str(route.get("why") or "")
    try:
        why_text = say(locale, f"route_why.{why}") if why else ""
    except KeyError:
        why_text = why
    candidates = route.get("candidates")
    names = [holder_name(config, str(c)) for c in candidates or ()]
    text = say(locale, "route", team=f"{found.name} ({team})" if found else team, why=why_text)
    if route.get("technician"):
        text += say(locale, "route_to", technician=holder_name(config, route["technician"]))
    if names:
        text += say(locale, "route_candidates", candidates=", ".join(names))
    return text


def _plain(value: Any) -> str:
    if isinstance(value, list | tuple):
        return ", ".join(str(v) for v in value)
    return str(value)


def write_csv(
    config: Config,
    batches: Iterable[tuple[Sequence[str], Sequence[Sequence[Any]]]],
    write: Callable[[bytes], object],
) -> int:
    """Write the header and one line per stored ticket row with ``write`` (UTF-8 with a
    BOM), one batch of rows (``tickets.queries.batches``) at a time; returns how many
    tickets were written. The lines are csv.writer's, byte for byte (``csv_lines``)."""
    loc = config.locale
    header = io.StringIO()
    csv.writer(header, lineterminator="\r\n").writerow([say(loc, f"field.{n}") for n in FIELDS])
    write(b"\xef\xbb\xbf" + header.getvalue().encode("utf-8"))
    count = 0
    formatters: dict[tuple[str, ...], Callable[[Sequence[Sequence[Any]]], list[Any]]] = {}
    for names, found in batches:
        if not found:
            continue
        columns = formatters.get(tuple(names))
        if columns is None:  # one formatter (and its caches) for the whole export
            columns = formatters[tuple(names)] = column_formatter(config, names, csv_cells=True)
        write(csv_lines.joined(columns(found)).encode("utf-8"))
        count += len(found)
    return count


def row_formatter(config: Config, names: Sequence[str]) -> Callable[[Sequence[Any]], list[str]]:
    """The export cells of one stored ticket row as the CSV shows them (``value_text`` of
    each field, formula-neutralised): ``batch_formatter`` on a batch of one."""
    cells = batch_formatter(config, names)

    def one(row: Sequence[Any]) -> list[str]:
        [out] = cells([row])
        return ["" if c is None else str(c) for c in out]

    return one


class _Cache(dict[Any, str]):
    """Rendered cells by stored value: each distinct value is rendered once."""

    def __init__(self, render: Callable[[Any], str]) -> None:
        super().__init__()
        self.render = render

    def __missing__(self, value: Any) -> str:
        text = self[value] = self.render(value)
        return text


class _NotWholeHour(Exception):
    """The zone is not a whole number of hours from UTC at that hour."""


def batch_formatter(
    config: Config, names: Sequence[str]
) -> Callable[[Sequence[Sequence[Any]]], Iterable[Sequence[Any]]]:
    """The export rows (cells in ``FIELDS`` order) of a batch of stored ticket rows
    (columns ``names``): ``column_formatter``'s columns, turned back into rows."""
    columns = column_formatter(config, names)

    def cells(rows: Sequence[Sequence[Any]]) -> Iterable[Sequence[Any]]:
        return zip(*columns(rows), strict=True)

    return cells


def column_formatter(
    config: Config, names: Sequence[str], *, csv_cells: bool = False
) -> Callable[[Sequence[Sequence[Any]]], list[Any]]:
    """The export columns (``FIELDS`` order) of a batch of stored ticket rows (columns
    ``names``), without a Ticket, a dict or a function call per row: the batch is turned
    into columns and each column is rendered at once. Codes (state, category,
    holder…) and photo lists are rendered once per distinct value; a text column is
    searched for a formula start as one string, and quoted cell by cell only when one is
    found; numbers and None go to csv.writer as they are (it writes them as str() does
    and None as nothing); times are shifted one UTC hour at a time. With ``csv_cells``
    every cell is the text csv.writer writes for it (``csv_lines.quote``): the quoting,
    too, is decided once per distinct code and once per column of texts.

    Letting SQLite render the cells instead (CASE on the codes, a temporary table of
    local hours joined per time column, CASE on first characters) was measured slower:
    ~18 µs a row more than the bare SELECT, against ~14 µs for this (issue 11, 100k)."""
    loc = config.locale
    csv_cell = csv_lines.quote if csv_cells else str
    zone = ZoneInfo(config.timezone)

    def hour(key: str) -> str:
        """Local "YYYY-MM-DD HH" of the UTC hour ``key`` ("YYYY-MM-DDTHH"): zones move by
        whole hours at whole UTC hours, so minutes and seconds are copied unchanged."""
        moment = datetime.fromisoformat(f"{key}:00:00+00:00").astimezone(zone)
        offset = moment.utcoffset()
        if offset is None or offset.seconds % 3600:
            raise _NotWholeHour(key)
        return moment.isoformat(" ", "seconds")[:13]

    hours: dict[str, str] = {}

    def local(text: str | None) -> str:
        if text is None:
            return ""
        return datetime.fromisoformat(text).astimezone(zone).isoformat(" ", "seconds")[:19]

    def times(column: Sequence[Any]) -> Sequence[str]:
        stored = list(filter(None, column))
        # The store's own UTC text (tickets.rows.iso: 32 characters, "+00:00" last) is
        # shifted by its hour; anything else is converted cell by cell.
        joined = "".join(stored)
        if set(map(len, stored)) - {32} or any(
            joined[i::32] != c * len(stored) for i, c in _UTC_SHAPE
        ):
            return [local(t) for t in column]  # ISO text: never quoted
        try:
            shifted = [
                (hours.get(t[:13]) or hours.setdefault(t[:13], hour(t[:13]))) + t[13:19]
                if t
                else ""
                for t in column
            ]
        except _NotWholeHour:
            return [local(t) for t in column]
        # Only the separators were checked: a comma in place of a digit is copied.
        if csv_cells and csv_lines.needs_quotes(joined):
            return list(map(csv_cell, shifted))
        return shifted

    def coded(name: str) -> _Cache:
        def render(value: Any) -> str:
            typed = State(value) if value and name in ("state", "paused_from") else value
            return csv_cell(_cell(value_text(config, name, typed, loc)))

        return _Cache(render)

    def listed(text: str | None) -> str:
        if text is None or text == "[]":
            return ""
        return csv_cell(_cell(" ".join(str(v) for v in json.loads(text))))

    lists = _Cache(listed)

    def plain(column: Sequence[Any]) -> Sequence[Any]:
        try:
            joined = "\0" + "\0".join(filter(None, column))
            # filter() also skipped zeros, and -0.0 is written "-0.0": a formula start.
            numbers = 0 in column
        except TypeError:
            numbers = True
        if numbers:  # only a negative number (or -0.0) reads as a formula
            kinds = set(map(type, column))
            if kinds <= _NUMBERS:
                least = min(filter(_NOT_NONE, column), default=1)
                if least > 0 or (least == 0 and float not in kinds):  # NaN: neither
                    return column
        elif not any(f"\0{start}" in joined for start in CSV_FORMULA_START):
            return column
        return ["" if v is None else _cell(str(v)) for v in column]

    def plain_csv(column: Sequence[Any]) -> Sequence[str]:
        """``plain`` for csv_cells: the same cells, as texts, quoted where they must be."""
        kinds = set(map(type, column))
        if kinds <= _TEXTS:
            joined = "\0" + "\0".join(filter(None, column))
            if any(map(joined.__contains__, _FORMULA_AFTER_NUL)):  # e.g. phones: "+86…"
                column = [
                    "" if v is None else f"'{v}" if v.startswith(CSV_FORMULA_START) else v
                    for v in column
                ]
            elif _NONE in kinds:
                column = (
                    [""] * len(column)
                    if kinds == {_NONE}
                    else ["" if v is None else v for v in column]
                )
            # The quote added in front of a formula is no reason to quote a cell.
            return csv_lines.quoted(column) if csv_lines.needs_quotes(joined) else column
        elif kinds <= _NUMBERS:
            least = min(filter(_NOT_NONE, column), default=1)
            if least > 0 or (least == 0 and float not in kinds):  # str() needs no quotes
                if _NONE not in kinds:
                    return list(map(str, column))
                return ["" if v is None else str(v) for v in column]
        return ["" if v is None else csv_cell(_cell(str(v))) for v in column]

    index = {name: i for i, name in enumerate(names)}
    plan: list[tuple[int, Callable[[Sequence[Any]], Iterable[Any]]]] = []
    for name in FIELDS:
        if name in _TIME_FIELDS:
            plan.append((index[name], times))
        elif name in _CODED_FIELDS:
            plan.append((index[name], _mapped(coded(name))))
        elif name in _LIST_FIELDS:
            plan.append((index[name], _mapped(lists)))
        else:
            plan.append((index[name], plain_csv if csv_cells else plain))

    def cells(rows: Sequence[Sequence[Any]]) -> list[Any]:
        columns = list(zip(*rows, strict=True))
        return [render(columns[i]) for i, render in plan]

    return cells


def _mapped(cache: _Cache) -> Callable[[Sequence[Any]], list[str]]:
    get = cache.__getitem__
    return lambda column: list(map(get, column))


_UTC_SHAPE = tuple((i, c) for i, c in enumerate("    -  -  T  :  :  .      +00:00") if c != " ")
"""(position, character) that every time the store writes has (tickets.rows.iso); the
other positions are digits. Checked for a whole column at once, by strided slices."""
_NOT_NONE = partial(is_not, None)
_NONE = type(None)
_NUMBERS = frozenset({int, float, _NONE})
_TEXTS = frozenset({str, _NONE})
_FORMULA_AFTER_NUL = tuple(f"\0{start}" for start in CSV_FORMULA_START)
_TIME_FIELDS = frozenset(f.name for f in fields(Ticket) if "datetime" in str(f.type))
_LIST_FIELDS = frozenset(f.name for f in fields(Ticket) if str(f.type).startswith("tuple"))
_CODED_FIELDS = frozenset(
    {"state", "paused_from", "category", "holder", "priority", "mode", "team"}
)


def _cell(text: str) -> str:
    return f"'{text}" if text.startswith(CSV_FORMULA_START) else text
