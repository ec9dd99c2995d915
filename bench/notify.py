"""How the outbox keeps a channel's rate and lets dialogue replies through a flood.

3,000 broadcasts (team offers, lane 2) are queued in a real store for channel
``telegram``, configured at ``--rate`` messages/s (default 300). The real
``DeliveryWorker`` delivers them through a fake sender that takes ``--latency`` seconds
per message (a platform's round trip), ``--concurrency`` at a time. Meanwhile an
"adapter" sends a dialogue reply every ``--reply-every`` seconds through the same
channel limiter in lane 0, as an adapter should (``limiter_for(config, channel).acquire(
chat, lane=REPLY)``); for comparison a second stream does the same in the broadcasts'
lane, first come first served.

Prints the achieved rate over the limit (target >= 0.95), the longest and median wait of
a lane-0 reply, and the longest wait of a reply queued with the broadcasts. No
assertions: tests never assert on wall time.

Usage: ``python bench/notify.py [--notices 3000] [--rate 300] [--latency 0.02]``.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from config.loader import default_text, load_text
from conversation.replies import Reply
from notify.delivery import DeliveryWorker
from notify.limits import BROADCAST, REPLY, RateLimiter, limiter_for
from tickets import outbox
from tickets.store import OutboxRow, Store

CHANNEL = "telegram"


class SlowSender:
    """A platform that answers after ``latency`` seconds; records when each went out."""

    def __init__(self, latency: float) -> None:
        self.latency = latency
        self.times: list[float] = []

    async def send(self, chat: str, replies: Sequence[Reply], notice: OutboxRow) -> str:
        self.times.append(time.perf_counter())
        await asyncio.sleep(self.latency)
        return f"m{notice.id}"


def queue(store: Store, count: int, chats: int) -> None:
    now = datetime.now(UTC)
    with store.transaction():
        for i in range(count):
            outbox.queue(
                store,
                key=f"bench:{i}",
                number=f"BX20261123-{i:04d}",
                event_id=None,
                kind="team.offer",
                channel=CHANNEL,
                chat=f"-100{i % chats}",
                locale="zh_CN",
                params={"number": f"BX20261123-{i:04d}", "category": "water.leak", "spot": "302"},
                priority=2,
                now=now,
            )


async def replies(
    limiter: RateLimiter, lane: int, every: float, stop: asyncio.Event, waits: list[float]
) -> None:
    """Dialogue replies, one every ``every`` seconds, each through the channel limiter."""
    i = 0
    while not stop.is_set():
        i += 1
        waits.append(await limiter.acquire(f"user{lane}-{i}", lane=lane))
        await asyncio.sleep(every)


async def run(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as folder:
        text = default_text() + (
            f"\n[delivery.limits.{CHANNEL}]\nper_second = {args.rate}\n"
            f"chat_per_minute = 0\ngroup_per_minute = 0\nconcurrency = {args.concurrency}\n"
        )
        config = load_text(text)
        config = replace(config, database=Path(folder) / "bench.db")
        store = Store(config.database, config)
        queue(store, args.notices, args.chats)
        limiter = limiter_for(config, CHANNEL)  # the worker draws from this one too
        sender = SlowSender(args.latency)
        worker = DeliveryWorker(store, config, CHANNEL, sender, batch=200)
        stop = asyncio.Event()
        lane0: list[float] = []
        fifo: list[float] = []
        streams = [
            asyncio.create_task(replies(limiter, REPLY, args.reply_every, stop, lane0)),
            asyncio.create_task(replies(limiter, BROADCAST, args.reply_every, stop, fifo)),
        ]
        started = time.perf_counter()
        sent = 0
        while sent < args.notices:
            sent += await worker.run_once()
        elapsed = time.perf_counter() - started
        stop.set()
        await asyncio.gather(*streams)
        store.close()
    span = sender.times[-1] - sender.times[0]
    achieved = (len(sender.times) - 1) / span
    # Each reply stream took one token per reply out of the channel's rate as well.
    total = len(sender.times) + len(lane0) + len(fifo)
    channel_rate = (total - 1) / span
    print(f"notices: {len(sender.times)} delivered in {elapsed:.2f} s")
    print(
        f"channel limit {args.rate:g}/s: notices {achieved:.1f}/s "
        f"(ratio {achieved / args.rate:.3f}); notices and the {len(lane0) + len(fifo)} "
        f"replies together {channel_rate:.1f}/s (ratio {channel_rate / args.rate:.3f})"
    )
    print(
        f"dialogue replies in lane 0 ({len(lane0)}): longest wait {max(lane0) * 1000:.1f} ms, "
        f"median {statistics.median(lane0) * 1000:.1f} ms"
    )
    print(
        f"replies queued with the broadcasts ({len(fifo)}): longest wait "
        f"{max(fifo) * 1000:.1f} ms, median {statistics.median(fifo) * 1000:.1f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--notices", type=int, default=3000)
    parser.add_argument("--rate", type=float, default=300.0, help="channel limit, messages/s")
    parser.add_argument("--chats", type=int, default=1000, help="group chats they go to")
    parser.add_argument("--latency", type=float, default=0.02, help="seconds per send")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--reply-every", type=float, default=0.25, help="seconds")
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
