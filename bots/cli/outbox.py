"""``baoxiu outbox``: the operator's view of the notices — counts by channel and status,
a list, one notice with every delivery attempt, retry a dead one, purge old sent ones —
and ``delivery_lines``, the "Deliveries" part of ``baoxiu tickets show``.

``bots.cli`` attaches the group to ``main``; like the telegram group it takes the CLI's
session through click's context (``baoxiu --config FILE outbox …``) rather than importing
``bots.cli`` at import time, so the two modules do not import each other. Texts come
from the ``outbox`` catalog in the configuration's language; the work is
``tickets.outbox``'s.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from datetime import UTC, datetime, time
from typing import Any, NoReturn
from zoneinfo import ZoneInfo

import click

from bots.cli.base import DeskGroup, store_of
from config.model import Config
from conversation.i18n import local_time, translate
from tickets import outbox
from tickets.rows import OutboxRow
from tickets.store import OUTBOX_STATUSES, Store

STAMP = "%Y-%m-%d %H:%M:%S"


def t(locale: str, key: str, /, **params: Any) -> str:
    return translate(locale, f"outbox.{key}", **params)


def shown(config: Config, moment: datetime | None) -> str:
    return local_time(moment, config.timezone, STAMP) if moment else ""


def table(rows: Sequence[Sequence[str]]) -> list[str]:
    from bots.cli.base import table as aligned

    return aligned(rows)


def fail(locale: str, message: str) -> NoReturn:
    click.echo(translate(locale, "cli.refused", message=message), err=True)
    sys.exit(1)


@click.group("outbox", cls=DeskGroup)
def outbox_group() -> None:
    """Look at the notices waiting, sent and given up on; retry or purge them."""


@outbox_group.command("list")
@click.option("--status", type=click.Choice(OUTBOX_STATUSES), help="Only this status.")
@click.option("--channel", help="Only this channel (telegram, web, sms, email, …).")
@click.option("--ticket", "number", metavar="NUMBER", help="Only the notices of this ticket.")
@click.option("--limit", type=click.IntRange(min=1), default=50, show_default=True)
@click.pass_obj
def outbox_list(
    session: Any, status: str | None, channel: str | None, number: str | None, limit: int
) -> None:
    """Counts by channel and status, then the newest notices."""
    config = session.config
    loc = config.locale
    with store_of(config) as store:
        counts = outbox.counts(store)
        found = outbox.rows(
            store,
            status=status,
            channel=channel,
            number=number.strip().upper() if number else None,
            limit=limit,
        )
    click.echo("\n".join(count_lines(counts, loc)))
    click.echo("")
    if not found:
        click.echo(t(loc, "list_empty"))
        return
    columns = ("id", "status", "channel", "chat", "kind", "ticket", "attempts", "when")
    rows = [[t(loc, f"field.{c}") for c in columns] + [t(loc, "field.last_error")]]
    for row in found:
        moment = row.sent_at if row.status == "sent" else row.next_at
        rows.append(
            [
                str(row.id),
                t(loc, f"status.{row.status}"),
                row.channel,
                row.chat,
                row.kind,
                row.number or "",
                str(row.attempts),
                shown(config, moment),
                row.last_error[:60],
            ]
        )
    click.echo("\n".join(table(rows)))


def count_lines(counts: dict[tuple[str, str], int], locale: str) -> list[str]:
    if not counts:
        return [t(locale, "counts_empty")]
    channels = sorted({channel for channel, _ in counts})
    rows = [
        [channel, *(str(counts.get((channel, s), 0)) for s in OUTBOX_STATUSES)]
        for channel in channels
    ]
    totals = [
        str(sum(n for (_, s), n in counts.items() if s == status)) for status in OUTBOX_STATUSES
    ]
    header = ["", *(t(locale, f"status.{s}") for s in OUTBOX_STATUSES)]
    return [t(locale, "counts"), *table([header, *rows, ["Σ", *totals]])]


@outbox_group.command("show")
@click.argument("notice_id", metavar="ID", type=int)
@click.pass_obj
def outbox_show(session: Any, notice_id: int) -> None:
    """One notice: its fields and every delivery attempt."""
    config = session.config
    loc = config.locale
    with store_of(config) as store:
        row = store.outbox_row(notice_id)
        if row is None:
            fail(loc, t(loc, "not_found", id=notice_id))
        tries = outbox.attempts(store, notice_id)
        owner, until = outbox.lease_of(store, notice_id)
    fields = [
        ("id", str(row.id)),
        ("status", t(loc, f"status.{row.status}")),
        ("ticket", row.number or ""),
        ("kind", row.kind),
        ("channel", row.channel),
        ("chat", row.chat),
        ("locale", row.locale),
        ("priority", str(row.priority)),
        ("key", row.key),
        ("attempts", str(row.attempts)),
        ("created_at", shown(config, row.created_at)),
        ("next_at", shown(config, row.next_at) if row.status == "pending" else ""),
        ("sent_at", shown(config, row.sent_at)),
        ("provider_id", row.provider_id),
        ("last_error", row.last_error),
        ("lease", f"{owner} → {shown(config, until)}" if owner else ""),
    ]
    click.echo("\n".join(table([[t(loc, f"field.{k}"), v] for k, v in fields if v])))
    click.echo("")
    click.echo(t(loc, "attempts"))
    if not tries:
        click.echo(t(loc, "no_attempts"))
        return
    columns = ("when", "outcome", "provider_id", "error", "worker", "seconds")
    rows = [[t(loc, f"field.{c}") for c in columns]]
    rows += [
        [
            shown(config, a.at),
            t(loc, f"outcome.{a.outcome}"),
            a.provider_id,
            a.error[:80],
            a.worker,
            f"{a.seconds:.3f}" if a.seconds is not None else "",
        ]
        for a in tries
    ]
    click.echo("\n".join(table(rows)))


@outbox_group.command("retry")
@click.argument("notice_id", metavar="ID", type=int)
@click.pass_obj
def outbox_retry(session: Any, notice_id: int) -> None:
    """Queue a dead (or waiting) notice again, due now; a running worker sends it."""
    config = session.config
    loc = config.locale
    with store_of(config) as store:
        row = store.outbox_row(notice_id)
        if row is None:
            fail(loc, t(loc, "not_found", id=notice_id))
        if not outbox.retry(store, notice_id, datetime.now(UTC)):
            fail(loc, t(loc, "not_retried", id=notice_id))
    click.echo(t(loc, "retried", id=notice_id))


@outbox_group.command("purge")
@click.option(
    "--sent-before",
    "sent_before",
    required=True,
    metavar="DATE",
    help="Delete notices sent before this local date or time (2026-11-23, 2026-11-23T08:00).",
)
@click.pass_obj
def outbox_purge(session: Any, sent_before: str) -> None:
    """Delete notices sent before DATE, with their delivery records (pending and dead stay)."""
    config = session.config
    loc = config.locale
    moment = parse_moment(sent_before, config.timezone)
    if moment is None:
        fail(loc, t(loc, "bad_date", given=sent_before))
    with store_of(config) as store:
        count = outbox.purge(store, moment)
    click.echo(t(loc, "purged", count=count, date=shown(config, moment)))


def parse_moment(text: str, timezone: str) -> datetime | None:
    """A date (its local midnight) or a date and time, in the service's time zone."""
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        return None
    if len(text.strip()) == 10:  # a bare date
        moment = datetime.combine(moment.date(), time())
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=ZoneInfo(timezone))
    return moment.astimezone(UTC)


def delivery_lines(store: Store, number: str, config: Config) -> list[str]:
    """The "Deliveries" part of a ticket's timeline: each notice, its delivery result."""
    loc = config.locale
    rows = store.notices_of(number)
    lines = [t(loc, "deliveries")]
    if not rows:
        return [*lines, t(loc, "no_deliveries")]
    columns = ("created_at", "kind", "channel", "chat", "status", "attempts", "sent_at")
    header = [t(loc, f"field.{c}") for c in columns]
    header += [t(loc, "field.provider_id"), t(loc, "field.last_error")]
    return [*lines, *table([header, *(_delivery_row(config, row, loc) for row in rows)])]


def _delivery_row(config: Config, row: OutboxRow, loc: str) -> list[str]:
    return [
        shown(config, row.created_at),
        row.kind,
        row.channel,
        row.chat,
        t(loc, f"status.{row.status}"),
        str(row.attempts),
        shown(config, row.sent_at),
        row.provider_id,
        row.last_error[:60],
    ]
