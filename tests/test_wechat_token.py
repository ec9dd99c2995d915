"""The access token kept in memory beside the store (bots.wechat.client): a call reads
the store only when the token it knows is missing, old or refused."""

from __future__ import annotations

from pathlib import Path

from conftest import make_config
from fake_wechat import FakeWeChatApi
from wechat_rig import with_wechat

from bots.wechat.client import WeChatClient
from bots.wechat.settings import WeChatSettings
from bots.wechat.store import WeChatTables
from tickets.store import Store


async def test_a_known_token_costs_no_store_read_and_a_refused_one_is_read_again(
    tmp_path: Path,
) -> None:
    api = await FakeWeChatApi().start()
    config = with_wechat(make_config(tmp_path), api)
    settings = WeChatSettings.from_config(config)
    try:
        with Store(config.database, config) as one, Store(config.database, config) as two:
            first = WeChatClient(settings, WeChatTables(one))
            second = WeChatClient(settings, WeChatTables(two))
            reads: list[str] = []
            one.db.conn.set_trace_callback(
                lambda sql: reads.append(sql) if sql.startswith("SELECT token") else None
            )
            for _ in range(3):
                await first.create_menu({"button": []})
            assert (len(reads), api.token_fetches) == (1, 1)
            # Another process had the token refused and fetched a new one.
            api.expire_tokens()
            await second.create_menu({"button": []})
            assert api.token_fetches == 2
            # The one this process knows is refused now: dropped, and the store's taken.
            await first.create_menu({"button": []})
            assert api.token_fetches == 2 and len(api.menus) == 5
            await first.create_menu({"button": []})
            assert len(reads) == 2  # once more after the refusal, not per call
            await first.close()
            await second.close()
    finally:
        await api.close()
