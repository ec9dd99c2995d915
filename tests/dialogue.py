"""Table-driven dialogue tests for any flow: a small ``Config`` built in Python, an
in-memory ``Lookup`` that also plays the engine's part for ticket actions, and
``Dialogue``, which feeds events to a step function and checks each answer.

A table is a list of rows ``(what the person sends, what the answer must contain)``::

    ctx = make_ctx("zh_CN")
    d = Dialogue(intake.step, ctx, opened=intake.start(ctx, {}), outcome=intake.outcome)
    d.run([
        ("漏水", "水 / 漏水"),                       # typed text (a "/x" string is a Command)
        (Button("i:area:east"), ("1号楼", "2号楼")),  # every substring must appear
        (Unsupported("sticker"), Not("受理成功")),    # ...or must not
        (Text("2"), None),                            # no check
    ])
    assert d.state.step == "spot"

The searched text of a turn is every reply's text plus the labels of its buttons and
contact/location request buttons, and the replies describing performed actions
(``outcome``), one per line. When a step asks for actions, ``Dialogue`` performs them
like bots/engine.py does, against ``FakeLookup`` (the ``Ctx`` must hold one):
``CreateTicket`` makes a ticket, ``Act`` runs ``tickets.workflow.advance``, and
``SetLocale``/``Bind``/``CreateTicket`` change the ``Ctx`` (locale, role, last phone); a
refused action answers with the refusal and keeps the dialogue where it was, unless the
step was ending its flow and the refusal is about the ticket (see bots/engine.py).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from config.model import (
    Area,
    Building,
    Category,
    CategoryGroup,
    Config,
    Dispatcher,
    Team,
    Technician,
    TimeLimits,
)
from conversation.actions import Act, Bind, CreateTicket, SetLocale, TicketAction
from conversation.context import Ctx
from conversation.events import InEvent, parse_text
from conversation.replies import Ask, Reply, RequestContact, RequestLocation, Say, text_of
from conversation.state import IDLE, DialogueState
from conversation.step import Step
from tickets.errors import BaoxiuError, InvalidInput, TicketNotFound
from tickets.model import OPEN_STATES, Mode, Priority, Role, State, Ticket
from tickets.workflow import advance

NOW = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)  # 10:00 in Asia/Shanghai

StepFn = Callable[[DialogueState, InEvent, Ctx], Step]
OutcomeFn = Callable[[TicketAction, Ticket | None, Ctx], tuple[Reply, ...]]


def _leaf(code: str, zh: str, en: str, team: str, *keywords: str, **kw: Any) -> Category:
    return Category(
        code=code,
        group=code.split(".")[0],
        zh=zh,
        en=en,
        team=team,
        priority=kw.get("priority", Priority.NORMAL),
        mode=kw.get("mode", Mode.CLAIM),
        limits=TimeLimits(claim=30, arrive=120, resolve=480),
        keywords=keywords,
    )


def sample_config(**overrides: Any) -> Config:
    """A campus with four category groups (one with a single leaf), three areas (one
    without buildings), four teams, four technicians and a dispatcher."""
    categories = (
        CategoryGroup(
            "power",
            "电力",
            "Power",
            (
                _leaf(
                    "power.outage",
                    "停电",
                    "Power outage",
                    "electric",
                    "没电",
                    "断电",
                    "跳闸",
                    "outage",
                    "no power",
                    priority=Priority.URGENT,
                ),
                _leaf(
                    "power.socket",
                    "插座开关",
                    "Socket or switch",
                    "electric",
                    "插座",
                    "开关",
                    "socket",
                    "switch",
                ),
                _leaf("power.light", "照明", "Lighting", "electric", "灯", "灯泡", "light", "lamp"),
            ),
        ),
        CategoryGroup(
            "water",
            "水",
            "Water",
            (
                _leaf(
                    "water.leak",
                    "漏水",
                    "Leak",
                    "plumbing",
                    "渗水",
                    "滴水",
                    "水管破",
                    "leak",
                    "leaking",
                    "drip",
                ),
                _leaf(
                    "water.no_water",
                    "停水",
                    "No water",
                    "plumbing",
                    "没水",
                    "水压低",
                    "low pressure",
                ),
                _leaf(
                    "water.drain",
                    "下水道堵塞",
                    "Blocked drain",
                    "plumbing",
                    "堵",
                    "马桶",
                    "drain",
                    "toilet",
                    "clogged",
                ),
            ),
        ),
        CategoryGroup(
            "network",
            "网络",
            "Network",
            (
                _leaf(
                    "network.broadband",
                    "宽带",
                    "Broadband",
                    "net",
                    "没网",
                    "断网",
                    "网速慢",
                    "internet",
                    "wifi",
                ),
                _leaf("network.phone", "固话", "Desk phone", "net", "电话没声音", "desk phone"),
            ),
        ),
        CategoryGroup(
            "door",
            "门窗",
            "Doors & windows",
            (_leaf("door.lock", "门锁", "Door lock", "carpentry", "锁", "钥匙", "lock", "key"),),
        ),
    )
    areas = (
        Area(
            "east",
            "东区",
            "East campus",
            (Building("b1", "1号楼", "Building 1"), Building("b2", "2号楼", "Building 2")),
        ),
        Area("west", "西区", "West campus", (Building("lib", "图书馆", "Library"),)),
        Area("north", "北门", "North gate", ()),
    )
    teams = (
        Team("electric", "电工班", ("t1",)),
        Team("plumbing", "水暖班", ("t2", "t3")),
        Team("net", "网络组", ("t4",)),
        Team("carpentry", "木工组", ("t3",)),
    )
    technicians = (
        Technician("t1", "王师傅", "+8613900000001", ("power",)),
        Technician("t2", "李师傅", "+8613900000002", ("water",)),
        Technician("t3", "赵师傅", "+8613900000003", ("water.drain", "door")),
        Technician("t4", "陈工", "+8613900000004", ("network",)),
    )
    base: dict[str, Any] = dict(
        locale="zh_CN",
        timezone="Asia/Shanghai",
        database=Path(":memory:"),
        media_dir=Path("media"),
        categories=categories,
        areas=areas,
        teams=teams,
        technicians=technicians,
        dispatchers=(Dispatcher("d1", "调度小刘", "+8613900000009"),),
    )
    return Config(**{**base, **overrides})


@dataclass
class FakeLookup:
    """``conversation.context.Lookup`` over a dict of tickets, plus ``perform`` for the
    engine's part. Numbers look like the store's: ``BX20261123-0001``."""

    config: Config = field(default_factory=sample_config)
    tickets: dict[str, Ticket] = field(default_factory=dict)
    performed: list[TicketAction] = field(default_factory=list)

    def add(self, ticket: Ticket) -> Ticket:
        self.tickets[ticket.number] = ticket
        return ticket

    def ticket(self, number: str) -> Ticket | None:
        return self.tickets.get(number)

    def tickets_of(self, channel: str, chat: str, limit: int = 10) -> Sequence[Ticket]:
        mine = [t for t in self.tickets.values() if t.reporter == f"{channel}:{chat}"]
        mine.sort(key=lambda t: (not t.is_open, -t.created_at.timestamp()))
        return mine[:limit]

    def open_duplicate(
        self, channel: str, chat: str, category: str, spot: str, since: datetime
    ) -> Ticket | None:
        return next(
            (
                t
                for t in self.tickets_of(channel, chat, limit=1000)
                if t.is_open and t.category == category and t.spot == spot and t.created_at >= since
            ),
            None,
        )

    def jobs_of(self, technician: str) -> Sequence[Ticket]:
        return [t for t in self.tickets.values() if t.is_open and t.holder == technician]

    def offered_to(self, technician: str) -> Sequence[Ticket]:
        teams = self.config.teams_of(technician)
        found = [
            t
            for t in self.tickets.values()
            if t.state is State.NEW and t.mode is Mode.CLAIM and t.team in teams
        ]
        return sorted(found, key=lambda t: t.created_at)

    def queue(self, limit: int = 20) -> Sequence[Ticket]:
        found = [t for t in self.tickets.values() if t.state in OPEN_STATES and t.holder is None]
        return sorted(found, key=lambda t: t.created_at)[:limit]

    def create(self, draft: Any, now: datetime) -> Ticket:
        category = self.config.category(draft.category)
        if category is None:
            raise InvalidInput("errors.generic")
        number = f"BX{now:%Y%m%d}-{len(self.tickets) + 1:04d}"
        fields = {k: getattr(draft, k) for k in draft.__dataclass_fields__}
        return self.add(
            Ticket(
                number=number,
                state=State.NEW,
                team=category.team,
                priority=category.priority,
                mode=category.mode,
                created_at=now,
                updated_at=now,
                # Due times as the store sets them: the intake reply shows arrive_due.
                claim_due=now + timedelta(minutes=category.limits.claim),
                arrive_due=now + timedelta(minutes=category.limits.arrive),
                resolve_due=now + timedelta(minutes=category.limits.resolve),
                **fields,
            )
        )

    def perform(self, action: TicketAction, ctx: Ctx) -> Ticket | None:
        """Do what the engine does for one action; raises ``BaoxiuError`` when refused."""
        if isinstance(action, CreateTicket):
            ticket = self.create(action.draft, ctx.now)
        elif isinstance(action, Act):
            current = self.tickets.get(action.number)
            if current is None:
                raise TicketNotFound(number=action.number)
            ticket, _ = advance(
                current,
                action.action,
                ctx.actor,
                ctx.now,
                note=action.note,
                data=action.data,
                target=action.target,
            )
            self.add(ticket)
        else:
            ticket = None
        self.performed.append(action)
        return ticket


def make_ctx(locale: str = "zh_CN", lookup: FakeLookup | None = None, **overrides: Any) -> Ctx:
    """A reporter's Telegram-like chat at ``NOW``; any ``Ctx`` field can be overridden."""
    lookup = lookup or FakeLookup()
    base: dict[str, Any] = dict(
        config=lookup.config, now=NOW, channel="telegram", chat="1001", locale=locale, lookup=lookup
    )
    return Ctx(**{**base, **overrides})


def ticket_for(
    ctx: Ctx, number: str = "BX20261123-0001", *, age: timedelta = timedelta(hours=1), **fields: Any
) -> Ticket:
    """An open ticket of the ctx's reporter, created ``age`` before ``ctx.now``."""
    base: dict[str, Any] = dict(
        number=number,
        state=State.NEW,
        category="water.leak",
        team="plumbing",
        priority=Priority.NORMAL,
        mode=Mode.CLAIM,
        phone="+8613800000000",
        description="卫生间漏水",
        reporter_channel=ctx.channel,
        reporter_chat=ctx.chat,
        reporter_locale=ctx.locale,
        created_at=ctx.now - age,
        updated_at=ctx.now - age,
        area="east",
        building="b1",
        spot="3楼302",
    )
    return Ticket(**{**base, **fields})


class Not:
    """An expectation that a substring does NOT appear in the answer."""

    def __init__(self, text: str) -> None:
        self.text = text

    def __repr__(self) -> str:
        return f"Not({self.text!r})"


Expect = str | Not | Sequence[str | Not] | None


def texts(replies: Sequence[Reply]) -> list[str]:
    """Every visible string of the replies: texts, button labels, request buttons."""
    out: list[str] = []
    for reply in replies:
        out.append(text_of(reply))
        if isinstance(reply, Ask):
            out.extend(c.label for c in reply.choices)
        elif isinstance(reply, RequestContact | RequestLocation):
            out.append(reply.button)
    return out


@dataclass
class Turn:
    event: InEvent
    step: Step
    replies: tuple[Reply, ...]  # the step's replies, then those of performed actions
    text: str


class Dialogue:
    """A conversation with a step function, keeping the state between turns.

    ``opened`` is the ``Step`` a flow's ``start`` returned: the dialogue continues from its
    state, and its text is kept in ``opening`` for checks."""

    def __init__(
        self,
        step: StepFn,
        ctx: Ctx,
        state: DialogueState = IDLE,
        *,
        outcome: OutcomeFn | None = None,
        opened: Step | None = None,
    ) -> None:
        self.step_fn = step
        self.ctx = ctx
        self.state = opened.state if opened else state
        self.opening = "\n".join(texts(opened.replies)) if opened else ""
        self.outcome = outcome
        self.turns: list[Turn] = []

    @property
    def lookup(self) -> FakeLookup:
        assert isinstance(self.ctx.lookup, FakeLookup), "this Ctx has no FakeLookup"
        return self.ctx.lookup

    @property
    def actions(self) -> list[TicketAction]:
        return [a for turn in self.turns for a in turn.step.actions]

    def send(self, event: InEvent | str) -> Turn:
        ev = parse_text(event) if isinstance(event, str) else event
        before = self.state
        result = self.step_fn(self.state, ev, self.ctx)
        replies = list(result.replies)
        self.state = result.state
        for action in result.actions:
            try:
                ticket = self.lookup.perform(action, self.ctx)
            except BaoxiuError as error:
                replies = list(self._refused(action, error, before, result.state))
                break  # the remaining actions assumed this one succeeded
            if self.outcome is not None:
                replies.extend(self.outcome(action, ticket, self.ctx))
            self.ctx = _remember(action, self.ctx)
        turn = Turn(ev, result, tuple(replies), "\n".join(texts(replies)))
        self.turns.append(turn)
        return turn

    def _refused(
        self, action: TicketAction, error: BaoxiuError, before: DialogueState, after: DialogueState
    ) -> tuple[Reply, ...]:
        """As bots/engine.py does: the step's replies are replaced by the refusal, and the
        dialogue stays where it was, unless the step was ending the flow that asked for the
        action and the refusal is about the ticket rather than the input."""
        leaving = before.flow is not None and after.flow is None and action.flow == before.flow
        if not leaving or isinstance(error, InvalidInput):
            self.state = before
        from conversation.common import describe_error  # imports every flow

        return (Say(describe_error(error, self.ctx)),)

    def run(self, rows: Sequence[tuple[InEvent | str, Expect]]) -> list[Turn]:
        """Send each row's event and check its expectation; a failure names the row."""
        done: list[Turn] = []
        for i, (event, expected) in enumerate(rows):
            turn = self.send(event)
            done.append(turn)
            for want in _expectations(expected):
                ok = (want.text not in turn.text) if isinstance(want, Not) else (want in turn.text)
                assert ok, (
                    f"row {i} {turn.event!r}: expected {want!r} in the answer "
                    f"(state now {self.state.step!r}):\n{turn.text}"
                )
        return done


def _remember(action: TicketAction, ctx: Ctx) -> Ctx:
    """What a performed action changes in the chat (bots/engine.py ``_remember``)."""
    if isinstance(action, SetLocale):
        return replace(ctx, locale=action.locale)
    if isinstance(action, Bind):
        return replace(ctx, role=Role(action.role), person=action.person)
    if isinstance(action, CreateTicket):
        return replace(ctx, last_phone=action.draft.phone)
    return ctx


def _expectations(expected: Expect) -> list[str | Not]:
    if expected is None:
        return []
    if isinstance(expected, str | Not):
        return [expected]
    return list(expected)
