"""Reading the operator's TOML configuration into a validated ``Config``.

Everything a later module would trip over is refused here, at start-up, with one
message that names the key path, the bad value and the fix. This module reads files
and ``BAOXIU_DATA_DIR``; it must not create folders, open the database or go online.
"""

from __future__ import annotations

import difflib
import json
import os
import re
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from importlib import resources
from pathlib import Path
from types import MappingProxyType
from typing import Any, NoReturn
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers

from config import dispatch_config, notify_config, ops_config, rules_config
from config.model import (
    DEFAULT_LIMITS,
    Area,
    Building,
    Category,
    CategoryGroup,
    Config,
    Dispatcher,
    Team,
    Technician,
    TimeLimits,
    WebChannel,
)
from tickets.errors import ConfigError
from tickets.model import Mode, Priority

LOCALES = ("zh_CN", "en")
PHONE_REGION = "CN"  # numbers written without "+" are read as mainland China numbers
DATA_DIR_ENV = "BAOXIU_DATA_DIR"
# Adapters added later keep their own [channels.<name>] table; any other name is a typo.
EXTRA_CHANNELS = ("telegram", "wechat", "wecom", "sms", "email")
CHANNELS = ("web", "terminal", *EXTRA_CHANNELS)
_LIMIT_KEYS = ("claim", "arrive", "resolve")
_PRIORITIES = tuple(p.value for p in Priority)
_MODES = tuple(m.value for m in Mode)
# Codes end up in button payloads ("t:claim:<N>") and dotted leaf codes: no dots or colons.
_CODE = re.compile(r"[a-z0-9][a-z0-9_-]{0,31}")

# fmt: off
SCHEMA: Mapping[str, tuple[str, ...]] = MappingProxyType({
    "": ("service", "limits", "categories", "areas", "teams", "technicians", "dispatchers",
         "channels", "repeats", "incidents", "delivery", "sms", "email",
         *dispatch_config.ROOT_KEYS, *ops_config.ROOT_KEYS),
    "service": ("locale", "timezone", "database", "media_dir", "confirm_window_hours"),
    "limits": _PRIORITIES,
    "limits.<priority>": _LIMIT_KEYS,
    "categories": ("code", "zh", "en", "team", "priority", "mode", "limits", "children",
                   *dispatch_config.CATEGORY_KEYS),
    "categories.limits": _LIMIT_KEYS,
    "categories.children": ("code", "zh", "en", "keywords", "team", "priority", "mode", "limits",
                            *dispatch_config.CATEGORY_KEYS),
    "categories.children.limits": _LIMIT_KEYS,
    "areas": ("code", "zh", "en", "buildings"),
    "areas.buildings": ("code", "zh", "en"),
    "teams": ("code", "name", "members", "groups", *dispatch_config.TEAM_KEYS),
    "teams.groups": CHANNELS,
    "technicians": ("id", "name", "phone", "skills", "areas"),
    "dispatchers": ("id", "name", "phone"),
    "channels": CHANNELS,
    "channels.web": ("enabled", "host", "port", "max_upload_mb", "public_url"),
    "channels.terminal": ("enabled",),
    "repeats": rules_config.REPEAT_KEYS,
    "incidents": rules_config.INCIDENT_KEYS,
    **notify_config.SCHEMA,
    **dispatch_config.SCHEMA,
    **ops_config.SCHEMA,
})
"""Allowed keys of every table, by its path with array indexes left out."""

_EXAMPLES = {"code": '"leak"', "zh": '"漏水"', "en": '"Leak"', "team": '"maint"', "id": '"zhang"',
             "phone": '"+8613800000001"'}
# fmt: on


# -- public -----------------------------------------------------------------------


def load(path: Path | str | None = None) -> Config:
    """The validated configuration in ``path``; ``None`` gives the built-in default."""
    if path is None:
        return _load_default()
    path = Path(path).expanduser()
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError(
            f"{path}: cannot be read ({exc.strerror}) — check the path, "
            "or leave it out to run with the built-in default"
        ) from None
    try:
        text = data.decode("utf-8-sig")  # a BOM from Windows Notepad is harmless
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"{path}: byte {exc.start} = {data[exc.start : exc.start + 1]!r}: not UTF-8 "
            "— save the file as UTF-8"
        ) from None
    try:
        return load_text(text, base=path.resolve().parent, source=str(path))
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc.message}") from None


def check(path: Path | str | None = None) -> Config:
    """``baoxiu config check``: load the file and refuse it exactly as the service would."""
    return load(path)


def load_text(text: str, *, base: Path | None = None, source: str = "<text>") -> Config:
    """The validated configuration in TOML ``text``; relative paths resolve against ``base``."""
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(_toml_message(text, exc)) from None
    return _build(doc, (base or Path.cwd()).absolute(), source)


def starter_text() -> str:
    """A commented configuration file, in Chinese and English, for a new operator to edit."""
    return resources.files("config").joinpath("starter.toml").read_text("utf-8")


def default_text() -> str:
    """The TOML of the built-in default configuration."""
    return resources.files("config").joinpath("default.toml").read_text("utf-8")


def default_data_dir() -> Path:
    """Where the built-in default keeps its data: ``$BAOXIU_DATA_DIR``, else the XDG data
    folder (``$XDG_DATA_HOME/baoxiu``, ``~/.local/share/baoxiu``) — never the current
    folder, so every command finds the same database wherever it is run from."""
    data_dir = os.environ.get(DATA_DIR_ENV, "").strip()
    if data_dir:
        return Path(data_dir).expanduser().absolute()
    xdg = os.environ.get("XDG_DATA_HOME", "").strip()
    base = (
        Path(xdg).expanduser() if xdg and Path(xdg).is_absolute() else Path.home() / ".local/share"
    )
    return (base / "baoxiu").absolute()


def _load_default() -> Config:
    config = load_text(default_text(), base=Path.cwd(), source="<default>")
    folder = default_data_dir()
    return replace(
        config,
        database=folder / config.database.name,
        media_dir=folder / config.media_dir.name,
    )


# -- messages ---------------------------------------------------------------------


def _show(value: Any) -> str:
    """``value`` as it would be written in TOML, so the operator can find it in the file."""
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, str):
        text = json.dumps(value, ensure_ascii=False)
    elif isinstance(value, list):
        text = "[" + ", ".join(_show(v) for v in value) + "]"
    elif isinstance(value, dict):
        text = "{" + ", ".join(f"{k} = {_show(v)}" for k, v in value.items()) + "}"
    else:
        text = str(value)
    return text if len(text) <= 80 else text[:77] + "…"


def _fail(path: str, value: Any, problem: str, fix: str) -> NoReturn:
    raise ConfigError(f"{path} = {_show(value)}: {problem} — {fix}")


def _listing(options: Iterable[str]) -> str:
    items = list(options)
    return ", ".join(items[:20]) + (", …" if len(items) > 20 else "") if items else "(none)"


def _did_you_mean(value: str, options: Sequence[str]) -> str:
    close = difflib.get_close_matches(value, options, n=1)
    return f"did you mean {close[0]}? " if close else ""


def _toml_message(text: str, exc: tomllib.TOMLDecodeError) -> str:
    reason = str(exc)
    where = re.search(r"\s*\(at line (\d+), column (\d+)\)", reason)
    fix = 'write key = value, text in "double quotes", each [table] header on its own line'
    if where is None:
        return f"not valid TOML: {reason} — {fix}"
    line, column = int(where.group(1)), int(where.group(2))
    lines = text.splitlines()
    shown = _show(lines[line - 1]) if 0 < line <= len(lines) else "(end of file)"
    reason = reason[: where.start()]
    return f"line {line} = {shown}: not valid TOML ({reason}, column {column}) — {fix}"


# -- reading tables ---------------------------------------------------------------


class _Table:
    """One TOML table being read; it knows its key path so every message can name it.

    ``kind`` is its ``SCHEMA`` entry, or ``None`` for a table whose keys belong to others.
    """

    def __init__(self, raw: Any, path: str, kind: str | None) -> None:
        if not isinstance(raw, dict):
            _fail(path, raw, "must be a table", "write a [header] line, then key = value lines")
        self.raw: dict[str, Any] = raw
        self.path = path
        allowed = SCHEMA[kind] if kind is not None else tuple(raw)
        for key, value in raw.items():
            if key not in allowed:
                fix = f"{_did_you_mean(key, allowed)}allowed keys here: {', '.join(allowed)}"
                self.fail(key, value, "unknown key", fix)

    def at(self, key: str) -> str:
        return f"{self.path}.{key}" if self.path else key

    def fail(self, key: str, value: Any, problem: str, fix: str) -> NoReturn:
        _fail(self.at(key), value, problem, fix)

    def text(self, key: str, default: str | None = None, *, empty: bool = False) -> str:
        if key not in self.raw:
            if default is None:
                example = _EXAMPLES.get(key, '"…"')
                raise ConfigError(f"{self.at(key)}: missing — add {key} = {example}")
            return default
        value = self.raw[key]
        if not isinstance(value, str):
            self.fail(key, value, "must be text", f'put it in double quotes: "{_bare(value)}"')
        if not value.strip() and not empty:
            self.fail(key, value, "must not be empty", "write a value between the quotes")
        return value.strip()

    def code(self, key: str) -> str:
        value = self.text(key)
        if not _CODE.fullmatch(value):
            fix = "use up to 32 lowercase letters, digits, _ or -, e.g. leak or no_water"
            self.fail(key, value, "not a valid code", fix)
        return value

    def choice(self, key: str, options: Sequence[str], default: str) -> str:
        value = self.raw.get(key, default)
        if not isinstance(value, str) or value not in options:
            self.fail(key, value, f"not one of {', '.join(options)}", "use one of those")
        return value

    def integer(self, key: str, default: int, *, unit: str = "", high: int | None = None) -> int:
        value = self.raw.get(key, default)
        kind = f"a whole number of {unit}" if unit else "a whole number"
        if isinstance(value, bool) or not isinstance(value, int):
            fix = f"write digits without quotes, e.g. {key} = {default}"
            self.fail(key, value, f"must be {kind}", fix)
        if value < 1 or (high is not None and value > high):
            span = f"from 1 to {high}" if high is not None else "1 or more"
            self.fail(key, value, f"must be {kind}, {span}", f"e.g. {key} = {default}")
        return value

    def flag(self, key: str, default: bool) -> bool:
        value = self.raw.get(key, default)
        if not isinstance(value, bool):
            fix = f"write {key} = true or {key} = false, without quotes"
            self.fail(key, value, "must be true or false", fix)
        return value

    def texts(self, key: str) -> tuple[str, ...]:
        value = self.raw.get(key, [])
        if not isinstance(value, list):
            self.fail(key, value, "must be a list", f'write it as {key} = ["…", "…"]')
        for i, item in enumerate(value):
            if not isinstance(item, str) or not item.strip():
                fix = f'put it in double quotes: "{_bare(item)}"'
                self.fail(f"{key}[{i}]", item, "must be non-empty text", fix)
        return tuple(item.strip() for item in value)

    def table(self, key: str, kind: str | None) -> _Table:
        return _Table(self.raw.get(key, {}), self.at(key), kind)

    def tables(self, key: str, kind: str, *, required: bool = False) -> list[_Table]:
        value = self.raw.get(key, [])
        if not isinstance(value, list):
            fix = f"start each entry with [[{kind}]] (double brackets)"
            self.fail(key, value, "must be an array of tables", fix)
        if required and not value:
            raise ConfigError(f"{self.at(key)}: missing — add at least one [[{kind}]] entry")
        return [_Table(item, f"{self.at(key)}[{i}]", kind) for i, item in enumerate(value)]


def _bare(value: Any) -> str:
    return str(value).replace('"', "")


def _unique(items: Iterable[tuple[str, str]], what: str) -> None:
    """Refuse the second of two equal values; ``items`` are (key path, value)."""
    seen: dict[str, str] = {}
    for path, value in items:
        if value in seen:
            fix = f"{seen[value]} already uses it; give each one its own"
            _fail(path, value, f"duplicate {what}", fix)
        seen[value] = path


def _coded(tables: Sequence[_Table], what: str) -> list[tuple[_Table, str]]:
    """Each table with its ``code``, checked as a code and unique among them."""
    pairs = [(t, t.code("code")) for t in tables]
    _unique(((t.at("code"), code) for t, code in pairs), what)
    return pairs


# -- sections ---------------------------------------------------------------------


def _build(doc: dict[str, Any], base: Path, source: str) -> Config:
    root = _Table(doc, "", "")
    service = root.table("service", "service")
    timezone = service.text("timezone", "Asia/Shanghai")
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        fix = 'use an IANA name such as "Asia/Shanghai" or "Europe/London"'
        service.fail("timezone", timezone, "not a known time zone", fix)
    limits = _priority_limits(root.table("limits", "limits"))
    areas = _areas(root.tables("areas", "areas", required=True))
    groups, uses = _categories(root.tables("categories", "categories", required=True), limits)
    codes = [g.code for g in groups] + [c.code for g in groups for c in g.children]
    tech_tables = root.tables("technicians", "technicians")
    technicians = [_technician(t, codes, [a.code for a in areas]) for t in tech_tables]
    disp_tables = root.tables("dispatchers", "dispatchers")
    dispatchers = [Dispatcher(t.code("id"), t.text("name"), _phone(t)) for t in disp_tables]
    people: list[tuple[_Table, Technician | Dispatcher]] = [
        *zip(tech_tables, technicians, strict=True),
        *zip(disp_tables, dispatchers, strict=True),
    ]
    _unique(((t.at("id"), p.id) for t, p in people), "person id")
    _unique(((t.at("phone"), p.phone) for t, p in people), "phone (a phone names one person)")
    teams = _teams(root.tables("teams", "teams", required=True), [t.id for t in technicians])
    _check_uses(uses, {t.code: t for t in teams}, bool(dispatchers))
    web, terminal, extra = _channels(root.table("channels", "channels"))
    return Config(
        locale=service.choice("locale", LOCALES, "zh_CN"),
        timezone=timezone,
        database=_path(service, "database", "data/baoxiu.db", base),
        media_dir=_path(service, "media_dir", "data/media", base),
        categories=groups,
        areas=areas,
        teams=teams,
        technicians=tuple(technicians),
        dispatchers=tuple(dispatchers),
        web=web,
        terminal_enabled=terminal,
        confirm_window_hours=service.integer("confirm_window_hours", 72, unit="hours"),
        source=source,
        limits=limits,
        extra_channels=extra,
        **notify_config.read(root, CHANNELS),
        ops=ops_config.read(root, base),
        dispatch=dispatch_config.parse(
            root,
            groups=groups,
            areas=[a.code for a in areas],
            teams=teams,
            technicians=[t.id for t in technicians],
            dispatchers=[d.id for d in dispatchers],
            timezone=timezone,
            limits=limits,
        ),
        **rules_config.parse(
            root.table("repeats", "repeats"), root.table("incidents", "incidents")
        ),
    )


def _path(table: _Table, key: str, default: str, base: Path) -> Path:
    path = Path(table.text(key, default)).expanduser()
    return path if path.is_absolute() else base / path


def _limits(tables: Sequence[_Table], start: TimeLimits) -> TimeLimits:
    """``start`` with each key replaced by the last of ``tables`` that sets it."""
    values = {k: getattr(start, k) for k in _LIMIT_KEYS}
    origin = dict.fromkeys(_LIMIT_KEYS, "")
    for table in tables:
        for key in _LIMIT_KEYS:
            if key in table.raw:
                values[key] = table.integer(key, values[key], unit="minutes")
                origin[key] = table.at(key)
    for earlier, later in (("claim", "arrive"), ("arrive", "resolve")):
        if values[later] < values[earlier]:
            # One of the two was set here (``start`` itself is in order): blame that one.
            key = later if origin[later] else earlier
            problem = f"{later} ({values[later]}) is less than {earlier} ({values[earlier]})"
            fix = "every limit counts from acceptance, so keep claim ≤ arrive ≤ resolve"
            _fail(origin[key], values[key], problem, fix)
    return TimeLimits(**values)


def _priority_limits(table: _Table) -> Mapping[Priority, TimeLimits]:
    result = {}
    for priority in Priority:
        own = [table.table(priority.value, "limits.<priority>")] if priority in table.raw else []
        result[priority] = _limits(own, DEFAULT_LIMITS[priority])
    return MappingProxyType(result)


def _areas(tables: list[_Table]) -> tuple[Area, ...]:
    areas = []
    for t, code in _coded(tables, "area code"):
        b_tables = _coded(t.tables("buildings", "areas.buildings"), "building code")
        buildings = [Building(c, b.text("zh"), b.text("en")) for b, c in b_tables]
        areas.append(Area(code, t.text("zh"), t.text("en"), tuple(buildings)))
    return tuple(areas)


# A leaf with the key paths of its team and mode (its own or its group's), to blame
# if they do not fit the teams and people configured.
_Use = tuple[str, str, Category]


def _categories(
    tables: list[_Table], limits: Mapping[Priority, TimeLimits]
) -> tuple[tuple[CategoryGroup, ...], list[_Use]]:
    groups, uses = [], []
    for g, group in _coded(tables, "category code"):
        g_team, g_priority = g.code("team"), g.choice("priority", _PRIORITIES, "normal")
        g_mode = g.choice("mode", _MODES, "claim")
        g_limits = [g.table("limits", "categories.limits")] if "limits" in g.raw else []
        children = g.tables("children", "categories.children", required=True)
        leaves = []
        for c, code in _coded(children, "category code"):
            priority = Priority(c.choice("priority", _PRIORITIES, g_priority))
            own = [c.table("limits", "categories.children.limits")] if "limits" in c.raw else []
            leaf = Category(
                code=f"{group}.{code}",
                group=group,
                zh=c.text("zh"),
                en=c.text("en"),
                team=c.code("team") if "team" in c.raw else g_team,
                priority=priority,
                mode=Mode(c.choice("mode", _MODES, g_mode)),
                limits=_limits(g_limits + own, limits[priority]),
                keywords=c.texts("keywords"),
            )
            leaves.append(leaf)
            team_at = (c if "team" in c.raw else g).at("team")
            mode_at = (c if "mode" in c.raw else g).at("mode")
            uses.append((team_at, mode_at, leaf))
        groups.append(CategoryGroup(group, g.text("zh"), g.text("en"), tuple(leaves)))
    return tuple(groups), uses


def _check_uses(uses: list[_Use], teams: Mapping[str, Team], has_dispatchers: bool) -> None:
    for path, mode_path, leaf in uses:
        team = teams.get(leaf.team)
        if team is None:
            fix = (
                f"{_did_you_mean(leaf.team, list(teams))}use one of {_listing(teams)}, "
                f'or add a [[teams]] entry with code = "{leaf.team}"'
            )
            _fail(path, leaf.team, "no such team", fix)
        if leaf.mode is not Mode.MANUAL and not team.members:
            problem = f"team has no members to take {leaf.code} (mode {leaf.mode})"
            _fail(path, leaf.team, problem, 'add members to the team, or set mode = "manual"')
        if leaf.mode is Mode.MANUAL and not has_dispatchers:
            problem = f"{leaf.code} waits for a dispatcher but there is none"
            fix = 'add a [[dispatchers]] entry, or set mode = "claim"'
            _fail(mode_path, leaf.mode.value, problem, fix)


def _phone(table: _Table) -> str:
    raw = table.text("phone")
    try:
        number = phonenumbers.parse(raw, PHONE_REGION)
    except phonenumbers.NumberParseException:
        number = None
    if number is None or not phonenumbers.is_valid_number(number):
        fix = (
            'write it with its country code, e.g. "+8613800000001" '
            "(numbers without + are read as mainland China numbers)"
        )
        table.fail("phone", raw, "not a valid phone number", fix)
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _technician(t: _Table, categories: Sequence[str], areas: Sequence[str]) -> Technician:
    skills, where = t.texts("skills"), t.texts("areas")
    for i, skill in enumerate(skills):
        if skill not in categories:
            leaf = [c for c in categories if c.endswith(f".{skill}")]
            hint = f"did you mean {leaf[0]}? " if leaf else _did_you_mean(skill, categories)
            fix = f"{hint}use a group code or a group.leaf code: {_listing(categories)}"
            t.fail(f"skills[{i}]", skill, "not a category code", fix)
    for i, area in enumerate(where):
        if area not in areas:
            fix = f"{_did_you_mean(area, areas)}use one of {_listing(areas)}"
            t.fail(f"areas[{i}]", area, "no such area", fix)
    return Technician(t.code("id"), t.text("name"), _phone(t), skills, where)


def _teams(tables: list[_Table], technicians: Sequence[str]) -> tuple[Team, ...]:
    teams = []
    for t, code in _coded(tables, "team code"):
        members = t.texts("members")
        _unique(((f"{t.at('members')}[{i}]", m) for i, m in enumerate(members)), "member")
        for i, member in enumerate(members):
            if member not in technicians:
                fix = (
                    f"{_did_you_mean(member, technicians)}use one of {_listing(technicians)}, "
                    f'or add a [[technicians]] entry with id = "{member}"'
                )
                t.fail(f"members[{i}]", member, "not a configured technician", fix)
        chats = t.table("groups", "teams.groups")
        groups = MappingProxyType({channel: chats.texts(channel) for channel in chats.raw})
        teams.append(Team(code, t.text("name"), members, groups))
    return tuple(teams)


def _channels(table: _Table) -> tuple[WebChannel, bool, Mapping[str, Mapping[str, Any]]]:
    web = table.table("web", "channels.web")
    public_url = web.text("public_url", "", empty=True).rstrip("/")
    if public_url and not re.fullmatch(r"https?://[^\s/]+(/\S*)?", public_url):
        fix = 'write it like "https://repair.example.com", or leave it empty'
        web.fail("public_url", public_url, "not a web address", fix)
    channel = WebChannel(
        enabled=web.flag("enabled", True),
        host=web.text("host", "127.0.0.1"),
        port=web.integer("port", 8080, high=65535),
        max_upload_mb=web.integer("max_upload_mb", 5, unit="megabytes", high=100),
        public_url=public_url,
    )
    terminal = table.table("terminal", "channels.terminal").flag("enabled", True)
    extra = {}
    for name in EXTRA_CHANNELS:
        if name in table.raw:
            # Their keys belong to the adapters, which check them against the raw TOML types
            # (lists stay lists); only "enabled" means the same everywhere.
            table.table(name, None).flag("enabled", True)
            extra[name] = MappingProxyType(dict(table.raw[name]))
    return channel, terminal, MappingProxyType(extra)
