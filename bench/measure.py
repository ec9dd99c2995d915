"""What the HTTP benches measure of their servers: a process's (or one thread's) CPU time
from /proc, and latency percentiles. Reads /proc only; starts nothing."""

from __future__ import annotations

import os
import statistics
from pathlib import Path


def cpu_seconds(pid: int, task: int | None = None) -> float:
    """User + system CPU time so far of a process (all its threads), or of one of its
    threads (``task``: the main thread, which runs the event loop, is ``pid``); 0 when
    /proc cannot tell (not Linux, the process gone)."""
    stat = Path(f"/proc/{pid}/task/{task}/stat" if task else f"/proc/{pid}/stat")
    try:
        fields = stat.read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def percentile_ms(times: list[float], q: float) -> float:
    """The ``q``-th percentile of ``times`` (seconds), in milliseconds."""
    return statistics.quantiles(times, n=100)[int(q) - 1] * 1000
