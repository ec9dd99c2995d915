"""The ``[delivery]``, ``[sms]`` and ``[email]`` tables: how notices leave the service.

``read(root)`` checks them with the loader's messages (key path, value, fix) and returns
the fields ``Config`` keeps them in. The records here are plain frozen data with the
defaults of a ``Config`` built in code (tests): *no* rate limits there, because a limit
counts real seconds. The loader, which reads every file the service runs on (the built-in
default included), applies ``DEFAULT_CHANNEL_LIMITS`` — Telegram's published limits and a
gentle pace for SMS and email — for every channel the file does not set.

Nothing here imports an SMS SDK or goes online: a provider's SDK is only looked for
(``importlib.util.find_spec``) so that a missing optional extra is refused at start-up
with the pip command that fixes it.
"""

from __future__ import annotations

import importlib.util
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from tickets.errors import ConfigError

if TYPE_CHECKING:
    from config.table import _Table

PREFERENCES = ("chat_only", "chat_then_sms", "sms_too")
"""What a reporter may choose with /notify; ``chat_then_sms`` is the default."""
DEFAULT_PREFERENCE = "chat_then_sms"

SMS_PROVIDERS = ("log", "aliyun", "tencent", "twilio", "http")
EMAIL_SECURITY = ("starttls", "tls", "none")
LIMIT_KEYS = ("per_second", "chat_per_minute", "group_per_minute", "concurrency")
# The SDK a provider needs and the extra that installs it.
_SDKS = {
    "aliyun": ("alibabacloud_dysmsapi20170525", "sms-aliyun"),
    "tencent": ("tencentcloud.sms", "sms-tencent"),
    "twilio": ("twilio", "sms-twilio"),
}
_KIND = re.compile(r"generic|[a-z_]+\.[a-z_]+")


@dataclass(frozen=True)
class ChannelLimits:
    """How fast one channel may send. 0 means no limit."""

    per_second: float = 0.0  # every message of the channel together
    chat_per_minute: float = 0.0  # to one private chat (or one phone, one address)
    group_per_minute: float = 0.0  # to one group chat
    concurrency: int = 1  # notices in flight at once (different chats)


NO_LIMITS = ChannelLimits()

DEFAULT_CHANNEL_LIMITS: Mapping[str, ChannelLimits] = MappingProxyType(
    {
        # Telegram: ~30 messages/s overall, ~1/s in one chat, 20/min in one group.
        "telegram": ChannelLimits(30.0, 60.0, 20.0, concurrency=4),
        # Carriers throttle a number that gets many texts; a reporter's notices are few.
        "sms": ChannelLimits(10.0, 2.0, 0.0, concurrency=2),
        "email": ChannelLimits(5.0, 0.0, 0.0, concurrency=2),
        # WeCom drops (silently) what an app sends one member beyond 30 a minute.
        "wecom": ChannelLimits(0.0, 30.0, 0.0, concurrency=4),
    }
)
"""What the loader applies to a channel whose ``[delivery.limits.<channel>]`` is not set."""


@dataclass(frozen=True)
class DeliverySettings:
    max_attempts: int = 8
    base_backoff: float = 2.0  # seconds before the first retry; doubles every failure
    max_backoff: float = 600.0
    jitter: float = 0.2  # a retry comes up to this share of its wait earlier
    lease_seconds: float = 60.0  # a worker that died holds its batch this long
    preference: str = DEFAULT_PREFERENCE
    limits: Mapping[str, ChannelLimits] = field(default_factory=lambda: MappingProxyType({}))

    def limits_of(self, channel: str) -> ChannelLimits:
        return self.limits.get(channel, NO_LIMITS)


@dataclass(frozen=True)
class SmsSettings:
    provider: str = "log"
    sign_name: str = ""  # 短信签名, e.g. "报修中心": shown as 【报修中心】
    timeout: float = 10.0
    # The provider's own table as written ([sms.aliyun], …), checked by read().
    options: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    # notice kind (or "generic") -> the provider's approved template id (Aliyun, Tencent)
    templates: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))

    @property
    def delivers(self) -> bool:
        """Whether an SMS really reaches a phone (the log provider only writes it down)."""
        return self.provider != "log"


@dataclass(frozen=True)
class EmailSettings:
    host: str = ""  # empty: no email channel
    port: int = 587
    username: str = ""
    password: str = ""
    from_address: str = ""
    security: str = "starttls"
    timeout: float = 30.0

    @property
    def enabled(self) -> bool:
        return bool(self.host)


# -- reading ---------------------------------------------------------------------------


def read(root: _Table, channels: tuple[str, ...]) -> dict[str, Any]:
    """The ``Config`` fields ``delivery``, ``sms`` and ``email`` from the document root."""
    return {
        "delivery": _delivery(root.table("delivery", "delivery"), channels),
        "sms": _sms(root.table("sms", "sms")),
        "email": _email(root.table("email", "email")),
    }


def number(table: _Table, key: str, default: float, *, low: float, high: float) -> float:
    """A number (whole or not) from ``low`` to ``high``, e.g. seconds or a rate."""
    value = table.raw.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        table.fail(
            key,
            value,
            _m("must_be_number"),
            _m("must_be_number_fix", key=key, default=f"{default:g}"),
        )
    if not low <= value <= high:
        problem = _m("number_range", low=f"{low:g}", high=f"{high:g}")
        table.fail(key, value, problem, _m("example", key=key, default=f"{default:g}"))
    return float(value)


def _delivery(table: _Table, channels: tuple[str, ...]) -> DeliverySettings:
    base = number(table, "base_backoff", 2.0, low=0.1, high=3600)
    top = number(table, "max_backoff", 600.0, low=1, high=86400)
    if top < base:
        given = table.raw.get("max_backoff", top)
        problem = _m("backoff_order", base=f"{base:g}")
        table.fail("max_backoff", given, problem, _m("backoff_order_fix"))
    limits = dict(DEFAULT_CHANNEL_LIMITS)
    own = table.table("limits", None)
    for name, raw in own.raw.items():
        if name not in channels:
            fix = _m("not_channel_fix", channels=", ".join(channels))
            own.fail(name, raw, _m("not_channel"), fix)
        limits[name] = _limits(own.table(name, "delivery.limits.<channel>"), limits.get(name))
    return DeliverySettings(
        max_attempts=table.integer("max_attempts", 8, high=100),
        base_backoff=base,
        max_backoff=top,
        jitter=number(table, "jitter", 0.2, low=0, high=0.9),
        lease_seconds=number(table, "lease_seconds", 60.0, low=5, high=3600),
        preference=table.choice("preference", PREFERENCES, DEFAULT_PREFERENCE),
        limits=MappingProxyType(limits),
    )


def _limits(table: _Table, start: ChannelLimits | None) -> ChannelLimits:
    start = start or NO_LIMITS
    concurrency = start.concurrency
    if "concurrency" in table.raw:
        concurrency = table.integer("concurrency", start.concurrency, high=64)
    return ChannelLimits(
        per_second=number(table, "per_second", start.per_second, low=0, high=10000),
        chat_per_minute=number(table, "chat_per_minute", start.chat_per_minute, low=0, high=6000),
        group_per_minute=number(
            table, "group_per_minute", start.group_per_minute, low=0, high=6000
        ),
        concurrency=concurrency,
    )


def _sms(table: _Table) -> SmsSettings:
    provider = table.choice("provider", SMS_PROVIDERS, "log")
    for name in SMS_PROVIDERS[1:]:
        if name != provider and name in table.raw:
            table.table(name, f"sms.{name}")  # still checked: a typo there is a typo
    if provider in _SDKS:
        module, extra = _SDKS[provider]
        if not _installed(module):
            fix = _m("no_sdk_fix", extra=extra)
            table.fail("provider", provider, _m("no_sdk"), fix)
    options: dict[str, Any] = {}
    templates: dict[str, str] = {}
    if provider != "log":
        own = table.table(provider, f"sms.{provider}")
        options = _provider_options(provider, own)
        templates = _templates(own) if provider in ("aliyun", "tencent") else {}
    sign_name = table.text("sign_name", "", empty=True)
    if provider in ("aliyun", "tencent") and not sign_name:
        problem = _m("no_sign", provider=provider)
        table.fail("sign_name", sign_name, problem, _m("no_sign_fix"))
    return SmsSettings(
        provider=provider,
        sign_name=sign_name,
        timeout=number(table, "timeout", 10.0, low=0.5, high=300),
        options=MappingProxyType(options),
        templates=MappingProxyType(templates),
    )


def _installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:  # the parent package of a dotted name is missing
        return False


_REQUIRED = {
    "aliyun": ("access_key_id", "access_key_secret"),
    "tencent": ("secret_id", "secret_key", "sdk_app_id"),
    "twilio": ("account_sid", "auth_token"),
    "http": ("url",),
}
_DEFAULTS = {
    "aliyun": {"endpoint": "dysmsapi.aliyuncs.com"},
    "tencent": {"endpoint": "sms.tencentcloudapi.com", "region": "ap-guangzhou"},
    "twilio": {
        "endpoint": "https://api.twilio.com",
        "from_number": "",
        "messaging_service_sid": "",
    },
    "http": {"format": "json", "id_field": "id"},
}


def _provider_options(provider: str, own: _Table) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for key in _REQUIRED[provider]:
        values[key] = own.text(key)
    for key, default in _DEFAULTS[provider].items():
        values[key] = own.text(key, default, empty=True)
    if provider == "twilio" and not (values["from_number"] or values["messaging_service_sid"]):
        raise ConfigError(f"{own.at('from_number')}: {_m('twilio_from_missing')}")
    if provider == "http":
        url = values["url"]
        if not re.fullmatch(r"https?://[^\s/]+(/\S*)?", url):
            own.fail("url", url, _root("bad_url"), _m("sms_url_fix"))
        if values["format"] not in ("json", "form"):
            own.fail("format", values["format"], _m("bad_format"), _m("bad_format_fix"))
        values["headers"] = _strings(own, "headers")
        values["fields"] = _strings(own, "fields") or {
            "to": "{phone}",
            "text": "{text}",
            "id": "{key}",
        }
    else:
        endpoint = values["endpoint"]
        split = urlsplit(endpoint if "//" in endpoint else f"https://{endpoint}")
        if split.scheme not in ("http", "https") or not split.netloc:
            fix = _m("endpoint_fix", example=_DEFAULTS[provider]["endpoint"])
            own.fail("endpoint", endpoint, _m("bad_endpoint"), fix)
    return values


def _strings(own: _Table, key: str) -> dict[str, str]:
    raw = own.raw.get(key, {})
    if not isinstance(raw, dict):
        own.fail(key, raw, _m("must_be_table"), _m("strings_fix", key=key))
    for name, value in raw.items():
        if not isinstance(value, str):
            own.fail(f"{key}.{name}", value, _root("must_be_text"), _m("quote_fix"))
    return dict(raw)


def _templates(own: _Table) -> dict[str, str]:
    templates = _strings(own, "templates")
    for kind, code in templates.items():
        if not _KIND.fullmatch(kind):
            own.fail(f"templates.{kind}", code, _m("not_kind"), _m("not_kind_fix"))
        if not code.strip():
            own.fail(f"templates.{kind}", code, _root("must_not_be_empty"), _m("template_id_fix"))
    if not templates:
        raise ConfigError(f"{own.at('templates')}: {_m('templates_missing')}")
    return {k: v.strip() for k, v in templates.items()}


def _email(table: _Table) -> EmailSettings:
    host = table.text("host", "", empty=True)
    security = table.choice("security", EMAIL_SECURITY, "starttls")
    port = table.integer("port", 465 if security == "tls" else 587, high=65535)
    sender = table.text("from_address", "", empty=True)
    if host and not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", sender):
        table.fail("from_address", sender, _m("bad_email"), _m("bad_email_fix"))
    return EmailSettings(
        host=host,
        port=port,
        username=table.text("username", "", empty=True),
        password=table.text("password", "", empty=True),
        from_address=sender,
        security=security,
        timeout=number(table, "timeout", 30.0, low=1, high=600),
    )


SCHEMA: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        "delivery": (
            "max_attempts",
            "base_backoff",
            "max_backoff",
            "jitter",
            "lease_seconds",
            "preference",
            "limits",
        ),
        "delivery.limits.<channel>": LIMIT_KEYS,
        "sms": ("provider", "sign_name", "timeout", *SMS_PROVIDERS[1:]),
        "sms.aliyun": ("access_key_id", "access_key_secret", "endpoint", "templates"),
        "sms.tencent": ("secret_id", "secret_key", "sdk_app_id", "region", "endpoint", "templates"),
        "sms.twilio": (
            "account_sid",
            "auth_token",
            "from_number",
            "messaging_service_sid",
            "endpoint",
        ),
        "sms.http": ("url", "format", "headers", "fields", "id_field"),
        "email": ("host", "port", "username", "password", "from_address", "security", "timeout"),
    }
)
"""The loader's ``SCHEMA`` entries of these tables (merged into it)."""


def _m(key: str, /, **params: Any) -> str:
    """A ``config_check.sections`` message in the language problems are reported in."""
    from config.table import _m as message

    return message(f"sections.{key}", **params)


def _root(key: str, /, **params: Any) -> str:
    """A message the loader's own checks use too (``config_check.<key>``)."""
    from config.table import _m as message

    return message(key, **params)
