"""``baoxiu stats`` and ``baoxiu tickets search``: the desk's figures and full-text search
from the shell. The figures come from ``tickets.stats`` (the rollup), the words from the
``cli`` catalog; ``stats_rows``/``volume_rows`` build the same tables the web console
shows and exports. No figures are computed here."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import click

from bots.channel.export import Cell, write_table
from bots.cli.base import Session, config_option, fail, main, pass_session, say, store_of, table
from bots.cli.tickets import category_name, holder_name, ticket_table, tickets
from config.model import Config
from conversation.i18n import channel_name
from tickets import search, stats

__all__ = ["stats_rows", "volume_rows"]

BY = ("category", "area", "team", "technician", "channel")


def _minutes(value: float | None) -> Cell:
    return None if value is None else round(value, 1)


def _share(value: float | None) -> Cell:
    return None if value is None else round(100 * value, 1)


def _label(config: Config, by: str, value: str, loc: str) -> str:
    if by == "category":
        return category_name(config, value, loc)
    if by == "technician":
        return holder_name(config, value)
    if by == "area":
        area = next((a for a in config.areas if a.code == value), None)
        return value if area is None else (area.zh if loc.startswith("zh") else area.en)
    if by == "channel" and value:
        return channel_name(loc, value)
    return value or say(loc, "stats.all")


def stats_rows(config: Config, figures: stats.Figures, loc: str) -> list[list[Cell]]:
    """The figures as a table: a header row, then one row per group."""
    by = figures.by
    if by == "technician":
        head = ["technician", "assigned", "jobs", "onsite_hours", "rating", "overdue"]
        rows: list[list[Cell]] = [[say(loc, f"stats.{h}") for h in head]]
        for g in figures.groups:
            rows.append(
                [
                    _label(config, by, g.value, loc),
                    g.counts.get("assigned", 0),
                    g.counts.get("job", 0),
                    round(g.onsite_seconds / 3600, 1),
                    _minutes(g.average_rating()),
                    g.counts.get("overdue", 0),
                ]
            )
        return rows
    head = ["group", "created"]
    for limit in stats.LIMITS:
        head += [f"{limit}_mean", f"{limit}_p90", f"{limit}_ok"]
    head += ["rating", "rated", *(f"stars{n}" for n in range(1, 6)), "reopened", "repeats"]
    rows = [[say(loc, f"stats.{h}") for h in head]]
    for g in figures.groups:
        row: list[Cell] = [_label(config, by, g.value, loc), g.created]
        for limit in stats.LIMITS:
            row += [
                _minutes(g.mean_minutes(limit)),
                _minutes(g.p90_minutes(limit)),
                _share(g.compliance(limit)),
            ]
        row += [_minutes(g.average_rating()), _share(g.rated / g.created if g.created else None)]
        row += [g.ratings.get(n, 0) for n in range(1, 6)]
        row += [_share(g.share("reopened")), _share(g.repeats / g.created if g.created else None)]
        rows.append(row)
    return rows


def volume_rows(
    config: Config, volume: dict[str, dict[str, int]], by: str, loc: str
) -> list[list[Cell]]:
    """Tickets filed per period: one row per period, one column per group."""
    groups = sorted({v for cell in volume.values() for v in cell})
    head: list[Cell] = [say(loc, "stats.period")]
    head += [_label(config, by, g, loc) for g in groups]
    rows: list[list[Cell]] = [head]
    rows += [[period, *(cell.get(g, 0) for g in groups)] for period, cell in volume.items()]
    return rows


def _text(cell: Cell) -> str:
    return "–" if cell is None else str(cell)


@main.command("stats")
@config_option
@click.option("--from", "start", type=click.DateTime(["%Y-%m-%d"]), help="First local day.")
@click.option("--to", "end", type=click.DateTime(["%Y-%m-%d"]), help="Last local day (included).")
@click.option("--by", type=click.Choice(BY), help="One row per category, area, team, …")
@click.option("--csv", "csv_file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--xlsx", "xlsx_file", type=click.Path(dir_okay=False, path_type=Path))
@pass_session
def stats_command(
    session: Session,
    start: datetime | None,
    end: datetime | None,
    by: str | None,
    csv_file: Path | None,
    xlsx_file: Path | None,
) -> None:
    """The desk's figures for tickets filed from --from to --to (default: the last 30
    days): volume, time to claim/arrive/resolve (mean, p90, minutes), time-limit
    compliance, satisfaction, reopen and repeat rates; per technician with --by."""
    config = session.config
    loc = config.locale
    today = datetime.now(ZoneInfo(config.timezone)).date()
    last: date = end.date() if end else today
    first: date = start.date() if start else last - timedelta(days=29)
    if first > last:
        fail(loc, "refused", message=say(loc, "stats.bad_range"))
    with store_of(config) as store:
        figures = stats.figures(store, first, last, by=by or "")
        period = "day" if (last - first).days <= 62 else "month"
        volume = stats.volume(
            store, first, last, period=period, by="" if by == "technician" else by or ""
        )
    rows = stats_rows(config, figures, loc)
    per_period = volume_rows(config, volume, "" if by == "technician" else by or "", loc)
    click.echo(say(loc, "stats.heading", start=first.isoformat(), end=last.isoformat()))
    click.echo("\n".join(table([[_text(c) for c in row] for row in rows])))
    click.echo("")
    click.echo("\n".join(table([[_text(c) for c in row] for row in per_period])))
    for path, xlsx in ((csv_file, False), (xlsx_file, True)):
        if path is not None:
            write_table(path, [*rows, [], *per_period], xlsx=xlsx)
            click.echo(say(loc, "stats.written", path=path), err=True)


@tickets.command("search")
@config_option
@click.argument("text")
@click.option("--after", help="Cursor printed under the previous page.")
@click.option("--limit", type=click.IntRange(min=1, max=200), default=20, show_default=True)
@pass_session
def tickets_search(session: Session, text: str, after: str | None, limit: int) -> None:
    """Tickets whose number, description, place, notes, resolution or phone (its last
    digits) contain TEXT — Chinese words of any length, Latin words, digits — best first."""
    config = session.config
    loc = config.locale
    with store_of(config) as store:
        found = search.search(store, text, limit=limit, after=after)
    if not found.tickets:
        click.echo(say(loc, "list_empty"))
        return
    click.echo("\n".join(ticket_table(config, found.tickets, "description")))
    if found.after is not None:
        click.echo(f"--after {found.after}")
