"""``baoxiu wecom status|bind|unbind`` against the fake WeCom: the token fetched through
the real client (and its failure), the callback URL and AgentId, who is bound; binding by
``--staff`` or ``--phone`` checked with WeCom's ``user/get``, the refusals, and an unbind
that the mobile match does not undo."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from fake_wecom import AES_KEY, AGENT_ID, CORP_ID, SECRET, TOKEN, FakeWeComApi

from bots.cli import main
from bots.wecom import members
from config.loader import default_text, load
from conversation.i18n import translate
from tickets.store import Store


def t(key: str, **params: object) -> str:
    return translate("zh_CN", f"wecom_cli.{key}", **params)


@pytest.fixture
def api() -> Iterator[FakeWeComApi]:
    """The fake API on a loop of its own thread: the CLI runs its own asyncio.run."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    found = asyncio.run_coroutine_threadsafe(FakeWeComApi().start(), loop).result(10)
    found.member("ZhangSan", "张三", "13800000001")
    found.member("LiSi", "李四", "13800000002")
    found.member("WangD", "王调度", "13800000009")
    yield found
    asyncio.run_coroutine_threadsafe(found.close(), loop).result(10)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(10)
    loop.close()


@pytest.fixture
def path(tmp_path: Path, api: FakeWeComApi) -> Path:
    file = tmp_path / "baoxiu.toml"
    text = default_text().replace('id = "zhang"', 'id = "zhang"\nwecom_userid = "ZhangSan"', 1)
    file.write_text(
        text
        + f'\n[channels.wecom]\ncorp_id = "{CORP_ID}"\nagent_id = {AGENT_ID}\n'
        + f'secret = "{SECRET}"\ntoken = "{TOKEN}"\nencoding_aes_key = "{AES_KEY}"\n'
        + f'api_base_url = "{api.api_base_url}"\n',
        encoding="utf-8",
    )
    config = load(file)
    config.database.parent.mkdir(parents=True, exist_ok=True)
    with Store(config.database, config):
        pass  # the commands never create a database
    return file


def run(path: Path, *args: str) -> Result:
    return CliRunner().invoke(main, ["--config", str(path), "wecom", *args])


def chat(path: Path, userid: str) -> tuple[str, str | None]:
    config = load(path)
    with Store(config.database, config) as store:
        record = store.chat("wecom", userid)
        return record.role, record.person


def test_status_shows_the_token_the_callback_and_who_is_bound(
    path: Path, api: FakeWeComApi
) -> None:
    status = run(path, "status")
    assert status.exit_code == 0, status.output
    assert t("status_token", until="|").split("|")[0] in status.output
    assert "/wecom" in status.output and str(AGENT_ID) in status.output and CORP_ID in status.output
    assert t("status_bound", technicians=0, dispatchers=0) in status.output
    assert t("status_not_bound", userid="ZhangSan", person="zhang") in status.output
    assert api.token_fetches == 1
    assert run(path, "status").exit_code == 0
    assert api.token_fetches == 1  # the stored token served
    assert run(path, "status", "--refresh").exit_code == 0
    assert api.token_fetches == 2
    api.secret = "another" * 6 + "x"  # the app's secret was reset in the admin pages
    api.expire_tokens()
    failed = run(path, "status", "--refresh")
    assert failed.exit_code == 1
    assert "40001" in failed.output and "/wecom" in failed.output
    assert t("status_token", until="|").split("|")[0] not in failed.output


def test_bind_by_staff_or_phone_checks_the_member_with_wecom(path: Path, api: FakeWeComApi) -> None:
    bound = run(path, "bind", "LiSi", "--staff", "li")
    assert bound.exit_code == 0, bound.output
    assert t("bind_checked", userid="LiSi", name="李四") in bound.output
    assert chat(path, "LiSi") == ("technician", "li")
    by_phone = run(path, "bind", "WangD", "--phone", "138 0000 0009")
    assert by_phone.exit_code == 0, by_phone.output
    assert chat(path, "WangD") == ("dispatcher", "wang")
    status = run(path, "status")
    assert t("status_bound", technicians=1, dispatchers=1) in status.output
    assert "LiSi" in status.output and "李师傅" in status.output


@pytest.mark.parametrize(
    ("args", "key", "params"),
    [
        (["bind", "LiSi"], "one_of", {}),
        (["bind", "LiSi", "--staff", "li", "--phone", "13800000002"], "one_of", {}),
        (["bind", "LiSi", "--staff", "nobody"], "no_staff", {"staff": "nobody"}),
        (["bind", "LiSi", "--phone", "13700000000"], "no_phone", {"phone": "13700000000"}),
        (["bind", "Li Si", "--staff", "li"], "bad_userid", {"userid": "Li Si"}),
        (["bind", "Ghost", "--staff", "li"], "no_member", {"userid": "Ghost"}),
        (
            ["bind", "zhangsan", "--staff", "li"],
            "configured_for",
            {"userid": "zhangsan", "person": "zhang"},
        ),
        (["unbind", "a b"], "bad_userid", {"userid": "a b"}),
    ],
)
def test_bad_bindings_are_refused_clearly_and_change_nothing(
    path: Path, args: list[str], key: str, params: dict[str, str]
) -> None:
    refused = run(path, *args)
    assert refused.exit_code == 1
    assert t(key, **params) in refused.output
    config = load(path)
    with Store(config.database, config) as store:
        assert members.bound_chats(store) == []
        assert members.marks(store) == []


def test_unbind_makes_a_reporter_that_the_mobile_does_not_bind_again(
    path: Path, api: FakeWeComApi
) -> None:
    assert run(path, "bind", "LiSi", "--staff", "li").exit_code == 0
    unbound = run(path, "unbind", "LiSi")
    assert unbound.exit_code == 0, unbound.output
    assert t("unbound", userid="LiSi", person="li") in unbound.output
    assert chat(path, "LiSi") == ("reporter", None)
    assert t("not_bound", userid="LiSi") in run(path, "unbind", "LiSi").output
    unbind_configured = run(path, "unbind", "ZhangSan")
    assert t("not_bound", userid="ZhangSan") in unbind_configured.output
    status = run(path, "status")
    assert t("status_unbound", userid="ZhangSan", person="zhang") in status.output
    config = load(path)
    with Store(config.database, config) as store:
        assert members.mark_of(store, "lisi") is not None
    assert run(path, "bind", "LiSi", "--staff", "li").exit_code == 0
    with Store(config.database, config) as store:
        assert members.mark_of(store, "lisi") is None
