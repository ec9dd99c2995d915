"""Turn one outbox row into the replies a person sees, in the row's language.

Pure: no I/O besides reading the message catalog (``notices.toml``) and logging. The
row's ``params`` were fixed when the notice was queued, so a notice reads the same
whenever it is delivered; only display names (category, area, building) are looked up
in the configuration by their codes, in the row's locale, and stored UTC times are shown
in the service's time zone.

It must never raise: a kind without a template, or params that do not fit one, becomes
a generic "your ticket changed" text (and a log line), because a notice that crashes
the renderer would block its chat's outbox forever.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import Any

from config.model import Config
from conversation.i18n import local_phone, mask_phone, normalize, translate
from conversation.replies import Ask, Choice, Reply, Say, ShowPhotos
from notify import kept, render_dispatch, render_rules
from notify.view import NoticeView
from tickets import outbox
from tickets.store import OutboxRow

log = logging.getLogger(__name__)

TECHNICIAN_BUTTONS = (
    ("signin", "t:signin"),
    ("pause", "t:pause"),
    ("done", "t:done"),
    ("release", "t:release"),
)


class _View(NoticeView):
    """The core notices' view: ``notices.*`` keys, priorities and photos."""

    def priority(self) -> str:
        value = self.text("priority")
        try:
            return self.t(f"priority.{value}") if value else ""
        except KeyError:
            return value

    def photos(self, name: str) -> tuple[str, ...]:
        value = self.params.get(name)
        if isinstance(value, str):
            return (value,) if value else ()
        if isinstance(value, Iterable):
            return tuple(str(v) for v in value if v)
        return ()


def render_notice(row: OutboxRow, config: Config) -> tuple[Reply, ...]:
    """The replies for ``row`` in ``row.locale``; never raises."""
    if row.kind == outbox.REPLY_KIND:  # already rendered when the person spoke
        return kept.decode(row.params.get("replies", []))
    view = _View(row, config, normalize(row.locale))
    renderer = _KINDS.get(row.kind) or _DELIVERY_KINDS.get(row.kind)
    if renderer is None and render_dispatch.handles(row.kind):
        return render_dispatch.render(row, config) or _generic(view)  # not among kinds()
    if renderer is None and render_rules.handles(row.kind):
        return render_rules.render(row, config) or _generic(view)  # not among kinds() either
    if renderer is None:
        log.warning(
            "no template for notice kind %r (outbox id %s): sent as generic text", row.kind, row.id
        )
        return _generic(view)
    try:
        return renderer(view)
    except Exception:
        log.exception(
            "notice %s of kind %r could not be rendered: sent as generic text", row.id, row.kind
        )
        return _generic(view)


def kinds() -> frozenset[str]:
    """Every notice kind with its own template."""
    return frozenset(_KINDS)


# -- building blocks ---------------------------------------------------------------------


def _generic(view: _View) -> tuple[Reply, ...]:
    try:
        return (Say(view.t("generic", number=view.number)),)
    except Exception:  # a broken catalog must not stop delivery either
        log.exception("generic notice text missing from the catalog")
        return (Say(view.number),)


def _lines(view: _View, head: str, *optional: tuple[str, str], **params: Any) -> str:
    """The ``head`` template, then one line per optional ``(key, value)`` that has a value."""
    out = [view.t(head, number=view.number, **params)]
    out.extend(view.t(key, value=value) for key, value in optional if value)
    return "\n".join(out)


def _details(view: _View, *, phone: str) -> tuple[tuple[str, str], ...]:
    """The lines describing the fault, shared by the job card and the offers."""
    lat, lon = view.text("latitude"), view.text("longitude")
    return (
        ("line.category", view.category()),
        ("line.priority", view.priority()),
        ("line.place", view.place()),
        ("line.location", f"{lat}, {lon}" if lat and lon else ""),
        ("line.phone", phone),
        ("line.description", view.text("description")),
        ("line.preferred_time", view.text("preferred_time")),
        ("line.arrive_due", view.time("arrive_due")),
        ("line.resolve_due", view.time("resolve_due")),
    )


def _photos(view: _View, name: str, caption_key: str) -> tuple[Reply, ...]:
    refs = view.photos(name)
    if not refs:
        return ()
    return (ShowPhotos(refs, view.t(caption_key, number=view.number)),)


def _say(
    head: str, *optional: Callable[[_View], tuple[str, str]]
) -> Callable[[_View], tuple[Reply, ...]]:
    """A plain text notice: ``head`` plus the optional lines computed from the view."""

    def render(view: _View) -> tuple[Reply, ...]:
        return (Say(_lines(view, head, *(line(view) for line in optional))),)

    return render


def _param(key: str, name: str) -> Callable[[_View], tuple[str, str]]:
    return lambda view: (key, view.text(name))


def _ask(view: _View, text: str, *buttons: tuple[str, str]) -> Ask:
    choices = tuple(
        Choice(view.t(f"button.{label}"), f"{prefix}:{view.number}") for label, prefix in buttons
    )
    return Ask(text, choices, inline=True)


# -- the kinds -----------------------------------------------------------------------------


def _reporter_accepted(view: _View) -> tuple[Reply, ...]:
    text = _lines(
        view,
        "reporter.accepted",
        ("line.category", view.category()),
        ("line.place", view.place()),
        # The reporter's own time, not the time limit, when he asked for one.
        ("line.visit", view.text("preferred_time")),
        ("line.eta", "" if view.text("preferred_time") else view.time("eta")),
    )
    tail = view.t("reporter.accepted_tail", number=view.number)
    return (Say(f"{text}\n{tail}"),)


def _reporter_assigned(view: _View) -> tuple[Reply, ...]:
    name = view.text("technician_name") or view.t("someone")
    phone = view.text("technician_phone")
    head = "reporter.assigned_phone" if phone else "reporter.assigned"
    return (
        Say(
            view.t(
                head, number=view.number, technician_name=name, technician_phone=local_phone(phone)
            )
        ),
    )


def _reporter_on_site(view: _View) -> tuple[Reply, ...]:
    name = view.text("technician_name") or view.t("someone")
    return (Say(view.t("reporter.on_site", number=view.number, technician_name=name)),)


def _reporter_resolved(view: _View) -> tuple[Reply, ...]:
    if view.text("incident"):  # fixed once for a large-area fault: no technician came
        head = translate(
            view.locale,
            "incident_close.reporter",
            number=view.number,
            incident=view.text("incident"),
            category=view.category(),
        )
        note = view.text("resolution")
        text = f"{head}\n{view.t('line.resolution', value=note)}" if note else head
    else:
        text = _lines(
            view,
            "reporter.resolved",
            ("line.resolution", view.text("resolution")),
            ("line.technician", view.text("technician_name")),
        )
    text += "\n" + view.t("reporter.resolved_ask", hours=view.config.confirm_window_hours)
    number = view.number
    choices = (
        Choice(view.t("button.confirm"), f"r:confirm:{number}"),
        Choice(view.t("button.reopen"), f"r:reopen:{number}"),
        *(Choice(view.t("button.rate", stars=k), f"r:rate:{number}:{k}") for k in range(1, 6)),
    )
    photos = _photos(view, "resolution_photos", "photos.resolution")
    return (*photos, Ask(text, choices, inline=True))


def _reporter_closed(view: _View) -> tuple[Reply, ...]:
    text = _lines(
        view,
        "reporter.closed",
        ("line.rating", _stars(view)),
        ("line.comment", view.text("comment")),
    )
    return (Say(text),)


def _stars(view: _View) -> str:
    rating = view.params.get("rating")
    if isinstance(rating, int) and 1 <= rating <= 5:
        return "★" * rating + "☆" * (5 - rating)
    return ""


def _technician_confirmed(view: _View) -> tuple[Reply, ...]:
    head = "technician.auto_closed" if view.params.get("auto") else "technician.confirmed"
    return (Say(view.t(head, number=view.number)),)


def _technician_rated(view: _View) -> tuple[Reply, ...]:
    text = _lines(
        view,
        "technician.rated",
        ("line.their_rating", _stars(view)),
        ("line.their_comment", view.text("comment")),
    )
    return (Say(text),)


def _merged(view: _View) -> tuple[Reply, ...]:
    master = view.text("master")
    head = "reporter.merged_into" if master else "reporter.merged"
    return (Say(view.t(head, number=view.number, master=master)),)


def _technician_assigned(view: _View) -> tuple[Reply, ...]:
    # Only assign/transfer send this card: a claimer's card is his claim's reply.
    phone = view.text("phone")
    text = _lines(view, "technician.assigned", *_details(view, phone=local_phone(phone)))
    card = _ask(view, text, *TECHNICIAN_BUTTONS)
    if view.config.flow.receipt:  # 接单确认: acknowledged by the first button (tickets.receipt)
        ack = Choice(translate(view.locale, "receipt.btn_ack"), f"t:ack:{view.number}")
        card = Ask(card.text, (ack, *card.choices), inline=True)
    return (*_photos(view, "photos", "photos.reported"), card)


def _technician_info_added(view: _View) -> tuple[Reply, ...]:
    text = _lines(view, "technician.info_added", ("line.added", view.text("note")))
    card = _ask(view, text, ("show", "t:show"))
    return (*_photos(view, "photos", "photos.added"), card)


def _technician_hurried(view: _View) -> tuple[Reply, ...]:
    text = _lines(view, "technician.hurried", ("line.hurry_count", view.text("hurry_count")))
    return (_ask(view, text, ("show", "t:show")),)


def _reason(view: _View) -> tuple[str, str]:
    """Why a ticket is (again) waiting for someone: reopened, released, hurried."""
    reason = view.text("reason")
    try:
        return ("line.why", view.t(f"why.{reason}")) if reason else ("line.why", "")
    except KeyError:
        return ("line.why", "")


def _team_offer(view: _View) -> tuple[Reply, ...]:
    # A group sees the offer: never the reporter's full number, whatever the params hold.
    phone = view.text("masked_phone") or view.text("phone")
    details = _details(view, phone=mask_phone(phone) if phone else "")
    text = _lines(view, "team.offer", _reason(view), *details)
    text += "\n" + view.t("team.offer_tail")
    return (_ask(view, text, ("claim", "t:claim")),)


def _dispatcher_manual(view: _View) -> tuple[Reply, ...]:
    phone = view.text("phone")
    details = _details(view, phone=local_phone(phone))
    text = _lines(
        view, "dispatcher.manual", _reason(view), *details, ("line.note", view.text("note"))
    )
    return (_ask(view, text, ("assign", "d:assign"), ("show", "d:show")),)


_KINDS: dict[str, Callable[[_View], tuple[Reply, ...]]] = {
    "reporter.accepted": _reporter_accepted,
    "reporter.assigned": _reporter_assigned,
    "reporter.on_site": _reporter_on_site,
    "reporter.paused": _say("reporter.paused", _param("line.reason", "reason")),
    "reporter.resumed": _say("reporter.resumed", _param("line.technician", "technician_name")),
    "reporter.resolved": _reporter_resolved,
    "reporter.closed": _reporter_closed,
    "reporter.cancelled": _say("reporter.cancelled", _param("line.note", "note")),
    "reporter.reopened": _say("reporter.reopened"),
    "reporter.released": _say("reporter.released"),
    "reporter.merged": _merged,
    "technician.assigned": _technician_assigned,
    "technician.released": _say("technician.released", _param("line.note", "note")),
    "technician.reopened": _say("technician.reopened", _param("line.note", "note")),
    "technician.confirmed": _technician_confirmed,
    "technician.rated": _technician_rated,
    "technician.cancelled": _say("technician.cancelled", _param("line.note", "note")),
    "technician.hurried": _technician_hurried,
    "technician.info_added": _technician_info_added,
    "team.offer": _team_offer,
    "dispatcher.manual": _dispatcher_manual,
}


def _dead_letter(view: _View) -> tuple[Reply, ...]:
    where = " ".join(p for p in (view.text("channel"), view.text("to")) if p)
    text = _lines(
        view,
        "dispatcher.dead_letter",
        ("line.notice", view.text("notice")),
        ("line.to", where),
        ("line.error", view.text("error")),
        ("line.attempts", view.text("attempts")),
    )
    return (_ask(view, text, ("show", "d:show")),) if view.number else (Say(text),)


def _unreachable(view: _View) -> tuple[Reply, ...]:
    who = view.text("person") or view.text("team")
    text = _lines(view, "dispatcher.unreachable", ("line.to", who))
    return (_ask(view, text, ("assign", "d:assign"), ("show", "d:show")),)


_DELIVERY_KINDS: dict[str, Callable[[_View], tuple[Reply, ...]]] = {
    "dispatcher.dead_letter": _dead_letter,
    "dispatcher.unreachable": _unreachable,
}
"""Kinds the delivery queues itself (``notify.fallback``), not ``tickets.notices``:
rendered like the others, but not among ``kinds()``, the domain's."""
