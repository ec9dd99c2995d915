"""``baoxiu backup``, ``baoxiu restore`` and ``baoxiu privacy export|erase``: the
operator's care of the data. The work is ``tickets.backup``'s and ``tickets.privacy``'s;
texts come from the ``cli`` catalog."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import click

from bots.cli.base import Session, config_option, fail, main, pass_session, say, store_of
from bots.upkeep import remove_photos, take_backup
from conversation.intake import normalize_phone
from tickets import backup, privacy


@main.command("backup")
@config_option
@click.argument("path", required=False, type=click.Path(path_type=Path))
@pass_session
def backup_command(session: Session, path: Path | None) -> None:
    """Write one archive (database + media folder + manifest) to PATH (a file or a
    folder; default: the [backup] folder). Safe while the service runs."""
    config = session.config
    store_of(config).close()  # says which database, refuses a missing one, migrates it
    now = datetime.now(UTC)
    if path is None:
        path = config.ops.backups(config.database) / backup.archive_name(now)
    elif path.is_dir():
        path = path / backup.archive_name(now)
    manifest = take_backup(config, path, now)
    counts = manifest.counts
    click.echo(
        say(
            config.locale,
            "backup_written",
            path=path,
            tickets=counts.get("tickets", 0),
            events=counts.get("events", 0),
            files=len(manifest.files) - 1,
        )
    )


@main.command("restore")
@config_option
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--yes", is_flag=True, help="Replace the existing database and media folder.")
@pass_session
def restore_command(session: Session, path: Path, yes: bool) -> None:
    """Check every checksum of the archive at PATH, then replace the configuration's
    database and media folder with it. Refused while baoxiu serve runs on that database."""
    config = session.config
    loc = config.locale
    click.echo(say(loc, "using_database", path=config.database), err=True)
    if config.database.exists() and not yes:
        fail(loc, "restore_needs_yes", code=1, path=config.database)
    try:
        manifest = backup.restore(path, config.database, config.media_dir)
    except backup.BackupError as error:
        fail(loc, error.key.removeprefix("cli."), code=1, **error.params)
    click.echo(
        say(
            loc,
            "restored",
            path=path,
            created=manifest.created_at,
            tickets=manifest.counts.get("tickets", 0),
        )
    )


@main.group("privacy")
def privacy_group() -> None:
    """A person's request about their data (PIPL): export it or erase it."""


def _phone(session: Session, given: str) -> str:
    phone = normalize_phone(given)
    if phone is None:
        fail(session.config.locale, "privacy_bad_phone", code=1, given=given)
    return phone


@privacy_group.command("export")
@config_option
@click.argument("phone")
@pass_session
def privacy_export(session: Session, phone: str) -> None:
    """Print, as JSON, every ticket reported with PHONE and its timeline."""
    number = _phone(session, phone)
    with store_of(session.config) as store:
        data = privacy.export(store, number)
    click.echo(json.dumps(data, ensure_ascii=False, indent=2))


@privacy_group.command("erase")
@config_option
@click.argument("phone")
@click.option("--yes", is_flag=True, help="Really erase (without it: say what would go).")
@pass_session
def privacy_erase(session: Session, phone: str, yes: bool) -> None:
    """Erase the phone, location and photos of every ticket reported with PHONE (the
    tickets and their figures stay; each gets an erase event)."""
    config = session.config
    number = _phone(session, phone)
    with store_of(config) as store:
        numbers = privacy.numbers_of(store, number)
        if not numbers:
            fail(config.locale, "privacy_none", code=1)
        if not yes:
            fail(config.locale, "privacy_needs_yes", code=1, count=len(numbers))
        refs = privacy.erase(store, numbers, datetime.now(UTC), "request")
    removed = remove_photos(config.media_dir, refs)
    click.echo(say(config.locale, "privacy_erased", count=len(numbers), photos=removed))
