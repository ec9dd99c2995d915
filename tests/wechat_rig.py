"""The service with [channels.wechat] on a real HTTP server, the fake WeChat API beside it,
and followers posting callbacks: shared by the WeChat tests. What is not WeChat's
(serving, closing, waiting) is ``weixin_rig``'s, shared with WeCom's rig."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from conftest import make_config
from fake_wechat import AES_KEY, APP_ID, APP_SECRET, TOKEN, FakeWeChatApi, WeChatUser
from weixin_rig import ServedRig, served, with_channel

from config.model import Config

TEMPLATES = {
    kind: {
        "id": f"tpl_{kind.replace('.', '_')}",
        "fields": {"character_string1": "{number}", "thing2": "{text}", "phrase3": "{state}"},
    }
    for kind in (
        "reporter.assigned",
        "reporter.on_site",
        "reporter.resolved",
        "reporter.done",
        "reporter.closed",
    )
}


def wechat_table(api: FakeWeChatApi, **extra: Any) -> dict[str, Any]:
    return {
        "app_id": APP_ID,
        "app_secret": APP_SECRET,
        "token": TOKEN,
        "encoding_aes_key": AES_KEY,
        "api_base_url": api.api_base_url,
        "templates": TEMPLATES,
        **extra,
    }


def with_wechat(config: Config, api: FakeWeChatApi, **extra: Any) -> Config:
    return with_channel(config, "wechat", wechat_table(api, **extra))


@dataclass
class Rig(ServedRig):
    api: FakeWeChatApi
    PATH = "/wechat"

    @property
    def users(self) -> list[Any]:
        return self.posters

    def user(self, open_id: str, **kw: Any) -> WeChatUser:
        follower = WeChatUser(self.url, open_id, self.api, **kw)
        self.posters.append(follower)
        return follower

    def _wake(self) -> None:
        from bots.wechat import WECHAT_WORKER

        self.server.app[WECHAT_WORKER].wake()


@asynccontextmanager
async def rig(tmp_path: Path, config: Config | None = None, **extra: Any) -> AsyncIterator[Rig]:
    api = await FakeWeChatApi().start()
    config = with_wechat(config or make_config(tmp_path), api, **extra)
    async with served(config, api, Rig) as found:
        yield found
