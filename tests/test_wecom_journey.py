"""A technician's whole job on WeCom, over HTTP, against the fake WeCom.

A resident reports a leak in the web chat. Zhang and Li (team maint, claim mode) each
get the offer as a template card and press 抢单 at the same moment: one wins, and both
cards then read "已由 … 接单". The winner works the job from the numbered choices of his
WeCom chat: pauses for parts, resumes, signs in with a WeCom location message, and
completes with a note and a photo (fetched by MediaId). The resident gets every notice
in the web chat. A released job is offered again as new cards; the dispatcher's
commands answer in WeCom too."""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
from conftest import draft
from wecom_rig import Rig, rig

from conversation.i18n import translate
from tests.web_report import NUMBER, SCRIPT
from tickets.model import State

JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x00" * 64


def t(key: str, **params: object) -> str:
    return translate("zh_CN", key, **params)


def number_of(text: str, label: str) -> str:
    """The number of the choice called ``label`` in a reply laid out as numbered text."""
    found = re.findall(rf"^(\d+)\. {re.escape(label)}$", text, re.MULTILINE)
    assert found, f"no choice {label!r} in:\n{text}"
    return found[-1]


class Resident:
    def __init__(self, found: Rig) -> None:
        self.base = str(found.server.make_url("/chat"))
        self.http = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
        self.seen = 0
        self.texts: list[str] = []

    async def report(self) -> str:
        async with self.http.get(self.base) as response:
            assert response.status == 200
        for kind, value in SCRIPT:
            said = value.format(spot="302", phone="13812345678")
            async with self.http.post(f"{self.base}/api/send", json={kind: said}) as r:
                assert r.status == 200, await r.text()
        await self.read()
        return NUMBER.findall("\n".join(self.texts))[-1]

    async def read(self) -> list[str]:
        url = f"{self.base}/api/messages?after={self.seen}&wait=0"
        async with self.http.get(url) as response:
            body = await response.json()
        self.texts += [str(m.get("text", "")) for m in body["messages"]]
        self.seen = body["last"]
        return self.texts


class Chat:
    """A member's WeCom chat: what they send, and the texts the app sent them."""

    def __init__(self, found: Rig, userid: str) -> None:
        self.found = found
        self.userid = userid
        self.member = found.member(userid)

    def texts(self) -> list[str]:
        return self.found.api.texts(self.userid)

    async def answer(self, send: Any) -> str:
        """Send, then wait for the next text the app sends back."""
        before = len(self.texts())
        await send
        await self.found.until(lambda: len(self.texts()) > before)
        return self.texts()[-1]

    async def pick(self, last: str, label: str) -> str:
        return await self.answer(self.member.say(number_of(last, label)))


async def test_claim_race_pause_resume_sign_in_complete_with_photo(tmp_path: Path) -> None:
    async with rig(tmp_path) as found:
        resident = Resident(found)
        try:
            number = await resident.report()
            await found.until(lambda: found.api.cards_of("ZhangSan") and found.api.cards_of("LiSi"))
            (zhang_card,), (li_card,) = found.api.cards_of("ZhangSan"), found.api.cards_of("LiSi")
            zhang, li = Chat(found, "ZhangSan"), Chat(found, "LiSi")
            await asyncio.gather(zhang.member.press(zhang_card), li.member.press(li_card))
            ticket = found.store.get(number)
            assert ticket.state is State.ASSIGNED
            winner, loser = (zhang, li) if ticket.holder == "zhang" else (li, zhang)
            name = found.config.technician(ticket.holder or "").name  # type: ignore[union-attr]
            await found.until(lambda: zhang_card.replaced and li_card.replaced)
            assert zhang_card.replaced == li_card.replaced == t("wecom.card_claimed", name=name)
            card = await found.until(lambda: winner.texts() and winner.texts()[-1])
            assert "13812345678" in card.replace(" ", "")  # the holder sees the full phone
            assert number in (await found.until(loser.texts))[-1]

            asked = await winner.pick(card, t("technician.btn_pause"))
            paused = await winner.pick(asked, t("technician.reason_parts"))
            assert found.store.get(number).state is State.PAUSED
            resumed = await winner.pick(paused, t("technician.btn_resume"))
            assert found.store.get(number).state is State.ASSIGNED

            asked = await winner.pick(resumed, t("technician.btn_signin"))
            assert t("wecom.location") in asked
            on_site = await winner.answer(winner.member.location(31.2304, 121.4737, "东区1号楼"))
            ticket = found.store.get(number)
            assert ticket.state is State.ON_SITE
            signed = [e for e in found.store.timeline(number) if e.action.value == "sign_in"]
            assert signed[-1].data.get("latitude") == 31.2304

            note_asked = await winner.pick(on_site, t("technician.btn_done"))
            photos_asked = await winner.answer(winner.member.say("更换了漏水的阀门"))
            found.api.media["m-done-1"] = JPEG
            got_photo = await winner.answer(winner.member.image("m-done-1"))
            assert note_asked and photos_asked and got_photo
            await winner.pick(got_photo, t("technician.btn_finish"))
            ticket = found.store.get(number)
            assert ticket.state is State.RESOLVED
            assert ticket.resolution == "更换了漏水的阀门"
            (photo,) = ticket.resolution_photos
            assert (found.config.media_dir / photo).read_bytes() == JPEG

            kinds = ("reporter.assigned", "reporter.paused", "reporter.resumed")
            kinds += ("reporter.on_site", "reporter.resolved")

            def told() -> bool:
                rows = found.store.query(
                    "SELECT kind FROM outbox WHERE channel = 'web' AND status = 'sent'"
                    " AND number = ?",
                    [number],
                )
                return set(kinds) <= {r["kind"] for r in rows}

            await found.until(told)
            shown = "\n".join(await resident.read())
            assert name in shown and "更换了漏水的阀门" in shown
        finally:
            await resident.http.close()


async def test_a_released_job_is_offered_again_as_new_cards(tmp_path: Path) -> None:
    async with rig(tmp_path) as found:
        number = found.store.create_ticket(draft(), datetime.now(UTC)).number
        await found.until(lambda: found.api.cards_of("LiSi") and found.api.cards_of("ZhangSan"))
        zhang = Chat(found, "ZhangSan")
        (card,) = found.api.cards_of("ZhangSan")
        job = await zhang.answer(zhang.member.press(card))
        asked = await zhang.pick(job, t("technician.btn_release"))
        await zhang.answer(zhang.member.say("临时有急事"))
        assert found.store.get(number).state is State.NEW
        # Li is offered it again (a new card, a new task id); zhang released it himself.
        await found.until(lambda: len(found.api.cards_of("LiSi")) == 2)
        new = found.api.cards_of("LiSi")[-1]
        assert new.task_id != found.api.cards_of("LiSi")[0].task_id and not new.replaced
        assert asked


async def test_the_dispatcher_works_from_the_wecom_chat(tmp_path: Path) -> None:
    async with rig(tmp_path) as found:
        number = found.store.create_ticket(draft(), datetime.now(UTC)).number
        wang = Chat(found, "WangDiaodu")
        queue = await wang.answer(wang.member.say("/queue"))
        assert number in queue
        status = await wang.answer(wang.member.say(f"/status {number}"))
        assert number in status


async def test_a_member_s_messages_are_handled_in_the_order_they_came(tmp_path: Path) -> None:
    """A picture still downloading when the technician types "submit": the picture is
    taken first, so the job is not completed without it."""
    async with rig(tmp_path) as found:
        number = found.store.create_ticket(draft(), datetime.now(UTC)).number
        await found.until(lambda: found.api.cards_of("ZhangSan"))
        zhang = Chat(found, "ZhangSan")
        (card,) = found.api.cards_of("ZhangSan")
        job = await zhang.answer(zhang.member.press(card))
        asked = await zhang.pick(job, t("technician.btn_signin"))
        on_site = await zhang.answer(zhang.member.location(31.23, 121.47))
        await zhang.pick(on_site, t("technician.btn_done"))
        more = await zhang.answer(zhang.member.say("换了阀门"))
        found.api.media["slow"] = JPEG
        found.api.media_delay = 0.5
        picture = asyncio.create_task(zhang.member.image("slow"))
        await found.until(lambda: found.api.media_gets)
        await zhang.member.say(number_of(more, t("technician.btn_finish")))
        await picture
        ticket = found.store.get(number)
        assert ticket.state is State.RESOLVED and len(ticket.resolution_photos) == 1
        assert asked
