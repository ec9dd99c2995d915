"""What every channel's ``[channels.<name>]`` table shares: whether it is switched on,
the table itself, and refusals that name the key, the value and the fix.

Each channel's settings module (``bots.telegram.settings``, ``bots.wechat.settings``)
checks its own keys with these; the messages read the same for every channel.
"""

from __future__ import annotations

from collections.abc import Mapping
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

    def text(self, raw: Mapping[str, Any], key: str, default: str) -> str:
        value = raw.get(key, default)
        if not isinstance(value, str):
            self.fail(key, value, "must be text", f'put it in double quotes: "{value}"')
        return value.strip()
