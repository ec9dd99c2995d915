"""What every channel's ``[channels.<name>]`` table shares: whether it is switched on,
the table itself, and refusals that name the key, the value and the fix.

Each channel's settings module (``bots.telegram.settings``, ``bots.wechat.settings``)
checks its own keys with these; the messages read the same for every channel.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NoReturn

from config.model import Config
from tickets.errors import ConfigError


@dataclass(frozen=True)
class Section:
    name: str  # "telegram", "wechat"

    @property
    def path(self) -> str:
        return f"channels.{self.name}"

    def configured(self, config: Config) -> bool:
        """Whether ``[channels.<name>]`` is present and not switched off."""
        table = config.extra_channels.get(self.name)
        return table is not None and table.get("enabled", True) is not False

    def table(self, config: Config, needs: str) -> Mapping[str, Any]:
        """The raw table; missing, a ``ConfigError`` that says what it ``needs``."""
        raw = config.extra_channels.get(self.name)
        if raw is None:
            raise ConfigError(f"{self.path}: missing — add a [{self.path}] table with {needs}")
        return raw

    def fail(self, key: str, value: Any, problem: str, fix: str) -> NoReturn:
        shown = f'"{value}"' if isinstance(value, str) else repr(value)
        raise ConfigError(f"{self.path}.{key} = {shown}: {problem} — {fix}")

    def known(self, raw: Mapping[str, Any], keys: Sequence[str]) -> None:
        """Refuse the first key (in order) that is not one of ``keys``."""
        unknown = sorted(set(raw) - set(keys))
        if unknown:
            self.fail(unknown[0], raw[unknown[0]], "unknown key", f"use one of: {', '.join(keys)}")

    def number(
        self, raw: Mapping[str, Any], key: str, default: float, low: float, high: float
    ) -> float:
        value = raw.get(key, default)
        fix = f"write a number between {low:g} and {high:g}"
        if isinstance(value, bool) or not isinstance(value, int | float):
            self.fail(key, value, "must be a number", fix)
        if not low <= value <= high:
            self.fail(key, value, "out of range", fix)
        return float(value)

    def secret(
        self, raw: Mapping[str, Any], key: str, pattern: re.Pattern[str], what: str, where: str
    ) -> str:
        """A credential checked against ``pattern``; ``where`` says where it is found."""
        value = raw.get(key, "")
        if not isinstance(value, str) or not pattern.fullmatch(value.strip()):
            # The value may be a real secret, mistyped: name the problem without printing it.
            raise ConfigError(f"{self.path}.{key}: {what} ({where})")
        return value.strip()

    def text(self, raw: Mapping[str, Any], key: str, default: str) -> str:
        value = raw.get(key, default)
        if not isinstance(value, str):
            self.fail(key, value, "must be text", f'put it in double quotes: "{value}"')
        return value.strip()
