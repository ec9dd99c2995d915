"""The configuration loader: the built-in default, the starter file, and every way a
file can be wrong, each refused with a message naming the key, the value and the fix."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from config import DEFAULT_LIMITS, check, load, load_text, starter_text
from config.loader import DATA_DIR_ENV, SCHEMA, default_text
from tickets.errors import BaoxiuError, ConfigError
from tickets.model import Mode, Priority

ROOT = Path(__file__).parents[1]

BASE = """\
[service]
timezone = "Asia/Shanghai"

[[categories]]
code = "water"
zh = "水"
en = "Water"
team = "maint"

[[categories.children]]
code = "leak"
zh = "漏水"
en = "Leak"
priority = "high"

[[categories.children]]
code = "blocked"
zh = "堵塞"
en = "Blocked drain"

[[areas]]
code = "east"
zh = "东区"
en = "East"
buildings = [{ code = "b1", zh = "1号楼", en = "Building 1" }]

[[teams]]
code = "maint"
name = "维修班"
members = ["zhang"]

[[technicians]]
id = "zhang"
name = "张师傅"
phone = "13800000001"
skills = ["water"]
areas = ["east"]

[[dispatchers]]
id = "wang"
name = "王调度"
phone = "+8613800000009"
"""

TECH_LI = '\n[[technicians]]\nid = "li"\nname = "李师傅"\nphone = "+8613800000002"\n'


def edited(*edits: tuple[str, str]) -> str:
    """BASE with each (old, new) replaced once; an empty ``old`` appends ``new``."""
    text = BASE
    for old, new in edits:
        if old:
            assert old in text, old
            text = text.replace(old, new, 1)
        else:
            text += new
    return text


@pytest.fixture(autouse=True)
def _no_data_dir(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(DATA_DIR_ENV, raising=False)


# -- the built-in default -----------------------------------------------------------


def test_default_categories_are_the_documented_tree() -> None:
    config = load(None)
    tree = {g.code: (g.zh, [c.code for c in g.children]) for g in config.categories}
    assert tree == {
        "power": ("电力", ["power.outage", "power.trip", "power.socket"]),
        "water": ("水", ["water.leak", "water.no_water", "water.blocked"]),
        "network": ("网络", ["network.broadband", "network.wifi"]),
        "doors": ("门窗", ["doors.lock", "doors.window"]),
        "public": ("公共设施", ["public.lighting", "public.lift"]),
    }
    names = {c.code: c.zh for c in config.all_categories()}
    assert names["power.outage"] == "停电" and names["power.socket"] == "插座无电"
    assert names["water.leak"] == "漏水" and names["public.lift"] == "电梯"


def test_default_priorities_modes_and_limits() -> None:
    config = load(None)
    priorities = {c.code: c.priority for c in config.all_categories()}
    assert priorities["power.outage"] is Priority.URGENT
    assert priorities["water.leak"] is Priority.HIGH
    assert priorities["public.lighting"] is Priority.LOW
    assert priorities["public.lift"] is Priority.URGENT
    assert priorities["network.wifi"] is Priority.NORMAL
    outage = config.category("power.outage")
    assert outage is not None and outage.mode is Mode.CLAIM and outage.group == "power"
    for leaf in config.all_categories():
        assert leaf.team == "maint"
        assert leaf.zh and leaf.en and leaf.keywords
        assert leaf.limits == DEFAULT_LIMITS[leaf.priority]
    assert dict(config.limits) == dict(DEFAULT_LIMITS)
    minutes = {p.value: (t.claim, t.arrive, t.resolve) for p, t in config.limits.items()}
    assert minutes == {
        "urgent": (15, 60, 240),
        "high": (30, 120, 480),
        "normal": (60, 480, 2880),
        "low": (240, 1440, 10080),
    }


def test_default_keywords() -> None:
    config = load(None)
    leak, outage = config.category("water.leak"), config.category("power.outage")
    assert leak is not None and {"漏", "渗水", "水管"} <= set(leak.keywords)
    assert outage is not None and {"没电", "断电"} <= set(outage.keywords)


def test_default_areas_people_and_channels() -> None:
    config = load(None)
    east, west = config.area("east"), config.area("west")
    assert east is not None and [b.zh for b in east.buildings] == ["1号楼", "2号楼", "3号楼"]
    assert west is not None and [b.code for b in west.buildings] == ["canteen", "library"]
    assert west.building("library") is not None and west.name("en") == "West district"
    team = config.team("maint")
    assert team is not None and team.name == "综合维修班" and team.members == ("zhang", "li")
    zhang, li = config.technician("zhang"), config.technician("li")
    assert zhang is not None and (zhang.name, zhang.phone) == ("张师傅", "+8613800000001")
    assert li is not None and (li.name, li.phone) == ("李师傅", "+8613800000002")
    assert set(zhang.skills) == {g.code for g in config.categories}
    assert set(zhang.areas) == {"east", "west"}
    wang = config.dispatcher("wang")
    assert wang is not None and (wang.name, wang.phone) == ("王调度", "+8613800000009")
    assert config.person_by_phone("+8613800000009") == wang
    assert config.teams_of("li") == frozenset({"maint"})
    assert (config.locale, config.timezone, config.confirm_window_hours) == (
        "zh_CN",
        "Asia/Shanghai",
        72,
    )
    assert config.web.enabled and (config.web.host, config.web.port) == ("127.0.0.1", 8080)
    assert config.terminal_enabled and dict(config.extra_channels) == {}
    assert config.source == "<default>"


def test_default_data_lives_in_one_place_wherever_a_command_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Once under the working folder: a CLI run from elsewhere used another database.
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("XDG_DATA_HOME", raising=False)
    found = set()
    for folder in ("a", "b"):
        (tmp_path / folder).mkdir()
        monkeypatch.chdir(tmp_path / folder)
        found.add(load(None).database)
    assert found == {tmp_path / "home" / ".local" / "share" / "baoxiu" / "baoxiu.db"}
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    config = load(None)
    assert config.database == tmp_path / "xdg" / "baoxiu" / "baoxiu.db"
    assert config.media_dir == tmp_path / "xdg" / "baoxiu" / "media"
    assert not (tmp_path / "xdg").exists()  # loading creates nothing


def test_data_dir_variable_moves_the_default_data(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(DATA_DIR_ENV, str(tmp_path / "state"))
    config = load(None)
    assert config.database == tmp_path / "state" / "baoxiu.db"
    assert config.media_dir == tmp_path / "state" / "media"
    # An operator's file says where its data lives; the variable is for the default only.
    path = tmp_path / "etc" / "baoxiu.toml"
    path.parent.mkdir()
    path.write_text(BASE, encoding="utf-8")
    assert load(path).database == tmp_path / "etc" / "data" / "baoxiu.db"


def test_default_toml_is_the_embedded_default() -> None:
    assert default_text() == (ROOT / "config" / "default.toml").read_text(encoding="utf-8")


# -- the starter file ----------------------------------------------------------------


def test_starter_loads_and_shows_every_key(tmp_path: Path) -> None:
    path = tmp_path / "baoxiu.toml"
    path.write_text(starter_text(), encoding="utf-8")
    config = check(path)
    assert config.source == str(path)
    assert config.category("water.leak") is not None
    text = starter_text()
    for kind, keys in SCHEMA.items():
        if kind in ("limits", "teams.groups", "channels"):  # names, not keys
            continue
        for key in keys:
            shown = re.search(rf"(^|[{{ ]){key} = ", text, re.M) or re.search(
                rf"\[\[?([a-z]+\.)?{key}[].]", text
            )
            assert shown, f"{kind}.{key} is not shown in the starter"


def test_starter_explains_in_both_languages() -> None:
    text = starter_text()
    comments = [line for line in text.splitlines() if line.startswith("#")]
    assert sum(bool(re.search(r"[\u4e00-\u9fff]", c)) for c in comments) >= 20
    assert sum(bool(re.fullmatch(r"[\x00-\x7f≤→…]*", c)) for c in comments) >= 20


def test_starter_layers_group_and_leaf_overrides() -> None:
    config = load_text(starter_text())
    leak, socket = config.category("water.leak"), config.category("power.socket")
    assert leak is not None and leak.priority is Priority.HIGH
    # high limits, then the group's resolve, then the leaf's claim
    assert (leak.limits.claim, leak.limits.arrive, leak.limits.resolve) == (20, 120, 2880)
    assert socket is not None and socket.mode is Mode.MANUAL


# -- files, paths and phones ---------------------------------------------------------


def test_relative_paths_resolve_against_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "site"
    folder.mkdir()
    (folder / "baoxiu.toml").write_text(
        edited(("[service]\n", '[service]\ndatabase = "db/x.db"\nmedia_dir = "/srv/media"\n')),
        encoding="utf-8",
    )
    monkeypatch.chdir(tmp_path)
    config = load(Path("site/baoxiu.toml"))
    assert config.database == folder / "db" / "x.db"
    assert config.media_dir == Path("/srv/media")
    assert load("site/baoxiu.toml").database == config.database  # str works as well


def test_phones_are_stored_as_e164() -> None:
    text = edited(
        ('phone = "13800000001"', 'phone = "138 0000 0001"'),
        ('phone = "+8613800000009"', 'phone = "+86 (138) 0000-0009"'),
        ("", TECH_LI.replace("+8613800000002", "+1 650 253 0000")),
    )
    config = load_text(text)
    assert [t.phone for t in config.technicians] == ["+8613800000001", "+16502530000"]
    assert config.dispatchers[0].phone == "+8613800000009"
    assert config.person_by_phone("+8613800000001") == config.technicians[0]


def test_overrides_and_extra_channels_are_kept() -> None:
    text = edited(
        ('en = "Blocked drain"', 'en = "Blocked drain"\nteam = "pipes"\nlimits = { claim = 5 }'),
        ("", '\n[[teams]]\ncode = "pipes"\nname = "管道班"\nmembers = ["zhang"]\n'),
        ("", '[teams.groups]\ntelegram = ["-100123"]\n'),
        ("", '\n[channels.telegram]\ntoken = "t"\nadmins = ["1", "2"]\nenabled = false\n'),
        ("", '\n[channels.web]\npublic_url = "https://repair.example.com/"\nport = 9000\n'),
    )
    config = load_text(text)
    blocked = config.category("water.blocked")
    assert blocked is not None and blocked.team == "pipes"
    assert blocked.limits == dataclasses.replace(DEFAULT_LIMITS[Priority.NORMAL], claim=5)
    pipes = config.team("pipes")
    assert pipes is not None and dict(pipes.groups) == {"telegram": ("-100123",)}
    telegram = config.extra_channels["telegram"]
    assert telegram["token"] == "t" and telegram["admins"] == ["1", "2"]
    with pytest.raises(TypeError):
        telegram["token"] = "other"  # type: ignore[index]
    assert (config.web.public_url, config.web.port) == ("https://repair.example.com", 9000)


def test_file_errors_name_the_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"missing\.toml: cannot be read .* check the path"):
        load(tmp_path / "missing.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text(edited(('phone = "13800000001"', 'phone = "1"')), encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        check(bad)
    assert str(info.value).startswith(f'{bad}: technicians[zhang].phone = "1"')
    latin = tmp_path / "latin.toml"
    latin.write_bytes(BASE.encode("gbk"))
    with pytest.raises(ConfigError, match="not UTF-8 — save the file as UTF-8"):
        load(latin)


def test_config_error_is_a_baoxiu_error() -> None:
    with pytest.raises(BaoxiuError) as info:
        load_text("")
    assert isinstance(info.value, ConfigError) and info.value.key == "errors.config"
    assert str(info.value) == info.value.message


# -- bad files -----------------------------------------------------------------------

LEAK_PRIORITY = 'priority = "high"'

BAD: list[tuple[str, tuple[tuple[str, str], ...], tuple[str, ...]]] = [
    (
        "bad priority",
        ((LEAK_PRIORITY, 'priority = "hgh"'),),
        (
            'categories[water].children[leak].priority = "hgh": '
            "not one of urgent, high, normal, low — use one of those",
        ),
    ),
    (
        "unknown key",
        (('name = "维修班"', 'nmae = "维修班"'),),
        ('teams[maint].nmae = "维修班": unknown key', "did you mean name?", "code, name, members"),
    ),
    (
        "unknown top-level table",
        (("", '\n[servce]\nlocale = "en"\n'),),
        ("servce = {locale = ", "unknown key", "did you mean service?", "categories, areas"),
    ),
    (
        "unknown team",
        (('team = "maint"', 'team = "mant"'),),
        ('categories[water].team = "mant": no such team', "use one of maint", "add a [[teams]]"),
    ),
    (
        "bad phone",
        (('phone = "13800000001"', 'phone = "12345"'),),
        ('technicians[zhang].phone = "12345": not a valid phone number', '"+8613800000001"'),
    ),
    (
        "phone written as a number",
        (('phone = "13800000001"', "phone = 13800000001"),),
        ("technicians[zhang].phone = 13800000001: must be text", 'double quotes: "13800000001"'),
    ),
    (
        "duplicate person id",
        (("", TECH_LI.replace('"li"', '"zhang"')),),
        (
            'technicians[1].id = "zhang": duplicate person id',
            "technicians[0].id already uses it; give each one its own",
        ),
    ),
    (
        "technician and dispatcher share an id",
        (('id = "wang"', 'id = "zhang"'),),
        ('dispatchers[zhang].id = "zhang": duplicate person id', "technicians[zhang].id already"),
    ),
    (
        "duplicate phone, written differently",
        (('phone = "+8613800000009"', 'phone = "+86 138 0000 0001"'),),
        ('dispatchers[wang].phone = "+8613800000001": duplicate phone', "technicians[zhang].phone"),
    ),
    (
        "duplicate category code",
        (('code = "blocked"', 'code = "leak"'),),
        (
            'categories[water].children[1].code = "leak": duplicate category code',
            "categories[water].children[0].code already uses it",
        ),
    ),
    (
        "bad timezone",
        (('timezone = "Asia/Shanghai"', 'timezone = "Asia/Shang"'),),
        ('service.timezone = "Asia/Shang": not a known time zone', '"Asia/Shanghai"'),
    ),
    (
        "negative limit",
        (("", "\n[limits.urgent]\nclaim = -5\n"),),
        ("limits.urgent.claim = -5: must be a whole number of minutes, 1 or more", "claim = 15"),
    ),
    (
        "limit in quotes",
        (("", '\n[limits.low]\nresolve = "7d"\n'),),
        ('limits.low.resolve = "7d": must be a whole number of minutes', "without quotes"),
    ),
    (
        "limits out of order",
        (("", "\n[limits.high]\narrive = 10\n"),),
        ("limits.high.arrive = 10: arrive (10) is less than claim (30)", "claim ≤ arrive"),
    ),
    (
        "category limit out of order",
        ((LEAK_PRIORITY, LEAK_PRIORITY + "\nlimits = { resolve = 60 }"),),
        (
            "categories[water].children[leak].limits.resolve = 60: "
            "resolve (60) is less than arrive",
            "keep claim ≤ arrive ≤ resolve",
        ),
    ),
    (
        "unknown priority table",
        (("", "\n[limits.critical]\nclaim = 5\n"),),
        ("limits.critical = {claim = 5}: unknown key", "urgent, high, normal, low"),
    ),
    (
        "bad locale",
        (("[service]\n", '[service]\nlocale = "fr"\n'),),
        ('service.locale = "fr": not one of zh_CN, en — use one of those',),
    ),
    (
        "member not a technician",
        (('members = ["zhang"]', 'members = ["zhang", "lee"]'),),
        (
            'teams[maint].members[1] = "lee": not a configured technician',
            'add a [[technicians]] entry with id = "lee"',
        ),
    ),
    (
        "skill unknown",
        (('skills = ["water"]', 'skills = ["leak"]'),),
        ('technicians[zhang].skills[0] = "leak": not a category code', "did you mean water.leak?"),
    ),
    (
        "area unknown",
        (('areas = ["east"]', 'areas = ["east", "north"]'),),
        ('technicians[zhang].areas[1] = "north": no such area', "use one of east"),
    ),
    (
        "not TOML",
        (('code = "water"', "code = water"),),
        ('line 5 = "code = water": not valid TOML', 'text in "double quotes"'),
    ),
    (
        "missing name",
        (('zh = "漏水"\n', ""),),
        ('categories[water].children[leak].zh: missing — add zh = "漏水"',),
    ),
    (
        "bad code",
        (('code = "leak"', 'code = "Leak.1"'),),
        ('categories[water].children[0].code = "Leak.1": not a valid code', "lowercase letters"),
    ),
    (
        "no categories",
        ((BASE[BASE.index("[[categories]]") : BASE.index("[[areas]]")], ""),),
        ("categories: missing — add at least one [[categories]] entry",),
    ),
    (
        "categories as a single table",
        (
            (
                BASE[BASE.index("[[categories]]") : BASE.index("[[areas]]")],
                '[categories]\ncode = "w"\n',
            ),
        ),
        ('categories = {code = "w"}: must be an array of tables', "[[categories]] (double"),
    ),
    (
        "team without members takes claims",
        (('members = ["zhang"]', "members = []"),),
        (
            'categories[water].team = "maint": team has no members to take water.leak (mode claim)',
            'set mode = "manual"',
        ),
    ),
    (
        "manual without dispatchers",
        (
            (LEAK_PRIORITY, LEAK_PRIORITY + '\nmode = "manual"'),
            (BASE[BASE.index("[[dispatchers]]") :], ""),
        ),
        (
            'categories[water].children[leak].mode = "manual": water.leak waits for a dispatcher',
            "[[dispatchers]]",
        ),
    ),
    (
        "group chat id as a number",
        (("", "[teams.groups]\ntelegram = [-100123]\n"),),
        ("teams[maint].groups.telegram[0] = -100123: must be non-empty text", '"-100123"'),
    ),
    (
        "unknown channel",
        (("", '\n[channels.telegarm]\ntoken = "x"\n'),),
        ('channels.telegarm = {token = "x"}: unknown key', "did you mean telegram?"),
    ),
    (
        "extra channel enabled in quotes",
        (("", '\n[channels.wecom]\nenabled = "yes"\n'),),
        ('channels.wecom.enabled = "yes": must be true or false', "without quotes"),
    ),
    (
        "web port out of range",
        (("", "\n[channels.web]\nport = 70000\n"),),
        ("channels.web.port = 70000: must be a whole number, from 1 to 65535", "port = 8080"),
    ),
    (
        "web flag in quotes",
        (("", '\n[channels.terminal]\nenabled = "no"\n'),),
        ('channels.terminal.enabled = "no": must be true or false', "enabled = false"),
    ),
    (
        "public url without scheme",
        (("", '\n[channels.web]\npublic_url = "repair.example.com"\n'),),
        ('channels.web.public_url = "repair.example.com": not a web address', "https://"),
    ),
    (
        "confirm window zero",
        (("[service]\n", "[service]\nconfirm_window_hours = 0\n"),),
        ("service.confirm_window_hours = 0: must be a whole number of hours, 1 or more",),
    ),
]


@pytest.mark.parametrize(("edits", "expected"), [r[1:] for r in BAD], ids=[r[0] for r in BAD])
def test_bad_config_is_refused_with_key_value_and_fix(
    edits: tuple[tuple[str, str], ...], expected: tuple[str, ...]
) -> None:
    with pytest.raises(ConfigError) as info:
        load_text(edited(*edits))
    message = str(info.value)
    assert " — " in message, message  # every message ends with the fix
    for part in expected:
        assert part in message, f"{part!r} not in {message!r}"


def test_the_table_has_enough_rows() -> None:
    assert len(BAD) >= 12


@given(st.integers(min_value=0, max_value=BASE.count("\n") - 1), st.text(max_size=40))
def test_any_broken_line_gives_a_config_error(line: int, replacement: str) -> None:
    lines = BASE.splitlines()
    lines[line] = replacement
    try:
        load_text("\n".join(lines))
    except ConfigError as exc:
        assert " — " in str(exc)


# -- the documentation ---------------------------------------------------------------


def test_every_key_is_documented() -> None:
    doc = (ROOT / "docs" / "configuration.md").read_text(encoding="utf-8")
    missing = []
    names = {"limits": "limits.<priority>", "teams.groups": "teams.groups.<channel>"}
    for kind, keys in SCHEMA.items():
        for key in keys:
            # Keys of these tables are names (priorities, channels): one line covers them.
            path = names.get(kind) or (f"{kind}.{key}" if kind else key)
            named = kind in names or kind == "channels"
            if f"`{path}`" not in doc or (not named and f"`{key}`" not in doc):
                missing.append(path)
    assert missing == []


def test_every_problem_is_reported_at_once_naming_people_by_id() -> None:
    """Issue 12 item 13: config check stopped at the first of several errors and named
    ``technicians[0]``; one mistake is not reported again as its cascade."""
    text = edited(
        ('phone = "13800000001"', 'phone = "12345"'),
        ('priority = "high"', 'priority = "hgh"'),
        ('name = "王调度"', 'nmae = "王调度"'),
        ("", TECH_LI.replace('"+8613800000002"', '"1"')),
    )
    with pytest.raises(ConfigError) as info:
        load_text(text)
    lines = str(info.value).splitlines()
    assert len(lines) == 4, lines
    assert lines[0].startswith('categories[water].children[leak].priority = "hgh"')
    assert lines[1].startswith('technicians[zhang].phone = "12345"')
    assert lines[2].startswith('technicians[li].phone = "1"')
    assert lines[3].startswith('dispatchers[wang].nmae = "王调度": unknown key')
    assert all(" — " in line for line in lines)


def test_look_ups_by_code_find_what_a_scan_finds_and_follow_replace() -> None:
    """The look-ups are indexed once per Config: each finds the first item of its code,
    as scanning the tuples did, and a replaced Config answers from its own items."""
    config = load(None)
    leaves = [leaf for group in config.categories for leaf in group.children]
    for leaf in leaves:
        assert config.category(leaf.code) is next(c for c in leaves if c.code == leaf.code)
    for area in config.areas:
        assert config.area(area.code) is area
    for team in config.teams:
        assert config.team(team.code) is team
    for person in config.technicians:
        assert config.technician(person.id) is person
    for desk in config.dispatchers:
        assert config.dispatcher(desk.id) is desk
    assert config.category("nope") is config.area("nope") is config.team("nope") is None
    assert config.technician("nope") is config.dispatcher("nope") is None

    first = config.areas[0]
    renamed = dataclasses.replace(first, zh="另一个名字")
    other = dataclasses.replace(config, areas=(renamed, first, *config.areas[1:]))
    assert other.area(first.code) is renamed  # the first of a code wins
    assert config.area(first.code) is first  # the original keeps its own index
    assert other == dataclasses.replace(config, areas=other.areas)  # equality: fields only
