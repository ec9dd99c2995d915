"""The ``[backup]``, ``[metrics]`` and ``[privacy]`` tables: how the service is operated.

``read(root, base)`` checks them with the loader's messages (key path, value, fix) and
returns the ``Config`` field ``ops``. Plain frozen data; nothing here opens files, the
database or the network.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from config.table import _Table

ROOT_KEYS = ("backup", "metrics", "privacy")
SCHEMA: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        "backup": ("every_hours", "keep", "folder"),
        "metrics": ("allow", "token"),
        "privacy": ("keep_days",),
    }
)


@dataclass(frozen=True)
class OpsSettings:
    """``backup_every_hours`` 0: no scheduled backups; ``keep_days`` 0: keep forever."""

    backup_every_hours: int = 0
    backup_keep: int = 7
    backup_folder: Path | None = None  # None: "backups" beside the database
    metrics_allow: tuple[str, ...] = ("127.0.0.1", "::1")
    metrics_token: str = ""
    keep_days: int = 0

    def backups(self, database: Path) -> Path:
        return self.backup_folder or database.parent / "backups"


def _count(table: _Table, key: str, default: int, *, unit: str, high: int) -> int:
    """A whole number from 0 (off) to ``high``."""
    value = table.raw.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= high:
        problem = _m("count", unit=_word("unit", unit), high=high)
        table.fail(key, value, problem, _m("example", key=key, default=default or 24))
    return value


def read(root: _Table, base: Path) -> OpsSettings:
    """The ``Config`` field ``ops`` from the document root."""
    backup = root.table("backup", "backup")
    metrics = root.table("metrics", "metrics")
    privacy = root.table("privacy", "privacy")
    folder: Path | None = None
    if "folder" in backup.raw:
        folder = Path(backup.text("folder")).expanduser()
        folder = folder if folder.is_absolute() else base / folder
    allow = metrics.texts("allow") if "allow" in metrics.raw else OpsSettings.metrics_allow
    for i, item in enumerate(allow):
        try:
            ipaddress.ip_network(item, strict=False)
        except ValueError:
            metrics.fail(f"allow[{i}]", item, _m("not_address"), _m("not_address_fix"))
    token = metrics.text("token", "", empty=True)
    if token and len(token) < 16:
        metrics.fail("token", "…", _m("short_token"), _m("short_token_fix"))
    return OpsSettings(
        backup_every_hours=_count(backup, "every_hours", 0, unit="hours", high=24 * 30),
        backup_keep=backup.integer("keep", 7, high=1000),
        backup_folder=folder,
        metrics_allow=allow,
        metrics_token=token,
        keep_days=_count(privacy, "keep_days", 0, unit="days", high=36500),
    )


def _m(key: str, /, **params: Any) -> str:
    """A ``config_check.sections`` message in the language problems are reported in."""
    from config.table import _m as message

    return message(f"sections.{key}", **params)


def _word(group: str, name: str) -> str:
    from config.table import _word as word

    return word(group, name)
