"""The WeCom (企业微信) API over aiohttp: token, message/send, update_template_card,
user/get, media/get.

The calls, timeouts, the token kept in the store (one lock, at most one retry after
40001/40014/42001) are the official account's client (``bots.wechat.client.ApiClient``);
only the token fetch differs: WeCom's ``gettoken`` with the CorpID and the app's secret.
An app's token is shared by every process through the store (``token_key``), so two
processes do not fetch one each.
"""

from __future__ import annotations

from typing import Any

from bots.wechat.client import ApiClient, WeChatError
from bots.wechat.store import WeChatTables
from bots.wecom.settings import WeComSettings

__all__ = ["WeChatError", "WeComClient"]


class WeComClient(ApiClient):
    def __init__(self, settings: WeComSettings, tables: WeChatTables) -> None:
        super().__init__(
            settings.api_base_url, settings.timeout_seconds, settings.token_key, tables
        )
        self.settings = settings

    async def _fetch_token(self, force: bool) -> dict[str, Any]:
        # gettoken has no force flag: a token dropped after an error is simply fetched anew.
        params = {"corpid": self.settings.corp_id, "corpsecret": self.settings.secret}
        return await self._request("GET", "gettoken", params=params)

    async def send(self, body: dict[str, Any]) -> dict[str, Any]:
        """``message/send`` to the app's members (``touser``), with this app's agentid."""
        return await self.call(
            "POST", "message/send", json={**body, "agentid": self.settings.agent_id}
        )

    async def update_card(self, body: dict[str, Any]) -> dict[str, Any]:
        return await self.call(
            "POST",
            "message/update_template_card",
            json={**body, "agentid": self.settings.agent_id},
        )

    async def user(self, userid: str) -> dict[str, Any]:
        """``user/get``: the member's name, and their mobile where the app may read it."""
        return await self.call("GET", "user/get", params={"userid": userid})
