"""The service with [channels.wecom] on a real HTTP server, the fake WeCom API beside it,
and members posting callbacks: shared by the WeCom tests.

Zhang and Li (team maint, claim mode) are configured with their WeCom 账号; Wang the
dispatcher too. Zhao has none: he is found by the mobile ``user/get`` returns. What is
not WeCom's (serving, closing, waiting) is ``weixin_rig``'s, shared with WeChat's rig."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from conftest import make_config
from fake_wecom import AES_KEY, AGENT_ID, CORP_ID, SECRET, TOKEN, FakeWeComApi, WeComMember
from weixin_rig import WAIT_S, ServedRig, served, with_channel

from config.model import Config

USERIDS = {"zhang": "ZhangSan", "li": "LiSi", "wang": "WangDiaodu"}
__all__ = ["WAIT_S", "Rig", "rig", "wecom_table", "with_wecom"]


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
    config = with_channel(config, "wecom", wecom_table(api, **extra))
    technicians = tuple(replace(t, wecom_userid=USERIDS.get(t.id, "")) for t in config.technicians)
    dispatchers = tuple(replace(d, wecom_userid=USERIDS.get(d.id, "")) for d in config.dispatchers)
    return replace(config, technicians=technicians, dispatchers=dispatchers)


@dataclass
class Rig(ServedRig):
    api: FakeWeComApi
    PATH = "/wecom"

    @property
    def members(self) -> list[Any]:
        return self.posters

    def member(self, userid: str, **kw: Any) -> WeComMember:
        found = WeComMember(self.url, userid, self.api, **kw)
        self.posters.append(found)
        return found

    def _wake(self) -> None:
        from bots.wecom import WECOM_WORKER

        self.server.app[WECOM_WORKER].wake()


@asynccontextmanager
async def rig(tmp_path: Path, config: Config | None = None, **extra: Any) -> AsyncIterator[Rig]:
    api = await FakeWeComApi().start()
    api.member("ZhangSan", "张三", "13800000001")
    api.member("LiSi", "李四", "13800000002")
    api.member("WangDiaodu", "王调度", "13900000009")
    config = with_wecom(config or make_config(tmp_path), api, **extra)
    async with served(config, api, Rig) as found:
        yield found
