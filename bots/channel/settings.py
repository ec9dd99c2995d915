"""What every channel's ``[channels.<name>]`` table shares: whether it is switched on,
the table itself, and refusals that name the key, the value and the fix.

Each channel's settings module (``bots.telegram.settings``, ``bots.wechat.settings``,
``bots.wecom.settings``) checks its own keys with these; the messages read the same for
every channel. Problems and fixes are names in the ``config_channels`` catalog, said in
the language the loader reports in (``reported_in``: the operator's, for ``config check``).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, NoReturn

from config.model import Config
from config.table import _LOCALE
from conversation.i18n import DEFAULT_LOCALE, LOCALES, catalog
from tickets.errors import ConfigError


def say(name: str, /, **params: Any) -> str:
    """``config_channels.<name>`` in the language problems are reported in."""
    key = f"config_channels.{name}"
    template = catalog(_LOCALE.get()).get(key) or catalog(DEFAULT_LOCALE)[key]
    return template.format_map(params)


@contextmanager
def reported_in(locale: str) -> Iterator[None]:
    """Report the channels' problems in ``locale`` (as ``config.loader.load`` does its own)."""
    token = _LOCALE.set(locale if locale in LOCALES else "en")
    try:
        yield
    finally:
        _LOCALE.reset(token)


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

    def table(self, config: Config, needs: str, **params: Any) -> Mapping[str, Any]:
        """The raw table; missing, a ``ConfigError`` that says what it ``needs`` (a name)."""
        raw = config.extra_channels.get(self.name)
        if raw is None:
            wanted = say(needs, **params)
            raise ConfigError(
                f"{self.path}: " + say("common.table_missing", path=self.path, needs=wanted)
            )
        return raw

    def fail(self, key: str, value: Any, problem: str, fix: str, /, **params: Any) -> NoReturn:
        """Refuse ``key = value``: ``problem`` and ``fix`` are catalog names (``params``)."""
        shown = f'"{value}"' if isinstance(value, str) else repr(value)
        said = f"{say(problem, **params)} — {say(fix, **params)}"
        raise ConfigError(f"{self.path}.{key} = {shown}: {said}")

    def refuse(self, key: str, problem: str, fix: str, **params: Any) -> NoReturn:
        """Refuse ``key`` without showing its value (missing, or a secret)."""
        raise ConfigError(f"{self.path}.{key}: {say(problem, **params)} — {say(fix, **params)}")

    def known(self, raw: Mapping[str, Any], keys: Sequence[str]) -> None:
        """Refuse the first key (in order) that is not one of ``keys``."""
        unknown = sorted(set(raw) - set(keys))
        if unknown:
            options = ", ".join(keys)
            self.fail(
                unknown[0],
                raw[unknown[0]],
                "common.unknown_key",
                "common.use_one_of",
                options=options,
            )

    def number(
        self, raw: Mapping[str, Any], key: str, default: float, low: float, high: float
    ) -> float:
        value = raw.get(key, default)
        span = {"low": f"{low:g}", "high": f"{high:g}"}
        if isinstance(value, bool) or not isinstance(value, int | float):
            self.fail(key, value, "common.must_be_number", "common.number_fix", **span)
        if not low <= value <= high:
            self.fail(key, value, "common.out_of_range", "common.number_fix", **span)
        return float(value)

    def secret(
        self, raw: Mapping[str, Any], key: str, pattern: re.Pattern[str], what: str, where: str
    ) -> str:
        """A credential checked against ``pattern``; ``what`` is the problem's catalog name,
        ``where`` (in the channel's admin pages, named as they are) where it is found."""
        value = raw.get(key, "")
        if not isinstance(value, str) or not pattern.fullmatch(value.strip()):
            # The value may be a real secret, mistyped: name the problem without printing it.
            raise ConfigError(f"{self.path}.{key}: {say(what)} ({where})")
        return value.strip()

    def text(self, raw: Mapping[str, Any], key: str, default: str) -> str:
        value = raw.get(key, default)
        if not isinstance(value, str):
            self.fail(key, value, "common.must_be_text", "common.text_fix", value=value)
        return value.strip()

    def flag(self, raw: Mapping[str, Any], key: str, default: bool) -> bool:
        value = raw.get(key, default)
        if not isinstance(value, bool):
            self.fail(key, value, "common.must_be_flag", "common.flag_fix")
        return value
