"""Helpers for the dispatch and time-limit tests: local times in the configured zone
(Asia/Shanghai), weekly schedules, and a configuration with dispatch settings."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from config.dispatch_config import WEEKDAYS, DispatchConfig, Week, Window
from config.model import Config

ZONE = ZoneInfo("Asia/Shanghai")


def local(text: str) -> datetime:
    """``"2026-11-23 16:00"`` in Shanghai, as an aware UTC datetime."""
    return datetime.fromisoformat(text).replace(tzinfo=ZONE).astimezone(UTC)


def week(days: str, *hours: str) -> Week:
    """``week("mon-fri", "08:30-12:00")``; days as a range or comma list."""
    chosen: list[int] = []
    if "-" in days:
        first, last = days.split("-")
        chosen = list(range(WEEKDAYS.index(first), WEEKDAYS.index(last) + 1))
    elif days:
        chosen = [WEEKDAYS.index(d) for d in days.split(",")]
    windows = []
    for span in hours:
        start, end = (int(h) * 60 + int(m) for h, m in (p.split(":") for p in span.split("-")))
        windows.append(Window(start, end if end > start else end + 1440))
    return Week(frozenset(chosen), tuple(windows))


def with_dispatch(config: Config, **settings: Any) -> Config:
    return replace(config, dispatch=replace(config.dispatch, **settings))


__all__ = ["ZONE", "DispatchConfig", "local", "week", "with_dispatch"]
