"""Render the notices of the repeat, duplicate, incident and outage rules, and what the
reporter of a merged duplicate hears of its master (``follower.<kind>``).

Called by ``notify.render.render_notice`` for the kinds in ``KINDS`` and every
``follower.*`` kind; the texts come from the ``repeats``, ``incidents`` and ``outages``
catalogs in the row's language. Like the main renderer it is pure and must never raise:
a row it cannot render gives ``()`` and the caller sends the generic text instead.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace

from config.model import Config
from conversation.i18n import normalize
from conversation.replies import Ask, Choice, Reply, Say
from notify.view import NoticeView
from tickets.rows import OutboxRow

log = logging.getLogger(__name__)

FOLLOWER = "follower."
SHORT = "%m-%d %H:%M"


class _Row(NoticeView):
    """The rule notices' view: full catalog keys, short times, "-" for what is unknown."""

    def area(self) -> str:
        code = self.text("area")
        area = self.config.area(code) if code else None
        return area.name(self.locale) if area else code or "-"

    def time(self, name: str, fmt: str = SHORT) -> str:
        return super().time(name, fmt) or "-"

    def numbers(self, name: str) -> str:
        value = self.params.get(name)
        if isinstance(value, list | tuple):
            return ", ".join(str(v) for v in value)
        return str(value or "")


def _with_lines(view: _Row, head: str, *lines: tuple[str, str]) -> str:
    out = [head]
    out.extend(view.t(key, value=value) for key, value in lines if value)
    return "\n".join(out)


def _ticket_lines(view: _Row) -> tuple[tuple[str, str], ...]:
    return (
        ("repeats.notice.category", view.category()),
        ("repeats.notice.place", view.place()),
        ("repeats.notice.description", view.text("description")),
    )


def _show(view: _Row, number: str) -> Choice:
    return Choice(view.t("repeats.notice.show"), f"d:show:{number}")


def _complaint(view: _Row) -> tuple[Reply, ...]:
    head = view.t(
        "repeats.notice.complaint",
        number=view.number,
        hours=view.text("open_hours") or "?",
        created=view.time("created_at"),
    )
    text = _with_lines(view, head, *_ticket_lines(view))
    text += "\n" + view.t("repeats.notice.complaint_count", count=view.text("hurry_count") or "?")
    return (Ask(text, (_show(view, view.number),), inline=True),)


def _repeat(view: _Row) -> tuple[Reply, ...]:
    resolved = view.time("resolved_at")
    if view.params.get("reopened"):
        head = view.t("repeats.notice.repeat_reopened", number=view.number, resolved=resolved)
    else:
        previous = view.text("previous")
        head = view.t(
            "repeats.notice.repeat_new", number=view.number, previous=previous, resolved=resolved
        )
    text = _with_lines(view, head, *_ticket_lines(view))
    return (Ask(text, (_show(view, view.number),), inline=True),)


def _duplicates(view: _Row) -> tuple[Reply, ...]:
    head = view.t(
        "repeats.notice.duplicates", number=view.number, candidates=view.numbers("candidates")
    )
    text = _with_lines(view, head, *_ticket_lines(view))
    master = view.text("master")
    choices = [_show(view, view.number)]
    if master:
        label = view.t("repeats.notice.merge", master=master)
        choices.insert(0, Choice(label, f"d:merge:{view.number}:{master}"))
    return (Ask(text, tuple(choices), inline=True),)


def _incident_proposed(view: _Row) -> tuple[Reply, ...]:
    text = view.t(
        "incidents.notice.proposed",
        count=view.text("count"),
        category=view.category(),
        area=view.area(),
        minutes=view.text("window_minutes"),
        numbers=view.numbers("numbers"),
    )
    button = Choice(view.t("incidents.btn_open"), f"d:iopen:{view.text('incident')}")
    return (Ask(text, (button,), inline=True),)


def _incident_opened(view: _Row) -> tuple[Reply, ...]:
    head = view.t(
        "incidents.notice.opened",
        incident=view.text("incident"),
        category=view.category(),
        area=view.area(),
        count=view.text("count") or "0",
        numbers=view.numbers("numbers") or "-",
    )
    text = _with_lines(
        view,
        head,
        ("incidents.notice.eta", view.time("expected_at") if view.text("expected_at") else ""),
        ("incidents.notice.note", view.text("note")),
    )
    button = Choice(view.t("incidents.btn_close"), f"d:iclose:{view.text('incident')}")
    return (Ask(text, (button,), inline=True),)


def _incident_joined(view: _Row) -> tuple[Reply, ...]:
    lines = [
        view.t(
            "incidents.notice.joined",
            number=view.number,
            category=view.category(),
            area=view.area(),
        )
    ]
    if view.text("expected_at"):
        lines.append(view.t("incidents.notice.joined_eta", eta=view.time("expected_at")))
    if view.text("note"):
        lines.append(view.t("incidents.notice.note", value=view.text("note")))
    return (Say("\n".join(lines)),)


def _incident_resolved(view: _Row) -> tuple[Reply, ...]:
    head = view.t("incidents.notice.resolved", category=view.category(), area=view.area())
    text = _with_lines(view, head, ("incidents.notice.resolved_note", view.text("resolution")))
    return (Say(f"{text}\n{view.t('incidents.notice.resolved_tail')}"),)


def _technician_incident_resolved(view: _Row) -> tuple[Reply, ...]:
    head = view.t("incident_close.technician", incident=view.text("incident"))
    lines = [head, view.t("incident_close.numbers", value=view.numbers("numbers"))]
    if view.text("resolution"):
        lines.append(view.t("incidents.notice.resolved_note", value=view.text("resolution")))
    return (Say("\n".join(lines)),)


def _outage(view: _Row) -> tuple[Reply, ...]:
    head = view.t(
        "outages.notice.outage",
        number=view.number,
        category=view.category(),
        area=view.area(),
        start=view.time("starts_at"),
        end=view.time("ends_at"),
    )
    return (Say(_with_lines(view, head, ("outages.notice.reason", view.text("reason")))),)


KINDS: dict[str, Callable[[_Row], tuple[Reply, ...]]] = {
    "dispatcher.complaint": _complaint,
    "dispatcher.repeat": _repeat,
    "dispatcher.duplicates": _duplicates,
    "dispatcher.incident_proposed": _incident_proposed,
    "dispatcher.incident_opened": _incident_opened,
    "reporter.incident_joined": _incident_joined,
    "reporter.incident_resolved": _incident_resolved,
    "reporter.outage": _outage,
    "technician.incident_resolved": _technician_incident_resolved,
}


def handles(kind: str) -> bool:
    return kind in KINDS or kind.startswith(FOLLOWER)


def render(row: OutboxRow, config: Config) -> tuple[Reply, ...]:
    """The replies for a rule notice or a follower notice; ``()`` if it cannot be
    rendered (the caller then sends its generic text)."""
    view = _Row(row, config, normalize(row.locale), prefix="")
    try:
        if row.kind.startswith(FOLLOWER):
            return _follower(view)
        return KINDS[row.kind](view)
    except Exception:
        log.exception("notice %s of kind %r could not be rendered", row.id, row.kind)
        return ()


def _follower(view: _Row) -> tuple[Reply, ...]:
    """The master's notice, for the reporter of a duplicate merged into it: introduced as
    about the master, and without the master's buttons (they belong to its reporter)."""
    from notify.render import render_notice  # it calls this module

    base = view.row.kind[len(FOLLOWER) :]
    own, master = view.text("own"), view.number
    if base == "reporter.resolved":
        resolution = view.text("resolution")
        key = "repeats.follower.resolved" if resolution else "repeats.follower.resolved_plain"
        return (Say(view.t(key, master=master, own=own, resolution=resolution)),)
    shown = render_notice(replace(view.row, kind=base), view.config)
    head = view.t("repeats.follower.head", master=master, own=own)
    out: list[Reply] = []
    for reply in shown:
        if isinstance(reply, Ask | Say):
            out.append(Say(f"{head}\n{reply.text}" if head else reply.text))
            head = ""
        else:
            out.append(reply)
    return tuple(out)
