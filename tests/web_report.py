"""A full resident's report over the web chat API on the built-in configuration, as the
crash test (tests/test_crash.py) and the web bench (bench/web.py) both drive it, and a
free port on 127.0.0.1 for the ``baoxiu serve`` they start."""

from __future__ import annotations

import re
import socket

SCRIPT: list[tuple[str, str]] = [
    ("button", "c:report"),
    ("button", "i:cat:water"),
    ("button", "i:cat:water.leak"),
    ("button", "i:area:east"),
    ("button", "i:bld:b1"),
    ("text", "{spot}"),
    ("text", "{phone}"),
    ("text", "卫生间水管漏水，地面都湿了 {spot}"),
    ("button", "i:photos_done"),
    ("button", "i:time:any"),
    ("button", "i:confirm"),
]
"""(kind, value) of each step; ``{spot}`` and ``{phone}`` differ per report so that the
repeat rules take no report for another's duplicate."""

NUMBER = re.compile(r"BX\d{8}-\d{4}")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
