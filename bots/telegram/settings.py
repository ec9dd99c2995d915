"""The ``[channels.telegram]`` table: read, checked and turned into ``TelegramSettings``.

The config loader keeps this table as it was written (``Config.extra_channels``); the
adapter owns its keys and checks them here, with the loader's error style: the key, the
value, what is wrong and how to fix it. Nothing here talks to Telegram.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from bots.channel.settings import Section, say
from config.model import Config

_SECTION = Section("telegram")
SECTION = _SECTION.path
MODES = ("polling", "webhook")
UPDATE_TYPES = ("message", "callback_query", "my_chat_member")
"""Update kinds the adapter uses (my_chat_member: it logs the id of a group it joins)."""
DEFAULT_API = "https://api.telegram.org/bot"
DEFAULT_FILES = "https://api.telegram.org/file/bot"
KEYS = (
    "enabled",
    "token",
    "mode",
    "webhook_url",
    "secret_token",
    "api_base_url",
    "file_base_url",
    "local_mode",
    "allowed_updates",
    "max_rate",
    "group_max_rate",
    "album_seconds",
    "max_file_mb",
    "drop_pending_updates",
    "proxy_url",
)

_TOKEN = re.compile(r"\d{1,20}:[A-Za-z0-9_-]{1,100}")
_SECRET = re.compile(r"[A-Za-z0-9_-]{16,256}")
_URL = re.compile(r"https?://[^\s/]+(/\S*)?")


@dataclass(frozen=True)
class TelegramSettings:
    token: str
    mode: str = "polling"
    webhook_url: str = ""
    secret_token: str = ""
    api_base_url: str = DEFAULT_API
    file_base_url: str = DEFAULT_FILES
    local_mode: bool = False  # a self-hosted Bot API server started with --local
    allowed_updates: tuple[str, ...] = UPDATE_TYPES
    max_rate: float = 30.0  # messages per second overall (Telegram's limit); 0 = off
    group_max_rate: float = 20.0  # messages per minute per group (Telegram's limit); 0 = off
    album_seconds: float = 1.0  # how long to wait for the rest of an album
    max_file_mb: int = 20  # the Bot API's download limit (a local server allows more)
    drop_pending_updates: bool = False
    proxy_url: str = ""  # an HTTP(S) proxy to reach the Bot API through

    @property
    def webhook(self) -> bool:
        return self.mode == "webhook"

    @staticmethod
    def configured(config: Config) -> bool:
        """Whether ``[channels.telegram]`` is present and not switched off."""
        return _SECTION.configured(config)

    @staticmethod
    def from_config(config: Config) -> TelegramSettings:
        """The checked settings; ``ConfigError`` names the key, the value and the fix."""
        return _parse(_SECTION.table(config, "telegram.needs"))


_fail = _SECTION.fail


_text = _SECTION.text


_flag = _SECTION.flag


def _url(raw: Mapping[str, Any], key: str, default: str) -> str:
    value = _text(raw, key, default)
    if not _URL.fullmatch(value):
        _fail(key, value, "common.not_url", "common.url_fix", example="http://127.0.0.1:8081/bot")
    return value


def _parse(raw: Mapping[str, Any]) -> TelegramSettings:
    _SECTION.known(raw, KEYS)
    if "token" not in raw:
        _SECTION.refuse("token", "common.missing", "telegram.token_missing_fix")
    token = _text(raw, "token", "")
    if not _TOKEN.fullmatch(token):
        # Never echo a token that may be real but mistyped into an error message or a log.
        _SECTION.refuse("token", "telegram.not_token", "telegram.token_fix")
    mode = _text(raw, "mode", "polling")
    if mode not in MODES:
        _fail("mode", mode, "common.unknown_mode", "telegram.mode_fix")

    webhook_url = _text(raw, "webhook_url", "")
    secret = _text(raw, "secret_token", "")
    if webhook_url and not _URL.fullmatch(webhook_url):
        _fail("webhook_url", webhook_url, "common.not_url", "telegram.webhook_fix")
    if mode == "webhook":
        if not webhook_url:
            _SECTION.refuse("webhook_url", "common.missing", "telegram.webhook_missing_fix")
        if not secret:
            fix = say("telegram.secret_fix")
            _SECTION.refuse(
                "secret_token", "common.missing", "telegram.secret_missing_fix", secret_fix=fix
            )
    if secret and not _SECRET.fullmatch(secret):
        # The value is a secret: name the problem without printing it.
        _SECTION.refuse("secret_token", "telegram.not_secret", "telegram.secret_fix")

    api = _url(raw, "api_base_url", DEFAULT_API)
    default_files = DEFAULT_FILES
    if "api_base_url" in raw and api.endswith("/bot"):
        default_files = api[: -len("bot")] + "file/bot"  # a self-hosted server serves both
    files = _url(raw, "file_base_url", default_files)

    allowed = raw.get("allowed_updates", list(UPDATE_TYPES))
    if not isinstance(allowed, list) or not all(isinstance(a, str) for a in allowed):
        _fail("allowed_updates", allowed, "telegram.not_text_list", "telegram.updates_fix")
    for kind in allowed:
        if kind not in UPDATE_TYPES:
            _fail(
                "allowed_updates",
                kind,
                "telegram.not_update_kind",
                "telegram.updates_use",
                options=", ".join(UPDATE_TYPES),
            )
    for needed in ("message", "callback_query"):
        if needed not in allowed:
            _fail(
                "allowed_updates",
                allowed,
                "telegram.update_missing",
                "telegram.update_keep",
                needed=needed,
            )

    return TelegramSettings(
        token=token,
        mode=mode,
        webhook_url=webhook_url,
        secret_token=secret,
        api_base_url=api,
        file_base_url=files,
        local_mode=_flag(raw, "local_mode", False),
        allowed_updates=tuple(dict.fromkeys(allowed)),
        max_rate=_SECTION.number(raw, "max_rate", 30, 0, 1000),
        group_max_rate=_SECTION.number(raw, "group_max_rate", 20, 0, 1000),
        album_seconds=_SECTION.number(raw, "album_seconds", 1.0, 0, 10),
        max_file_mb=int(_SECTION.number(raw, "max_file_mb", 20, 0, 2000)),
        drop_pending_updates=_flag(raw, "drop_pending_updates", False),
        proxy_url=_proxy(raw),
    )


def _proxy(raw: Mapping[str, Any]) -> str:
    if "proxy_url" not in raw:
        return ""
    value = _text(raw, "proxy_url", "")
    if value and not re.fullmatch(r"https?://\S+", value):
        _fail("proxy_url", value, "telegram.not_proxy", "telegram.proxy_fix")
    return value
