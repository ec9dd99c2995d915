"""The service with [channels.wechat] on a real HTTP server, the fake WeChat API beside it,
and followers posting callbacks: shared by the WeChat tests."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from aiohttp.test_utils import TestServer
from conftest import make_config
from fake_wechat import AES_KEY, APP_ID, APP_SECRET, TOKEN, FakeWeChatApi, WeChatUser

from config.model import Config
from tickets.store import Store

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
    channels: Mapping[str, Any] = {**config.extra_channels, "wechat": wechat_table(api, **extra)}
    return replace(config, extra_channels=channels)


@dataclass
class Rig:
    config: Config
    store: Store
    api: FakeWeChatApi
    server: TestServer
    users: list[WeChatUser] = field(default_factory=list)

    @property
    def url(self) -> str:
        return str(self.server.make_url("/wechat"))

    def user(self, open_id: str, **kw: Any) -> WeChatUser:
        follower = WeChatUser(self.url, open_id, self.api, **kw)
        self.users.append(follower)
        return follower


@asynccontextmanager
async def rig(tmp_path: Path, config: Config | None = None, **extra: Any) -> AsyncIterator[Rig]:
    from bots.app import build_app

    api = await FakeWeChatApi().start()
    config = with_wechat(config or make_config(tmp_path), api, **extra)
    store = Store(config.database, config)
    server = TestServer(build_app(config, store=store), host="127.0.0.1")
    await server.start_server()
    found = Rig(config, store, api, server)
    try:
        yield found
    finally:
        for user in found.users:
            await user.close()
        await server.close()
        store.close()
        await api.close()
