"""Reading the operator's TOML configuration into a validated ``Config``.

Everything a later module would trip over is refused here, at start-up, with one
message that names the key path, the bad value and the fix. This module reads files
and ``BAOXIU_DATA_DIR``; it must not create folders, open the database or go online.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import replace
from importlib import resources
from pathlib import Path
from types import MappingProxyType
from typing import Any, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers

from config import (
    console_config,
    dispatch_config,
    flow_config,
    notify_config,
    ops_config,
    org_config,
    rules_config,
)
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
from config.table import (
    _LOCALE,
    _coded,
    _did_you_mean,
    _fail,
    _listing,
    _m,
    _Problems,
    _Table,
    _toml_message,
    _unique,
    _unique_field,
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

# fmt: off
SCHEMA: Mapping[str, tuple[str, ...]] = MappingProxyType({
    "": ("service", "limits", "categories", "areas", "teams", "technicians", "dispatchers",
         "channels", "repeats", "incidents", "delivery", "sms", "email",
         *dispatch_config.ROOT_KEYS, *ops_config.ROOT_KEYS, *console_config.ROOT_KEYS,
         *org_config.ROOT_KEYS, *flow_config.ROOT_KEYS),
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
    "technicians": ("id", "name", "phone", "skills", "areas", "wecom_userid"),
    "dispatchers": ("id", "name", "phone", "wecom_userid"),
    "channels": CHANNELS,
    "channels.web": (
        "enabled",
        "host",
        "port",
        "max_upload_mb",
        "public_url",
        "max_connections",
    ),
    "channels.terminal": ("enabled",),
    "repeats": rules_config.REPEAT_KEYS,
    "incidents": rules_config.INCIDENT_KEYS,
    **notify_config.SCHEMA,
    **dispatch_config.SCHEMA,
    **ops_config.SCHEMA,
    **console_config.SCHEMA,
    **org_config.SCHEMA,
    **flow_config.SCHEMA,
})
"""Allowed keys of every table, by its path with array indexes left out."""

# fmt: on

# -- public -----------------------------------------------------------------------


def load(path: Path | str | None = None, *, locale: str = "en") -> Config:
    """The validated configuration in ``path``; ``None`` gives the built-in default.
    Problems are reported in ``locale`` (the operator's shell language in the CLI)."""
    token = _LOCALE.set(locale if locale in LOCALES else "en")
    try:
        return _load(path)
    finally:
        _LOCALE.reset(token)


def _load(path: Path | str | None) -> Config:
    if path is None:
        return _load_default()
    path = Path(path).expanduser()
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"{path}: {_m('unreadable', reason=exc.strerror)}") from None
    try:
        text = data.decode("utf-8-sig")  # a BOM from Windows Notepad is harmless
    except UnicodeDecodeError as exc:
        byte = repr(data[exc.start : exc.start + 1])
        raise ConfigError(f"{path}: {_m('not_utf8', start=exc.start, byte=byte)}") from None
    try:
        return load_text(text, base=path.resolve().parent, source=str(path))
    except ConfigError as exc:
        raise ConfigError(
            "\n".join(f"{path}: {line}" for line in exc.message.splitlines())
        ) from None


def check(path: Path | str | None = None, *, locale: str = "en") -> Config:
    """``baoxiu config check``: load the file and refuse it exactly as the service would."""
    return load(path, locale=locale)


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


# -- sections ---------------------------------------------------------------------


def _build(doc: dict[str, Any], base: Path, source: str) -> Config:
    found = _Problems()
    keep, each, check = found.keep, found.each, found.check
    root = keep(lambda: _Table(doc, "", ""), None)
    if root is None:
        raise ConfigError("\n".join(found.messages))

    def tables(key: str, kind: str, required: bool = False) -> list[_Table]:
        none: list[_Table] = []
        return keep(lambda: root.tables(key, kind, required=required), none)

    service = keep(lambda: root.table("service", "service"), _Table({}, "service", "service"))
    timezone = keep(lambda: _timezone(service), "Asia/Shanghai")
    default_limits: Mapping[Priority, TimeLimits] = MappingProxyType(DEFAULT_LIMITS)
    limits = keep(lambda: _priority_limits(root.table("limits", "limits")), default_limits)
    area_tables = tables("areas", "areas", required=True)
    check(_unique_field, area_tables, "code", "area code")
    areas = tuple(each(area_tables, _area))
    group_tables = tables("categories", "categories", required=True)
    check(_unique_field, group_tables, "code", "category code")
    read_groups = each(group_tables, lambda g: _category_group(g, limits))
    groups = tuple(g for g, _ in read_groups)
    uses = [u for _, group_uses in read_groups for u in group_uses]
    codes = [g.code for g in groups] + [c.code for g in groups for c in g.children]
    sections_ok = found.clean  # categories and areas: what people and teams refer to
    tech_tables = tables("technicians", "technicians")
    area_codes = [a.code for a in areas]
    pairs = each(
        tech_tables, lambda t: (t, _wecom(t, _technician(t, codes, area_codes, sections_ok)))
    )
    technicians = [p for _, p in pairs]
    disp_tables = tables("dispatchers", "dispatchers")
    dispatchers = each(
        disp_tables, lambda t: (t, _wecom(t, Dispatcher(t.code("id"), t.text("name"), _phone(t))))
    )
    people: list[tuple[_Table, Technician | Dispatcher]] = [*pairs, *dispatchers]
    check(_unique, [(t.at("id"), p.id) for t, p in people], "person id")
    phones = [(t.at("phone"), p.phone) for t, p in people]
    check(_unique, phones, "phone (a phone names one person)")
    people_ok = found.clean
    team_tables = tables("teams", "teams", required=True)
    tech_ids = [t.id for t in technicians]
    check(_unique_field, team_tables, "code", "team code")
    teams = tuple(each(team_tables, lambda t: _team(t, tech_ids, people_ok)))
    if found.clean:
        by_code = {t.code: t for t in teams}
        for use in uses:
            check(_check_use, use, by_code, bool(dispatchers))
    no_channels: tuple[WebChannel, bool, Mapping[str, Mapping[str, Any]]] = (
        WebChannel(),
        True,
        MappingProxyType({}),
    )
    channels = keep(lambda: _channels(root.table("channels", "channels")), no_channels)
    web, terminal, extra = channels
    locale = keep(lambda: service.choice("locale", LOCALES, "zh_CN"), "zh_CN")
    database = keep(lambda: _path(service, "database", "data/baoxiu.db", base), base)
    media_dir = keep(lambda: _path(service, "media_dir", "data/media", base), base)
    window = keep(lambda: service.integer("confirm_window_hours", 72, unit="hours"), 72)
    notify = keep(lambda: notify_config.read(root, CHANNELS), None)
    dispatch = None
    if found.clean:  # it compares against everything above
        dispatch = keep(
            lambda: dispatch_config.parse(
                root,
                groups=groups,
                areas=area_codes,
                teams=teams,
                technicians=tech_ids,
                dispatchers=[d.id for _, d in dispatchers],
                timezone=timezone,
                limits=limits,
            ),
            None,
        )
    rules = keep(
        lambda: rules_config.parse(
            root.table("repeats", "repeats"), root.table("incidents", "incidents")
        ),
        None,
    )
    ops = keep(lambda: ops_config.read(root, base), None)
    console = keep(lambda: console_config.read(root), console_config.ConsoleSettings())
    org = keep(lambda: org_config.read(root, base), org_config.OrgSettings())
    flow = keep(lambda: flow_config.read(root), None)
    if (
        not found.clean
        or notify is None
        or dispatch is None
        or rules is None
        or ops is None
        or flow is None
    ):
        # Two leaves of one group naming the same missing team are one problem.
        raise ConfigError("\n".join(dict.fromkeys(found.messages)))
    return Config(
        locale=locale,
        timezone=timezone,
        database=database,
        media_dir=media_dir,
        categories=groups,
        areas=areas,
        teams=teams,
        technicians=tuple(technicians),
        dispatchers=tuple(d for _, d in dispatchers),
        web=web,
        terminal_enabled=terminal,
        confirm_window_hours=window,
        source=source,
        limits=limits,
        extra_channels=extra,
        **notify,
        ops=ops,
        console=console,
        org=org,
        dispatch=dispatch,
        **rules,
        flow=flow,
    )


def _timezone(service: _Table) -> str:
    timezone = service.text("timezone", "Asia/Shanghai")
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        service.fail("timezone", timezone, _m("bad_timezone"), _m("timezone_fix"))
    return timezone


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
            problem = _m(
                "limits_order",
                later=later,
                later_value=values[later],
                earlier=earlier,
                earlier_value=values[earlier],
            )
            _fail(origin[key], values[key], problem, _m("limits_order_fix"))
    return TimeLimits(**values)


def _priority_limits(table: _Table) -> Mapping[Priority, TimeLimits]:
    result = {}
    for priority in Priority:
        own = [table.table(priority.value, "limits.<priority>")] if priority in table.raw else []
        result[priority] = _limits(own, DEFAULT_LIMITS[priority])
    return MappingProxyType(result)


def _area(t: _Table) -> Area:
    code = t.code("code")
    b_tables = _coded(t.tables("buildings", "areas.buildings"), "building code")
    buildings = [Building(c, b.text("zh"), b.text("en")) for b, c in b_tables]
    return Area(code, t.text("zh"), t.text("en"), tuple(buildings))


# A leaf with the key paths of its team and mode (its own or its group's), to blame
# if they do not fit the teams and people configured.
_Use = tuple[str, str, Category]


def _category_group(
    g: _Table, limits: Mapping[Priority, TimeLimits]
) -> tuple[CategoryGroup, list[_Use]]:
    group = g.code("code")
    g_team, g_priority = g.code("team"), g.choice("priority", _PRIORITIES, "normal")
    g_mode = g.choice("mode", _MODES, "claim")
    g_limits = [g.table("limits", "categories.limits")] if "limits" in g.raw else []
    children = g.tables("children", "categories.children", required=True)
    leaves, uses = [], []
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
    return CategoryGroup(group, g.text("zh"), g.text("en"), tuple(leaves)), uses


def _check_use(use: _Use, teams: Mapping[str, Team], has_dispatchers: bool) -> None:
    path, mode_path, leaf = use
    team = teams.get(leaf.team)
    if team is None:
        hint = _did_you_mean(leaf.team, list(teams))
        fix = _m("no_team_fix", hint=hint, teams=_listing(teams), team=leaf.team)
        _fail(path, leaf.team, _m("no_team"), fix)
    if leaf.mode is not Mode.MANUAL and not team.members:
        problem = _m("team_empty", category=leaf.code, mode=leaf.mode.value)
        _fail(path, leaf.team, problem, _m("team_empty_fix"))
    if leaf.mode is Mode.MANUAL and not has_dispatchers:
        problem = _m("no_dispatcher", category=leaf.code)
        _fail(mode_path, leaf.mode.value, problem, _m("no_dispatcher_fix"))


def _phone(table: _Table) -> str:
    raw = table.text("phone")
    try:
        number = phonenumbers.parse(raw, PHONE_REGION)
    except phonenumbers.NumberParseException:
        number = None
    if number is None or not phonenumbers.is_valid_number(number):
        table.fail("phone", raw, _m("bad_phone"), _m("bad_phone_fix"))
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _technician(
    t: _Table, categories: Sequence[str], areas: Sequence[str], refs: bool = True
) -> Technician:
    """``refs``: check skills and areas against categories and areas read without problems."""
    skills, where = t.texts("skills"), t.texts("areas")
    if not refs:
        return Technician(t.code("id"), t.text("name"), _phone(t), skills, where)
    for i, skill in enumerate(skills):
        if skill not in categories:
            leaf = [c for c in categories if c.endswith(f".{skill}")]
            hint = _m("did_you_mean", option=leaf[0]) if leaf else _did_you_mean(skill, categories)
            fix = _m("bad_skill_fix", hint=hint, categories=_listing(categories))
            t.fail(f"skills[{i}]", skill, _m("bad_skill"), fix)
    for i, area in enumerate(where):
        if area not in areas:
            fix = _m("no_area_fix", hint=_did_you_mean(area, areas), areas=_listing(areas))
            t.fail(f"areas[{i}]", area, _m("no_area"), fix)
    return Technician(t.code("id"), t.text("name"), _phone(t), skills, where)


def _team(t: _Table, technicians: Sequence[str], refs: bool = True) -> Team:
    """``refs``: check the members against technicians read without problems."""
    code = t.code("code")
    members = t.texts("members")
    _unique(((f"{t.at('members')}[{i}]", m) for i, m in enumerate(members)), "member")
    for i, member in enumerate(members if refs else ()):
        if member not in technicians:
            fix = _m(
                "not_technician_fix",
                hint=_did_you_mean(member, technicians),
                technicians=_listing(technicians),
                member=member,
            )
            t.fail(f"members[{i}]", member, _m("not_technician"), fix)
    chats = t.table("groups", "teams.groups")
    groups = MappingProxyType({channel: chats.texts(channel) for channel in chats.raw})
    return Team(code, t.text("name"), members, groups)


def _channels(table: _Table) -> tuple[WebChannel, bool, Mapping[str, Mapping[str, Any]]]:
    web = table.table("web", "channels.web")
    public_url = web.text("public_url", "", empty=True).rstrip("/")
    if public_url and not re.fullmatch(r"https?://[^\s/]+(/\S*)?", public_url):
        web.fail("public_url", public_url, _m("bad_url"), _m("bad_url_fix"))
    channel = WebChannel(
        enabled=web.flag("enabled", True),
        host=web.text("host", "127.0.0.1"),
        port=web.integer("port", 8080, high=65535),
        max_upload_mb=web.integer("max_upload_mb", 5, unit="megabytes", high=100),
        public_url=public_url,
        max_connections=web.integer("max_connections", 1000, high=100_000),
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


_P = TypeVar("_P", Technician, Dispatcher)


def _wecom(table: _Table, person: _P) -> _P:
    """The person with their optional WeCom 账号 (checked by ``bots.wecom.settings``)."""
    userid = table.text("wecom_userid", "")
    return replace(person, wecom_userid=userid) if userid else person
