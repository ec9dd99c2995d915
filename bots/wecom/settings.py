"""The ``[channels.wecom]`` table (企业微信 app for technicians and dispatchers): read,
checked and turned into ``WeComSettings``.

The config loader keeps the table as written (``Config.extra_channels``); this module
owns its keys and checks them with the loader's error style (the key, the value, what is
wrong, the fix), and checks the people's ``wecom_userid``s: each names one person.
Secrets (secret, encoding_aes_key) are never echoed. Nothing here talks to WeCom.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from bots.channel.settings import Section, say
from config.model import Config, Dispatcher, Technician
from tickets.errors import ConfigError

_SECTION = Section("wecom")
SECTION = _SECTION.path
DEFAULT_API = "https://qyapi.weixin.qq.com/cgi-bin/"
KEYS = (
    "enabled",
    "corp_id",
    "agent_id",
    "secret",
    "token",
    "encoding_aes_key",
    "api_base_url",
    "max_file_mb",
    "timeout_seconds",
)
WHERE = "企业微信管理后台 → 应用管理 → 自建应用"

_CORP_ID = re.compile(r"w[wx][0-9a-f]{16}")
_SECRET = re.compile(r"[0-9A-Za-z_-]{43}")
_TOKEN = re.compile(r"[A-Za-z0-9]{3,32}")
_AES_KEY = re.compile(r"[A-Za-z0-9]{43}")
_URL = re.compile(r"https?://[^\s/]+(/\S*)?")
USERID = re.compile(r"[A-Za-z0-9_@.-]{1,64}")
"""A WeCom member's 账号 (userid): 1-64 letters, digits and ``_-@.``."""


@dataclass(frozen=True)
class WeComSettings:
    corp_id: str
    agent_id: int
    secret: str
    token: str
    encoding_aes_key: str
    api_base_url: str = DEFAULT_API
    max_file_mb: int = 10
    timeout_seconds: float = 3.0

    @property
    def token_key(self) -> str:
        """Under which the access token is stored: one per app of a corporation."""
        return f"wecom:{self.corp_id}:{self.agent_id}"

    @staticmethod
    def configured(config: Config) -> bool:
        """Whether ``[channels.wecom]`` is present and not switched off."""
        return _SECTION.configured(config)

    @staticmethod
    def from_config(config: Config) -> WeComSettings:
        """The checked settings; ``ConfigError`` names the key, the value and the fix."""
        settings = _parse(_SECTION.table(config, "wecom.needs", where=WHERE))
        _check_userids(config)
        return settings


_fail = _SECTION.fail
_text = _SECTION.text
_number = _SECTION.number


def _secret(raw: Mapping[str, Any], key: str, pattern: re.Pattern[str], what: str) -> str:
    return _SECTION.secret(raw, key, pattern, what, WHERE)


def _parse(raw: Mapping[str, Any]) -> WeComSettings:
    _SECTION.known(raw, KEYS)
    corp_id = _text(raw, "corp_id", "")
    if not _CORP_ID.fullmatch(corp_id):
        _fail("corp_id", corp_id, "wecom.not_corp_id", "wecom.corp_id_fix")
    agent_id = raw.get("agent_id")
    if isinstance(agent_id, bool) or not isinstance(agent_id, int) or not 0 < agent_id < 10**9:
        _fail("agent_id", agent_id, "wecom.not_agent_id", "wecom.agent_id_fix")
    secret = _secret(raw, "secret", _SECRET, "wecom.secret_bad")
    token = _secret(raw, "token", _TOKEN, "common.token_bad")
    aes = _secret(raw, "encoding_aes_key", _AES_KEY, "common.aes_bad")
    api = _text(raw, "api_base_url", DEFAULT_API)
    if not _URL.fullmatch(api):
        _fail("api_base_url", api, "common.not_url", "common.url_fix", example=DEFAULT_API)
    return WeComSettings(
        corp_id=corp_id,
        agent_id=agent_id,
        secret=secret,
        token=token,
        encoding_aes_key=aes,
        api_base_url=api.rstrip("/") + "/",
        max_file_mb=int(_number(raw, "max_file_mb", 10, 1, 20)),
        timeout_seconds=_number(raw, "timeout_seconds", 3.0, 0.5, 30),
    )


def _check_userids(config: Config) -> None:
    seen: dict[str, str] = {}
    people: list[Technician | Dispatcher] = [*config.technicians, *config.dispatchers]
    for person in people:
        userid = person.wecom_userid
        if not userid:
            continue
        kind = "technicians" if person in config.technicians else "dispatchers"
        where = f"{kind}[{person.id}].wecom_userid"
        if not USERID.fullmatch(userid):
            problem = f"{say('wecom.userid_bad')} — {say('wecom.userid_bad_fix')}"
            raise ConfigError(f'{where} = "{userid}": {problem}')
        if userid.lower() in seen:
            other = seen[userid.lower()]
            problem = (
                f"{say('wecom.userid_shared', other=other)} — {say('wecom.userid_shared_fix')}"
            )
            raise ConfigError(f'{where} = "{userid}": {problem}')
        seen[userid.lower()] = person.id
