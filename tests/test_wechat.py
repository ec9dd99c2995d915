"""The WeChat official account piece by piece, over HTTP against the fake WeChat: the
callback's envelope (forged, foreign, stale → 403, nothing changes), WeChat's retries
(one step), events keyed whole, inbound kinds, the token, notices' fallbacks, the
settings and the `baoxiu wechat` commands."""

from __future__ import annotations

import asyncio
import hashlib
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from click.testing import CliRunner
from conftest import make_config
from fake_wechat import AES_KEY, APP_ID, APP_SECRET, TOKEN, FakeWeChatApi, WeChatUser
from wechat_rig import Rig, rig, wechat_table, with_wechat

from bots.channel.choices import OfferTable
from bots.cli import main
from bots.wechat import WECHAT
from bots.wechat.client import WeChatClient
from bots.wechat.notify import WeChatSender
from bots.wechat.settings import WeChatSettings
from bots.wechat.store import WeChatTables, callback_key
from config.loader import default_text
from conversation.i18n import translate
from conversation.replies import Say
from tickets import outbox
from tickets.errors import ConfigError, DeliveryError
from tickets.store import OutboxRow

CATEGORIES = translate("zh_CN", "intake.ask_category").split("（")[0]


def t(key: str, **params: object) -> str:
    return translate("zh_CN", key, **params)


def footprint(found: Rig) -> tuple[int, int]:
    """(callbacks taken, chats known): what a refused callback must not change."""
    db = found.store.db
    taken = db.execute("SELECT count(*) FROM processed_updates WHERE channel = 'wechat'")
    chats = db.execute("SELECT count(*) FROM chats WHERE channel = 'wechat'")
    return int(taken.fetchone()[0]), int(chats.fetchone()[0])


# -- the envelope -------------------------------------------------------------------------


async def test_the_url_handshake(tmp_path: Path) -> None:
    async with rig(tmp_path) as found, aiohttp.ClientSession() as http:
        user = found.user("o_a")
        query, _ = user.sealed("<xml/>")
        async with http.get(found.url, params={**query, "echostr": "hello123"}) as answer:
            assert (answer.status, await answer.text()) == (200, "hello123")
        query["signature"] = "0" * 40
        async with http.get(found.url, params={**query, "echostr": "hello123"}) as answer:
            assert answer.status == 403


@pytest.mark.parametrize(
    "forgery", ["signature", "msg_signature", "app_id", "stale", "plain", "xml"]
)
async def test_a_forged_foreign_or_stale_callback_is_refused(tmp_path: Path, forgery: str) -> None:
    async with rig(tmp_path) as found:
        user = found.user("o_mallory")
        plain = user.xml("text", Content="/report")
        query, body = user.sealed(plain)
        if forgery == "signature":
            query["signature"] = "f" * 40
        elif forgery == "msg_signature":
            query["msg_signature"] = "f" * 40
        elif forgery == "app_id":  # encrypted for another official account
            other = WeChatUser(found.url, "o_mallory", app_id="wxffffffffffffffff")
            query, body = other.sealed(plain)
        elif forgery == "stale":  # a captured body replayed ten minutes later
            query, body = user.sealed(plain, timestamp=int(time.time()) - 600)
        elif forgery == "plain":  # safe mode takes no unencrypted message
            body = plain
        elif forgery == "xml":
            body = '<!DOCTYPE x [<!ENTITY a "aaaa">]><xml><Encrypt>&a;</Encrypt></xml>'
        before = footprint(found)
        status, _ = await user.post_raw(query, body)
        assert status == 403
        assert footprint(found) == before


async def test_a_replayed_body_changes_nothing(tmp_path: Path) -> None:
    async with rig(tmp_path) as found:
        user = found.user("o_a")
        query, body = user.sealed(user.xml("text", Content="/report"))
        first = await user.post_raw(query, body)
        before = (footprint(found), found.store.chat("wechat", "o_a").dialogue)
        again = await user.post_raw(query, body)
        assert again[0] == first[0] == 200  # the same answer, and no second step
        assert user.open_reply(again[1]) == user.open_reply(first[1])
        assert (footprint(found), found.store.chat("wechat", "o_a").dialogue) == before


# -- WeChat's retries and keys -------------------------------------------------------------


async def test_a_slow_first_answer_is_not_repeated_by_the_retry(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with rig(tmp_path) as found:
        user = found.user("o_slow", timeout=0.3)
        for line in ("/report", "1", "1", "1", "302", "13812345678", "卫生间水管漏水"):
            await user.say(line)
        found.api.media["ok"] = b"\xff\xd8\xff\xe0" + b"\x00" * 64
        channel = found.server.app[WECHAT]
        real = channel.inbound.fetch_photo
        calls: list[Any] = []

        async def slow(*args: Any, **kw: Any) -> Any:  # the download: the step's one await
            calls.append(args)
            await asyncio.sleep(0.8)  # longer than WeChat waits: it posts the message again
            return await real(*args, **kw)

        monkeypatch.setattr(channel.inbound, "fetch_photo", slow)
        shown = await user.send("image", MediaId="ok")
        assert user.attempts >= 2  # the first try and at least one retry
        assert len(calls) == 1  # one download, one step
        assert t("intake.ask_photos_more", count=1, left=3) in shown  # the step's answer
        record = found.store.chat("wechat", "o_slow").dialogue or ""
        assert record.count("wechat/") == 1  # the photo is in the dialogue once


def test_events_are_keyed_whole() -> None:
    click = {"MsgType": "event", "FromUserName": "o", "CreateTime": "1", "Event": "CLICK"}
    assert callback_key({**click, "EventKey": "report"}) != callback_key(
        {**click, "EventKey": "mine"}
    )
    assert callback_key(click) == callback_key(dict(click))
    assert callback_key({"MsgId": "42", "Content": "a"}) == callback_key({"MsgId": "42"})


async def test_two_events_in_one_second_are_both_answered(tmp_path: Path) -> None:
    async with rig(tmp_path) as found:
        user = found.user("o_a")
        now = int(time.time())
        report = await user.send("event", Event="CLICK", EventKey="report", CreateTime=now)
        mine = await user.send("event", Event="CLICK", EventKey="mine", CreateTime=now)
        assert CATEGORIES in report
        assert mine and mine != report


# -- inbound --------------------------------------------------------------------------------


async def test_voice_location_image_and_menu(tmp_path: Path) -> None:
    async with rig(tmp_path) as found:
        user = found.user("o_a")
        assert await user.send("voice", MediaId="v1", Format="amr") == t("wechat.voice_hint")
        heard = await user.send("voice", MediaId="v2", Format="amr", Recognition="/report")
        assert CATEGORIES in heard
        # An image while no photo is asked for: a hint, and nothing downloaded.
        assert await user.send("image", MediaId="none", PicUrl="x") == t("wechat.photo_not_now")
        assert await user.event("LOCATION") == ""  # the periodic position report: ignored
        welcome = await user.event("subscribe")
        assert welcome
        assert found.store.chat("wechat", "o_a").dialogue is not None


async def test_an_image_too_large_or_not_an_image_is_refused(tmp_path: Path) -> None:
    async with rig(tmp_path, max_file_mb=1) as found:
        user = found.user("o_a")
        for line in ("/report", "1", "1", "1", "302", "13812345678", "卫生间水管漏水"):
            await user.say(line)
        found.api.media["big"] = b"\xff\xd8\xff" + b"\x00" * (1024 * 1024 + 10)
        found.api.media["text"] = b"hello, not an image at all"
        assert await user.send("image", MediaId="big") == t("wechat.too_large", limit=1)
        assert await user.send("image", MediaId="text") == t("wechat.download_failed")
        assert await user.send("image", MediaId="unknown") == t("wechat.download_failed")
        # 20 pictures in the last hour: the 21st is refused before it is fetched.
        found.api.media["ok"] = b"\xff\xd8\xff\xe0" + b"\x00" * 64
        tables = WeChatTables(found.store)
        for _ in range(20):
            tables.took_photo("o_a", datetime.now(UTC))
        assert await user.send("image", MediaId="ok") == t("wechat.photo_quota", limit=20)
        assert not (found.config.media_dir / "wechat").exists() or not list(
            (found.config.media_dir / "wechat").iterdir()
        )


@pytest.mark.parametrize("typed", ["²", "①", "9" * 5000])
async def test_odd_numbers_are_text_never_a_crash(tmp_path: Path, typed: str) -> None:
    async with rig(tmp_path) as found:
        user = found.user("o_a")
        await user.say("/report")
        assert await user.say(typed)  # an answer (a hint), not a crash or a pick
        assert "1. 东区" in await user.say("1")


# -- the token ------------------------------------------------------------------------------


async def test_the_token_is_shared_and_refreshed_once_on_expiry(tmp_path: Path) -> None:
    api = await FakeWeChatApi().start()
    config = with_wechat(make_config(tmp_path), api)
    settings = WeChatSettings.from_config(config)
    from tickets.store import Store

    try:
        with Store(config.database, config) as one, Store(config.database, config) as two:
            first, second = (
                WeChatClient(settings, WeChatTables(one)),
                WeChatClient(settings, WeChatTables(two)),
            )
            await first.create_menu({"button": []})
            await second.create_menu({"button": []})
            assert api.token_fetches == 1  # the second process used the stored token
            api.expire_tokens()
            await second.create_menu({"button": []})
            assert api.token_fetches == 2 and len(api.menus) == 3
            await first.close()
            await second.close()
    finally:
        await api.close()


# -- notices ----------------------------------------------------------------------------------


def _row(chat: str, kind: str = "reporter.assigned") -> OutboxRow:
    now = datetime.now(UTC)
    return OutboxRow(
        1,
        "k",
        "BX20261129-0001",
        None,
        kind,
        "wechat",
        chat,
        "zh_CN",
        {},
        1,
        "pending",
        0,
        now,
        now,
    )


async def test_an_unsubscribed_follower_is_marked_and_not_called_again(tmp_path: Path) -> None:
    async with rig(tmp_path) as found:
        tables = WeChatTables(found.store)
        settings = WeChatSettings.from_config(found.config)
        client = WeChatClient(settings, tables)
        sender = WeChatSender(
            found.config, settings, found.store, client, tables, OfferTable(found.store, "wechat")
        )
        found.api.last_seen["o_gone"] = found.api.now()
        found.api.unsubscribed.add("o_gone")
        with pytest.raises(DeliveryError) as refused:
            await sender.send("o_gone", [Say("hi")], _row("o_gone"))
        assert not refused.value.retry and not tables.subscribed("o_gone")
        fetches = found.api.token_fetches
        with pytest.raises(DeliveryError):
            await sender.send("o_gone", [Say("hi")], _row("o_gone"))
        assert found.api.token_fetches == fetches
        # Without a template for the kind, a notice outside the window is given up on
        # (and the outbox's fallback sends the SMS).
        with pytest.raises(DeliveryError) as late:
            await sender.send("o_late", [Say("hi")], _row("o_late", "reporter.paused"))
        assert not late.value.retry
        await client.close()
    assert outbox  # the module the fallback uses is the outbox's


# -- settings and commands ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"app_id": "123"}, "app_id"),
        ({"app_secret": "short"}, "app_secret"),
        ({"encoding_aes_key": "x"}, "encoding_aes_key"),
        ({"mode": "loud"}, "mode"),
        ({"menu": [{"name": "报修", "key": "dance"}]}, "menu"),
        (
            {"templates": {"reporter.done": {"id": "t1", "fields": {"thing1": "{nope}"}}}},
            "templates",
        ),
        ({"colour": "red"}, "colour"),
        ({"api_base_url": "ftp:/x"}, "api_base_url"),
        ({"verify_phone": "yes"}, "verify_phone"),
    ],
)
def test_bad_settings_are_named(tmp_path: Path, change: dict[str, Any], named: str) -> None:
    table = {**wechat_table(FakeWeChatApi()), **change}
    config = make_config(tmp_path)
    from dataclasses import replace

    with pytest.raises(ConfigError) as refused:
        WeChatSettings.from_config(replace(config, extra_channels={"wechat": table}))
    assert named in refused.value.message
    assert APP_SECRET not in refused.value.message and AES_KEY not in refused.value.message


def test_plain_mode_needs_no_aes_key_and_safe_is_the_default(tmp_path: Path) -> None:
    from dataclasses import replace

    table = {"app_id": APP_ID, "app_secret": APP_SECRET, "token": TOKEN, "mode": "plain"}
    settings = WeChatSettings.from_config(
        replace(make_config(tmp_path), extra_channels={"wechat": table})
    )
    assert settings.mode == "plain" and not settings.encoding_aes_key
    table = {
        "app_id": APP_ID,
        "app_secret": APP_SECRET,
        "token": TOKEN,
        "encoding_aes_key": AES_KEY,
    }
    assert (
        WeChatSettings.from_config(
            replace(make_config(tmp_path), extra_channels={"wechat": table})
        ).mode
        == "safe"
    )


def _config_file(tmp_path: Path, api: FakeWeChatApi) -> Path:
    path = tmp_path / "baoxiu.toml"
    path.write_text(
        default_text()
        + f'\n[channels.wechat]\napp_id = "{APP_ID}"\napp_secret = "{APP_SECRET}"\n'
        + f'token = "{TOKEN}"\n'
        + f'encoding_aes_key = "{AES_KEY}"\napi_base_url = "{api.api_base_url}"\n',
        encoding="utf-8",
    )
    return path


def test_config_check_refuses_a_bad_wechat_table(tmp_path: Path) -> None:
    path = tmp_path / "baoxiu.toml"
    path.write_text(default_text() + '\n[channels.wechat]\napp_id = "nope"\n', encoding="utf-8")
    result = CliRunner().invoke(main, ["config", "check", str(path)])
    assert result.exit_code == 2
    assert "app_id" in result.output


@pytest.fixture
def api_thread() -> Any:
    """The fake API on a loop of its own thread: the CLI runs its own asyncio.run."""
    import threading

    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    api = asyncio.run_coroutine_threadsafe(FakeWeChatApi().start(), loop).result(10)
    yield api
    asyncio.run_coroutine_threadsafe(api.close(), loop).result(10)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(10)
    loop.close()


def test_wechat_menu_qrcode_and_status_commands(
    tmp_path: Path, api_thread: FakeWeChatApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # the QR code's image is written to the current folder
    from config.loader import load
    from tickets.store import Store

    path = _config_file(tmp_path, api_thread)
    config = load(path)
    config.database.parent.mkdir(parents=True, exist_ok=True)
    with Store(config.database, config):
        pass  # the commands never create a database: `baoxiu init` or serve would have
    runner = CliRunner()
    menu = runner.invoke(main, ["--config", str(path), "wechat", "menu"])
    assert menu.exit_code == 0, menu.output
    assert [b["key"] for b in api_thread.menus[0]["button"]] == ["report", "mine", "status"]
    out = tmp_path / "qr.txt"
    qrcode = runner.invoke(
        main,
        [
            "--config",
            str(path),
            "wechat",
            "qrcode",
            "--area",
            "east",
            "--building",
            "b1",
            "--out",
            str(out),
        ],
    )
    assert qrcode.exit_code == 0, qrcode.output
    assert "east__b1" in qrcode.output and "showqrcode?ticket=" in out.read_text()
    url = out.read_text().splitlines()[0]
    assert_png_encodes(Path("qrcode-east__b1.png"), url)  # the default name, in the cwd
    bad = runner.invoke(main, ["--config", str(path), "wechat", "qrcode", "--area", "a b"])
    assert bad.exit_code == 1
    status = runner.invoke(main, ["--config", str(path), "wechat", "status"])
    assert status.exit_code == 0, status.output
    assert "/wechat" in status.output and APP_ID in status.output
    assert api_thread.token_fetches == 1  # the token stored by `menu` served the others


def test_every_wechat_key_and_command_is_documented() -> None:
    from bots.wechat.settings import KEYS

    root = Path(__file__).parents[1]
    doc = (root / "docs" / "wechat.md").read_text(encoding="utf-8")
    configuration = (root / "docs" / "configuration.md").read_text(encoding="utf-8")
    assert [k for k in KEYS if f"| `{k}` |" not in doc] == []
    assert [k for k in KEYS if k != "enabled" and f"`{k}`" not in configuration] == []
    for command in ("menu", "qrcode", "status"):
        assert f"`baoxiu wechat {command}" in doc


async def test_a_reply_too_long_for_one_answer_goes_on_as_customer_service_messages(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bots.wechat.callback import split

    text = "\n".join(f"第{n}行" + "修" * 60 for n in range(40))  # ~7,500 bytes
    head, rest = split(text)
    assert len(head.encode()) <= 2000 and head + "\n" + rest == text
    async with rig(tmp_path) as found:
        engine = found.server.app[WECHAT].engine
        monkeypatch.setattr(engine, "handle", lambda *a, **kw: [Say(text)])
        user = found.user("o_long")
        shown = await user.say("/help")
        assert shown == head

        def sent_all() -> str:
            sent = "\n".join(c["text"]["content"] for c in found.api.custom)  # no choices
            return sent if "第39行" in sent else ""  # the last line has come

        sent = await _until(sent_all)
        assert f"{shown}\n{sent}" == text
        assert all(len(c["text"]["content"].encode()) <= 2000 for c in found.api.custom)


async def _until(probe: Any) -> Any:
    for _ in range(200):
        if found := probe():
            return found
        await asyncio.sleep(0.02)
    raise AssertionError("waited too long")


def assert_png_encodes(path: Path, text: str) -> None:
    """The PNG is the QR code of ``text``: each module's pixels, read back with pypng,
    are those of the symbol the qrcode library makes for ``text`` (with the quiet zone)."""
    import png
    import qrcode

    from bots.wechat.admin import PNG_BORDER, PNG_BOX

    with path.open("rb") as data:
        width, height, rows, _ = png.Reader(file=data).read()
        pixels = [list(row) for row in rows]
    symbol = qrcode.QRCode(border=PNG_BORDER)
    symbol.add_data(text)
    symbol.make(fit=True)
    matrix = symbol.get_matrix()  # with the quiet zone, True = dark
    assert width == height == len(matrix) * PNG_BOX
    middle = PNG_BOX // 2
    read = [
        [pixels[y * PNG_BOX + middle][x * PNG_BOX + middle] == 0 for x in range(len(matrix))]
        for y in range(len(matrix))
    ]
    assert read == matrix and any(map(any, matrix))


def test_qrcode_png_of_a_building(tmp_path: Path, api_thread: FakeWeChatApi) -> None:
    path = _config_file(tmp_path, api_thread)
    from config.loader import load
    from tickets.store import Store

    config = load(path)
    config.database.parent.mkdir(parents=True, exist_ok=True)
    with Store(config.database, config):
        pass
    image = tmp_path / "b1.png"
    args = ["--config", str(path), "wechat", "qrcode", "--area", "east", "--png", str(image)]
    done = CliRunner().invoke(main, args)
    assert done.exit_code == 0, done.output
    assert str(image) in done.output
    ticket = hashlib.sha1(b"east").hexdigest()  # what the fake WeChat answers for scene east
    assert_png_encodes(image, f"http://weixin.qq.com/q/{ticket[:12]}")
    nowhere = tmp_path / "missing" / "b1.png"
    refused = CliRunner().invoke(main, [*args[:-1], str(nowhere)])
    assert refused.exit_code == 1 and str(nowhere) in refused.output
