"""The ``[followup]`` and ``[receipt]`` tables: sampled follow-up calls (回访) and the
receipt of assigned jobs (接单确认).

``read(root)`` checks them with the loader's messages (key path, value, fix) and returns
the ``Config`` field ``flow``. Plain frozen data; nothing here opens files or the database.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from config.table import _Table

ROOT_KEYS = ("followup", "receipt")
SCHEMA: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        "followup": ("sample_percent",),
        "receipt": ("enabled", "remind_percent"),
    }
)


@dataclass(frozen=True)
class FlowSettings:
    """``sample_percent``: share of closed tickets sampled for a follow-up call (0: only
    bad ratings get one). ``receipt``: an assigned (not claimed) job must be acknowledged
    by its technician within the claim limit; reminded at ``receipt_remind_percent``."""

    sample_percent: int = 0
    receipt: bool = True
    receipt_remind_percent: int = 50


def _percent(table: _Table, key: str, default: int, *, low: int, high: int) -> int:
    value = table.raw.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        table.fail(
            key,
            value,
            f"must be a whole number of percent from {low} to {high}",
            f"e.g. {key} = {default or 10}",
        )
    return value


def read(root: _Table) -> FlowSettings:
    """The ``Config`` field ``flow`` from the document root."""
    followup = root.table("followup", "followup")
    receipt = root.table("receipt", "receipt")
    return FlowSettings(
        sample_percent=_percent(followup, "sample_percent", 0, low=0, high=100),
        receipt=receipt.flag("enabled", True),
        receipt_remind_percent=_percent(receipt, "remind_percent", 50, low=1, high=99),
    )
