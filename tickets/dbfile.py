"""The database file's own mode: created readable by its owner only (it holds phone
numbers). Touches nothing but the file's permission bits; never opens it with SQLite."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

__all__ = ["private_file"]


def private_file(path: Path) -> None:
    """Create the database file readable by its owner only (it holds phone numbers),
    whatever the umask; SQLite gives its -wal and -shm files the same mode. An existing
    file of ours is tightened too (older versions made it 0644)."""
    if str(path) == ":memory:":
        return
    try:
        fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o600)
    except OSError:
        return  # sqlite3.connect reports the real problem in its own words
    os.close(fd)
    with contextlib.suppress(OSError):  # a file owned by someone else stays as it is
        if path.stat().st_mode & 0o077:
            path.chmod(0o600)
