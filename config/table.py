"""Reading one TOML table of the configuration, and collecting the problems found.

``_Table`` knows its key path, so every message names the key, the bad value and the fix
in the language being reported (``_LOCALE``); ``_Problems`` gathers every problem of a
file so that ``config check`` reports them all at once. The section readers
(``config.loader`` and the ``*_config`` modules) build on these. Nothing here reads files
or knows a section: the allowed keys come from ``config.loader.SCHEMA``.
"""

from __future__ import annotations

import difflib
import json
import re
import tomllib
from collections.abc import Callable, Iterable, Sequence
from contextvars import ContextVar
from typing import Any, NoReturn, TypeVar

from conversation.i18n import DEFAULT_LOCALE, catalog
from tickets.errors import ConfigError

_CODE = re.compile(r"[a-z0-9][a-z0-9_-]{0,31}")
_EXAMPLES = {
    "code": '"leak"',
    "zh": '"漏水"',
    "en": '"Leak"',
    "team": '"maint"',
    "id": '"zhang"',
    "phone": '"+8613800000001"',
}

_WHAT = {
    "area code": "area_code",
    "building code": "building_code",
    "category code": "category_code",
    "team code": "team_code",
    "person id": "person_id",
    "phone (a phone names one person)": "phone",
    "member": "member",
}
"""The things ``_unique`` compares, by their catalog keys under ``config_check.what``."""

_LOCALE: ContextVar[str] = ContextVar("config_message_locale", default="en")
"""The language of the problems being reported (``load(..., locale=)``); English in logs."""

_T = TypeVar("_T")
_I = TypeVar("_I")


# -- collecting problems ----------------------------------------------------------


class _Problems:
    """Every problem of one file, so that ``config check`` reports them all at once.

    A failing entry (one technician, one team…) or section is recorded and left out;
    checks that compare sections (a category's team, a team's members) run only when
    the sections they compare were read without problems, so that one mistake is not
    reported again as the cascade of "no such team" it would cause."""

    def __init__(self) -> None:
        self.messages: list[str] = []

    def keep(self, read: Callable[[], _T], fallback: _T) -> _T:
        try:
            return read()
        except ConfigError as exc:
            self.messages.append(exc.message)
            return fallback

    def check(self, run: Callable[..., object], *args: Any) -> None:
        self.keep(lambda: run(*args), None)

    def each(self, items: Iterable[_I], read: Callable[[_I], _T]) -> list[_T]:
        out: list[_T] = []
        for item in items:
            try:
                out.append(read(item))
            except ConfigError as exc:
                self.messages.append(exc.message)
        return out

    @property
    def clean(self) -> bool:
        return not self.messages


# -- messages ---------------------------------------------------------------------


def _m(key: str, /, **params: Any) -> str:
    """A piece of a problem's message in the language it is being reported in."""
    # Not translate(): "key" is one of the params here ("add {key} = {example}").
    template = catalog(_LOCALE.get()).get(f"config_check.{key}")
    if template is None:
        template = catalog(DEFAULT_LOCALE)[f"config_check.{key}"]
    return template.format_map(params)


def _word(group: str, name: str) -> str:
    """A unit or a kind of thing by its catalog name; as given when it has none."""
    try:
        return _m(f"{group}.{name}")
    except KeyError:
        return name


def _show(value: Any) -> str:
    """``value`` as it would be written in TOML, so the operator can find it in the file."""
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, str):
        text = json.dumps(value, ensure_ascii=False)
    elif isinstance(value, list):
        text = "[" + ", ".join(_show(v) for v in value) + "]"
    elif isinstance(value, dict):
        text = "{" + ", ".join(f"{k} = {_show(v)}" for k, v in value.items()) + "}"
    else:
        text = str(value)
    return text if len(text) <= 80 else text[:77] + "…"


def _fail(path: str, value: Any, problem: str, fix: str) -> NoReturn:
    raise ConfigError(f"{path} = {_show(value)}: {problem} — {fix}")


def _listing(options: Iterable[str]) -> str:
    items = list(options)
    return ", ".join(items[:20]) + (", …" if len(items) > 20 else "") if items else _m("none")


def _did_you_mean(value: str, options: Sequence[str]) -> str:
    close = difflib.get_close_matches(value, options, n=1)
    return _m("did_you_mean", option=close[0]) if close else ""


def _toml_message(text: str, exc: tomllib.TOMLDecodeError) -> str:
    reason = str(exc)
    where = re.search(r"\s*\(at line (\d+), column (\d+)\)", reason)
    fix = _m("toml_fix")
    if where is None:
        return _m("toml_bad", reason=reason, fix=fix)
    line, column = int(where.group(1)), int(where.group(2))
    lines = text.splitlines()
    shown = _show(lines[line - 1]) if 0 < line <= len(lines) else _m("end_of_file")
    reason = reason[: where.start()]
    return _m("toml_bad_at", line=line, shown=shown, reason=reason, column=column, fix=fix)


# -- reading tables ---------------------------------------------------------------


class _Table:
    """One TOML table being read; it knows its key path so every message can name it.

    ``kind`` is its ``SCHEMA`` entry, or ``None`` for a table whose keys belong to others.
    """

    def __init__(self, raw: Any, path: str, kind: str | None) -> None:
        if not isinstance(raw, dict):
            _fail(path, raw, _m("must_be_table"), _m("must_be_table_fix"))
        self.raw: dict[str, Any] = raw
        self.path = path
        from config.loader import SCHEMA  # at call time: the loader imports this module

        allowed = SCHEMA[kind] if kind is not None else tuple(raw)
        for key, value in raw.items():
            if key not in allowed:
                hint, listed = _did_you_mean(key, allowed), ", ".join(allowed)
                self.fail(
                    key, value, _m("unknown_key"), _m("unknown_key_fix", hint=hint, allowed=listed)
                )

    def at(self, key: str) -> str:
        return f"{self.path}.{key}" if self.path else key

    def fail(self, key: str, value: Any, problem: str, fix: str) -> NoReturn:
        _fail(self.at(key), value, problem, fix)

    def text(self, key: str, default: str | None = None, *, empty: bool = False) -> str:
        if key not in self.raw:
            if default is None:
                example = _EXAMPLES.get(key, '"…"')
                raise ConfigError(_m("missing", path=self.at(key), key=key, example=example))
            return default
        value = self.raw[key]
        if not isinstance(value, str):
            self.fail(key, value, _m("must_be_text"), _m("quote_it", bare=_bare(value)))
        if not value.strip() and not empty:
            self.fail(key, value, _m("must_not_be_empty"), _m("write_between_quotes"))
        return value.strip()

    def code(self, key: str) -> str:
        value = self.text(key)
        if not _CODE.fullmatch(value):
            self.fail(key, value, _m("bad_code"), _m("bad_code_fix"))
        return value

    def choice(self, key: str, options: Sequence[str], default: str) -> str:
        value = self.raw.get(key, default)
        if not isinstance(value, str) or value not in options:
            listed = ", ".join(options)
            self.fail(key, value, _m("not_one_of", options=listed), _m("use_one_of_those"))
        return value

    def integer(self, key: str, default: int, *, unit: str = "", high: int | None = None) -> int:
        value = self.raw.get(key, default)
        kind = _m("whole_number_of", unit=_word("unit", unit)) if unit else _m("whole_number")
        if isinstance(value, bool) or not isinstance(value, int):
            self.fail(key, value, kind, _m("digits_fix", key=key, default=default))
        if value < 1 or (high is not None and value > high):
            span = (
                _m("number_span", kind=kind, high=high)
                if high is not None
                else _m("number_min", kind=kind)
            )
            self.fail(key, value, span, _m("for_example", key=key, default=default))
        return value

    def flag(self, key: str, default: bool) -> bool:
        value = self.raw.get(key, default)
        if not isinstance(value, bool):
            self.fail(key, value, _m("must_be_flag"), _m("flag_fix", key=key))
        return value

    def texts(self, key: str) -> tuple[str, ...]:
        value = self.raw.get(key, [])
        if not isinstance(value, list):
            self.fail(key, value, _m("must_be_list"), _m("list_fix", key=key))
        for i, item in enumerate(value):
            if not isinstance(item, str) or not item.strip():
                fix = _m("quote_it", bare=_bare(item))
                self.fail(f"{key}[{i}]", item, _m("must_be_nonempty_text"), fix)
        return tuple(item.strip() for item in value)

    def table(self, key: str, kind: str | None) -> _Table:
        return _Table(self.raw.get(key, {}), self.at(key), kind)

    def tables(self, key: str, kind: str, *, required: bool = False) -> list[_Table]:
        value = self.raw.get(key, [])
        if not isinstance(value, list):
            self.fail(key, value, _m("must_be_tables"), _m("tables_fix", kind=kind))
        if required and not value:
            raise ConfigError(_m("missing_entry", path=self.at(key), kind=kind))
        names = [_label(item, i) for i, item in enumerate(value)]
        # Two entries with the same id keep their indexes, so the message can tell them apart.
        names = [n if names.count(n) == 1 else str(i) for i, n in enumerate(names)]
        return [
            _Table(item, f"{self.at(key)}[{n}]", kind) for n, item in zip(names, value, strict=True)
        ]


def _label(item: Any, index: int) -> str:
    """An entry of a list by what the operator calls it (``technicians[zhang]``), or by
    its index when it has no usable id or code."""
    if isinstance(item, dict):
        name = item.get("id", item.get("code"))
        if isinstance(name, str) and _CODE.fullmatch(name.strip()):
            return name.strip()
    return str(index)


def _bare(value: Any) -> str:
    return str(value).replace('"', "")


def _unique(items: Iterable[tuple[str, str]], what: str) -> None:
    """Refuse the second of two equal values; ``items`` are (key path, value)."""
    seen: dict[str, str] = {}
    for path, value in items:
        if value in seen:
            fix = _m("duplicate_fix", first=seen[value])
            _fail(path, value, _m("duplicate", what=_word("what", _WHAT.get(what, what))), fix)
        seen[value] = path


def _unique_field(tables: Sequence[_Table], key: str, what: str) -> None:
    """Refuse the second of two entries with the same ``key`` (read on its own later)."""
    _unique(
        ((t.at(key), t.raw[key].strip()) for t in tables if isinstance(t.raw.get(key), str)), what
    )


def _coded(tables: Sequence[_Table], what: str) -> list[tuple[_Table, str]]:
    """Each table with its ``code``, checked as a code and unique among them."""
    pairs = [(t, t.code("code")) for t in tables]
    _unique(((t.at("code"), code) for t, code in pairs), what)
    return pairs
