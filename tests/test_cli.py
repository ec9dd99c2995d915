"""The `baoxiu` command, through click's runner: init, config check, tickets list /
show / export, and the way a bad configuration ends every command."""

from __future__ import annotations

import csv
import io
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import NOW, draft, make_ticket

from bots.cli import main
from bots.cli.tickets import FIELDS, _cell, row_formatter, value_text
from config.loader import check, load, starter_text
from config.model import Config
from conversation.i18n import local_time, translate
from tickets.errors import ConfigError
from tickets.model import Action, Actor, Role, State
from tickets.rows import ticket_from_row, ticket_row
from tickets.store import Store

BAD_TOML = starter_text().replace('locale = "zh_CN"', 'locale = "fr"', 1)


def cli(locale: str, key: str, **params: object) -> str:
    return translate(locale, f"cli.{key}", **params)


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """The built-in configuration, its data under the test's folder; shell in Chinese."""
    values = {"BAOXIU_DATA_DIR": str(tmp_path / "data"), "LANG": "", "LC_ALL": ""}
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("BAOXIU_CONFIG", raising=False)
    return values


@pytest.fixture
def default(env: dict[str, str]) -> Config:
    return load(None)


@pytest.fixture
def tickets(default: Config) -> list[str]:
    """Three tickets on the built-in configuration; the first worked on and rated."""
    default.database.parent.mkdir(parents=True)
    with Store(default.database, default) as store:
        first = store.create_ticket(draft("water.leak", chat="alice", spot="3楼302"), NOW)
        zhang = Actor(Role.TECHNICIAN, "zhang", "张师傅", frozenset({"maint"}))
        alice = Actor.reporter("web", "alice")
        store.apply(first.number, Action.CLAIM, zhang, NOW)
        store.apply(first.number, Action.SIGN_IN, zhang, NOW)
        store.apply(first.number, Action.RESOLVE, zhang, NOW, note="换了水管接头")
        store.apply(first.number, Action.RATE, alice, NOW, data={"rating": 5}, note="很快")
        second = store.create_ticket(
            draft("power.outage", chat="bob", description='=HYPERLINK("http://x")'), NOW
        )
        third = store.create_ticket(draft("network.wifi", chat="carol"), NOW)
    return [first.number, second.number, third.number]


# -- every command has help ------------------------------------------------------------------


@pytest.mark.parametrize(
    "command",
    [
        [],
        ["serve"],
        ["chat"],
        ["init"],
        ["config"],
        ["config", "check"],
        ["tickets"],
        ["tickets", "list"],
        ["tickets", "show"],
        ["tickets", "export"],
    ],
)
def test_every_command_has_help(runner: CliRunner, command: list[str]) -> None:
    result = runner.invoke(main, [*command, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage:" in result.output


# -- init and check ------------------------------------------------------------------------------


def test_init_writes_the_default_and_will_not_overwrite(
    runner: CliRunner, tmp_path: Path, env: dict[str, str]
) -> None:
    target = tmp_path / "baoxiu.toml"
    result = runner.invoke(main, ["init", str(target)])
    assert result.exit_code == 0, result.output
    assert cli("zh_CN", "init_written", path=target) in result.output
    # What init writes is what the service runs without a file (issue 12 item 13).
    written = load(target)
    assert replace(written, source="", database=Path(), media_dir=Path()) == replace(
        load(None), source="", database=Path(), media_dir=Path()
    )

    target.write_text("# mine\n", encoding="utf-8")
    result = runner.invoke(main, ["init", str(target)], env={"LANG": "en_GB.UTF-8"})
    assert result.exit_code == 1
    assert cli("en", "init_exists", path=target) in result.output
    assert target.read_text(encoding="utf-8") == "# mine\n"

    result = runner.invoke(main, ["init", str(target), "--force", "--example"])
    assert result.exit_code == 0
    assert target.read_text(encoding="utf-8") == starter_text()


def test_init_defaults_to_baoxiu_toml_here(
    runner: CliRunner, tmp_path: Path, env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert runner.invoke(main, ["init"]).exit_code == 0
    assert "[[categories]]" in (tmp_path / "baoxiu.toml").read_text(encoding="utf-8")


def test_help_lists_whole_command_descriptions(runner: CliRunner) -> None:
    """Issue 12 item 13: "Write a commented starter configuration to PATH (default:..." """
    en = {"LANG": "en_US.UTF-8"}
    for args in ([], ["outage"], ["tickets"]):
        out = runner.invoke(main, [*args, "--help"], terminal_width=80, env=en).output
        listed = out.split("Commands:")[1]
        assert "..." not in listed, out
    out = runner.invoke(main, ["outage", "--help"], terminal_width=80, env=en).output
    assert "told now." in out
    zh = runner.invoke(main, ["outage", "--help"], terminal_width=80, env={"LANG": ""}).output
    assert "现在就会收到通知。" in zh


def test_check_a_good_file_prints_ok_and_a_summary(
    runner: CliRunner, tmp_path: Path, env: dict[str, str]
) -> None:
    target = tmp_path / "site.toml"
    target.write_text(starter_text(), encoding="utf-8")
    config = check(target)

    result = runner.invoke(main, ["config", "check", str(target)])

    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == cli(config.locale, "check_ok", source=config.source)
    assert (
        cli(
            config.locale,
            "summary_people",
            teams=len(config.teams),
            technicians=len(config.technicians),
            dispatchers=len(config.dispatchers),
        )
        in lines
    )


def test_check_without_a_path_checks_the_built_in_default(
    runner: CliRunner, default: Config
) -> None:
    result = runner.invoke(main, ["config", "check"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith(cli("zh_CN", "check_ok", source="<default>"))


@pytest.mark.parametrize("how", ["argument", "option", "env"])
def test_a_bad_file_is_refused_with_its_message_and_status_2(
    runner: CliRunner, tmp_path: Path, env: dict[str, str], how: str
) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text(BAD_TOML, encoding="utf-8")
    with pytest.raises(ConfigError) as expected:
        check(bad, locale="zh_CN")  # the shell's language (zh_CN unless LANG says en)

    args, extra = {
        "argument": (["config", "check", str(bad)], {}),
        "option": (["--config", str(bad), "config", "check"], {}),
        "env": (["config", "check"], {"BAOXIU_CONFIG": str(bad)}),
    }[how]
    result = runner.invoke(main, args, env=extra)

    assert result.exit_code == 2
    assert expected.value.message in result.output
    assert cli("zh_CN", "config_invalid", message=expected.value.message) in result.output
    assert "不是 zh_CN, en 之一" in result.output  # header and details in one language


def test_config_check_reports_in_the_shells_language(
    runner: CliRunner, tmp_path: Path, env: dict[str, str]
) -> None:
    """Issue 12 items 13 and 16: a Chinese header over English details."""
    bad = tmp_path / "bad.toml"
    text = starter_text().replace('timezone = "Asia/Shanghai"', 'timezone = "Mars/Base"', 1)
    bad.write_text(text.replace("confirm_window_hours = 72", "confirm_window_hours = 0"), "utf-8")
    zh = runner.invoke(main, ["config", "check", str(bad)]).output
    assert "配置文件有误" in zh and "不是已知的时区" in zh and "必须是整数（小时），至少为 1" in zh
    assert "not a known time zone" not in zh
    en = runner.invoke(main, ["config", "check", str(bad)], env={"LANG": "en_US.UTF-8"}).output
    assert "not a known time zone" in en and "must be a whole number of hours, 1 or more" in en
    assert "不是" not in en


@pytest.mark.parametrize(
    "command", [["tickets", "list"], ["tickets", "show", "BX1"], ["tickets", "export"], ["chat"]]
)
def test_a_bad_configuration_ends_every_command_with_status_2(
    runner: CliRunner, tmp_path: Path, env: dict[str, str], command: list[str]
) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text(BAD_TOML, encoding="utf-8")
    result = runner.invoke(main, ["--config", str(bad), *command])
    assert result.exit_code == 2
    assert "locale" in result.output
    assert "Traceback" not in result.output


def test_subcommand_config_option_works_too(
    runner: CliRunner, tmp_path: Path, env: dict[str, str]
) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text(BAD_TOML, encoding="utf-8")
    assert runner.invoke(main, ["tickets", "list", "--config", str(bad)]).exit_code == 2


def test_serve_runs_the_server_with_host_and_port_overrides(
    runner: CliRunner, default: Config, monkeypatch: pytest.MonkeyPatch
) -> None:
    import bots.app

    served: list[Config] = []
    monkeypatch.setattr(bots.app, "run", served.append)
    result = runner.invoke(main, ["serve", "--host", "0.0.0.0", "--port", "9090"])
    assert result.exit_code == 0, result.output
    [config] = served
    assert (config.web.host, config.web.port) == ("0.0.0.0", 9090)
    assert config.database == default.database
    assert default.database.parent.is_dir()
    # Startup says which configuration, which database, which channels (issue 12 item 14).
    said = result.output
    assert cli("zh_CN", "startup_config", source=cli("zh_CN", "startup_default")) in said
    assert str(default.database) in said
    assert "已开启的渠道：网页报修 http://0.0.0.0:9090/chat, 终端（baoxiu chat）" in said


def test_chat_refuses_when_the_terminal_channel_is_off(
    runner: CliRunner, tmp_path: Path, env: dict[str, str]
) -> None:
    off = tmp_path / "off.toml"
    text = starter_text()
    at = text.index("[channels.terminal]")
    off.write_text(text[:at] + text[at:].replace("enabled = true", "enabled = false", 1), "utf-8")
    result = runner.invoke(main, ["--config", str(off), "chat"], input="")
    assert result.exit_code == 2
    assert cli("zh_CN", "terminal_disabled") in result.output


def test_chat_as_needs_role_and_id(runner: CliRunner, default: Config) -> None:
    for given in ("zhang", "admin:zhang", "technician:"):
        result = runner.invoke(main, ["chat", "--as", given], input="")
        assert result.exit_code == 2
        assert cli("zh_CN", "as_invalid", given=given) in result.output
    result = runner.invoke(main, ["chat", "--as", "technician:ghost"], input="")
    assert result.exit_code == 2
    assert translate("zh_CN", "errors.unknown_person", person="technician:ghost") in result.output


# -- tickets ----------------------------------------------------------------------------------


def test_list_shows_tickets_newest_first(
    runner: CliRunner, default: Config, tickets: list[str]
) -> None:
    result = runner.invoke(main, ["tickets", "list"])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].split()[0] == cli("zh_CN", "field.number")
    shown = [line.split()[0] for line in lines[1:]]
    assert sorted(shown) == sorted(tickets)
    closed = next(line for line in lines if line.startswith(tickets[0]))
    assert translate("zh_CN", "states.closed") in closed
    assert "张师傅" in closed
    assert "水/漏水" in closed


def test_list_filters_by_state_and_limit(
    runner: CliRunner, default: Config, tickets: list[str]
) -> None:
    result = runner.invoke(main, ["tickets", "list", "--state", "closed"])
    assert [line.split()[0] for line in result.stdout.splitlines()[1:]] == [tickets[0]]
    result = runner.invoke(main, ["tickets", "list", "--limit", "1"])
    _header, first, more = result.stdout.splitlines()
    assert more.startswith("--after ")
    result = runner.invoke(main, ["tickets", "list", "--limit", "1", *more.split()])
    assert result.exit_code == 0, result.output
    second = result.stdout.splitlines()[1]
    assert second.split()[0] != first.split()[0]
    assert second.split()[0] in tickets
    result = runner.invoke(main, ["tickets", "list", "--after", "garbage"])
    assert result.exit_code == 2
    assert translate("zh_CN", "errors.invalid_input") in result.output
    assert "--cursor" in result.output
    result = runner.invoke(main, ["tickets", "list", "--state", "lost"])
    assert result.exit_code == 2  # click refuses a state that does not exist


def test_list_of_nothing(runner: CliRunner, default: Config) -> None:
    default.database.parent.mkdir(parents=True)
    Store(default.database, default).close()
    result = runner.invoke(main, ["tickets", "list"])
    assert result.exit_code == 0
    assert result.stdout.strip() == cli("zh_CN", "list_empty")
    assert result.stderr.strip() == cli("zh_CN", "using_database", path=default.database)


@pytest.mark.parametrize(
    "command", [["tickets", "list"], ["tickets", "show", "1"], ["outbox", "list"]]
)
def test_a_read_command_never_makes_an_empty_database(
    runner: CliRunner, default: Config, command: list[str]
) -> None:
    # Run with the wrong configuration (or from the wrong place), a read command used to
    # create an empty database and show an empty desk.
    result = runner.invoke(main, command)
    assert result.exit_code == 2
    missing = translate("zh_CN", "errors.no_database", path=default.database)
    assert missing in result.stderr
    assert not default.database.exists()


def test_show_prints_fields_and_timeline_in_local_time(
    runner: CliRunner, default: Config, tickets: list[str]
) -> None:
    result = runner.invoke(main, ["tickets", "show", tickets[0].lower()])
    assert result.exit_code == 0, result.output
    out = result.output
    assert tickets[0] in out
    assert "换了水管接头" in out and "很快" in out
    assert "+8613812345678" in out  # the operator sees the whole phone
    assert cli("zh_CN", "timeline") in out
    timeline = out.split(cli("zh_CN", "timeline"))[1].strip().splitlines()
    actions = ["accept", "claim", "sign_in", "resolve", "rate"]
    assert len(timeline) == len(actions)
    for line, action in zip(timeline, actions, strict=True):
        assert line.startswith(local_time(NOW, default.timezone, "%Y-%m-%d %H:%M:%S"))
        assert translate("zh_CN", f"actions.{action}") in line
    assert "2026-11-23 16:00:00" in timeline[0]  # 08:00 UTC in Asia/Shanghai


def test_show_an_unknown_ticket(runner: CliRunner, default: Config, tickets: list[str]) -> None:
    result = runner.invoke(main, ["tickets", "show", "BX20990101-0001"])
    assert result.exit_code == 1
    assert translate("zh_CN", "errors.ticket_not_found", number="BX20990101-0001") in result.output


def test_export_writes_every_ticket_as_excel_ready_csv(
    runner: CliRunner, default: Config, tickets: list[str], tmp_path: Path
) -> None:
    target = tmp_path / "out.csv"
    result = runner.invoke(main, ["tickets", "export", "--csv", "--output", str(target)])
    assert result.exit_code == 0, result.output
    raw = target.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")

    rows = list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"))))
    number = cli("zh_CN", "field.number")
    assert sorted(row[number] for row in rows) == sorted(tickets)
    by_number = {row[number]: row for row in rows}
    rated = by_number[tickets[0]]
    assert rated[cli("zh_CN", "field.rating")] == "5"
    assert rated[cli("zh_CN", "field.created_at")] == "2026-11-23 16:00:00"
    # A reporter's text must not become an Excel formula.
    formula = by_number[tickets[1]][cli("zh_CN", "field.description")]
    assert formula == '\'=HYPERLINK("http://x")'
    assert cli("zh_CN", "export_written", count=3, path=target) in result.output


def test_export_to_standard_output(runner: CliRunner, default: Config, tickets: list[str]) -> None:
    result = runner.invoke(main, ["tickets", "export"])
    assert result.exit_code == 0
    assert result.stdout_bytes.startswith(b"\xef\xbb\xbf")
    assert len(result.stdout_bytes.decode("utf-8-sig").strip().splitlines()) == 4


def test_export_cells_are_what_show_prints(default: Config, tmp_path: Path) -> None:
    """The streaming formatter (stored rows, no Ticket per row) gives each field's
    value_text, formula-neutralised, for a ticket with every field set."""
    full = make_ticket(
        state=State.PAUSED,
        paused_from=State.ON_SITE,
        holder="zhang",
        latitude=-31.5,
        longitude=121.25,
        photos=("a.jpg", "b.jpg"),
        resolution_photos=("=c.jpg",),
        description="-1+1",
        claim_due=NOW,
        signed_in_at=NOW,
        distance_m=12.5,
        rating=4,
        hurry_count=2,
        overdue="claim,arrive",
        master="BX20261123-0009",
    )
    with Store(tmp_path / "x.db", default) as store:
        with store.transaction():
            row = ticket_row(full)
            store.db.execute(
                f"INSERT INTO tickets ({', '.join(row)}) VALUES ({', '.join('?' * len(row))})",
                list(row.values()),
            )
        [stored] = store.query("SELECT * FROM tickets")
    ticket = ticket_from_row(stored)
    expected = [_cell(value_text(default, n, getattr(ticket, n), "zh_CN")) for n in FIELDS]
    assert row_formatter(default, list(stored))(list(stored.values())) == expected
    assert "'-1+1" in expected and "'=c.jpg" in expected and "'-31.5" in expected


# -- issue 12 item 13: tickets show reads like a desk, not like Python ---------------------


@pytest.mark.parametrize("typed", ["1", "0001", "20261123-0001", "bx20261123-0001"])
def test_show_finds_a_ticket_by_its_short_number(
    runner: CliRunner,
    default: Config,
    tickets: list[str],
    typed: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from bots.cli import tickets as cli_tickets

    monkeypatch.setattr(cli_tickets, "now", lambda: NOW)  # today is 2026-11-23
    result = runner.invoke(main, ["tickets", "show", typed])
    assert result.exit_code == 0, result.output
    assert tickets[0] == "BX20261123-0001" and "BX20261123-0001" in result.output


def test_show_renders_the_routing_decision_readably(
    runner: CliRunner, default: Config, tickets: list[str]
) -> None:
    result = runner.invoke(main, ["tickets", "show", tickets[0]])
    out = result.output
    assert "route=" not in out and "{'" not in out and "candidates" not in out
    assert "派单：班组" in out and "候选" in out
    assert "评价: 5" in out  # a data key by its field name


@pytest.mark.parametrize("zone", ["Asia/Shanghai", "Europe/Berlin", "America/St_Johns"])
def test_export_times_match_show_across_zones_and_dst(default: Config, zone: str) -> None:
    """The export converts each UTC hour once: it must agree with local_time for every
    minute around a DST change and in a half-hour zone."""
    config = replace(default, timezone=zone)
    names = list(FIELDS)
    cells = row_formatter(config, names)
    at = names.index("created_at")
    start = datetime(2026, 3, 29, 0, 0, tzinfo=UTC)  # Berlin moves at 01:00 UTC
    for minutes in range(0, 6 * 60, 7):
        moment = start + timedelta(minutes=minutes, seconds=minutes % 60)
        row = [None] * len(names)
        row[names.index("created_at")] = ticket_row(make_ticket(created_at=moment))["created_at"]
        assert cells(row)[at] == local_time(moment, zone, "%Y-%m-%d %H:%M:%S")


def test_help_is_in_the_shells_language(runner: CliRunner, env: dict[str, str]) -> None:
    """Issue 12 item 16: every --help was English while the desk reads Chinese."""
    zh = runner.invoke(main, ["--help"]).output
    assert "以聊天为主的报修服务台" in zh and "查看和导出工单。" in zh
    out = runner.invoke(main, ["outage", "add", "--help"]).output
    assert "发布计划停电" in out and "区域代码或名称" in out and "执行此操作的调度员" in out
    en = runner.invoke(main, ["outage", "add", "--help"], env={"LANG": "en_GB.UTF-8"}).output
    assert "Publish a planned outage" in en and "Area code or name." in en
    assert "发布计划停电" not in en
    again = runner.invoke(main, ["tickets", "show", "--help"]).output  # back to the shell's
    assert "显示一张工单" in again and "今天的" in again
