"""Message catalogs. Every text a person sees comes from here.

Catalogs live in ``conversation/locales/<locale>/<domain>.toml``; a key ``ask`` in
``intake.toml`` is ``intake.ask``. zh_CN is the default and the fallback; en is
complete (a test checks both have the same keys and the same placeholders).
"""

from __future__ import annotations

import tomllib
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

LOCALES = ("zh_CN", "en")
DEFAULT_LOCALE = "zh_CN"
_DIR = Path(__file__).with_name("locales")


def normalize(locale: str | None) -> str:
    """Map whatever a platform reports (``zh-hans``, ``en-US``) onto a catalog we have."""
    if not locale:
        return DEFAULT_LOCALE
    low = locale.lower().replace("-", "_")
    if low.startswith("en"):
        return "en"
    return DEFAULT_LOCALE


@cache
def catalog(locale: str) -> dict[str, str]:
    messages: dict[str, str] = {}
    folder = _DIR / locale
    for path in sorted(folder.glob("*.toml")):
        with path.open("rb") as fh:
            data = tomllib.load(fh)
        _flatten(path.stem, data, messages)
    return messages


def _flatten(prefix: str, data: dict[str, Any], out: dict[str, str]) -> None:
    for key, value in data.items():
        full = f"{prefix}.{key}"
        if isinstance(value, dict):
            _flatten(full, value, out)
        else:
            out[full] = str(value)


_TABLES: dict[str, dict[str, str]] = {}
"""The catalogs by the locale codes of ``LOCALES`` (a step translates ~7 texts: the
platform spellings that ``normalize`` maps are the rare case)."""


def translate(locale: str, key: str, **params: Any) -> str:
    """The message ``key`` in ``locale`` (falling back to zh_CN), formatted with ``params``.

    A missing key raises ``KeyError``: a text without a catalog entry is a bug.
    """
    table = _TABLES.get(locale)
    if table is None:
        table = catalog(normalize(locale))
        if locale in LOCALES:
            _TABLES[locale] = table
    template = table.get(key)
    if template is None:
        template = catalog(DEFAULT_LOCALE)[key]
    return template.format_map(params) if params else template


CHANNELS = ("web", "wechat", "telegram", "phone", "sms", "terminal", "wecom", "email")
"""The channels a person or a notice can come by, in the order a desk lists them."""


def channel_name(locale: str, code: str) -> str:
    """What a channel is called for people (网页报修, 微信公众号…); an unknown code as is."""
    return catalog(locale).get(f"channel_names.{code}", code)


def local_time(moment: datetime, timezone: str, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """Show a stored (UTC) time in the service's time zone."""
    return moment.astimezone(ZoneInfo(timezone)).strftime(fmt)


def mask_phone(phone: str) -> str:
    """138****0000 — what a team group or another person may see of a reporter's phone."""
    digits = phone[3:] if phone.startswith("+86") else phone.lstrip("+")
    if len(digits) < 7:
        return "*" * len(digits)
    return f"{digits[:3]}****{digits[-4:]}"


def local_phone(phone: str) -> str:
    """+8613800000000 → 13800000000 for display to the person themselves or the holder."""
    return phone[3:] if phone.startswith("+86") else phone
