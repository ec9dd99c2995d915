"""How fast the core is: simulated residents through the intake dialogue and the store.

Prints three numbers and, as the headline, the engine's steps/s over a baseline built
from the first two in the same run: the same residents' steps run bare plus one ticket
transaction each — what a step costs beyond keeping the dialogue between messages
(no assertions; see the closing notes of the issues for results):

1. pure dialogue steps/s — ``conversation.router.step`` alone, with an empty lookup;
2. store transactions/s — ``Store.create_ticket`` (ticket + event + outbox rows, one
   ``BEGIN IMMEDIATE`` transaction each) on a real WAL file;
3. engine steps/s — ``Engine.handle``: each step loads and saves the dialogue in its own
   transaction, the confirm step also creates the ticket (what a channel adapter runs),
   with its CPU time per step (steadier than steps/s when other processes share the
   cores) and the SQL statements it runs per step (triggers' inner statements left out).

Both stores checkpoint the write-ahead log on a thread of their own, as a server's does
(``Store.checkpoint_in_background``); ``--inline-checkpoints`` leaves it to the commits.

Usage: ``python bench/flow.py [--residents 10000] [--engine-residents 2000]
[--inline-checkpoints]``.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bots.engine import Engine
from config.loader import load
from conversation import router
from conversation.actions import CreateTicket
from conversation.context import Ctx
from conversation.events import Button, InEvent, Text
from conversation.state import IDLE, DialogueState
from tickets.model import Draft, Ticket
from tickets.store import Store

START = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)


def script(i: int) -> list[InEvent]:
    """What one resident sends, from naming the fault to confirming the summary."""
    return [
        Text("卫生间漏水了"),
        Button("i:area:east"),
        Button(f"i:bld:b{1 + i % 3}"),
        Text(f"{1 + i % 20}楼{100 + i % 50}室"),
        Text(f"138{i:08d}"),
        Text("水管接头一直在滴水，地上都湿了"),
        Button("i:photos_done"),
        Button("i:time:any"),
        Button("i:confirm"),
    ]


class NoTickets:
    """A lookup that knows no tickets: the pure flow never finds a duplicate."""

    def ticket(self, number: str) -> Ticket | None:
        return None

    def tickets_of(self, channel: str, chat: str, limit: int = 10) -> Sequence[Ticket]:
        return ()

    def open_duplicate(
        self, channel: str, chat: str, category: str, spot: str, since: datetime
    ) -> Ticket | None:
        return None

    def jobs_of(self, technician: str) -> Sequence[Ticket]:
        return ()

    def offered_to(self, technician: str) -> Sequence[Ticket]:
        return ()

    def queue(self, limit: int = 20) -> Sequence[Ticket]:
        return ()


def pure_steps(residents: int) -> tuple[float, list[Draft]]:
    config = load(None)
    lookup = NoTickets()
    drafts: list[Draft] = []
    steps = 0
    began = time.perf_counter()
    for i in range(residents):
        ctx = Ctx(config, START, "bench", f"r{i}", "zh_CN", lookup)
        state: DialogueState = IDLE
        for event in script(i):
            result = router.step(state, event, ctx)
            state = result.state
            steps += 1
            drafts.extend(a.draft for a in result.actions if isinstance(a, CreateTicket))
    elapsed = time.perf_counter() - began
    if len(drafts) != residents:
        raise SystemExit(f"only {len(drafts)} of {residents} residents reached a ticket")
    return steps / elapsed, drafts


def open_store(path: Path, background: bool) -> Store:
    store = Store(path, load(None))
    if background:
        store.checkpoint_in_background()
    return store


def store_transactions(drafts: list[Draft], folder: Path, background: bool) -> float:
    store = open_store(folder / "store.db", background)
    try:
        began = time.perf_counter()
        for i, draft in enumerate(drafts):
            store.create_ticket(draft, START + timedelta(seconds=i))
        return len(drafts) / (time.perf_counter() - began)
    finally:
        store.close()


def engine_steps(residents: int, folder: Path, background: bool) -> tuple[float, float, float, int]:
    """Steps/s, CPU ms per step, SQL statements per step, tickets made."""
    store = open_store(folder / "engine.db", background)
    statements = 0

    def count(sql: str) -> None:
        nonlocal statements
        statements += not sql.startswith("--")  # "--": a trigger's or FTS's own

    try:
        engine = Engine(store, store.config)
        steps = 0
        store.db.conn.set_trace_callback(count)
        began, cpu = time.perf_counter(), time.process_time()
        for i in range(residents):
            now = START + timedelta(seconds=i)
            for event in script(i):
                engine.handle("bench", f"r{i}", event, now)
                steps += 1
        elapsed, cpu = time.perf_counter() - began, time.process_time() - cpu
        store.db.conn.set_trace_callback(None)
        [row] = store.query("SELECT COUNT(*) AS n FROM tickets")
        return steps / elapsed, cpu * 1000 / steps, statements / steps, int(row["n"])
    finally:
        store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--residents", type=int, default=10_000)
    parser.add_argument("--engine-residents", type=int, default=2_000)
    parser.add_argument("--inline-checkpoints", action="store_true")
    args = parser.parse_args()
    background = not args.inline_checkpoints
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        pure_rate, drafts = pure_steps(args.residents)
        print(
            f"pure intake flow:   {args.residents:>6} residents, "
            f"{pure_rate:>10,.0f} dialogue steps/s"
        )
        tx = store_transactions(drafts, folder, background)
        print(f"store:              {len(drafts):>6} tickets,   {tx:>10,.0f} transactions/s")
        rate, cpu, sql, made = engine_steps(args.engine_residents, folder, background)
        print(
            f"engine (flow+store): {args.engine_residents:>5} residents, {rate:>10,.0f} steps/s "
            f"(one transaction each), {made} tickets; CPU {cpu:.3f} ms/step, "
            f"{sql:.2f} SQL statements/step"
        )
        # The baseline, from the two lines above (same scripts, same process, same run):
        # a resident's steps run bare plus his ticket's one transaction, and nothing kept
        # between steps. What the engine adds is loading and saving the dialogue.
        steps = len(script(0))
        bare = steps / pure_rate + 1 / tx  # seconds per resident
        ours = steps / rate
        print(
            f"ratio engine / (bare steps + the ticket's transaction): {bare / ours:.2f} "
            f"({1000 * ours / steps:.3f} vs {1000 * bare / steps:.3f} ms per step)"
        )


if __name__ == "__main__":
    main()
