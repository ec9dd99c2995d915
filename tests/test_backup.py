"""``baoxiu backup`` / ``restore``: a restored desk is the desk that was backed up
(issue 10, operations) — every ticket, every timeline, every photo — and a damaged
archive or a running service stops a restore before anything is written."""

from __future__ import annotations

import io
import tarfile
from dataclasses import replace
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import NOW, draft

from bots.cli import main
from config.model import Config
from conversation.i18n import translate
from tickets import backup as backups
from tickets.model import Action, Actor, Role
from tickets.store import Store

ZHANG = Actor(Role.TECHNICIAN, "zhang", "张师傅", frozenset({"maint"}))


def desk(store: Store, media: Path) -> list[str]:
    """Three tickets, one worked to the end, and two photos on disk."""
    (media / "web").mkdir(parents=True)
    (media / "web" / "a.png").write_bytes(b"\x89PNG one")
    (media / "web" / "b.png").write_bytes(b"\x89PNG two")
    first = store.create_ticket(draft(chat="alice", photos=("web/a.png",)), NOW)
    store.apply(first.number, Action.CLAIM, ZHANG, NOW)
    store.apply(first.number, Action.SIGN_IN, ZHANG, NOW)
    store.apply(first.number, Action.RESOLVE, ZHANG, NOW, note="换了接头")
    second = store.create_ticket(draft(chat="bob", spot="501"), NOW)
    third = store.create_ticket(draft(chat="carol", spot="601"), NOW)
    return [first.number, second.number, third.number]


def snapshot(store: Store) -> tuple[list[object], list[object]]:
    tickets = [store.get(t["number"]) for t in store.query("SELECT number FROM tickets")]
    timelines = [store.timeline(t.number) for t in tickets]
    return tickets, timelines


def test_a_restored_desk_is_the_desk_backed_up(config: Config, tmp_path: Path) -> None:
    with Store(config.database, config) as store:
        desk(store, config.media_dir)
        before = snapshot(store)
        archive = tmp_path / "out" / "desk.tar.gz"
        manifest = backups.backup(config.database, config.media_dir, archive, NOW)
    assert manifest.counts["tickets"] == 3 and "media/web/a.png" in manifest.files
    assert archive.stat().st_mode & 0o077 == 0

    fresh = tmp_path / "fresh"
    restored = replace(config, database=fresh / "baoxiu.db", media_dir=fresh / "media")
    backups.restore(archive, restored.database, restored.media_dir)
    with Store(restored.database, restored) as store:
        assert snapshot(store) == before
    assert (fresh / "media" / "web" / "b.png").read_bytes() == b"\x89PNG two"


def test_a_damaged_archive_restores_nothing(config: Config, tmp_path: Path) -> None:
    with Store(config.database, config) as store:
        desk(store, config.media_dir)
    archive = tmp_path / "desk.tar.gz"
    backups.backup(config.database, config.media_dir, archive, NOW)
    # Rebuild the archive with one photo altered but the old manifest kept.
    altered = tmp_path / "altered.tar.gz"
    with tarfile.open(archive) as source, tarfile.open(altered, "w:gz") as target:
        for member in source:
            data = source.extractfile(member)
            if member.name == "media/web/a.png":
                body = b"\x89PNG evil"
                member.size = len(body)
                data = io.BytesIO(body)
            target.addfile(member, data)
    fresh = tmp_path / "fresh"
    with pytest.raises(backups.BackupError) as refused:
        backups.restore(altered, fresh / "baoxiu.db", fresh / "media")
    assert refused.value.key == "errors.backup_checksum"
    assert not (fresh / "baoxiu.db").exists()


def test_no_restore_over_a_running_service_or_an_existing_database(
    config: Config, tmp_path: Path
) -> None:
    with Store(config.database, config) as store:
        desk(store, config.media_dir)
    archive = tmp_path / "desk.tar.gz"
    backups.backup(config.database, config.media_dir, archive, NOW)
    serving = backups.ServiceLock(config.database)
    assert serving.acquire()
    try:
        with pytest.raises(backups.BackupError) as refused:
            backups.restore(archive, config.database, config.media_dir, force=True)
        assert refused.value.key == "errors.backup_in_use"
    finally:
        serving.release()
    with pytest.raises(backups.BackupError) as refused:
        backups.restore(archive, config.database, config.media_dir)
    assert refused.value.key == "errors.backup_exists"
    backups.restore(archive, config.database, config.media_dir, force=True)


def test_the_commands(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BAOXIU_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("BAOXIU_CONFIG", raising=False)
    for name in ("LANG", "LC_ALL"):
        monkeypatch.setenv(name, "")
    from config.loader import load

    config = load(None)
    config.database.parent.mkdir(parents=True)
    with Store(config.database, config) as store:
        store.create_ticket(draft(category="water.leak"), NOW)
    runner = CliRunner()
    archive = tmp_path / "b.tar.gz"
    made = runner.invoke(main, ["backup", str(archive)])
    assert made.exit_code == 0, made.output
    assert made.stdout.strip() == translate(
        "zh_CN", "cli.backup_written", path=archive, tickets=1, files=1
    )
    again = runner.invoke(main, ["restore", str(archive)])
    assert again.exit_code == 2
    assert translate("zh_CN", "errors.backup_exists", path=config.database) in again.stderr
    forced = runner.invoke(main, ["restore", str(archive), "--force"])
    assert forced.exit_code == 0, forced.output
