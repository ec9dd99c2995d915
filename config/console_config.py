"""The ``[console]`` table: settings of the staff console (``/console``).

``map_tiles`` is the URL template of the map tiles behind the technicians board's map
(``https://tiles.example.cn/{z}/{x}/{y}.png``): mainland deployments use their own tile
servers, so there is no default — without it the board is a table only.
``map_attribution`` is the text the tile provider asks to be shown on the map. ``read``
checks them with the loader's messages; nothing here opens the network.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from config.table import _Table

ROOT_KEYS = ("console",)
SCHEMA: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {"console": ("map_tiles", "map_attribution")}
)
_TILES = re.compile(r"https?://[^\s/]+/\S*")


@dataclass(frozen=True)
class ConsoleSettings:
    map_tiles: str = ""  # '' = no map, the board is a table
    map_attribution: str = ""

    @property
    def tile_origin(self) -> str:
        """scheme://host[:port] of the tiles (the page's CSP allows images from it)."""
        scheme, _, rest = self.map_tiles.partition("://")
        host = rest.split("/", 1)[0].replace("{s}.", "*.")
        return f"{scheme}://{host}" if self.map_tiles else ""


def read(root: _Table) -> ConsoleSettings:
    """The ``Config`` field ``console`` from the document root."""
    table = root.table("console", "console")
    tiles = table.text("map_tiles", "", empty=True).strip()
    if tiles and not (
        _TILES.fullmatch(tiles) and all(f"{{{k}}}" in tiles for k in "zxy") and '"' not in tiles
    ):
        table.fail(
            "map_tiles",
            tiles,
            "must be an http(s) URL template with {z}, {x} and {y}",
            'e.g. map_tiles = "https://tiles.example.cn/{z}/{x}/{y}.png"',
        )
    return ConsoleSettings(tiles, table.text("map_attribution", "", empty=True).strip())
