"""``baoxiu backup`` and ``baoxiu restore``: the operator's copies of the desk.

The work is in ``tickets.backup``; this module only names the files and says what
happened in the operator's language.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import click

from bots.cli.base import Session, config_option, fail, main, pass_session, say
from conversation.i18n import translate
from tickets import backup as backups


@main.command("backup")
@config_option
@click.argument(
    "path", required=False, type=click.Path(dir_okay=False, path_type=Path), metavar="[PATH]"
)
@pass_session
def backup_command(session: Session, path: Path | None) -> None:
    """Back up the database (online, while the service runs) and the photos into one
    archive with a manifest and checksums (default: backups/ beside the database)."""
    config = session.config
    now = datetime.now(UTC)
    target = path or config.database.parent / "backups" / f"baoxiu-{now:%Y%m%d-%H%M%S}.tar.gz"
    click.echo(say(config.locale, "using_database", path=config.database), err=True)
    try:
        manifest = backups.backup(config.database, config.media_dir, target, now)
    except backups.BackupError as error:
        fail(config.locale, "refused", message=translate(config.locale, error.key, **error.params))
    click.echo(
        say(
            config.locale,
            "backup_written",
            path=target,
            tickets=manifest.counts.get("tickets", 0),
            files=len(manifest.files),
        )
    )


@main.command("restore")
@config_option
@click.argument("path", type=click.Path(dir_okay=False, exists=True, path_type=Path))
@click.option("--force", is_flag=True, help="Replace an existing database.")
@pass_session
def restore_command(session: Session, path: Path, force: bool) -> None:
    """Restore a backup archive into the configuration's database and media folder after
    checking every file against its manifest; refused while the service runs on it."""
    config = session.config
    click.echo(say(config.locale, "using_database", path=config.database), err=True)
    try:
        manifest = backups.restore(path, config.database, config.media_dir, force=force)
    except backups.BackupError as error:
        fail(config.locale, "refused", message=translate(config.locale, error.key, **error.params))
    click.echo(
        say(
            config.locale,
            "restore_done",
            path=path,
            created=manifest.created_at,
            tickets=manifest.counts.get("tickets", 0),
        )
    )
