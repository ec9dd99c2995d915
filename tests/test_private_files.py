"""The data folder, the database and uploaded photos are the owner's alone (issue 10,
defect 9): they hold phone numbers and pictures of people's homes. Under the usual umask
022 they used to come out 0755 and 0644."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bots.engine import open_store
from bots.web.chat import _save
from config.model import Config
from tests.conftest import draft


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def umask_022() -> Iterator[None]:
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


def test_a_new_data_folder_and_database_are_private(
    config: Config, tmp_path: Path, umask_022: None
) -> None:
    data = tmp_path / "fresh" / "data"
    config = replace(config, database=data / "baoxiu.db", media_dir=data / "media")
    with open_store(config) as store:
        store.create_ticket(draft(), datetime.now(UTC))  # writes the -wal file
        assert mode(data) == 0o700
        assert mode(data / "baoxiu.db") == 0o600
        assert mode(data / "baoxiu.db-wal") == 0o600


def test_an_old_world_readable_database_is_tightened(
    config: Config, tmp_path: Path, umask_022: None
) -> None:
    path = tmp_path / "old.db"
    path.touch(mode=0o644)
    with open_store(replace(config, database=path)):
        assert mode(path) == 0o600


def test_an_uploaded_photo_is_private(tmp_path: Path, umask_022: None) -> None:
    target = tmp_path / "media" / "web" / "p.png"
    _save(target, b"\x89PNG")
    assert mode(target) == 0o600
    assert mode(target.parent) == 0o700
