"""The core stays pure: importing every module of ``tickets`` and ``conversation`` pulls
in no network, chat-platform or adapter code (DESIGN.md, STYLE.md)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parents[1]
FORBIDDEN = ("aiohttp", "telegram", "wechatpy", "httpx", "requests", "bots", "notify", "socket")


def _modules(package: str) -> list[str]:
    return sorted(
        f"{package}.{p.stem}" if p.stem != "__init__" else package
        for p in (ROOT / package).glob("*.py")
    )


def test_core_imports_nothing_from_the_edges() -> None:
    modules = _modules("tickets") + _modules("conversation")
    code = (
        "import importlib, json, sys\n"
        f"for m in {modules!r}: importlib.import_module(m)\n"
        "print(json.dumps(sorted(sys.modules)))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    loaded = json.loads(out)
    bad = [m for m in loaded if m.split(".")[0] in FORBIDDEN]
    assert bad == [], f"the pure core imported {bad}"
