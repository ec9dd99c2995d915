"""Backup archives of a baoxiu database and its media folder, and restoring them.

An archive is one ``.tar.gz``: ``manifest.json`` first (format, baoxiu version, the
migrations applied, row counts, the sha256 and size of every other member), then
``baoxiu.db`` — a consistent copy made with SQLite's online backup API, so the service
may keep writing meanwhile — and ``media/…``. ``restore`` checks every checksum before
anything is written and replaces the database and media folder only when all match.

``ServiceLock`` is the lock ``baoxiu serve`` holds on ``<database>.lock`` while it runs
(an ``flock``, so a crashed service leaves no stale lock behind); ``restore`` refuses
while it is held. Pure of the network and of any web framework; times come in.
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
from pathlib import Path
from typing import IO, Any

from tickets.errors import BaoxiuError

FORMAT = 1
DB_MEMBER = "baoxiu.db"
MEDIA_MEMBER = "media"
MANIFEST = "manifest.json"
COUNTED = ("tickets", "events", "chats", "outbox")
PREFIX = "baoxiu-"
SUFFIX = ".tar.gz"


class BackupError(BaoxiuError):
    """An archive that cannot be used, or a restore that must not happen now."""

    default_key = "cli.backup_invalid"


@dataclass(frozen=True)
class Manifest:
    version: str
    created_at: str
    migrations: tuple[str, ...]
    counts: dict[str, int]
    files: dict[str, dict[str, Any]]  # member name -> {"sha256": …, "size": …}

    def to_json(self) -> bytes:
        body = {
            "format": FORMAT,
            "version": self.version,
            "created_at": self.created_at,
            "migrations": list(self.migrations),
            "counts": self.counts,
            "files": self.files,
        }
        return json.dumps(body, ensure_ascii=False, indent=2, sort_keys=True).encode()


def baoxiu_version() -> str:
    # Imported here: importlib.metadata pulls in email and socket, which the pure core's
    # import test (tests/test_purity.py) refuses at import time.
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("baoxiu")
    except PackageNotFoundError:  # running from a checkout that was never installed
        return "0+unknown"


def archive_name(now: datetime) -> str:
    return f"{PREFIX}{now.strftime('%Y%m%dT%H%M%SZ')}{SUFFIX}"


def create(
    database: Path, media_dir: Path, target: Path, *, now: datetime, version: str = ""
) -> Manifest:
    """Write the archive of ``database`` + ``media_dir`` to ``target`` (0600, atomically:
    a half-written archive never carries the final name)."""
    target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    with tempfile.TemporaryDirectory(prefix="baoxiu-backup-") as work:
        copy = Path(work) / DB_MEMBER
        _online_copy(database, copy)
        migrations, counts = _describe(copy)
        members: list[tuple[str, Path]] = [(DB_MEMBER, copy)]
        if media_dir.is_dir():
            for path in sorted(p for p in media_dir.rglob("*") if p.is_file()):
                members.append((f"{MEDIA_MEMBER}/{path.relative_to(media_dir).as_posix()}", path))
        files = {
            name: {"sha256": _sha256(path), "size": path.stat().st_size} for name, path in members
        }
        manifest = Manifest(version or baoxiu_version(), now.isoformat(), migrations, counts, files)
        partial = target.with_name(f".{target.name}.partial")
        fd = os.open(partial, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o600)
        try:
            with os.fdopen(fd, "wb") as raw, tarfile.open(fileobj=raw, mode="w:gz") as tar:
                _add_bytes(tar, MANIFEST, manifest.to_json(), now)
                for name, path in members:
                    tar.add(path, arcname=name, recursive=False)
            partial.replace(target)
        finally:
            partial.unlink(missing_ok=True)
    return manifest


def verify(archive: Path) -> Manifest:
    """The archive's manifest, after checking every member against it."""
    with _open(archive) as tar:
        manifest = _manifest(tar)
        seen: set[str] = set()
        for member in tar:
            if member.name == MANIFEST:
                continue
            _check_member(member, manifest)
            stream = tar.extractfile(member)
            assert stream is not None  # _check_member allows regular files only
            _check_digest(member.name, _sha256_stream(stream), manifest)
            seen.add(member.name)
    if missing := sorted(set(manifest.files) - seen):
        raise BackupError("cli.backup_invalid", reason=f"missing {missing[0]}")
    return manifest


def restore(archive: Path, database: Path, media_dir: Path) -> Manifest:
    """Replace ``database`` and ``media_dir`` by the archive's. Refuses (``BackupError``)
    a bad archive before touching anything, and while ``baoxiu serve`` holds the lock."""
    manifest = verify(archive)
    with ServiceLock(database).held(wait=False):
        database.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        with tempfile.TemporaryDirectory(prefix=".restore-", dir=database.parent) as work:
            staged = Path(work)
            with _open(archive) as tar:
                for member in tar:
                    if member.name == MANIFEST:
                        continue
                    _check_member(member, manifest)
                    stream = tar.extractfile(member)
                    assert stream is not None
                    out = staged / member.name
                    out.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
                    fd = os.open(out, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o600)
                    with os.fdopen(fd, "wb") as sink:
                        shutil.copyfileobj(stream, sink)
                    # Checked again as written: the archive may have changed since verify.
                    _check_digest(member.name, _sha256(out), manifest)
            for suffix in ("-wal", "-shm"):  # they belong to the database being replaced
                Path(f"{database}{suffix}").unlink(missing_ok=True)
            (staged / DB_MEMBER).replace(database)
            if media_dir.exists():
                shutil.rmtree(media_dir)
            if (staged / MEDIA_MEMBER).is_dir():
                media_dir.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
                shutil.move(staged / MEDIA_MEMBER, media_dir)
            else:
                media_dir.mkdir(parents=True, mode=0o700)
            media_dir.chmod(0o700)
    return manifest


def prune(folder: Path, keep: int) -> list[Path]:
    """Remove all but the newest ``keep`` scheduled archives in ``folder``."""
    archives = sorted(folder.glob(f"{PREFIX}*{SUFFIX}"))
    gone = archives[: max(len(archives) - keep, 0)]
    for path in gone:
        path.unlink(missing_ok=True)
    return gone


def pending_migrations(database: Path, names: list[str]) -> list[str]:
    """Which of ``names`` an existing database has not applied yet ([] for a new one)."""
    if not database.is_file() or database.stat().st_size == 0:
        return []
    conn = sqlite3.connect(f"file:{database}?mode=ro", uri=True)
    try:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if "tickets" not in tables:
            return []
        applied: set[str] = set()
        if "_sqlite_migrations" in tables:
            rows = conn.execute("SELECT name FROM _sqlite_migrations WHERE migration_set='baoxiu'")
            applied = {r[0] for r in rows}
        return [n for n in names if n not in applied]
    finally:
        conn.close()


class ServiceLock:
    """``<database>.lock``: held by ``baoxiu serve``, with its pid inside for people."""

    def __init__(self, database: Path) -> None:
        self.path = Path(f"{database}.lock")
        self._fd: int | None = None

    def acquire(self, *, wait: bool, shared: bool = False) -> None:
        """Shared: a running service (several may share one database); exclusive: a
        restore, which must be alone. Not waiting, a held lock is ``BackupError``."""
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(self.path, os.O_CREAT | os.O_RDWR, 0o600)
        mode = fcntl.LOCK_SH if shared else fcntl.LOCK_EX
        try:
            fcntl.flock(fd, mode | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            os.close(fd)
            raise BackupError("cli.service_running", lock=str(self.path)) from None
        if not shared:
            os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())  # who holds it, for a person looking
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    @contextlib.contextmanager
    def held(self, *, wait: bool) -> Iterator[None]:
        self.acquire(wait=wait)
        try:
            yield
        finally:
            self.release()


# -- internals ------------------------------------------------------------------------


def _online_copy(source: Path, target: Path) -> None:
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
    dst = sqlite3.connect(target)
    try:
        src.backup(dst)
        dst.execute("PRAGMA journal_mode = DELETE")  # one self-contained file
    finally:
        dst.close()
        src.close()


def _describe(database: Path) -> tuple[tuple[str, ...], dict[str, int]]:
    conn = sqlite3.connect(database)
    try:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        migrations: tuple[str, ...] = ()
        if "_sqlite_migrations" in tables:
            rows = conn.execute("SELECT name FROM _sqlite_migrations ORDER BY applied_at, name")
            migrations = tuple(r[0] for r in rows)
        counts = {
            t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
            for t in COUNTED
            if t in tables
        }
        return migrations, counts
    finally:
        conn.close()


def _open(archive: Path) -> tarfile.TarFile:
    try:
        return tarfile.open(archive, mode="r:gz")
    except (OSError, tarfile.TarError) as error:
        raise BackupError("cli.backup_invalid", reason=str(error)) from None


def _manifest(tar: tarfile.TarFile) -> Manifest:
    try:
        first = tar.next()
        if first is None or first.name != MANIFEST:
            raise BackupError("cli.backup_invalid", reason=f"{MANIFEST} is not first")
        stream = tar.extractfile(first)
        body = json.loads(stream.read() if stream else b"")
        if body.get("format") != FORMAT:
            raise BackupError("cli.backup_invalid", reason=f"format {body.get('format')!r}")
        return Manifest(
            body["version"],
            body["created_at"],
            tuple(body["migrations"]),
            dict(body["counts"]),
            dict(body["files"]),
        )
    except (tarfile.TarError, OSError, ValueError, KeyError, TypeError) as error:
        raise BackupError("cli.backup_invalid", reason=str(error)) from None


def _check_member(member: tarfile.TarInfo, manifest: Manifest) -> None:
    # Only the regular files the manifest lists, under plain relative names: no links,
    # no "../", so extracting can never write outside the staging folder.
    name = member.name
    unsafe = name.startswith("/") or ".." in name.split("/") or not member.isfile()
    if unsafe or name not in manifest.files:
        raise BackupError("cli.backup_invalid", reason=f"unexpected member {name!r}")


def _check_digest(name: str, digest: str, manifest: Manifest) -> None:
    if digest != manifest.files[name]["sha256"]:
        raise BackupError("cli.backup_invalid", reason=f"checksum of {name} does not match")


def _add_bytes(tar: tarfile.TarFile, name: str, data: bytes, now: datetime) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mtime = int(now.timestamp())
    info.mode = 0o600
    tar.addfile(info, io.BytesIO(data))


def _sha256(path: Path) -> str:
    with path.open("rb") as stream:
        return _sha256_stream(stream)


def _sha256_stream(stream: IO[bytes]) -> str:
    digest = hashlib.sha256()
    for chunk in iter(lambda: stream.read(1 << 16), b""):
        digest.update(chunk)
    return digest.hexdigest()
