"""The terminal chat: how replies are laid out, how typed lines become events, photos,
and one whole session run in-process on a pipe."""

from __future__ import annotations

import io
import os
from datetime import UTC, datetime
from pathlib import Path

import pytest
from conftest import make_config

from bots import terminal
from bots.channel.media import image_type
from bots.terminal import Screen, TerminalSender, save_photo
from config.model import Config
from conversation.events import Button, Command, Location, Photo, Text
from conversation.i18n import translate
from conversation.replies import (
    Ask,
    Choice,
    RemoveKeyboard,
    RequestContact,
    RequestLocation,
    Say,
    ShowPhotos,
)
from tickets.errors import InvalidInput
from tickets.store import OutboxRow, Store

JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x00" * 64
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
GIF = b"GIF89a" + b"\x00" * 64
WEBP = b"RIFF\x24\x00\x00\x00WEBPVP8 " + b"\x00" * 64

CATEGORIES = Ask("请选择报修类别", (Choice("水", "i:cat:water"), Choice("网络", "i:cat:net")))


@pytest.fixture
def screen(tmp_path: Path) -> Screen:
    return Screen(tmp_path / "media", max_upload_mb=1, locale="zh_CN")


def t(locale: str, key: str, **params: object) -> str:
    return translate(locale, f"terminal.{key}", **params)


# -- laying replies out -----------------------------------------------------------------------


@pytest.mark.parametrize("locale", ["zh_CN", "en"])
def test_each_reply_type_is_laid_out(tmp_path: Path, locale: str) -> None:
    screen = Screen(tmp_path, locale=locale)
    lines = screen.show(
        [
            Say("你好"),
            CATEGORIES,
            RequestContact("请留电话", "分享手机号"),
            RequestLocation("请发位置", "发送位置"),
            ShowPhotos(("terminal/a.jpg", "terminal/b.png"), "现场照片"),
            RemoveKeyboard("请描述故障"),
        ]
    )
    assert lines == [
        "你好",
        "请选择报修类别",
        t(locale, "choice", number=1, label="水"),
        t(locale, "choice", number=2, label="网络"),
        "请留电话",
        t(locale, "contact"),
        "请发位置",
        t(locale, "location"),
        "现场照片",
        t(locale, "photo", path=tmp_path / "terminal/a.jpg"),
        t(locale, "photo", path=tmp_path / "terminal/b.png"),
        "请描述故障",
        t(locale, "pick"),
    ]
    assert lines[2] == "  1) 水"


def test_choices_of_several_questions_are_numbered_on(screen: Screen) -> None:
    lines = screen.show(
        [
            Ask("工单 1", (Choice("签到", "t:signin:A"), Choice("退单", "t:release:A"))),
            Ask("工单 2", (Choice("抢单", "t:claim:B"),)),
        ]
    )
    assert "  3) 抢单" in lines
    assert screen.read("3") == Button("t:claim:B")


def test_a_notice_is_marked_and_keeps_the_dialogue_choices_unless_it_brings_its_own(
    screen: Screen,
) -> None:
    screen.show([CATEGORIES])
    lines = screen.show([Say("您的工单已派工")], notice=True)
    assert lines == [t("zh_CN", "notice"), "您的工单已派工"]
    assert screen.read("2") == Button("i:cat:net")

    screen.show([Ask("处理完成", (Choice("★5", "r:rate:A:5"),), inline=True)], notice=True)
    assert screen.read("1") == Button("r:rate:A:5")


def test_a_dialogue_answer_without_choices_takes_the_old_ones_away(screen: Screen) -> None:
    screen.show([CATEGORIES])
    screen.show([RemoveKeyboard("请描述故障")])
    assert screen.read("1") == Text("1")
    assert screen.show([], notice=True) == []


# -- reading typed lines ---------------------------------------------------------------------


def test_a_number_or_an_exact_label_picks_a_choice(screen: Screen) -> None:
    screen.show([CATEGORIES])
    assert screen.read("1\n") == Button("i:cat:water")
    assert screen.read(" 2 ") == Button("i:cat:net")
    assert screen.read("网络") == Button("i:cat:net")
    # Out of range, or a phone number: plain text for the dialogue to judge.
    assert screen.read("3") == Text("3")
    assert screen.read("13812345678") == Text("13812345678")
    assert screen.read("网") == Text("网")


@pytest.mark.parametrize("typed", ["²", "①", "٣", "9" * 5000, "1" * 10])
def test_only_plain_ascii_digits_are_a_choice_number(screen: Screen, typed: str) -> None:
    # int() refused '²' and '①' (str.isdigit accepts them) and 5,000 nines (the digit
    # limit): each ended the terminal chat with a traceback.
    screen.show([CATEGORIES])
    assert screen.read(typed) == Text(typed)


def test_the_same_label_twice_asks_for_the_number(screen: Screen) -> None:
    screen.show(
        [Ask("A", (Choice("签到", "t:signin:A"),)), Ask("B", (Choice("签到", "t:signin:B"),))]
    )
    assert screen.read("签到") == t("zh_CN", "ambiguous", label="签到")
    assert screen.read("2") == Button("t:signin:B")


def test_commands_empty_lines_and_text(screen: Screen) -> None:
    screen.show([CATEGORIES])
    assert screen.read("/status BX20261123-0001") == Command("status", "BX20261123-0001")
    assert screen.read("/1") == Command("1")  # a command, not choice 1
    assert screen.read("   ") is None
    assert screen.read("水管漏水了\n") == Text("水管漏水了")


def test_coordinates_are_a_location_only_when_one_was_asked_for(screen: Screen) -> None:
    assert screen.read("31.23,121.47") == Text("31.23,121.47")
    screen.show([RequestLocation("请发位置", "发送位置")])
    assert screen.read("31.23,121.47") == Location(31.23, 121.47)
    assert screen.read(" -33.9 ，  18.4 ") == Location(-33.9, 18.4)
    assert screen.read("91,10") == Text("91,10")  # no such latitude
    screen.show([Say("好的")])
    assert screen.read("31.23,121.47") == Text("31.23,121.47")


# -- photos -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("head", "kind"),
    [(JPEG, "image/jpeg"), (PNG, "image/png"), (GIF, "image/gif"), (WEBP, "image/webp")],
)
def test_images_are_known_by_their_bytes(head: bytes, kind: str) -> None:
    assert image_type(head[:16]) == kind


@pytest.mark.parametrize(
    "head", [b"%PDF-1.7", b"RIFF\x00\x00\x00\x00WAVEfmt ", b"hello world", b""]
)
def test_other_files_are_not_images(head: bytes) -> None:
    assert image_type(head) is None


def test_photo_command_copies_the_image_into_the_media_folder(
    screen: Screen, tmp_path: Path
) -> None:
    source = tmp_path / "my leak.png"
    source.write_bytes(PNG)
    event = screen.read(f"/photo '{source}' 水管接头在滴水")
    assert isinstance(event, Photo)
    assert event.caption == "水管接头在滴水"
    assert event.ref.startswith("terminal/") and event.ref.endswith(".png")
    assert (screen.media_dir / event.ref).read_bytes() == PNG


def test_photo_command_refuses_what_is_not_a_photo(screen: Screen, tmp_path: Path) -> None:
    fake = tmp_path / "virus.jpg"
    fake.write_bytes(b"MZ\x90\x00 not a jpeg")
    big = tmp_path / "big.jpg"
    big.write_bytes(JPEG + b"\x00" * (1024 * 1024))
    missing = tmp_path / "nowhere.jpg"

    assert screen.read(f"/photo {fake}") == t("zh_CN", "photo_not_image", path=fake)
    assert screen.read(f"/photo {big}") == t("zh_CN", "photo_too_big", path=big, limit=1)
    assert screen.read(f"/photo {missing}") == t("zh_CN", "photo_missing", path=missing)
    assert screen.read("/photo") == t("zh_CN", "photo_usage")
    assert not screen.media_dir.exists()


def test_save_photo_raises_a_catalog_error(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput) as refused:
        save_photo(tmp_path / "none.gif", tmp_path, 5)
    assert refused.value.key == "terminal.photo_missing"


# -- chat ids ------------------------------------------------------------------------------


def test_chat_ids() -> None:
    assert terminal.chat_for("technician", "zhang") == "tech-zhang"
    assert terminal.chat_for("dispatcher", "wang") == "disp-wang"
    assert terminal.chat_for(None, None).startswith("term-")


async def test_sender_prints_a_notice(screen: Screen) -> None:
    printed: list[list[str]] = []
    sender = TerminalSender(screen, printed.append)
    now = datetime.now(UTC)
    row = OutboxRow(
        7, "k", "A", 1, "reporter.on_site", "terminal", "c", "zh_CN", {}, 1, "pending", 0, now, now
    )
    assert await sender.send("c", [Say("师傅已到场")], row) == "terminal-7"
    assert printed == [[t("zh_CN", "notice"), "师傅已到场"]]


# -- a whole session in-process ------------------------------------------------------------


async def _session(config: Config, typed: str, **kw: str) -> str:
    read_end, write_end = os.pipe()
    os.write(write_end, typed.encode())
    os.close(write_end)
    out = io.StringIO()
    with open(read_end, encoding="utf-8") as stdin:
        code = await terminal.chat(config, stdin=stdin, stdout=out, **kw)
    assert code == 0
    return out.getvalue()


async def test_a_session_reports_and_ends_at_end_of_input(tmp_path: Path) -> None:
    config = make_config(tmp_path)
    typed = "/report\n1\n1\n1\n302室\n13812345678\n卫生间水管漏水\n1\n1\n1\n"
    shown = await _session(config, typed, chat_id="c1")
    assert t("zh_CN", "banner", chat="c1") in shown
    assert "  1) 水" in shown
    with Store(config.database, config) as store:
        [ticket] = store.all_tickets()
        assert ticket.number in shown
        assert (ticket.reporter_chat, ticket.spot) == ("c1", "302室")


async def test_quit_says_goodbye_and_as_binds(tmp_path: Path) -> None:
    config = make_config(tmp_path)
    shown = await _session(config, "/jobs\n/quit\nnever read\n", role="technician", person="zhang")
    assert "张师傅" in shown.splitlines()[0]
    assert shown.rstrip().endswith(t("zh_CN", "bye"))
    with Store(config.database, config) as store:
        record = store.chat("terminal", "tech-zhang")
        assert (record.role, record.person) == ("technician", "zhang")


async def test_as_an_unknown_person_is_refused(tmp_path: Path) -> None:
    config = make_config(tmp_path)
    with pytest.raises(InvalidInput):
        await _session(config, "", role="technician", person="ghost")


async def test_an_in_memory_stdin_works_too(tmp_path: Path) -> None:
    config = make_config(tmp_path)
    out = io.StringIO()
    code = await terminal.chat(config, chat_id="c2", stdin=io.StringIO("/help\n"), stdout=out)
    assert code == 0
    assert translate("zh_CN", "common.help_reporter") in out.getvalue()


async def test_a_bug_in_a_turn_is_apologised_for_and_the_chat_goes_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    config = make_config(tmp_path)
    real = terminal.Engine.handle

    def handle(
        self: terminal.Engine, channel: str, chat: str, event: object, *a: object, **kw: object
    ) -> object:
        if event == Command("help"):
            raise RuntimeError("bug")
        return real(self, channel, chat, event, *a, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(terminal.Engine, "handle", handle)
    shown = await _session(config, "/help\n/report\n", chat_id="c3")
    assert translate("zh_CN", "errors.generic") in shown
    assert "  1) 水" in shown  # the next line was answered
    assert "RuntimeError: bug" in caplog.text


def test_a_typed_number_still_answers_after_a_restart(tmp_path: Path) -> None:
    """The offered choices are the chat's, in the store, not the process's (issue 12,
    item 17): a notice's rating buttons shown before ``baoxiu chat`` was restarted are
    still answered by a typed number — the dialogue itself is idle then."""
    config = make_config(tmp_path)
    rate = Ask("请评价", (Choice("满意", "f:rate:A:5"), Choice("不满意", "f:rate:A:1")))
    with Store(config.database, config) as store:
        before = Screen(tmp_path, offers=terminal.OfferTable(store, "terminal"), chat="c")
        before.show([rate], notice=True)
        before.show([Say("收到")])
        before.show([rate], notice=True)
    with Store(config.database, config) as store:
        after = Screen(tmp_path, offers=terminal.OfferTable(store, "terminal"), chat="c")
        assert after.read("2") == Button("f:rate:A:1")
        assert after.read("满意") == Button("f:rate:A:5")
        other = Screen(tmp_path, offers=terminal.OfferTable(store, "terminal"), chat="d")
        assert other.read("2") == Text("2")
