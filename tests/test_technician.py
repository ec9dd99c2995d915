"""The technician's job dialogues (/jobs, job card, claim, sign in, pause, resume,
complete with photos, hand back) as tables in zh_CN and en, through the real router with
the fake engine of test_followup."""

from __future__ import annotations

from dataclasses import replace

import pytest
from test_followup import A1, B2, Chat, FakeLookup, make_config, run, ticket, world

from config.model import Config
from conversation import technician
from conversation.events import Button, Location, Photo, Unsupported
from conversation.replies import RemoveKeyboard, RequestLocation, ShowPhotos
from tickets.model import Role, State

FULL, MASKED = "13812345678", "138****5678"
SPOT = (31.2304, 121.4737)  # where the ticket says the fault is


@pytest.fixture
def config() -> Config:
    return make_config()


def tech(
    lookup: FakeLookup, locale: str = "zh_CN", person: str = "zhang", location: bool = False
) -> Chat:
    return Chat(
        lookup,
        locale,
        chat=f"tg-{person}",
        role=Role.TECHNICIAN,
        person=person,
        can_share_location=location,
    )


@pytest.mark.parametrize(
    ("locale", "only"), [("zh_CN", "只有登记的维修人员"), ("en", "Only registered technicians")]
)
def test_only_technicians(config: Config, locale: str, only: str) -> None:
    lookup = world(config, ticket(A1))
    for role, person in ((Role.REPORTER, None), (Role.DISPATCHER, "wang"), (Role.TECHNICIAN, None)):
        chat = Chat(lookup, locale, chat="x", role=role, person=person)
        run(
            chat,
            [
                ("/jobs", (only, "act:-")),
                (Button(f"t:claim:{A1}"), (only, "act:-")),
                (Button(f"t:show:{A1}"), (only, f"!{FULL}", f"!{MASKED}")),
                (Button(f"t:done:{A1}"), (only, "act:-", "state:-")),
            ],
        )
    assert lookup.tickets[A1].state is State.NEW


def test_jobs_claim_and_card_zh(config: Config) -> None:
    lookup = world(
        config,
        ticket(A1),
        ticket(B2, State.ASSIGNED, holder="zhang", chat="bob"),
        ticket("BX20261123-0009", State.ASSIGNED, holder="li"),
    )
    chat = tech(lookup)
    run(
        chat,
        [
            (
                "/jobs",
                (
                    "我的任务（1）",
                    B2,
                    "已派工",
                    f"[t:show:{B2}]",
                    "可抢的单（1）",
                    A1,
                    "东区 / 1号楼 / 302",
                    f"抢单 {A1} [t:claim:{A1}]",
                    "!BX20261123-0009",
                ),
            ),
            (Button(f"t:show:{A1}"), (MASKED, f"!{FULL}", f"[t:claim:{A1}]", "!t:signin")),
            (
                Button(f"t:claim:{A1.lower()}"),
                (
                    "抢单成功",
                    A1,
                    "由您负责",
                    f"电话：{FULL}",
                    "卫生间水管漏水",
                    f"[t:signin:{A1}]",
                    f"[t:pause:{A1}]",
                    f"[t:release:{A1}]",
                    "!t:done",
                    "!t:claim",
                    "act:claim",
                ),
            ),
            ("/jobs", ("我的任务（2）", "暂时没有可抢的单")),
            (f"/status {A1}", ("工单 " + A1, FULL, f"[t:signin:{A1}]")),
            ("/status", ("请带上工单号",)),
        ],
    )
    assert lookup.tickets[A1].holder == "zhang"
    # Another member of the team sees the job only with the phone masked, no buttons.
    run(tech(lookup, person="li"), [(Button(f"t:show:{A1}"), (MASKED, f"!{FULL}", "!t:"))])
    # Someone outside the team does not see it at all.
    run(
        tech(lookup, person="zhao"),
        [(Button(f"t:show:{A1}"), ("不在您名下", f"!{MASKED}", "!卫生间"))],
    )


def test_claim_too_late_en(config: Config) -> None:
    lookup = world(config, ticket(A1, State.ASSIGNED, holder="li"))
    run(tech(lookup, "en"), [(Button(f"t:claim:{A1}"), ("Too late", "act:claim"))])
    assert lookup.tickets[A1].holder == "li"


def test_sign_in_with_location_zh(config: Config) -> None:
    lookup = world(
        config, ticket(A1, State.ASSIGNED, holder="zhang", latitude=SPOT[0], longitude=SPOT[1])
    )
    chat = tech(lookup, location=True)
    run(
        chat,
        [
            (
                Button(f"t:signin:{A1}"),
                (
                    "请发送您的位置",
                    "<发送我的位置>",
                    f"[t:here:{A1}]",
                    "state:technician/signin",
                    "act:-",
                ),
            ),
            (Unsupported("sticker"), ("请为工单", "不带位置签到", "state:technician/signin")),
            ("我到了", ("state:technician/signin", "act:-")),
            (
                Location(SPOT[0] + 0.001, SPOT[1]),
                (
                    "已到场签到",
                    "距报修地点 111 米",
                    f"[t:done:{A1}]",
                    f"[t:pause:{A1}]",
                    "!t:signin",
                    "act:sign_in",
                    "state:-",
                ),
            ),
        ],
    )
    assert any(isinstance(r, RequestLocation) for r in chat.seen)
    assert any(isinstance(r, RemoveKeyboard) for r in chat.seen)
    data = chat.acts[-1].data
    assert data["latitude"] == SPOT[0] + 0.001 and data["longitude"] == SPOT[1]
    assert 110 < data["distance_m"] < 112
    assert lookup.tickets[A1].state is State.ON_SITE


def test_sign_in_without_location_en(config: Config) -> None:
    lookup = world(config, ticket(A1, State.ASSIGNED, holder="zhang"))
    chat = tech(lookup, "en")
    run(
        chat,
        [
            (Button(f"t:signin:{A1}"), ("Send your location", f"[t:here:{A1}]", "!<")),
            (
                Button(f"t:here:{A1}"),
                ("Signed in on site", "!m from", f"[t:done:{A1}]", "act:sign_in", "state:-"),
            ),
            (Button(f"t:signin:{A1}"), ("“technician on site”", "cannot sign in", "act:-")),
        ],
    )
    assert chat.acts[-1].data == {}


def test_pause_with_a_chosen_reason_and_resume_zh(config: Config) -> None:
    lookup = world(config, ticket(A1, State.ON_SITE, holder="zhang"))
    chat = tech(lookup)
    run(
        chat,
        [
            (
                Button(f"t:pause:{A1}"),
                (
                    "为什么挂起",
                    f"等配件 [t:pause:{A1}:parts]",
                    f"无法进入 [t:pause:{A1}:access]",
                    f"[t:pause:{A1}:other]",
                    "state:technician/pause",
                ),
            ),
            (Location(1.0, 1.0), ("请选择或输入", "state:technician/pause", "act:-")),
            (
                Button(f"t:pause:{A1}:parts"),
                ("已挂起：等配件", f"[t:resume:{A1}]", "act:pause", "state:-"),
            ),
            (Button(f"t:pause:{A1}"), ("不能挂起", "act:-", "state:-")),
            (Button(f"t:resume:{A1}"), ("已恢复处理", f"[t:done:{A1}]", "act:resume")),
        ],
    )
    assert chat.acts[0].note == "等配件"
    assert lookup.tickets[A1].state is State.ON_SITE


def test_pause_with_a_typed_reason_en(config: Config) -> None:
    lookup = world(config, ticket(A1, State.ASSIGNED, holder="zhang"))
    chat = tech(lookup, "en")
    run(
        chat,
        [
            (Button(f"t:pause:{A1}"), ("Choose a reason", "Waiting for parts")),
            (Button(f"t:pause:{A1}:other"), ("type the reason", "state:technician/pause")),
            ("Resident not at home until 6pm", ("is paused: Resident not at home", "act:pause")),
            (Button(f"t:pause:{A1}:bogus"), ("act:-",)),
        ],
    )
    assert lookup.tickets[A1].pause_reason == "Resident not at home until 6pm"


def test_complete_with_note_and_photos_zh(config: Config) -> None:
    lookup = world(config, ticket(A1, State.ON_SITE, holder="zhang"))
    chat = tech(lookup)
    run(
        chat,
        [
            (Button(f"t:done:{A1}"), ("做了哪些处理", "state:technician/done_note", "act:-")),
            (Location(1.0, 1.0), ("请用文字描述", "state:technician/done_note")),
            (Button(f"t:finish:{A1}"), ("请用文字描述", "state:technician/done_note", "act:-")),
            ("更换了角阀和软管", ("最多 4 张", f"[t:finish:{A1}]", "state:technician/done_photos")),
            (Photo("m/1.jpg", "旧角阀"), ("第 1 张", "state:technician/done_photos")),
            (Photo("m/2.jpg"), ("第 2 张",)),
            (Photo("m/3.jpg"), ("第 3 张",)),
            (Photo("m/4.jpg"), ("第 4 张",)),
            (
                Photo("m/5.jpg"),
                (
                    "最多 4 张照片，这张没有添加",
                    f"[t:finish:{A1}]",
                    "state:technician/done_photos",
                    "act:-",
                ),
            ),
            (Unsupported("voice"), ("请发送完工照片", "state:technician/done_photos")),
            (
                Button(f"t:finish:{A1}"),
                ("已完成（4 张照片）", "将请报修人确认", "act:resolve", "state:-"),
            ),
            (Button(f"t:finish:{A1}"), ("按钮已经过期", "act:-")),
        ],
    )
    act = chat.acts[-1]
    assert act.note == "更换了角阀和软管\n旧角阀"
    assert act.data == {"photos": ["m/1.jpg", "m/2.jpg", "m/3.jpg", "m/4.jpg"]}
    done = lookup.tickets[A1]
    assert done.state is State.RESOLVED and len(done.resolution_photos) == 4


def test_complete_photo_first_en(config: Config) -> None:
    lookup = world(config, ticket(A1, State.ON_SITE, holder="zhang"))
    chat = tech(lookup, "en")
    run(
        chat,
        [
            (Button(f"t:done:{A1}"), ("What was done",)),
            (
                Photo("m/1.jpg"),
                ("Photo saved (1 of 4)", "describe what was done", "state:technician/done_note"),
            ),
            ("Replaced the valve", ("1 so far", "state:technician/done_photos")),
            ("Also tightened the hose", ("Added to the completion note",)),
            (Button(f"t:finish:{A1}"), ("is completed (1 photo(s))", "act:resolve")),
        ],
    )
    assert chat.acts[-1].note == "Replaced the valve\nAlso tightened the hose"
    assert chat.acts[-1].data == {"photos": ["m/1.jpg"]}


@pytest.mark.parametrize(
    ("locale", "first"), [("zh_CN", "请先到现场签到"), ("en", "Please sign in on site")]
)
def test_complete_before_sign_in(config: Config, locale: str, first: str) -> None:
    lookup = world(config, ticket(A1, State.ASSIGNED, holder="zhang"))
    run(tech(lookup, locale), [(Button(f"t:done:{A1}"), (first, "act:-", "state:-"))])


def test_release_en(config: Config) -> None:
    lookup = world(config, ticket(A1, State.ASSIGNED, holder="zhang"))
    run(
        tech(lookup, "en"),
        [
            (Button(f"t:release:{A1}"), ("Why are you handing", "state:technician/release")),
            (Photo("m/x.jpg"), ("type the reason", "state:technician/release", "act:-")),
            ("Needs an electrician", ("handed back", "act:release", "state:-")),
            (Button(f"t:release:{A1}"), ("not yours", "act:-")),
        ],
    )
    assert lookup.tickets[A1].state is State.NEW and lookup.tickets[A1].holder is None


@pytest.mark.parametrize(("locale", "missing"), [("zh_CN", "没有找到工单"), ("en", "No ticket")])
def test_unknown_numbers_and_foreign_jobs(config: Config, locale: str, missing: str) -> None:
    ghost = "BX19990101-0001"
    lookup = world(config, ticket(A1, State.ON_SITE, holder="li"))
    run(
        tech(lookup, locale),
        [
            (Button(f"t:show:{ghost}"), (missing, "act:-")),
            (Button(f"t:claim:{ghost}"), (missing, "act:-")),
            (Button(f"t:signin:{ghost}"), (missing, "state:-")),
            (Button(f"t:done:{A1}"), ("act:-", "state:-", f"!{FULL}")),
            (Button(f"t:resume:{A1}"), ("act:resume",)),  # refused by the workflow
            (Button("t:show"), ("act:-",)),
        ],
    )
    assert lookup.tickets[A1].state is State.ON_SITE


def test_menu_is_the_job_list(config: Config) -> None:
    lookup = world(config)
    run(tech(lookup, "en"), [("/start", ("Hello", "You hold no open jobs", "No jobs are waiting"))])


def test_distance() -> None:
    # One degree of latitude is about 111.2 km everywhere.
    assert technician.distance_m(30.0, 120.0, 31.0, 120.0) == pytest.approx(111_195, rel=1e-3)
    assert technician.distance_m(*SPOT, *SPOT) == 0


def test_an_answer_after_the_job_moved_on_ends_the_question(config: Config) -> None:
    """The dispatcher transferred the job while its holder typed the reason."""
    lookup = world(config, ticket(A1, State.ASSIGNED, holder="zhang"))
    chat = tech(lookup)
    run(chat, [(Button(f"t:release:{A1}"), ("state:technician/release",))])
    lookup.tickets[A1] = replace(lookup.tickets[A1], holder="li")
    run(chat, [("要找电工", ("不在您名下", "act:-", "state:-"))])


def test_job_card_shows_the_reporters_photos(config: Config) -> None:
    photos = ("media/a1-1.jpg", "media/a1-2.jpg")
    lookup = world(config, ticket(A1, State.ASSIGNED, holder="zhang", photos=photos))
    chat = tech(lookup, "en")
    run(chat, [(Button(f"t:show:{A1}"), (f"Photos of ticket {A1}", *photos, FULL))])
    assert isinstance(chat.seen[0], ShowPhotos) and chat.seen[0].refs == photos
