"""The whole journey through `baoxiu chat`, as real processes on one SQLite file:
a resident reports a leak and gets a number and the expected visit in the reply (no
notice repeats it); technician zhang (`--as technician:zhang`) claims it from /jobs,
signs in on site and completes it with a note; the resident's terminal prints each
notice as it comes (assigned, on site, resolved), and the resident rates 5 stars,
which closes the ticket.

The processes are driven like a person at a keyboard: type a line, then wait (with a
time limit, never a sleep) until the expected text has been printed.
"""

from __future__ import annotations

import asyncio
import codecs
import os
import re
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest

from config.loader import load
from conversation.i18n import local_time, translate
from tickets.model import State
from tickets.store import Store

ROOT = Path(__file__).resolve().parent.parent
LOCALE = "zh_CN"  # the built-in configuration's
WAIT_S = 30.0
NUMBER = re.compile(r"BX\d{8}-\d{4}")


def t(key: str, **params: object) -> str:
    return translate(LOCALE, key, **params)


def first_line(text: str) -> str:
    return text.split("\n", 1)[0]


PICK = t("terminal.pick")


class Terminal:
    """One `baoxiu chat` process: what it printed, and a cursor past what was read."""

    def __init__(self, name: str, process: asyncio.subprocess.Process) -> None:
        self.name = name
        self.process = process
        self.output = ""
        self.cursor = 0
        self._decoder = codecs.getincrementaldecoder("utf-8")()

    async def expect(self, text: str) -> str:
        """Everything printed from the cursor up to and including ``text``."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + WAIT_S
        assert self.process.stdout is not None
        while (found := self.output.find(text, self.cursor)) < 0:
            left = deadline - loop.time()
            try:
                chunk = await asyncio.wait_for(self.process.stdout.read(4096), max(left, 0.01))
            except TimeoutError:
                raise AssertionError(self._story(f"waited {WAIT_S}s for {text!r}")) from None
            if not chunk:
                raise AssertionError(self._story(f"ended while waiting for {text!r}"))
            self.output += self._decoder.decode(chunk)
        end = found + len(text)
        seen, self.cursor = self.output[self.cursor : end], end
        return seen

    async def type(self, line: str) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(f"{line}\n".encode())
        await self.process.stdin.drain()

    async def choose(self, label: str, *, after: str) -> str:
        """Wait for the question ``after`` and its choices, then type the number of ``label``."""
        seen = await self.expect(after)
        seen += await self.expect(PICK)
        numbers = re.findall(rf"^  (\d+)\) {re.escape(label)}$", seen, re.MULTILINE)
        assert numbers, self._story(f"no choice {label!r} after {after!r}")
        await self.type(numbers[-1])
        return seen

    async def close(self) -> int:
        assert self.process.stdin is not None
        self.process.stdin.close()
        return await asyncio.wait_for(self.process.wait(), WAIT_S)

    def _story(self, what: str) -> str:
        return f"{self.name} {what}; it printed:\n{self.output[-3000:]}"


Start = Callable[..., Awaitable[Terminal]]
"""Start `baoxiu chat` with these arguments, named for messages."""


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    monkeypatch.setenv("BAOXIU_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("BAOXIU_CONFIG", raising=False)
    values = dict(os.environ)
    values["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), values.get("PYTHONPATH")]))
    values["PYTHONIOENCODING"] = "utf-8"
    return values


@pytest.fixture
async def start(env: dict[str, str], tmp_path: Path) -> AsyncIterator[Start]:
    started: list[Terminal] = []

    async def run(name: str, *args: str) -> Terminal:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bots.cli",
            "chat",
            *args,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            env=env,
            cwd=tmp_path,
        )
        terminal = Terminal(name, process)
        started.append(terminal)
        return terminal

    yield run
    for terminal in started:
        if terminal.process.returncode is None:
            terminal.process.kill()
            await terminal.process.wait()


async def test_report_claim_sign_in_complete_rate(start: Start, env: dict[str, str]) -> None:
    run = start
    config = load(None)
    water = config.group("water")
    leak = config.category("water.leak")
    east = config.area("east")
    assert water and leak and east
    zhang = config.technician("zhang")
    assert zhang is not None

    # The technician is on duty first, so the new job is offered to his chat.
    tech = await run("technician", "--as", "technician:zhang")
    await tech.expect(zhang.name)
    resident = await run("resident", "--chat", "alice")
    await resident.expect(t("terminal.banner", chat="alice"))

    # -- the resident reports ------------------------------------------------------------
    await resident.type("/report")
    await resident.choose(water.zh, after=first_line(t("intake.ask_category")))
    await resident.choose(leak.zh, after=t("intake.ask_category_leaf", group=water.zh))
    await resident.choose(east.zh, after=t("intake.ask_area"))
    await resident.choose(east.buildings[0].zh, after=t("intake.ask_building", area=east.zh))
    await resident.expect(t("intake.ask_spot"))
    await resident.type("3楼302")
    await resident.expect(t("intake.ask_phone"))
    await resident.type("13812345678")
    await resident.expect(first_line(t("intake.ask_description", min=4)))
    await resident.type("卫生间水管接头漏水，地上全是水")
    await resident.choose(t("intake.photos_skip"), after=t("intake.ask_photos", limit=4))
    await resident.choose(t("intake.time_any"), after=t("intake.ask_time"))
    heading = first_line(
        t("intake.summary", category="", location="", phone="", description="", photos=0, time="")
    )
    summary = await resident.choose(t("intake.confirm"), after=heading)
    assert "13812345678" in summary
    # The reply is the acceptance: number, category and when to expect the technician.
    answer = await resident.expect(first_line(t("intake.accepted_next", number="")))
    found = NUMBER.search(answer)
    assert found, answer
    number = found[0]
    assert t("intake.accepted", number=number, category=f"{water.zh} / {leak.zh}") in answer
    eta_line = re.escape(t("intake.accepted_eta", eta="@@")).replace("@@", r"([-\d]+ [:\d]+)")
    shown_eta = re.search(eta_line, answer)
    assert shown_eta, answer

    # -- the technician: offered, /jobs, claim, sign in, complete --------------------------
    await tech.expect(t("notices.team.offer", number=number))
    await tech.type("/jobs")
    await tech.choose(
        t("technician.btn_claim_number", number=number),
        after=first_line(t("technician.offered_title", count=1)),
    )
    # The claim's reply is his job card: he signs in from it, typing where he is.
    await tech.choose(t("technician.btn_signin"), after=t("technician.claimed", number=number))
    assigned = t(
        "notices.reporter.assigned_phone",
        number=number,
        technician_name=zhang.name,
        technician_phone=zhang.phone.removeprefix("+86"),
    )
    await resident.expect(first_line(assigned))

    await tech.expect(t("terminal.location"))
    await tech.type("31.2304,121.4737")
    await tech.choose(t("technician.btn_done"), after=t("technician.signed_in", number=number))
    await resident.expect(t("notices.reporter.on_site", number=number, technician_name=zhang.name))

    await tech.expect(t("technician.done_ask_note", number=number))
    await tech.type("更换了水管接头，试水无渗漏")
    await tech.choose(
        t("technician.btn_finish"), after=t("technician.done_ask_photos", limit=4, count=0)
    )
    await tech.expect(t("technician.resolved", number=number, count=0))

    # -- the resident is told, and rates ----------------------------------------------------
    resolved = await resident.choose(
        t("notices.button.rate", stars=5), after=t("notices.reporter.resolved", number=number)
    )
    assert "更换了水管接头，试水无渗漏" in resolved
    await resident.expect(first_line(t("followup.comment_ask", rating=5)))
    await resident.type("师傅很专业，谢谢")
    await resident.expect(t("followup.rated", number=number))
    await resident.type(f"/status {number}")
    await resident.expect(t("states.closed"))

    assert await resident.close() == 0
    assert await tech.close() == 0

    # Nothing but the reply told her the report was accepted.
    assert first_line(t("notices.reporter.accepted", number=number)) not in resident.output

    with Store(config.database, config) as store:
        ticket = store.get(number)
        assert ticket.arrive_due is not None
        assert shown_eta[1] == local_time(ticket.arrive_due, config.timezone)
        assert ticket.state is State.CLOSED
        assert (ticket.rating, ticket.comment) == (5, "师傅很专业，谢谢")
        assert ticket.holder == "zhang"
        assert ticket.resolution == "更换了水管接头，试水无渗漏"
        assert [e.action.value for e in store.timeline(number)] == [
            "accept",
            "claim",
            "sign_in",
            "resolve",
            "rate",
        ]
        notices = store.notices_of(number)
        sent = {(n.chat, n.kind) for n in notices if n.status == "sent"}
    assert not any(n.kind == "reporter.accepted" for n in notices)
    assert {
        ("alice", "reporter.assigned"),
        ("alice", "reporter.on_site"),
        ("alice", "reporter.resolved"),
        ("tech-zhang", "team.offer"),
    } <= sent
    # ... and no second job card after his own claim
    assert not any(n.kind == "technician.assigned" for n in notices)
