"""The ``[org]`` table: the operator's own name, logo and hotline on the web chat page.

``read(root, base)`` checks it with the loader's messages (key path, value, fix) and returns
the ``Config`` field ``org``. The logo is only looked at (exists, an image by its name, not
huge); it is served by the web chat, never copied. Nothing here opens the database or the
network.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from config.table import _Table

ROOT_KEYS = ("org",)
SCHEMA: Mapping[str, tuple[str, ...]] = MappingProxyType({"org": ("name", "logo", "hotline")})
LOGO_TYPES = MappingProxyType(
    {
        ".png": "image/png",
        ".jpg": "image/jpeg",
        ".jpeg": "image/jpeg",
        ".gif": "image/gif",
        ".webp": "image/webp",
        ".svg": "image/svg+xml",
    }
)
MAX_LOGO_BYTES = 512 * 1024
MAX_NAME = 40
_HOTLINE = re.compile(r"\+?[0-9][0-9 ()\-]{1,28}[0-9]")


@dataclass(frozen=True)
class OrgSettings:
    """Empty name: the page keeps its generic heading; ``logo`` None: the built-in icon."""

    name: str = ""
    logo: Path | None = None
    hotline: str = ""

    @property
    def hotline_dial(self) -> str:
        """The hotline as a ``tel:`` link dials it: digits and a leading +."""
        return re.sub(r"[^0-9+]", "", self.hotline)


def read(root: _Table, base: Path) -> OrgSettings:
    """The ``Config`` field ``org`` from the document root."""
    from config.table import _m

    org = root.table("org", "org")
    name = org.text("name", "", empty=True)
    if len(name) > MAX_NAME:
        org.fail("name", name, _m("org.name_long", limit=MAX_NAME), _m("org.name_long_fix"))
    logo: Path | None = None
    if "logo" in org.raw:
        written = org.text("logo")
        logo = Path(written).expanduser()
        logo = logo if logo.is_absolute() else base / logo
        if logo.suffix.lower() not in LOGO_TYPES:
            org.fail("logo", written, _m("org.logo_type"), _m("org.logo_type_fix"))
        try:
            size = logo.stat().st_size if logo.is_file() else -1
        except OSError:
            size = -1
        if size < 0:
            org.fail("logo", written, _m("org.logo_missing"), _m("org.logo_missing_fix"))
        if size > MAX_LOGO_BYTES:
            org.fail("logo", written, _m("org.logo_big", kb=size // 1024), _m("org.logo_big_fix"))
    hotline = org.text("hotline", "", empty=True)
    if hotline and not _HOTLINE.fullmatch(hotline):
        org.fail("hotline", hotline, _m("org.bad_hotline"), _m("org.bad_hotline_fix"))
    return OrgSettings(name=name, logo=logo, hotline=hotline)
