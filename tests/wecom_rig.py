"""The service with [channels.wecom] on a real HTTP server, the fake WeCom API beside it,
and members posting callbacks: shared by the WeCom tests.

Zhang and Li (team maint, claim mode) are configured with their WeCom 账号; Wang the
dispatcher too. Zhao has none: he is found by the mobile ``user/get`` returns."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from aiohttp.test_utils import TestServer
from conftest import make_config
from fake_wecom import AES_KEY, AGENT_ID, CORP_ID, SECRET, TOKEN, FakeWeComApi, WeComMember

from config.model import Config
from tickets.store import Store

USERIDS = {"zhang": "ZhangSan", "li": "LiSi", "wang": "WangDiaodu"}
WAIT_S = 15.0


def wecom_table(api: FakeWeComApi, **extra: Any) -> dict[str, Any]:
    return {
        "corp_id": CORP_ID,
        "agent_id": AGENT_ID,
        "secret": SECRET,
        "token": TOKEN,
        "encoding_aes_key": AES_KEY,
        "api_base_url": api.api_base_url,
        **extra,
    }


def with_wecom(config: Config, api: FakeWeComApi, **extra: Any) -> Config:
    channels: Mapping[str, Any] = {**config.extra_channels, "wecom": wecom_table(api, **extra)}
    technicians = tuple(replace(t, wecom_userid=USERIDS.get(t.id, "")) for t in config.technicians)
    dispatchers = tuple(replace(d, wecom_userid=USERIDS.get(d.id, "")) for d in config.dispatchers)
    return replace(
        config, extra_channels=channels, technicians=technicians, dispatchers=dispatchers
    )


@dataclass
class Rig:
    config: Config
    store: Store
    api: FakeWeComApi
    server: TestServer
    members: list[WeComMember] = field(default_factory=list)

    @property
    def url(self) -> str:
        return str(self.server.make_url("/wecom"))

    def member(self, userid: str, **kw: Any) -> WeComMember:
        found = WeComMember(self.url, userid, self.api, **kw)
        self.members.append(found)
        return found

    async def until(self, done: Callable[[], Any]) -> Any:
        from bots.wecom import WECOM_WORKER

        loop = asyncio.get_running_loop()
        deadline = loop.time() + WAIT_S
        while not (found := done()):
            assert loop.time() < deadline, "waited too long"
            self.server.app[WECOM_WORKER].wake()
            await asyncio.sleep(0.02)
        return found


@asynccontextmanager
async def rig(tmp_path: Path, config: Config | None = None, **extra: Any) -> AsyncIterator[Rig]:
    from bots.app import build_app

    api = await FakeWeComApi().start()
    api.member("ZhangSan", "张三", "13800000001")
    api.member("LiSi", "李四", "13800000002")
    api.member("WangDiaodu", "王调度", "13900000009")
    config = with_wecom(config or make_config(tmp_path), api, **extra)
    store = Store(config.database, config)
    server = TestServer(build_app(config, store=store), host="127.0.0.1")
    await server.start_server()
    found = Rig(config, store, api, server)
    try:
        yield found
    finally:
        for member in found.members:
            await member.close()
        await server.close()
        store.close()
        await api.close()
