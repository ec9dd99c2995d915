"""The repeat-report and large-area-incident part of the configuration.

``[repeats]`` holds the telecom 112 rules (a report of a fault that is already open is
a hurry, a complaint once it has waited too long, a quality repeat when it comes back
soon after the fix; reports of other people close by are suggested as duplicates);
``[incidents]`` holds when many reports of one kind in one area become a large-area
incident (大面积故障). Both have defaults, so a configuration without them runs the
rules as a 10000/95598 desk would.

``parse`` is called by ``config.loader`` with its own table reader, so every message
names the key path, the value and the fix like every other key. Nothing else here: no
files, no clock, no database.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the loader imports this module; its reader is only a type here
    from config.table import _Table

REPEAT_KEYS = (
    "enabled",
    "hurry_hours",
    "repeat_days",
    "duplicate_minutes",
    "duplicate_radius_m",
)
INCIDENT_KEYS = ("enabled", "reports", "window_minutes", "radius_m", "auto_open", "eta_minutes")


@dataclass(frozen=True)
class RepeatRules:
    """The 112 repeat-report rules.

    - A report whose reporter already has an open ticket of the same category at the same
      spot files nothing new: that ticket is hurried; if it has been open longer than
      ``hurry_hours`` the dispatcher also gets it as a complaint (time limit).
    - A report of the same fault within ``repeat_days`` after it was fixed reopens the
      ticket (or, once closed, is filed flagged as its repeat) and the dispatcher is told
      (a complaint about quality).
    - Reports of other people, same category and building (or within
      ``duplicate_radius_m`` when both have coordinates), filed within
      ``duplicate_minutes`` of each other are suggested to the dispatcher as duplicates.
    """

    enabled: bool = True
    hurry_hours: int = 24
    repeat_days: int = 3
    duplicate_minutes: int = 120
    duplicate_radius_m: int = 100


@dataclass(frozen=True)
class IncidentRules:
    """``reports`` reports of one category from different people in one area (or within
    ``radius_m`` of each other when they have coordinates and no area) within
    ``window_minutes`` make a large-area incident: proposed to the dispatchers, or opened
    at once when ``auto_open``. ``eta_minutes`` is the expected repair time announced
    when nobody gave one."""

    enabled: bool = True
    reports: int = 3
    window_minutes: int = 30
    radius_m: int = 500
    auto_open: bool = False
    eta_minutes: int = 240


def parse(repeats: _Table, incidents: _Table) -> dict[str, Any]:
    """The ``Config`` fields of ``[repeats]`` and ``[incidents]``."""
    d_rep, d_inc = RepeatRules(), IncidentRules()
    rules = RepeatRules(
        enabled=repeats.flag("enabled", d_rep.enabled),
        hurry_hours=repeats.integer("hurry_hours", d_rep.hurry_hours, unit="hours", high=720),
        repeat_days=repeats.integer("repeat_days", d_rep.repeat_days, unit="days", high=90),
        duplicate_minutes=repeats.integer(
            "duplicate_minutes", d_rep.duplicate_minutes, unit="minutes", high=10080
        ),
        duplicate_radius_m=repeats.integer(
            "duplicate_radius_m", d_rep.duplicate_radius_m, unit="metres", high=50_000
        ),
    )
    incident = IncidentRules(
        enabled=incidents.flag("enabled", d_inc.enabled),
        reports=incidents.integer("reports", d_inc.reports, high=1000),
        window_minutes=incidents.integer(
            "window_minutes", d_inc.window_minutes, unit="minutes", high=1440
        ),
        radius_m=incidents.integer("radius_m", d_inc.radius_m, unit="metres", high=50_000),
        auto_open=incidents.flag("auto_open", d_inc.auto_open),
        eta_minutes=incidents.integer("eta_minutes", d_inc.eta_minutes, unit="minutes", high=10080),
    )
    if incident.reports < 2:
        problem, fix = _m("reports_low"), _m("reports_low_fix")
        incidents.fail("reports", incident.reports, problem, fix)
    return {"repeats": rules, "incidents": incident}


def _m(key: str, /, **params: Any) -> str:
    """A ``config_check.sections`` message in the language problems are reported in."""
    from config.table import _m as message

    return message(f"sections.{key}", **params)
