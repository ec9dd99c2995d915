"""The WeCom (企业微信) API over aiohttp: token, message/send, update_template_card,
user/get, media/get, media/upload.

The calls, timeouts, the token kept in the store (one lock, at most one retry after
40001/40014/42001) are the official account's client (``bots.wechat.client.ApiClient``);
only the token fetch differs: WeCom's ``gettoken`` with the CorpID and the app's secret.
An app's token is shared by every process through the store (``token_key``), so two
processes do not fetch one each.
"""

from __future__ import annotations

from typing import Any

import aiohttp

from bots.wechat.client import TOKEN_ERRORS, ApiClient, WeChatError
from bots.wechat.client import _answer as answer_of
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

    async def upload_image(self, data: bytes, filename: str, kind: str) -> str:
        """``media/upload`` of an image (a temporary media, kept 3 days): its media_id."""
        for attempt in (0, 1):
            token = await self.token(force=attempt == 1)
            form = aiohttp.FormData()
            form.add_field("media", data, filename=filename, content_type=kind)
            params = {"access_token": token, "type": "image"}
            try:
                async with self._http().post(
                    self.base + "media/upload", params=params, data=form
                ) as response:
                    raw = await response.read()
                    if response.status >= 500:
                        raise WeChatError(-1, f"HTTP {response.status}")
                    content_type = response.content_type
            except (aiohttp.ClientError, TimeoutError) as exc:
                raise WeChatError(None, f"{type(exc).__name__}: {exc}") from exc
            try:
                answer = answer_of(raw, content_type)
            except WeChatError as error:
                if error.code in TOKEN_ERRORS and attempt == 0:
                    self._drop(token)
                    continue
                raise
            media_id = str(answer.get("media_id", ""))
            if not media_id:
                raise WeChatError(None, "no media_id in the answer")
            return media_id
        raise WeChatError(None, "unreachable")
