"""Shared fixtures: a small configuration built in Python (no loader, no file), a
store on a real SQLite file under the test's temporary folder, and the whole app served
on 127.0.0.1 over that store (``client``; a module with its own setup overrides it)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path
from types import MappingProxyType
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from bots.app import build_app
from config.model import (
    Area,
    Building,
    Category,
    CategoryGroup,
    Config,
    Dispatcher,
    Team,
    Technician,
    TimeLimits,
)
from tickets.model import Draft, Mode, Priority, State, Ticket
from tickets.store import Store

NOW = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
"""16:00 in Asia/Shanghai, the configured time zone."""

LIMITS = TimeLimits(claim=30, arrive=120, resolve=480)


def said(result: Any) -> str:
    """What a CLI command printed, less the stderr line naming the database it opened
    (every store command prints it first; tests/test_cli.py checks it)."""
    first = result.stderr.splitlines(keepends=True)[:1]
    out: str = result.output
    if first and first[0].startswith(("数据库：", "Database: ")):
        out = out.replace(first[0], "", 1)
    return out


def make_ticket(**fields: Any) -> Ticket:
    """A ticket record for pure tests: alice's water leak at east/b1/302, new, claim mode;
    ``fields`` override any of it."""
    base: dict[str, Any] = {
        "number": "BX20261123-0001",
        "state": State.NEW,
        "category": "water.leak",
        "team": "maint",
        "priority": Priority.HIGH,
        "mode": Mode.CLAIM,
        "phone": "+8613812345678",
        "description": "卫生间水管漏水",
        "reporter_channel": "web",
        "reporter_chat": "alice",
        "reporter_locale": "zh_CN",
        "created_at": NOW,
        "updated_at": NOW,
        "area": "east",
        "building": "b1",
        "spot": "302",
    }
    return Ticket(**{**base, **fields})


def leaf(code: str, zh: str, en: str, team: str, priority: Priority, mode: Mode) -> Category:
    return Category(code, code.split(".")[0], zh, en, team, priority, mode, LIMITS)


def make_config(root: Path) -> Config:
    """Three categories, one per dispatch mode, each with its own team:

    - water.leak   → team maint (zhang, li), claim mode, offered in a Telegram group
    - net.broadband → team net (zhao, qian), auto mode
    - power.outage → team power (sun), manual mode
    """
    return Config(
        locale="zh_CN",
        timezone="Asia/Shanghai",
        database=root / "baoxiu.db",
        media_dir=root / "media",
        categories=(
            CategoryGroup(
                "water",
                "水",
                "Water",
                (leaf("water.leak", "漏水", "Leak", "maint", Priority.HIGH, Mode.CLAIM),),
            ),
            CategoryGroup(
                "net",
                "网络",
                "Network",
                (leaf("net.broadband", "宽带", "Broadband", "net", Priority.NORMAL, Mode.AUTO),),
            ),
            CategoryGroup(
                "power",
                "电力",
                "Power",
                (leaf("power.outage", "停电", "Outage", "power", Priority.URGENT, Mode.MANUAL),),
            ),
        ),
        areas=(
            Area("east", "东区", "East", (Building("b1", "1号楼", "Building 1"),)),
            Area("west", "西区", "West", (Building("b9", "9号楼", "Building 9"),)),
        ),
        teams=(
            Team(
                "maint",
                "维修班",
                ("zhang", "li"),
                MappingProxyType({"telegram": ("-100123",)}),
            ),
            Team("net", "网络组", ("zhao", "qian")),
            Team("power", "电力班", ("sun",)),
        ),
        technicians=(
            Technician("zhang", "张师傅", "+8613800000001"),
            Technician("li", "李师傅", "+8613800000002"),
            Technician("zhao", "赵师傅", "+8613800000003"),
            Technician("qian", "钱师傅", "+8613800000004"),
            Technician("sun", "孙师傅", "+8613800000005"),
        ),
        dispatchers=(Dispatcher("wang", "王调度", "+8613900000009"),),
    )


def draft(
    category: str = "water.leak",
    chat: str = "alice",
    channel: str = "web",
    **kw: object,
) -> Draft:
    values: dict[str, object] = {
        "category": category,
        "phone": "+8613812345678",
        "description": "卫生间水管漏水",
        "reporter_channel": channel,
        "reporter_chat": chat,
        "area": "east",
        "building": "b1",
        "spot": "302",
        **kw,
    }
    return Draft(**values)  # type: ignore[arg-type]


@pytest.fixture
def config(tmp_path: Path) -> Config:
    return make_config(tmp_path)


@pytest.fixture
def store(config: Config) -> Iterator[Store]:
    opened = Store(config.database, config)
    yield opened
    opened.close()


@pytest.fixture
async def client(config: Config, store: Store) -> AsyncIterator[TestClient[Any, Any]]:
    async with TestClient(TestServer(build_app(config, store=store), host="127.0.0.1")) as c:
        yield c
