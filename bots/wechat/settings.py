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
        needs = "app_id, app_secret and token (公众号后台 → 设置与开发 → 基本配置)"
        return _parse(_SECTION.table(config, needs))


_fail = _SECTION.fail


_text = _SECTION.text
_number = _SECTION.number


def _secret(raw: Mapping[str, Any], key: str, pattern: re.Pattern[str], what: str) -> str:
    return _SECTION.secret(raw, key, pattern, what, "公众号后台 → 设置与开发 → 基本配置")


def _parse(raw: Mapping[str, Any]) -> WeChatSettings:
    _SECTION.known(raw, KEYS)
    app_id = _text(raw, "app_id", "")
    if not _APP_ID.fullmatch(app_id):
        _fail(
            "app_id",
            app_id,
            "not an AppID",
            'copy it from 基本配置, it looks like "wx0123456789abcdef"',
        )
    secret = _secret(
        raw, "app_secret", _SECRET, "missing or not an AppSecret (32 letters and digits)"
    )
    token = _secret(raw, "token", _TOKEN, "missing or not a Token (3-32 letters and digits)")
    mode = _text(raw, "mode", "safe")
    if mode not in MODES:
        _fail(
            "mode",
            mode,
            "unknown mode",
            'write "safe" (安全模式, recommended), "compatible" or "plain"',
        )
    aes = ""
    if mode != "plain" or "encoding_aes_key" in raw:
        aes = _secret(
            raw,
            "encoding_aes_key",
            _AES_KEY,
            "missing or not an EncodingAESKey (43 letters and digits)",
        )
    api = _text(raw, "api_base_url", DEFAULT_API)
    if not _URL.fullmatch(api):
        _fail(
            "api_base_url",
            api,
            "not a web address",
            'write it like "https://api.weixin.qq.com/cgi-bin/"',
        )
    verify = raw.get("verify_phone", False)
    if not isinstance(verify, bool):
        _fail(
            "verify_phone", verify, "must be true or false", "write true or false, without quotes"
        )
    msgmenu = raw.get("msgmenu", True)
    if not isinstance(msgmenu, bool):
        _fail("msgmenu", msgmenu, "must be true or false", "write true or false, without quotes")
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
    fix = 'write menu = [{name = "报修", key = "report"}, …] with keys ' + ", ".join(MENU_KEYS)
    if not isinstance(value, list) or not 1 <= len(value) <= 3:
        _fail("menu", value, "must be a list of 1 to 3 buttons", fix)
    items: list[tuple[str, str]] = []
    for item in value:
        if not isinstance(item, dict) or set(item) != {"name", "key"}:
            _fail("menu", item, "a button needs exactly name and key", fix)
        name, key = item["name"], item["key"]
        if not isinstance(name, str) or not 1 <= len(name.encode()) <= 16:
            _fail("menu", name, "a button name is 1-16 bytes of text (5 Chinese characters)", fix)
        if key not in MENU_KEYS:
            _fail("menu", key, "unknown menu key", fix)
        items.append((name, key))
    return tuple(items)


def _templates(value: Any) -> dict[str, Template]:
    fix = (
        'write [channels.wechat.templates."reporter.done"] id = "…"'
        ' and fields = {thing1 = "{text}"}'
    )
    if not isinstance(value, dict):
        _fail("templates", value, "must be a table of notice kinds", fix)
    found: dict[str, Template] = {}
    for kind, entry in value.items():
        key = f"templates.{kind}"
        if not isinstance(entry, dict) or set(entry) - {"id", "fields"} or "id" not in entry:
            _fail(key, entry, "needs id and fields", fix)
        template_id, fields = entry["id"], entry.get("fields", {})
        if not isinstance(template_id, str) or not _TEMPLATE_ID.fullmatch(template_id):
            _fail(
                f"{key}.id", template_id, "not a template id", "copy it from 广告与服务 → 模板消息"
            )
        if not isinstance(fields, dict) or not fields:
            _fail(f"{key}.fields", fields, "must name at least one field", fix)
        pairs: list[tuple[str, str]] = []
        for name, shown in fields.items():
            if not _FIELD.fullmatch(name):
                _fail(
                    f"{key}.fields",
                    name,
                    "not a template keyword",
                    'write it as in the template, e.g. "thing2"',
                )
            if not isinstance(shown, str):
                _fail(f"{key}.fields.{name}", shown, "must be text", fix)
            for used in _PLACEHOLDER.findall(shown):
                if used not in TEMPLATE_VALUES:
                    _fail(
                        f"{key}.fields.{name}",
                        shown,
                        f"unknown value {{{used}}}",
                        f"use {', '.join(TEMPLATE_VALUES)}",
                    )
            pairs.append((name, shown))
        found[str(kind)] = Template(template_id, tuple(pairs))
    return found
