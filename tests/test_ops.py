"""Backups (issue 10, operations): ``baoxiu backup`` and ``baoxiu restore`` through the
CLI on a real database with tickets, timelines and photos; tampered archives; restore
refused while a service runs; a backup before pending migrations; scheduled backups."""

from __future__ import annotations

import io
import os
import tarfile
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from click.testing import CliRunner
from conftest import NOW, draft
from sqlite_utils import Database

from bots.app import build_app
from bots.cli import main
from bots.engine import open_store
from bots.upkeep import Upkeep
from config.loader import load
from config.model import Config
from conversation.i18n import translate
from tickets import backup, migrations
from tickets.model import Action, Actor, Role
from tickets.store import Store

ZHANG = Actor(Role.TECHNICIAN, "zhang", "张师傅", frozenset({"maint"}))


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The built-in configuration with its data under the test's folder; shell in Chinese."""
    monkeypatch.setenv("BAOXIU_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("LANG", "")
    monkeypatch.setenv("LC_ALL", "")
    monkeypatch.delenv("BAOXIU_CONFIG", raising=False)
    return tmp_path / "data"


def fill(config: Config) -> list[str]:
    """Tickets with timelines and photo files on the configuration's database."""
    config.media_dir.mkdir(parents=True, exist_ok=True)
    refs = ["2026/11/a.jpg", "2026/11/b.png"]
    for i, ref in enumerate(refs):
        (config.media_dir / ref).parent.mkdir(parents=True, exist_ok=True)
        (config.media_dir / ref).write_bytes(bytes([i]) * 1000)
    with open_store(config) as store:
        first = store.create_ticket(draft("water.leak", photos=tuple(refs)), NOW)
        store.apply(first.number, Action.CLAIM, ZHANG, NOW)
        store.apply(first.number, Action.SIGN_IN, ZHANG, NOW + timedelta(minutes=5))
        store.apply(first.number, Action.RESOLVE, ZHANG, NOW + timedelta(hours=1), note="换了")
        second = store.create_ticket(draft("power.outage", chat="bob"), NOW)
        return [first.number, second.number]


def snapshot(config: Config) -> dict[str, Any]:
    with Store(config.database, config) as store:
        rows = store.query("SELECT number FROM tickets ORDER BY number")
        return {r["number"]: (store.get(r["number"]), store.timeline(r["number"])) for r in rows}


def test_backup_then_restore_into_a_fresh_folder_gives_every_ticket_and_timeline(
    env: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    os.umask(0o022)
    config = load(None)
    numbers = fill(config)
    before = snapshot(config)
    archive = tmp_path / "out" / "b.tar.gz"
    result = CliRunner().invoke(main, ["backup", str(archive)])
    assert result.exit_code == 0, result.output
    written = translate(
        config.locale, "cli.backup_written", path=archive, tickets=2, events=5, files=2
    )
    assert result.stdout.strip() == written
    assert archive.stat().st_mode & 0o777 == 0o600  # it holds phone numbers too

    monkeypatch.setenv("BAOXIU_DATA_DIR", str(tmp_path / "fresh"))
    fresh = load(None)
    result = CliRunner().invoke(main, ["restore", str(archive)])
    assert result.exit_code == 0, result.output
    after = snapshot(fresh)
    assert sorted(after) == sorted(numbers)
    assert after == before
    for ref in ("2026/11/a.jpg", "2026/11/b.png"):
        assert (fresh.media_dir / ref).read_bytes() == (config.media_dir / ref).read_bytes()
    assert fresh.database.stat().st_mode & 0o777 == 0o600


def test_restore_over_an_existing_database_wants_yes(env: Path, tmp_path: Path) -> None:
    config = load(None)
    fill(config)
    archive = tmp_path / "b.tar.gz"
    assert CliRunner().invoke(main, ["backup", str(archive)]).exit_code == 0
    result = CliRunner().invoke(main, ["restore", str(archive)])
    assert result.exit_code == 1
    assert translate(config.locale, "cli.restore_needs_yes", path=config.database) in result.stderr
    assert CliRunner().invoke(main, ["restore", str(archive), "--yes"]).exit_code == 0


def tampered(archive: Path, target: Path, member: str) -> None:
    with tarfile.open(archive) as source, tarfile.open(target, "w:gz") as out:
        for info in source.getmembers():
            data = source.extractfile(info).read()  # type: ignore[union-attr]
            if info.name == member:
                data = data[:-1] + bytes([data[-1] ^ 1])
            out.addfile(info, io.BytesIO(data))


@pytest.mark.parametrize("member", [backup.DB_MEMBER, "media/2026/11/a.jpg"])
def test_a_tampered_archive_is_refused_and_nothing_changes(
    env: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, member: str
) -> None:
    config = load(None)
    fill(config)
    archive, bad = tmp_path / "b.tar.gz", tmp_path / "bad.tar.gz"
    assert CliRunner().invoke(main, ["backup", str(archive)]).exit_code == 0
    tampered(archive, bad, member)
    monkeypatch.setenv("BAOXIU_DATA_DIR", str(tmp_path / "fresh"))
    result = CliRunner().invoke(main, ["restore", str(bad)])
    assert result.exit_code == 1
    reason = f"checksum of {member} does not match"
    assert translate(config.locale, "cli.backup_invalid", reason=reason) in result.stderr
    assert not (tmp_path / "fresh" / "baoxiu.db").exists()


async def test_restore_is_refused_while_the_service_runs_on_that_database(
    config: Config, tmp_path: Path
) -> None:
    with open_store(config) as store:
        store.create_ticket(draft(), NOW)
    archive = tmp_path / "b.tar.gz"
    backup.create(config.database, config.media_dir, archive, now=NOW)
    async with TestClient(TestServer(build_app(config), host="127.0.0.1")) as client:
        assert (await client.get("/healthz")).status == 200
        with pytest.raises(backup.BackupError) as refused:
            backup.restore(archive, config.database, config.media_dir)
        assert refused.value.key == "cli.service_running"
    # Once the service has stopped, the lock is free.
    assert backup.restore(archive, config.database, config.media_dir).counts["tickets"] == 1


def test_pending_migrations_take_a_backup_first(config: Config) -> None:
    names = migrations.names()
    old = Database(config.database)
    migrations.MIGRATIONS.apply(old, stop_before=names[-1])  # an older release's schema
    old.close()
    assert backup.pending_migrations(config.database, names) == [names[-1]]
    open_store(config).close()
    archives = list(config.ops.backups(config.database).glob("pre-migration-*.tar.gz"))
    assert len(archives) == 1
    assert names[-1] not in backup.verify(archives[0]).migrations
    open_store(config).close()  # nothing pending now: no second archive
    assert len(list(config.ops.backups(config.database).iterdir())) == 1


def test_scheduled_backups_come_every_n_hours_and_keep_the_newest(config: Config) -> None:
    config = replace(config, ops=replace(config.ops, backup_every_hours=6, backup_keep=2))
    folder = config.ops.backups(config.database)
    clock = [NOW]
    with open_store(config) as store:
        upkeep = Upkeep(store, config, clock=lambda: clock[0])
        for hour in range(0, 24, 3):
            clock[0] = NOW + timedelta(hours=hour)
            upkeep.run_once()
            # The newest archive's file time says when it was taken: the test's clock.
            made = folder / backup.archive_name(clock[0])
            if made.exists():
                os.utime(made, (clock[0].timestamp(), clock[0].timestamp()))
    kept = sorted(p.name for p in folder.glob("*.tar.gz"))
    assert kept == [backup.archive_name(NOW + timedelta(hours=h)) for h in (12, 18)]
