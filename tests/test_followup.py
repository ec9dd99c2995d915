"""The reporter's follow-up dialogues (/my, /status, hurry, add information, cancel,
confirm, rate, not fixed) as tables in zh_CN and en, run through the real router with a
fake engine: a ticket dictionary changed by the real ``tickets.workflow.advance``.

The harness at the top (``Chat``, ``run``, over tests/dialogue.py's ``FakeLookup``) is
shared by test_technician.py and test_dispatcher.py: unlike ``dialogue.Dialogue`` it
drives ``conversation.router`` (so the flows are reached the way the engine reaches
them), shows button payloads, and checks the actions asked for and the state reached.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from conftest import make_ticket
from dialogue import FakeLookup

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
from conversation import followup, router
from conversation.actions import Act
from conversation.context import Ctx
from conversation.events import Button, InEvent, Location, Photo, Unsupported, parse_text
from conversation.replies import Ask, Reply, RequestLocation, ShowPhotos, text_of
from conversation.state import IDLE, DialogueState
from tickets.errors import BaoxiuError
from tickets.model import Mode, Priority, Role, State, Ticket

NOW = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)  # 16:00 in Asia/Shanghai
A1 = "BX20261123-0001"  # alice's
B2 = "BX20261123-0002"  # bob's
ALICE_PHONE = "+8613812345678"
BOB_PHONE = "+8613955556666"

# -- harness ------------------------------------------------------------------------


def make_config() -> Config:
    """One claim-mode category of team maint (zhang, li); net has zhao; wang dispatches."""
    limits = TimeLimits(claim=30, arrive=120, resolve=480)
    leak = Category(
        "water.leak", "water", "漏水", "Leak", "maint", Priority.HIGH, Mode.CLAIM, limits
    )
    return Config(
        locale="zh_CN",
        timezone="Asia/Shanghai",
        database=Path("unused.db"),
        media_dir=Path("media"),
        categories=(CategoryGroup("water", "水", "Water", (leak,)),),
        areas=(Area("east", "东区", "East", (Building("b1", "1号楼", "Building 1"),)),),
        teams=(Team("maint", "维修班", ("zhang", "li")), Team("net", "网络组", ("zhao",))),
        technicians=(
            Technician("zhang", "张师傅", "+8613800000001"),
            Technician("li", "李师傅", "+8613800000002"),
            Technician("zhao", "赵师傅", "+8613800000003"),
        ),
        dispatchers=(Dispatcher("wang", "王调度", "+8613900000009"),),
    )


def ticket(
    number: str = A1,
    state: State = State.NEW,
    holder: str | None = None,
    chat: str = "alice",
    **kw: object,
) -> Ticket:
    return make_ticket(
        **{
            "number": number,
            "state": state,
            "holder": holder,
            "phone": ALICE_PHONE if chat == "alice" else BOB_PHONE,
            "reporter_chat": chat,
            "created_at": NOW - timedelta(hours=2),
            "updated_at": NOW - timedelta(hours=2),
            "arrive_due": NOW + timedelta(hours=1),
            **kw,
        }
    )


def world(config: Config, *tickets: Ticket) -> FakeLookup:
    """The shared fake store (tests/dialogue.py) holding ``tickets``."""
    return FakeLookup(config, {t.number: t for t in tickets})


@dataclass
class Chat:
    """One chat talking to the router; Acts are performed like the engine does."""

    lookup: FakeLookup
    locale: str = "zh_CN"
    chat: str = "alice"
    role: Role = Role.REPORTER
    person: str | None = None
    can_share_location: bool = False
    state: DialogueState = IDLE
    acts: list[Act] = field(default_factory=list)
    seen: list[Reply] = field(default_factory=list)

    @property
    def ctx(self) -> Ctx:
        return Ctx(
            config=self.lookup.config,
            now=NOW,
            channel="web",
            chat=self.chat,
            locale=self.locale,
            lookup=self.lookup,
            role=self.role,
            person=self.person,
            can_share_location=self.can_share_location,
        )

    def send(self, event: InEvent | str) -> list[Reply]:
        if isinstance(event, str):
            event = parse_text(event)
        ctx = self.ctx
        step = router.step(self.state, event, ctx)
        replies = list(step.replies)
        state = step.state
        for action in step.actions:
            assert isinstance(action, Act), action
            assert action.flow in router.FLOWS, action
            self.acts.append(action)
            try:
                after = self.lookup.perform(action, ctx)
            except BaoxiuError as error:
                replies.extend(router.refused(action, error, ctx))
                state = self.state  # a refused action leaves the dialogue where it was
            else:
                replies.extend(router.outcome(action, after, ctx))
        self.state = state
        self.seen.extend(replies)
        return replies


def shown(replies: Sequence[Reply]) -> str:
    """Everything a person could read or press: texts, labels, payloads."""
    parts: list[str] = []
    for reply in replies:
        parts.append(text_of(reply))
        if isinstance(reply, Ask):
            parts.extend(f"{c.label} [{c.data}]" for c in reply.choices)
        if isinstance(reply, RequestLocation):
            parts.append(f"<{reply.button}>")
        if isinstance(reply, ShowPhotos):
            parts.extend(reply.refs)
    return "\n".join(parts)


Row = tuple[InEvent | str, tuple[str, ...]]
"""What the person sends, and what the answer shows. An expectation ``"!x"`` means x
must not be shown, ``"act:hurry"`` that exactly that action was asked for (``"act:-"``:
none), ``"state:flow/step"`` where the dialogue is afterwards (``"state:-"``: idle)."""


def run(chat: Chat, table: list[Row]) -> None:
    for i, (event, expected) in enumerate(table):
        before = len(chat.acts)
        replies = chat.send(event)
        text = shown(replies)
        acts = [a.action.value for a in chat.acts[before:]]
        where = f"row {i} ({event!r}) answered:\n{text}\nacts={acts} state={chat.state}"
        for want in expected:
            if want.startswith("!"):
                assert want[1:] not in text, where
            elif want.startswith("act:"):
                assert acts == ([] if want == "act:-" else want[4:].split(",")), where
            elif want.startswith("state:"):
                got = "-" if chat.state.flow is None else f"{chat.state.flow}/{chat.state.step}"
                assert got == want[6:], where
            else:
                assert want in text, where


@pytest.fixture
def config() -> Config:
    return make_config()


# -- tables ------------------------------------------------------------------------------


def test_my_and_status_zh(config: Config) -> None:
    lookup = world(
        config,
        ticket(A1, State.ASSIGNED, holder="zhang"),
        ticket("BX20261120-0003", State.CLOSED, created_at=NOW - timedelta(days=3), rating=5),
        ticket(B2, chat="bob"),
    )
    run(
        Chat(lookup),
        [
            (
                "/my",
                (
                    "您的工单",
                    A1,
                    "水 / 漏水",
                    "已派工",
                    "2026-11-23 14:00",
                    f"[r:show:{A1}]",
                    "BX20261120-0003",
                    "已结单",
                    f"!{B2}",
                    "act:-",
                ),
            ),
            (
                f"/status  {A1.lower()} ",
                (
                    "工单 " + A1,
                    "状态：已派工",
                    "维修人员：张师傅",
                    "电话：13812345678",
                    "东区 / 1号楼 / 302",
                    "报修时间：2026-11-23 14:00",
                    "时限：2026-11-23 17:00",
                    f"[r:hurry:{A1}]",
                    f"[r:info:{A1}]",
                    f"[r:cancel:{A1}]",
                    "!r:confirm",
                    "act:-",
                ),
            ),
            (Button(f"r:show:{A1}"), ("状态：已派工", f"[r:hurry:{A1}]")),
            ("/status", ("您的工单", f"[r:show:{A1}]")),
            ("/hurry", ("请带上工单号", "/hurry", "act:-")),
        ],
    )


def test_my_and_status_en(config: Config) -> None:
    lookup = world(
        config,
        ticket(
            A1,
            State.PAUSED,
            holder="zhang",
            paused_from=State.ON_SITE,
            pause_reason="waiting for a valve",
            resolve_due=NOW - timedelta(minutes=5),
        ),
    )
    run(
        Chat(lookup, "en"),
        [
            ("/my", ("Your tickets", A1, "Water / Leak", "paused", "2026-11-23 14:00")),
            (
                f"/status {A1}",
                (
                    "Status: paused",
                    "Paused: waiting for a valve",
                    "(overdue)",
                    "Technician: 张师傅",
                    "Phone: 13812345678",
                    "East / Building 1 / 302",
                    f"[r:hurry:{A1}]",
                    f"!r:cancel:{A1}]",
                ),
            ),
        ],
    )


def test_empty_my(config: Config) -> None:
    run(
        Chat(world(config, ticket(B2, chat="bob")), "en"),
        [("/my", ("no tickets yet", "[c:report]", f"!{B2}"))],
    )
    run(Chat(world(config)), [(Button("c:my"), ("您还没有工单", "[c:report]"))])


def test_hurry_and_add_info_zh(config: Config) -> None:
    lookup = world(config, ticket(A1, State.ASSIGNED, holder="zhang"))
    chat = Chat(lookup)
    run(
        chat,
        [
            (Button(f"r:hurry:{A1}"), ("已为工单", "催单", "act:hurry", "state:-")),
            (f"/hurry {A1}", ("act:hurry",)),
            (Button(f"r:info:{A1}"), ("补充信息", "state:followup/info", "act:-")),
            (Unsupported("sticker"), ("请为工单", "state:followup/info", "act:-")),
            ("在厨房也有渗水", ("已补充到工单", "act:add_info", "state:-")),
            (Button(f"r:info:{A1}"), ("state:followup/info",)),
            (
                Photo("p/1.jpg", "水表处"),
                ("照片已添加", "[r:done]", "act:add_info", "state:followup/info"),
            ),
            (Photo("p/2.jpg"), ("act:add_info", "state:followup/info")),
            (Button("r:done"), ("已记录", "act:-", "state:-")),
            (Button("r:done"), ("按钮已经过期", "act:-")),
        ],
    )
    assert lookup.tickets[A1].hurry_count == 2
    assert lookup.tickets[A1].photos == ("p/1.jpg", "p/2.jpg")
    assert "在厨房也有渗水" in lookup.tickets[A1].description
    assert chat.acts[3].note == "水表处" and chat.acts[3].data == {"photos": ["p/1.jpg"]}


def test_cancel_en(config: Config) -> None:
    lookup = world(config, ticket(A1), ticket("BX20261123-0005", State.ON_SITE, holder="li"))
    run(
        Chat(lookup, "en"),
        [
            (
                f"/cancel {A1}",
                ("Cancel ticket", f"[r:cancel:{A1}:yes]", f"[r:cancel:{A1}:no]", "act:-"),
            ),
            (Button(f"r:cancel:{A1}:no"), ("stays open", "act:-")),
            (Button(f"r:cancel:{A1}"), ("Yes, cancel it",)),
            (Button(f"r:cancel:{A1}:yes"), ("has been cancelled", "act:cancel")),
            (Button(f"r:cancel:{A1}:yes"), ("it cannot be cancelled any more", "act:-")),
            (
                "/cancel BX20261123-0005",
                ("can no longer be cancelled", "technician on site", "act:-"),
            ),
            ("/cancel", ("no dialogue going on",)),
        ],
    )
    assert lookup.tickets[A1].state is State.CANCELLED


def test_cancel_resolved_zh(config: Config) -> None:
    lookup = world(config, ticket(A1, State.RESOLVED, holder="zhang"))
    run(Chat(lookup), [(f"/cancel {A1}", ("无需撤单", "确认维修结果", "act:-"))])


def test_confirm_rate_comment_zh(config: Config) -> None:
    lookup = world(
        config, ticket(A1, State.RESOLVED, holder="zhang", resolution="换了阀门", resolved_at=NOW)
    )
    chat = Chat(lookup)
    run(
        chat,
        [
            (
                f"/status {A1}",
                (
                    "处理完成",
                    "换了阀门",
                    f"[r:confirm:{A1}]",
                    f"[r:reopen:{A1}]",
                    f"[r:rate:{A1}:1]",
                    f"[r:rate:{A1}:5]",
                    "★5",  # the same stars as on the resolved notice
                    "!r:hurry",
                    "!r:cancel",
                ),
            ),
            # One rating widget (issue 12 item 8): confirming does not offer a second set
            # of stars; those of the message that asked for the confirmation still work.
            (Button(f"r:confirm:{A1}"), ("感谢确认", "已结单", "!r:rate", "act:confirm")),
            (
                Button(f"r:rate:{A1}:4"),
                ("您打了 4 星", f"[r:rate:{A1}:4:skip]", "act:-", "state:followup/comment"),
            ),
            (Location(31.2, 121.4), ("请输入评价内容", "state:followup/comment", "act:-")),
            ("师傅很专业", ("感谢您对工单", "act:rate", "state:-")),
            (Button(f"r:rate:{A1}:3"), ("已经评价过了", "act:-", "state:-")),
        ],
    )
    assert lookup.tickets[A1].rating == 4
    assert lookup.tickets[A1].comment == "师傅很专业"
    assert chat.acts[-1].data == {"rating": 4}


def test_rate_skip_and_bad_ratings_en(config: Config) -> None:
    lookup = world(config, ticket(A1, State.RESOLVED, holder="zhang"))
    run(
        Chat(lookup, "en"),
        [
            (Button(f"r:rate:{A1}:9"), ("1 to 5 stars", "act:-", "state:-")),
            (Button(f"r:rate:{A1}:0"), ("1 to 5 stars", "act:-")),
            (Button(f"r:rate:{A1}:x"), ("1 to 5 stars", "act:-")),
            (Button(f"r:rate:{A1}:5"), ("You gave 5 ★", "Skip", "state:followup/comment")),
            (Button(f"r:rate:{A1}:5:skip"), ("Thank you for rating", "act:rate", "state:-")),
        ],
    )
    assert lookup.tickets[A1].rating == 5
    assert lookup.tickets[A1].state is State.CLOSED


def test_reopen_en(config: Config) -> None:
    lookup = world(config, ticket(A1, State.RESOLVED, holder="zhang"))
    chat = Chat(lookup, "en")
    run(
        chat,
        [
            (Button(f"r:reopen:{A1}"), ("What is still wrong", "state:followup/reopen", "act:-")),
            (Unsupported("voice"), ("describe in words", "state:followup/reopen", "act:-")),
            (Location(1.0, 2.0), ("describe in words", "state:followup/reopen")),
            (
                "Still dripping under the sink",
                ("reopened", "back in the queue", "act:reopen", "state:-"),
            ),
            (Button(f"r:reopen:{A1}"), ("cannot reopen", "act:-", "state:-")),
        ],
    )
    assert chat.acts[-1].note == "Still dripping under the sink"
    assert lookup.tickets[A1].state is State.NEW and lookup.tickets[A1].reopen_count == 1


@pytest.mark.parametrize(
    ("locale", "refused"),
    # Answered exactly like a number that does not exist: a different answer told a
    # stranger which numbers are in use (issue 10, defect 10).
    [("zh_CN", f"没有找到工单 {A1}，请核对工单号。"), ("en", f"No ticket {A1}; please check")],
)
def test_not_your_ticket_and_no_phone_leak(config: Config, locale: str, refused: str) -> None:
    lookup = world(config, ticket(A1, State.RESOLVED, holder="zhang"))
    bob = Chat(lookup, locale, chat="bob")
    leak = ("!13812345678", "!5678", "!卫生间")
    run(
        bob,
        [
            (f"/status {A1}", (refused, *leak, "act:-")),
            (Button(f"r:show:{A1}"), (refused, *leak)),
            (Button(f"r:hurry:{A1}"), (refused, "act:-")),
            (Button(f"r:info:{A1}"), (refused, "act:-", "state:-")),
            (Button(f"r:cancel:{A1}:yes"), (refused, "act:-")),
            (Button(f"r:confirm:{A1}"), (refused, "act:-")),
            (Button(f"r:rate:{A1}:5"), (refused, "act:-", "state:-")),
            (Button(f"r:reopen:{A1}"), (refused, "act:-", "state:-")),
            ("/my", (f"!{A1}",)),
        ],
    )
    assert lookup.tickets[A1].state is State.RESOLVED
    # A technician is not the reporter either, even in the chat the ticket came from.
    tech = Chat(lookup, locale, chat="alice", role=Role.TECHNICIAN, person="zhang")
    run(tech, [(Button(f"r:confirm:{A1}"), (refused, "act:-"))])


@pytest.mark.parametrize(("locale", "missing"), [("zh_CN", "没有找到工单"), ("en", "No ticket")])
def test_unknown_numbers(config: Config, locale: str, missing: str) -> None:
    chat = Chat(world(config, ticket(A1)), locale)
    ghost = "BX19990101-0001"
    run(
        chat,
        [
            (f"/status {ghost}", (missing, ghost, "act:-")),
            (Button(f"r:show:{ghost}"), (missing,)),
            (Button(f"r:hurry:{ghost}"), (missing, "act:-")),
            (Button(f"r:rate:{ghost}:5"), (missing, "act:-")),
            (f"/cancel {ghost}", (missing, "act:-")),
            (Button("r:show:"), ("act:-", "state:-")),
            (Button("r:bogus:x:y:z"), ("act:-", "state:-")),
        ],
    )


def test_domain_refusal_is_rendered(config: Config) -> None:
    """Hurrying a closed ticket is refused by the workflow and worded by common."""
    lookup = world(config, ticket(A1, State.CLOSED, holder="zhang", rating=5))
    run(Chat(lookup, "en"), [(Button(f"r:hurry:{A1}"), ("“closed”", "cannot hurry", "act:hurry"))])
    assert lookup.tickets[A1].hurry_count == 0


def test_view_keeps_a_pending_question(config: Config) -> None:
    """Looking at tickets does not throw away a half-answered question."""
    lookup = world(config, ticket(A1, State.RESOLVED, holder="zhang"))
    run(
        Chat(lookup),
        [
            (Button(f"r:reopen:{A1}"), ("state:followup/reopen",)),
            ("/my", ("您的工单", "state:followup/reopen")),
            ("地漏还在冒水", ("act:reopen", "state:-")),
        ],
    )


def test_lost_step_resets(config: Config) -> None:
    chat = Chat(world(config), "en", state=DialogueState("followup", "nonsense", {}))
    run(chat, [("hello", ("expired", "state:-", "act:-"))])


def test_payloads_fit_telegram(config: Config) -> None:
    lookup = world(config, ticket(A1, State.RESOLVED, holder="zhang"))
    replies = Chat(lookup).send(f"/status {A1}")
    datas = [c.data for r in replies if isinstance(r, Ask) for c in r.choices]
    assert datas and all(len(d.encode()) <= 64 for d in datas)
    assert followup.normalize_number("  bx20261123-0001 ") == A1


def test_an_answer_after_the_ticket_moved_on_ends_the_question(config: Config) -> None:
    """Closed by the confirmation timer while the reporter was typing: the answer is
    refused once, and the question is dropped instead of refusing every later message."""
    lookup = world(config, ticket(A1, State.RESOLVED, holder="zhang"))
    chat = Chat(lookup, "en")
    run(chat, [(Button(f"r:reopen:{A1}"), ("state:followup/reopen",))])
    lookup.tickets[A1] = replace(lookup.tickets[A1], state=State.CLOSED, closed_at=NOW)
    run(
        chat,
        [
            ("Still leaking", ("“closed”", "cannot reopen", "act:-", "state:-")),
            ("hello", ("What would you like to do?", "act:-")),
        ],
    )
