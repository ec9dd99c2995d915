"""An outbox row's params made presentable — strings, names instead of codes, local
times — shared by every notice renderer (core, dispatch rules, repeat/incident rules).

Pure: it reads the row and the configuration, never the store.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from config.model import Config
from conversation.i18n import local_time, translate
from tickets.rows import OutboxRow


@dataclass(frozen=True)
class NoticeView:
    row: OutboxRow
    config: Config
    locale: str
    prefix: str = "notices"  # catalog domain of this renderer's keys ("" for full keys)

    def t(self, key: str, **params: Any) -> str:
        return translate(self.locale, f"{self.prefix}.{key}" if self.prefix else key, **params)

    @property
    def params(self) -> Mapping[str, Any]:
        return self.row.params if isinstance(self.row.params, Mapping) else {}

    def text(self, name: str) -> str:
        value = self.params.get(name)
        return "" if value is None else str(value).strip()

    @property
    def number(self) -> str:
        return self.text("number") or (self.row.number or "")

    def category(self) -> str:
        """ "水 / 漏水" for a leaf code, the group's name for a group code, else as given."""
        code = self.text("category")
        leaf = self.config.category(code) if code else None
        group = self.config.group(leaf.group if leaf else code) if code else None
        if leaf is None:
            if group is not None:
                return group.name(self.locale)
            return self.text("category_name") or code
        if group is None:
            return leaf.name(self.locale)
        return f"{group.name(self.locale)} / {leaf.name(self.locale)}"

    def place(self) -> str:
        """Area, building and spot as one line; unknown codes are shown as given."""
        area_code, building_code = self.text("area"), self.text("building")
        area = self.config.area(area_code) if area_code else None
        parts: list[str] = []
        if area_code:
            parts.append(area.name(self.locale) if area else area_code)
        if building_code:
            areas = [area] if area else list(self.config.areas)
            building = next(
                (b for a in areas for b in a.buildings if b.code == building_code), None
            )
            parts.append(building.name(self.locale) if building else building_code)
        if spot := self.text("spot"):
            parts.append(spot)
        return translate(self.locale, "notices.place_separator").join(parts)

    def time(self, name: str, fmt: str = "%Y-%m-%d %H:%M") -> str:
        """A stored (UTC) time in the service's time zone; "" when absent."""
        raw = self.params.get(name)
        if not raw:
            return ""
        try:
            moment = raw if isinstance(raw, datetime) else datetime.fromisoformat(str(raw))
        except ValueError:
            return str(raw)
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)  # the store writes UTC
        return local_time(moment, self.config.timezone, fmt)
