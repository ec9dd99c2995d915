"""The ``[channels.wechat]`` table (服务号 for residents): read, checked and turned into
``WeChatSettings``.

The config loader keeps the table as written (``Config.extra_channels``); this module
owns its keys and checks them with the loader's error style: the key, the value, what
is wrong and how to fix it. Secrets (app_secret, encoding_aes_key) are never echoed.
Nothing here talks to WeChat.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from bots.channel.settings import Section
from config.model import Config

_SECTION = Section("wechat")
SECTION = _SECTION.path
MODES = ("safe", "compatible", "plain")
DEFAULT_API = "https://api.weixin.qq.com/cgi-bin/"
MENU_KEYS = ("report", "mine", "status")
"""CLICK keys the adapter understands: 报修, 我的工单, 进度查询."""
TEMPLATE_VALUES = ("number", "text", "state", "time", "category", "spot")
"""What a template field may show (``{number}`` …), filled from the notice."""
KEYS = (
    "enabled",
    "app_id",
    "app_secret",
    "token",
    "encoding_aes_key",
    "mode",
    "api_base_url",
    "menu",
    "templates",
    "verify_phone",
    "msgmenu",
    "max_file_mb",
    "timeout_seconds",
)
DEFAULT_MENU = (("报修", "report"), ("我的工单", "mine"), ("进度查询", "status"))
WHERE = "公众号后台 → 设置与开发 → 基本配置"

_APP_ID = re.compile(r"wx[0-9a-f]{16}")
_SECRET = re.compile(r"[0-9A-Za-z]{32}")
_TOKEN = re.compile(r"[A-Za-z0-9]{3,32}")
_AES_KEY = re.compile(r"[A-Za-z0-9]{43}")
_URL = re.compile(r"https?://[^\s/]+(/\S*)?")
_TEMPLATE_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
_FIELD = re.compile(r"[a-z_]{1,32}[0-9]{0,3}")
_PLACEHOLDER = re.compile(r"\{([a-z_]+)\}")


@dataclass(frozen=True)
class Template:
    """A template message for one notice kind: its id and keyword field → format."""

    id: str
    fields: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class WeChatSettings:
    app_id: str
    app_secret: str
    token: str
    encoding_aes_key: str = ""
    mode: str = "safe"
    api_base_url: str = DEFAULT_API
    menu: tuple[tuple[str, str], ...] = DEFAULT_MENU
    templates: dict[str, Template] = field(default_factory=dict)
    verify_phone: bool = False
    msgmenu: bool = True
    max_file_mb: int = 10
    timeout_seconds: float = 3.0

    @staticmethod
    def configured(config: Config) -> bool:
        """Whether ``[channels.wechat]`` is present and not switched off."""
        return _SECTION.configured(config)

    @staticmethod
    def from_config(config: Config) -> WeChatSettings:
        """The checked settings; ``ConfigError`` names the key, the value and the fix."""
        return _parse(_SECTION.table(config, "wechat.needs", where=WHERE))


_fail = _SECTION.fail


_text = _SECTION.text
_number = _SECTION.number


def _secret(raw: Mapping[str, Any], key: str, pattern: re.Pattern[str], what: str) -> str:
    return _SECTION.secret(raw, key, pattern, what, WHERE)


def _parse(raw: Mapping[str, Any]) -> WeChatSettings:
    _SECTION.known(raw, KEYS)
    app_id = _text(raw, "app_id", "")
    if not _APP_ID.fullmatch(app_id):
        _fail("app_id", app_id, "wechat.not_app_id", "wechat.app_id_fix")
    secret = _secret(raw, "app_secret", _SECRET, "wechat.secret_bad")
    token = _secret(raw, "token", _TOKEN, "common.token_bad")
    mode = _text(raw, "mode", "safe")
    if mode not in MODES:
        _fail("mode", mode, "common.unknown_mode", "wechat.mode_fix")
    aes = ""
    if mode != "plain" or "encoding_aes_key" in raw:
        aes = _secret(raw, "encoding_aes_key", _AES_KEY, "common.aes_bad")
    api = _text(raw, "api_base_url", DEFAULT_API)
    if not _URL.fullmatch(api):
        _fail("api_base_url", api, "common.not_url", "common.url_fix", example=DEFAULT_API)
    verify = _SECTION.flag(raw, "verify_phone", False)
    msgmenu = _SECTION.flag(raw, "msgmenu", True)
    return WeChatSettings(
        app_id=app_id,
        app_secret=secret,
        token=token,
        encoding_aes_key=aes,
        mode=mode,
        api_base_url=api.rstrip("/") + "/",
        menu=_menu(raw.get("menu")),
        templates=_templates(raw.get("templates", {})),
        verify_phone=verify,
        msgmenu=msgmenu,
        max_file_mb=int(_number(raw, "max_file_mb", 10, 1, 20)),
        timeout_seconds=_number(raw, "timeout_seconds", 3.0, 0.5, 30),
    )


def _menu(value: Any) -> tuple[tuple[str, str], ...]:
    if value is None:
        return DEFAULT_MENU
    fix, keys = "wechat.menu_fix", ", ".join(MENU_KEYS)
    if not isinstance(value, list) or not 1 <= len(value) <= 3:
        _fail("menu", value, "wechat.menu_count", fix, keys=keys)
    items: list[tuple[str, str]] = []
    for item in value:
        if not isinstance(item, dict) or set(item) != {"name", "key"}:
            _fail("menu", item, "wechat.menu_button", fix, keys=keys)
        name, key = item["name"], item["key"]
        if not isinstance(name, str) or not 1 <= len(name.encode()) <= 16:
            _fail("menu", name, "wechat.menu_name", fix, keys=keys)
        if key not in MENU_KEYS:
            _fail("menu", key, "wechat.menu_key", fix, keys=keys)
        items.append((name, key))
    return tuple(items)


def _templates(value: Any) -> dict[str, Template]:
    fix = "wechat.templates_fix"
    if not isinstance(value, dict):
        _fail("templates", value, "wechat.templates_table", fix)
    found: dict[str, Template] = {}
    for kind, entry in value.items():
        key = f"templates.{kind}"
        if not isinstance(entry, dict) or set(entry) - {"id", "fields"} or "id" not in entry:
            _fail(key, entry, "wechat.template_needs", fix)
        template_id, fields = entry["id"], entry.get("fields", {})
        if not isinstance(template_id, str) or not _TEMPLATE_ID.fullmatch(template_id):
            _fail(f"{key}.id", template_id, "wechat.not_template_id", "wechat.template_id_fix")
        if not isinstance(fields, dict) or not fields:
            _fail(f"{key}.fields", fields, "wechat.no_fields", fix)
        pairs: list[tuple[str, str]] = []
        for name, shown in fields.items():
            if not _FIELD.fullmatch(name):
                _fail(f"{key}.fields", name, "wechat.not_keyword", "wechat.keyword_fix")
            if not isinstance(shown, str):
                _fail(f"{key}.fields.{name}", shown, "common.must_be_text", fix)
            for used in _PLACEHOLDER.findall(shown):
                if used not in TEMPLATE_VALUES:
                    _fail(
                        f"{key}.fields.{name}",
                        shown,
                        "wechat.unknown_value",
                        "wechat.values_use",
                        used=used,
                        options=", ".join(TEMPLATE_VALUES),
                    )
            pairs.append((name, shown))
        found[str(kind)] = Template(template_id, tuple(pairs))
    return found
