"""Backups of the desk: one archive with the database, the photos and a manifest.

``backup`` copies the live database with SQLite's online backup API (consistent while the
service writes), adds every file of the media folder and a ``manifest.json`` (format,
time, applied migrations, counts, and the SHA-256 of each member). ``restore`` checks the
manifest against every member before it writes anything, refuses while a service runs
on the target database (``ServiceLock``), and replaces the database in one rename.

Files only: no network, no adapters. Everything written is owner-only (0600/0700).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import io
import json
import os
import shutil
import sqlite3
import tarfile
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path, PurePosixPath
from typing import IO, Any

from tickets.errors import BaoxiuError

FORMAT = "baoxiu-backup/1"
DATABASE = "baoxiu.db"
MANIFEST = "manifest.json"
MEDIA = "media"


class BackupError(BaoxiuError):
    """An archive that cannot be trusted or written, or a target that is in use."""

    default_key = "errors.backup"


@dataclass(frozen=True)
class Manifest:
    created_at: str
    migrations: list[str]
    counts: dict[str, int]
    files: dict[str, str]  # member name -> sha256

    def to_json(self) -> bytes:
        body = {"format": FORMAT, **self.__dict__}
        return json.dumps(body, ensure_ascii=False, indent=2, sort_keys=True).encode()


class ServiceLock:
    """Held by ``baoxiu serve`` for as long as it runs on a database (an advisory lock
    on ``<database>.lock``; the kernel drops it when the process dies, even by SIGKILL),
    so that a restore can tell whether a service is using that database."""

    def __init__(self, database: Path) -> None:
        self.path = database.with_name(database.name + ".lock")
        self._file: IO[bytes] | None = None

    def acquire(self) -> bool:
        fd = os.open(self.path, os.O_CREAT | os.O_RDWR, 0o600)
        file = os.fdopen(fd, "r+b")
        try:
            fcntl.flock(file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            file.close()
            return False
        self._file = file
        return True

    def release(self) -> None:
        if self._file is not None:
            self._file.close()  # closing drops the lock
            self._file = None

    def held_elsewhere(self) -> bool:
        if not self.path.exists():
            return False
        if self.acquire():
            self.release()
            return False
        return True


def backup(database: Path, media_dir: Path, target: Path, now: datetime) -> Manifest:
    """Write the archive ``target`` (tar.gz); returns its manifest."""
    if not database.is_file():
        raise BackupError("errors.no_database", path=str(database))
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent) as scratch:
        copy = Path(scratch) / DATABASE
        _online_copy(database, copy)
        files = {DATABASE: _sha256(copy)}
        media = sorted(p for p in media_dir.rglob("*") if p.is_file()) if media_dir.is_dir() else []
        for path in media:
            files[f"{MEDIA}/{path.relative_to(media_dir).as_posix()}"] = _sha256(path)
        manifest = Manifest(now.isoformat(), *_describe(copy), files)
        partial = target.with_name(target.name + ".part")
        fd = os.open(partial, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as raw, tarfile.open(fileobj=raw, mode="w:gz") as tar:
            data = manifest.to_json()
            info = tarfile.TarInfo(MANIFEST)
            info.size, info.mtime, info.mode = len(data), int(now.timestamp()), 0o600
            tar.addfile(info, io.BytesIO(data))
            tar.add(copy, arcname=DATABASE)
            for path in media:
                tar.add(path, arcname=f"{MEDIA}/{path.relative_to(media_dir).as_posix()}")
        partial.replace(target)
    return manifest


def verify(archive: Path) -> Manifest:
    """The archive's manifest, after checking every member against it."""
    with _open(archive) as tar:
        manifest = _manifest(tar)
        seen = set()
        for member in tar:
            if member.name == MANIFEST:
                continue
            _check_name(member)
            expected = manifest.files.get(member.name)
            extracted = tar.extractfile(member)
            if expected is None or extracted is None:
                raise BackupError("errors.backup_member", member=member.name)
            if _sha256_stream(extracted) != expected:
                raise BackupError("errors.backup_checksum", member=member.name)
            seen.add(member.name)
        missing = set(manifest.files) - seen
        if missing:
            raise BackupError("errors.backup_member", member=sorted(missing)[0])
    return manifest


def restore(archive: Path, database: Path, media_dir: Path, *, force: bool = False) -> Manifest:
    """Put the archive's database and photos in place; refuses a database in use, and an
    existing one unless ``force``. Verifies everything before writing anything."""
    if ServiceLock(database).held_elsewhere():
        raise BackupError("errors.backup_in_use", path=str(database))
    if database.exists() and not force:
        raise BackupError("errors.backup_exists", path=str(database))
    manifest = verify(archive)
    for folder in (database.parent, media_dir):
        if not folder.is_dir():
            folder.mkdir(parents=True, mode=0o700)
    with _open(archive) as tar:
        for member in tar:
            if member.name == MANIFEST:
                continue
            source = tar.extractfile(member)
            assert source is not None  # verify() checked every member
            if member.name == DATABASE:
                staged = database.with_name(database.name + ".restoring")
                _write(staged, source)
                for stale in ("-wal", "-shm"):
                    with contextlib.suppress(FileNotFoundError):
                        database.with_name(database.name + stale).unlink()
                staged.replace(database)
            else:
                relative = PurePosixPath(member.name).relative_to(MEDIA)
                path = media_dir.joinpath(*relative.parts)
                path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
                _write(path, source)
    return manifest


# -- internals -----------------------------------------------------------------------------


def _online_copy(database: Path, copy: Path) -> None:
    source = sqlite3.connect(f"file:{database}?mode=ro", uri=True)
    target = sqlite3.connect(copy)
    try:
        source.backup(target)
    finally:
        target.close()
        source.close()
    copy.chmod(0o600)


def _describe(copy: Path) -> tuple[list[str], dict[str, int]]:
    conn = sqlite3.connect(copy)
    try:
        migrations = (
            [r[0] for r in conn.execute("SELECT name FROM _sqlite_migrations ORDER BY id")]
            if _has_table(conn, "_sqlite_migrations")
            else []
        )
        counts = {
            table: int(conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0])
            for table in ("tickets", "events", "outbox")
            if _has_table(conn, table)
        }
    finally:
        conn.close()
    return migrations, counts


def _has_table(conn: sqlite3.Connection, name: str) -> bool:
    found = conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", [name])
    return found.fetchone() is not None


@contextlib.contextmanager
def _open(archive: Path) -> Iterator[tarfile.TarFile]:
    try:
        with tarfile.open(archive, mode="r:gz") as tar:
            yield tar
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise BackupError("errors.backup_unreadable", path=str(archive), reason=str(exc)) from None


def _manifest(tar: tarfile.TarFile) -> Manifest:
    try:
        member = tar.getmember(MANIFEST)
        raw = tar.extractfile(member)
        body: dict[str, Any] = json.loads(raw.read() if raw else b"")
    except (KeyError, ValueError):
        raise BackupError("errors.backup_member", member=MANIFEST) from None
    if body.get("format") != FORMAT or not isinstance(body.get("files"), dict):
        raise BackupError("errors.backup_member", member=MANIFEST)
    return Manifest(
        str(body.get("created_at", "")),
        list(body.get("migrations", [])),
        dict(body.get("counts", {})),
        dict(body["files"]),
    )


def _check_name(member: tarfile.TarInfo) -> None:
    """Only regular files, only ``baoxiu.db`` and ``media/…`` with no way out."""
    path = PurePosixPath(member.name)
    inside = member.name == DATABASE or (
        len(path.parts) > 1 and path.parts[0] == MEDIA and ".." not in path.parts
    )
    if not member.isfile() or path.is_absolute() or not inside:
        raise BackupError("errors.backup_member", member=member.name)


def _write(path: Path, source: IO[bytes]) -> None:
    fd = os.open(path, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out:
        shutil.copyfileobj(source, out)


def _sha256(path: Path) -> str:
    with path.open("rb") as file:
        return _sha256_stream(file)


def _sha256_stream(stream: IO[bytes]) -> str:
    digest = hashlib.sha256()
    while chunk := stream.read(1 << 20):
        digest.update(chunk)
    return digest.hexdigest()
