"""The validated configuration as frozen records, with the look-ups the rest of baoxiu needs."""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from types import MappingProxyType
from typing import Any

from config.console_config import ConsoleSettings
from config.dispatch_config import DispatchConfig
from config.flow_config import FlowSettings
from config.notify_config import DeliverySettings, EmailSettings, SmsSettings
from config.ops_config import OpsSettings
from config.org_config import OrgSettings
from config.rules_config import IncidentRules, RepeatRules
from tickets.model import Mode, Priority


@dataclass(frozen=True)
class TimeLimits:
    """Minutes allowed from acceptance to claim, to arrival (sign-in) and to resolution."""

    claim: int
    arrive: int
    resolve: int


DEFAULT_LIMITS: Mapping[Priority, TimeLimits] = MappingProxyType(
    {
        Priority.URGENT: TimeLimits(claim=15, arrive=60, resolve=240),
        Priority.HIGH: TimeLimits(claim=30, arrive=120, resolve=480),
        Priority.NORMAL: TimeLimits(claim=60, arrive=480, resolve=2880),
        Priority.LOW: TimeLimits(claim=240, arrive=1440, resolve=10080),
    }
)
"""Time limits per priority when ``[limits]`` does not say otherwise."""


@dataclass(frozen=True)
class Category:
    """A leaf of the two-level category tree; ``code`` is ``"group.leaf"`` (``"water.leak"``)."""

    code: str
    group: str
    zh: str
    en: str
    team: str
    priority: Priority
    mode: Mode
    limits: TimeLimits
    keywords: tuple[str, ...] = ()

    def name(self, locale: str) -> str:
        return self.en if locale.startswith("en") else self.zh


@dataclass(frozen=True)
class CategoryGroup:
    code: str
    zh: str
    en: str
    children: tuple[Category, ...]

    def name(self, locale: str) -> str:
        return self.en if locale.startswith("en") else self.zh


@dataclass(frozen=True)
class Building:
    code: str
    zh: str
    en: str

    def name(self, locale: str) -> str:
        return self.en if locale.startswith("en") else self.zh


@dataclass(frozen=True)
class Area:
    code: str
    zh: str
    en: str
    buildings: tuple[Building, ...]

    def name(self, locale: str) -> str:
        return self.en if locale.startswith("en") else self.zh

    def building(self, code: str) -> Building | None:
        return next((b for b in self.buildings if b.code == code), None)


@dataclass(frozen=True)
class Team:
    code: str
    name: str
    members: tuple[str, ...]  # technician ids
    # channel -> group chat ids where new jobs are offered, e.g. {"telegram": ("-100123",)}
    groups: Mapping[str, tuple[str, ...]] = field(default_factory=lambda: MappingProxyType({}))


@dataclass(frozen=True)
class Technician:
    id: str
    name: str
    phone: str  # E.164
    skills: tuple[str, ...] = ()  # category codes, group ("water") or leaf ("water.leak")
    areas: tuple[str, ...] = ()  # area codes; empty means every area
    wecom_userid: str = ""  # WeCom 账号: their WeCom chat acts as them (bots.wecom)


@dataclass(frozen=True)
class Dispatcher:
    id: str
    name: str
    phone: str  # E.164
    wecom_userid: str = ""  # WeCom 账号: their WeCom chat acts as them (bots.wecom)


@dataclass(frozen=True)
class WebChannel:
    enabled: bool = True
    host: str = "127.0.0.1"
    port: int = 8080
    max_upload_mb: int = 5
    public_url: str = ""  # used in deep links / QR codes; empty means http://host:port
    max_connections: int = 1000  # beyond it a connection gets a 503 (bots.serving)


@dataclass(frozen=True)
class Config:
    locale: str
    timezone: str
    database: Path
    media_dir: Path
    categories: tuple[CategoryGroup, ...]
    areas: tuple[Area, ...]
    teams: tuple[Team, ...]
    technicians: tuple[Technician, ...]
    dispatchers: tuple[Dispatcher, ...]
    web: WebChannel = WebChannel()
    terminal_enabled: bool = True
    confirm_window_hours: int = 72
    source: str = "<default>"  # where it was loaded from, for messages
    # [limits.<priority>] as configured: for tickets whose priority changes after acceptance
    limits: Mapping[Priority, TimeLimits] = field(default_factory=lambda: DEFAULT_LIMITS)
    # [channels.<name>] tables of adapters added later (telegram, wechat, ...), read-only, unchecked
    extra_channels: Mapping[str, Mapping[str, Any]] = field(
        default_factory=lambda: MappingProxyType({})
    )
    # [dispatch], [holidays], [[duty]], [[leave]] and the dispatch keys of teams/categories
    dispatch: DispatchConfig = field(default_factory=DispatchConfig)
    # [repeats] and [incidents]: the 112 repeat-report rules and large-area incidents
    repeats: RepeatRules = field(default_factory=RepeatRules)
    incidents: IncidentRules = field(default_factory=IncidentRules)
    # [delivery], [sms], [email]: retries, rate limits, fallback and providers of notices
    delivery: DeliverySettings = field(default_factory=DeliverySettings)
    sms: SmsSettings = field(default_factory=SmsSettings)
    email: EmailSettings = field(default_factory=EmailSettings)
    # [backup], [metrics], [privacy]: how the service is operated (docs/operations.md)
    ops: OpsSettings = field(default_factory=OpsSettings)
    # [console]: the staff console's map tiles (docs/console.md)
    console: ConsoleSettings = field(default_factory=ConsoleSettings)
    # [org]: the operator's name, logo and hotline on the web chat page
    org: OrgSettings = field(default_factory=OrgSettings)
    # [followup], [receipt]: sampled follow-up calls and the receipt of assigned jobs
    flow: FlowSettings = field(default_factory=FlowSettings)

    # -- look-ups ---------------------------------------------------------------
    def category(self, code: str) -> Category | None:
        return self._by_code["category"].get(code)

    def group(self, code: str) -> CategoryGroup | None:
        return next((g for g in self.categories if g.code == code), None)

    def all_categories(self) -> tuple[Category, ...]:
        return tuple(leaf for g in self.categories for leaf in g.children)

    def area(self, code: str) -> Area | None:
        return self._by_code["area"].get(code)

    def team(self, code: str) -> Team | None:
        return self._by_code["team"].get(code)

    def technician(self, id_: str) -> Technician | None:
        return self._by_code["technician"].get(id_)

    def dispatcher(self, id_: str) -> Dispatcher | None:
        return self._by_code["dispatcher"].get(id_)

    @cached_property
    def made(self) -> dict[Hashable, Any]:
        """Texts and layouts made from this configuration and the catalogs alone, kept
        with it (``conversation.remembered``): a reload makes a new Config, so nothing
        made from an old one is ever shown again, and it is freed with it."""
        return {}

    @cached_property
    def _by_code(self) -> dict[str, dict[str, Any]]:
        """Categories, areas, teams and people by code, made once per Config (it is frozen;
        ``dataclasses.replace`` makes a new one): the engine looked them up by scanning
        several times a step. The first of a code wins, as the scans did."""
        kinds: dict[str, Iterable[tuple[str, Any]]] = {
            "category": ((c.code, c) for g in self.categories for c in g.children),
            "area": ((a.code, a) for a in self.areas),
            "team": ((t.code, t) for t in self.teams),
            "technician": ((t.id, t) for t in self.technicians),
            "dispatcher": ((d.id, d) for d in self.dispatchers),
        }
        found: dict[str, dict[str, Any]] = {}
        for kind, pairs in kinds.items():
            index = found[kind] = {}
            for code, item in pairs:
                index.setdefault(code, item)
        return found

    def teams_of(self, technician_id: str) -> frozenset[str]:
        return frozenset(t.code for t in self.teams if technician_id in t.members)

    def person_by_phone(self, phone: str) -> Technician | Dispatcher | None:
        """The configured technician or dispatcher with this E.164 phone, if any."""
        people: tuple[Technician | Dispatcher, ...] = (*self.technicians, *self.dispatchers)
        for person in people:
            if person.phone == phone:
                return person
        return None
