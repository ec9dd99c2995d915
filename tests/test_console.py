"""The staff console over HTTP (aiohttp's test client against the real app and store):
login and its throttle, the session cookie, CSRF on every POST, roles, and each action
on a ticket writing its event with the staff member as actor."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from conftest import NOW, draft

from bots.app import build_app
from config.model import Config
from conversation.i18n import channel_name, translate
from tickets import staff_store
from tickets.model import Action, Priority, State
from tickets.staff import StaffRole
from tickets.store import Store

PASSWORD = "correct horse battery"
Client = TestClient[Any, Any]


@pytest.fixture
async def client(config: Config, store: Store) -> AsyncIterator[Client]:
    staff_store.add(store, "wang", "王调度", StaffRole.DISPATCHER, PASSWORD, NOW, dispatcher="wang")
    staff_store.add(store, "amy", "Amy", StaffRole.AGENT, PASSWORD, NOW)
    async with TestClient(TestServer(build_app(config, store=store), host="127.0.0.1")) as c:
        yield c


def csrf_in(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, html
    return found[1]


async def login(client: Client, who: str = "wang", password: str = PASSWORD) -> Any:
    page = await client.get("/console/login")
    token = csrf_in(await page.text())
    return await client.post(
        "/console/login",
        data={"csrf": token, "login": who, "password": password},
        allow_redirects=False,
    )


async def csrf_of(client: Client, path: str = "/console") -> str:
    page = await client.get(path)
    assert page.status == 200
    return csrf_in(await page.text())


async def test_login_sets_a_strict_httponly_cookie_and_opens_the_queue(client: Client) -> None:
    answer = await login(client)
    assert answer.status == 303 and answer.headers["Location"] == "/console"
    cookie = answer.cookies["baoxiu_console"]
    assert cookie["httponly"] and cookie["samesite"] == "Strict" and not cookie["secure"]
    page = await client.get("/console")
    assert page.status == 200
    assert translate("zh_CN", "console.nav_queue") in await page.text()
    assert "script-src" not in page.headers["Content-Security-Policy"]  # default-src 'self'


async def test_without_a_session_pages_send_to_login_and_the_api_says_401(
    client: Client,
) -> None:
    page = await client.get("/console", allow_redirects=False)
    assert page.status == 303 and page.headers["Location"] == "/console/login"
    assert (await client.get("/console/api/new")).status == 401


async def test_a_wrong_password_is_refused_and_five_throttle_even_the_right_one(
    client: Client,
) -> None:
    for _ in range(5):
        answer = await login(client, password="wrong password!")
        assert answer.status == 401
        assert translate("zh_CN", "console.login_failed") in await answer.text()
    answer = await login(client)
    assert answer.status == 429
    assert translate("zh_CN", "console.login_throttled") in await answer.text()


async def test_a_login_post_without_the_csrf_token_is_refused(client: Client) -> None:
    await client.get("/console/login")
    answer = await client.post(
        "/console/login", data={"login": "wang", "password": PASSWORD}, allow_redirects=False
    )
    assert answer.status == 403
    assert "baoxiu_console" not in answer.cookies


async def test_a_post_without_the_csrf_token_changes_nothing(client: Client, store: Store) -> None:
    number = store.create_ticket(draft(), NOW).number
    await login(client)
    answer = await client.post(
        f"/console/ticket/{number}/act", data={"action": "assign", "target": "zhang"}
    )
    assert answer.status == 403
    assert translate("zh_CN", "console.csrf_refused") in await answer.text()
    assert store.get(number).state is State.NEW


async def test_the_dispatcher_assigns_and_the_event_names_him(client: Client, store: Store) -> None:
    number = store.create_ticket(draft(), NOW).number
    await login(client)
    token = await csrf_of(client, f"/console/ticket/{number}")
    answer = await client.post(
        f"/console/ticket/{number}/act",
        data={"csrf": token, "action": "assign", "target": "zhang"},
    )
    assert answer.status == 200
    ticket = store.get(number)
    assert ticket.state is State.ASSIGNED and ticket.holder == "zhang"
    last = store.timeline(number)[-1]
    assert (last.action, last.actor_id) == (Action.ASSIGN, "wang")


async def test_priority_cancel_and_merge(client: Client, store: Store) -> None:
    first = store.create_ticket(draft(), NOW).number
    second = store.create_ticket(draft(chat="bob"), NOW).number
    third = store.create_ticket(draft(chat="carol"), NOW).number
    await login(client)
    token = await csrf_of(client)

    async def post(number: str, **form: str) -> int:
        answer = await client.post(f"/console/ticket/{number}/act", data={"csrf": token, **form})
        return answer.status

    assert await post(first, action="priority", target="urgent") == 200
    assert store.get(first).priority is Priority.URGENT
    assert await post(second, action="merge", target=first) == 200
    assert store.get(second).state is State.DUPLICATE
    assert await post(third, action="cancel", note="电话确认已自行修好") == 200
    assert store.get(third).state is State.CANCELLED
    assert await post(third, action="merge", target=first) == 403  # not offered now
    assert await post(first, action="merge", target="NOPE") == 409  # refused, localized


async def test_an_agent_may_note_and_call_but_not_assign(client: Client, store: Store) -> None:
    number = store.create_ticket(draft(), NOW).number
    await login(client, "amy")
    page = await client.get(f"/console/ticket/{number}")
    html = await page.text()
    assert "+8613812345678" not in html  # masked until asked for
    token = csrf_in(html)
    answer = await client.post(
        f"/console/ticket/{number}/act", data={"csrf": token, "action": "assign", "target": "li"}
    )
    assert answer.status == 403
    answer = await client.post(
        f"/console/ticket/{number}/act",
        data={"csrf": token, "action": "note", "note": "回电无人接"},
    )
    assert answer.status == 200
    answer = await client.post(f"/console/ticket/{number}/call", data={"csrf": token})
    assert 'href="tel:+8613812345678"' in await answer.text()
    actions = [(e.action, e.actor_id, e.note) for e in store.timeline(number)[-2:]]
    assert actions == [
        (Action.NOTE, "staff:amy", "回电无人接"),
        (Action.PHONE_SHOWN, "staff:amy", ""),
    ]
    assert store.get(number).state is State.NEW


async def test_logout_ends_the_session(client: Client) -> None:
    await login(client)
    token = await csrf_of(client)
    answer = await client.post("/console/logout", data={"csrf": token}, allow_redirects=False)
    assert answer.status == 303
    page = await client.get("/console", allow_redirects=False)
    assert page.status == 303


async def test_a_disabled_account_cannot_log_in(client: Client, store: Store) -> None:
    staff_store.disable(store, "amy", NOW)
    assert (await login(client, "amy")).status == 401


async def test_the_queue_waits_for_a_new_ticket_and_pages(client: Client, store: Store) -> None:
    for chat in ("a", "b", "c"):
        store.create_ticket(draft(chat=chat), NOW)
    await login(client)
    page = await client.get("/console")
    after = re.search(r'data-live-from="(\d+)"', await page.text())
    assert after
    new = store.create_ticket(draft(chat="d", area="west", building="b9"), NOW).number
    answer = await client.get(f"/console/api/new?after={after[1]}")
    data = await answer.json()
    assert [row["number"] for row in data["rows"]] == [new]
    west = await client.get("/console?area=west&sort=deadline")
    html = await west.text()
    assert new in html and html.count("/console/ticket/") == 1


async def test_photos_only_to_staff(client: Client, store: Store, config: Config) -> None:
    config.media_dir.mkdir(parents=True, exist_ok=True)
    (config.media_dir / "p1.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    number = store.create_ticket(draft(photos=("p1.png",)), NOW).number
    assert (await client.get(f"/console/media/{number}/0", allow_redirects=False)).status == 303
    await login(client)
    assert (await client.get(f"/console/media/{number}/0")).status == 200
    assert (await client.get(f"/console/media/{number}/1")).status == 404


async def intake(client: Client, **fields: str) -> Any:
    from aiohttp import FormData

    token = await csrf_of(client)
    form = FormData()
    form.add_field("csrf", token)
    for name, value in fields.items():
        form.add_field(name, value)
    form.add_field("photos", b"\x89PNG\r\n\x1a\n" + b"\0" * 32, filename="a.png")
    return await client.post("/console/intake", data=form)


async def test_an_agent_files_a_phone_report(client: Client, store: Store) -> None:
    await login(client, "amy")
    page = await client.get("/console/intake?phone=13812345678")
    assert translate("zh_CN", "console.intake_no_tickets") in await page.text()
    answer = await intake(
        client,
        phone="13812345678",
        category="power.outage",
        area="east",
        building="b1",
        spot="101",
        description="整层楼没电了",
    )
    assert answer.status == 200, await answer.text()
    (row,) = store.query("SELECT number FROM tickets")
    ticket = store.get(row["number"])
    assert (ticket.reporter_channel, ticket.reporter_chat) == ("phone", "+8613812345678")
    assert len(ticket.photos) == 1
    accept = store.timeline(ticket.number)[0]
    assert accept.actor_id == "staff:amy"
    told = [n for n in store.notices_of(ticket.number) if n.kind.startswith("reporter.")]
    assert told and all(n.channel == "phone" for n in told)
    async with asyncio.timeout(10):  # the caller is told by the SMS provider
        while any(n.status != "sent" for n in told):
            await asyncio.sleep(0.05)
            told = [n for n in store.notices_of(ticket.number) if n.kind.startswith("reporter.")]


async def test_a_phone_report_of_an_open_fault_shows_and_hurries_it(
    client: Client, store: Store
) -> None:
    number = store.create_ticket(draft(), NOW).number  # web chat, +8613812345678, 302
    await login(client, "amy")
    page = await client.get("/console/intake?phone=13812345678")
    assert number in await page.text()  # the caller's open ticket, shown first
    answer = await intake(
        client,
        phone="13812345678",
        category="water.leak",
        area="east",
        building="b1",
        spot="302",
        description="还在漏水",
    )
    html = await answer.text()
    assert translate("zh_CN", "console.intake_repeat", number=number) in html
    assert store.query("SELECT count(*) AS n FROM tickets")[0]["n"] == 1
    actions = [e.action for e in store.timeline(number)[-2:]]
    assert actions == [Action.HURRY, Action.NOTE]


async def test_an_intake_without_the_csrf_token_files_nothing(client: Client, store: Store) -> None:
    from aiohttp import FormData

    await login(client, "amy")
    form = FormData()
    form.add_field("phone", "13812345678")
    form.add_field("category", "power.outage")
    answer = await client.post("/console/intake", data=form)
    assert answer.status == 403
    assert store.query("SELECT count(*) AS n FROM tickets")[0]["n"] == 0


async def test_the_technicians_board(client: Client, store: Store) -> None:
    from tickets.model import Actor, Role

    zhang = Actor(Role.TECHNICIAN, "zhang", "张师傅", frozenset({"maint"}))
    number = store.create_ticket(draft(), NOW).number
    store.apply(number, Action.CLAIM, zhang, NOW)
    store.apply(number, Action.SIGN_IN, zhang, NOW)
    await login(client)
    page = await client.get("/console/technicians")
    html = await page.text()
    assert page.status == 200
    row = html[html.index("张师傅") : html.index("李师傅")]
    assert number in row and translate("zh_CN", "console.tech_on_site") in row
    assert "302" in row  # where he last signed in


async def test_incidents_and_outages_page(client: Client, store: Store) -> None:
    await login(client)
    token = await csrf_of(client, "/console/incidents")

    async def post(**form: str) -> str:
        answer = await client.post("/console/incidents", data={"csrf": token, **form})
        assert answer.status == 200
        return await answer.text()

    html = await post(kind="incident.open", area="east", category="power", note="变电站检修")
    assert 'class="error"' not in html
    (incident,) = store.incidents()
    assert incident.opened_by == "wang"
    html = await post(kind="outage.add", area="west", category="power", start="+1h", end="+3h")
    assert 'class="error"' not in html and len(store.outages()) == 1
    html = await post(kind="outage.add", area="west", category="power", start="x", end="+3h")
    assert translate("zh_CN", "outages.bad_window") in html
    await post(kind="incident.close", id=str(incident.id), note="已修复")
    assert store.incidents()[0].closed_by == "wang"


async def test_an_agent_may_not_open_an_incident(client: Client, store: Store) -> None:
    await login(client, "amy")
    token = await csrf_of(client, "/console/incidents")
    answer = await client.post(
        "/console/incidents",
        data={"csrf": token, "kind": "incident.open", "area": "east", "category": "power"},
    )
    assert answer.status == 403


async def test_an_idle_session_ends(client: Client, monkeypatch: pytest.MonkeyPatch) -> None:
    from bots.web.console import auth

    await login(client)
    assert (await client.get("/console", allow_redirects=False)).status == 200
    later = auth.now() + auth.IDLE + timedelta(seconds=1)
    monkeypatch.setattr(auth, "now", lambda: later)
    assert (await client.get("/console", allow_redirects=False)).status == 303


async def test_the_cookie_is_secure_behind_https(config: Config, store: Store) -> None:
    from dataclasses import replace

    secure = replace(config, web=replace(config.web, public_url="https://desk.example.org"))
    staff_store.add(store, "wang", "王调度", StaffRole.DISPATCHER, PASSWORD, NOW)
    async with TestClient(TestServer(build_app(secure, store=store), host="127.0.0.1")) as c:
        # (the test client, on http, rightly keeps no Secure cookie: the login cookie shows it)
        page = await c.get("/console/login")
        cookie = page.cookies["baoxiu_console_login"]
        assert cookie["secure"] and cookie["httponly"] and cookie["samesite"] == "Strict"


async def test_the_queue_filters_by_a_channel_named_for_people(
    client: Client, store: Store
) -> None:
    number = store.create_ticket(draft(), NOW).number  # filed in the web chat
    await login(client, "wang")
    html = await (await client.get("/console?channel=web")).text()
    assert number in html
    assert f'<option value="web" selected>{channel_name("zh_CN", "web")}</option>' in html
    assert f'<option value="phone">{channel_name("zh_CN", "phone")}</option>' in html
    assert number not in await (await client.get("/console?channel=phone")).text()
    ticket_page = await (await client.get(f"/console/ticket/{number}")).text()
    notices = store.notices_of(number)
    assert notices
    for notice in notices:  # each notice's channel in words
        assert f"<td>{channel_name('zh_CN', notice.channel)}</td>" in ticket_page
