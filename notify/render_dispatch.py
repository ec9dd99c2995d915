"""Render the dispatch and time-limit notices (``tickets.dispatch_notices.KINDS``):
reminders, overdue alerts, re-offers, follow-up tasks, auto-close.

``notify.render.render_notice`` hands these kinds here; like it, this is pure (the
``notices_dispatch`` catalog is the only thing read) and never raises: a template or
params that do not fit give ``None`` so the caller falls back to its generic text.
Codes are shown by their configured names, stored UTC times in the service's zone.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from config.model import Config
from conversation.i18n import local_phone, mask_phone, normalize, translate
from conversation.replies import Ask, Choice, Reply, Say
from notify.view import NoticeView
from tickets.dispatch_notices import KINDS
from tickets.rows import OutboxRow

log = logging.getLogger(__name__)


def handles(kind: str) -> bool:
    return kind in KINDS


def render(row: OutboxRow, config: Config) -> tuple[Reply, ...] | None:
    """The replies for ``row``, or ``None`` if they cannot be made (logged)."""
    view = _View(row, config, normalize(row.locale), prefix="notices_dispatch")
    try:
        return _RENDERERS[row.kind](view)
    except Exception:
        log.exception("dispatch notice %s of kind %r could not be rendered", row.id, row.kind)
        return None


class _View(NoticeView):
    """The dispatch notices' view: ``notices_dispatch.*`` keys."""

    def limit(self) -> str:
        name = self.text("limit")
        if name == "receipt":  # the time to acknowledge an assigned job (tickets.receipt)
            return translate(self.locale, "receipt.limit")
        return self.t(f"limit.{name}") if name in ("claim", "arrive", "resolve") else name

    def priority(self) -> str:
        value = self.text("priority")
        return (
            self.t(f"priority.{value}") if value in ("urgent", "high", "normal", "low") else value
        )

    def lines(self, head: str, *optional: tuple[str, str], **params: Any) -> str:
        out = [self.t(head, number=self.number, **params)]
        out.extend(self.t(f"line.{key}", value=value) for key, value in optional if value)
        return "\n".join(out)

    def details(self, *, phone: str) -> tuple[tuple[str, str], ...]:
        return (
            ("category", self.category()),
            ("priority", self.priority()),
            ("place", self.place()),
            ("phone", phone),
            ("description", self.text("description")),
        )

    def holder(self) -> tuple[str, str]:
        return ("holder", self.text("holder_name") or self.t("nobody"))

    def ask(self, text: str, *buttons: tuple[str, str]) -> Ask:
        choices = tuple(
            Choice(self.t(f"button.{label}"), f"{prefix}:{self.number}")
            for label, prefix in buttons
        )
        return Ask(text, choices, inline=True)


def _reminder(v: _View) -> tuple[Reply, ...]:
    if v.text("limit") == "receipt":  # acknowledge the job: the button does it
        text = translate(v.locale, "receipt.reminder", number=v.number, due=v.time("due"))
        text = "\n".join([text, *(v.t(f"line.{k}", value=x) for k, x in v.details(phone="") if x)])
        ack = Choice(translate(v.locale, "receipt.btn_ack"), f"t:ack:{v.number}")
        show = Choice(v.t("button.show"), f"t:show:{v.number}")
        return (Ask(text, (ack, show), inline=True),)
    text = v.lines(
        "technician.reminder",
        *v.details(phone=local_phone(v.text("phone"))),
        limit=v.limit(),
        percent=v.text("percent"),
        due=v.time("due"),
    )
    return (v.ask(text, ("show", "t:show")),)


def _priority(v: _View) -> tuple[Reply, ...]:
    text = v.lines(
        "technician.priority",
        ("arrive_due", v.time("arrive_due")),
        ("resolve_due", v.time("resolve_due")),
        priority=v.priority(),
    )
    return (v.ask(text, ("show", "t:show")),)


def _overdue(v: _View) -> tuple[Reply, ...]:
    text = v.lines(
        "dispatcher.overdue",
        v.holder(),
        *v.details(phone=local_phone(v.text("phone"))),
        limit=v.limit(),
        due=v.time("due"),
    )
    buttons = [("show", "d:show")]
    if v.text("state") == "new":
        buttons.insert(0, ("assign", "d:assign"))
    return (v.ask(text, *buttons),)


def _lead_overdue(v: _View) -> tuple[Reply, ...]:
    text = v.lines(
        "lead.overdue",
        v.holder(),
        *v.details(phone=local_phone(v.text("phone"))),
        limit=v.limit(),
        due=v.time("due"),
        percent=v.text("percent"),
    )
    return (Say(text),)


def _unclaimed(v: _View) -> tuple[Reply, ...]:
    suggested = v.params.get("suggested")
    names = "、" if v.locale == "zh_CN" else ", "
    free = names.join(str(s) for s in suggested) if isinstance(suggested, list) else ""
    text = v.lines(
        "dispatcher.unclaimed",
        ("suggested", free),
        *v.details(phone=local_phone(v.text("phone"))),
        minutes=v.text("minutes"),
    )
    return (v.ask(text, ("assign", "d:assign"), ("show", "d:show")),)


def _reoffer(v: _View) -> tuple[Reply, ...]:
    # A group sees it: never the reporter's full number, whatever the params hold.
    phone = v.text("masked_phone") or v.text("phone")
    text = v.lines(
        "team.reoffer",
        *v.details(phone=mask_phone(phone) if phone else ""),
        minutes=v.text("minutes"),
    )
    return (v.ask(f"{text}\n{v.t('team.reoffer_tail')}", ("claim", "t:claim")),)


def _unrouted(v: _View) -> tuple[Reply, ...]:
    text = v.lines("dispatcher.unrouted", *v.details(phone=local_phone(v.text("phone"))))
    return (v.ask(text, ("assign", "d:assign"), ("show", "d:show")),)


def _follow_up(v: _View) -> tuple[Reply, ...]:
    # "not_fixed_after_close" (the reporter's words come as the comment) reads the same.
    reason = "not_fixed" if v.text("reason").startswith("not_fixed") else "low_rating"
    rating = v.params.get("rating")
    stars = (
        "★" * rating + "☆" * (5 - rating) if isinstance(rating, int) and 1 <= rating <= 5 else ""
    )
    text = v.lines(
        f"dispatcher.follow_up_{reason}",
        ("rating", stars),
        ("comment", v.text("comment")),
        v.holder(),
        *v.details(phone=local_phone(v.text("phone"))),
    )
    return (v.ask(text, ("show", "d:show")),)


def _auto_closed(v: _View) -> tuple[Reply, ...]:
    text = v.t("reporter.auto_closed", number=v.number, hours=v.text("hours"))
    choices = tuple(
        Choice(v.t("button.rate", stars=k), f"r:rate:{v.number}:{k}") for k in range(1, 6)
    )
    return (Ask(text, choices, inline=True),)


_RENDERERS: dict[str, Callable[[_View], tuple[Reply, ...]]] = {
    "technician.reminder": _reminder,
    "technician.priority": _priority,
    "dispatcher.overdue": _overdue,
    "lead.overdue": _lead_overdue,
    "dispatcher.unclaimed": _unclaimed,
    "team.reoffer": _reoffer,
    "dispatcher.unrouted": _unrouted,
    "dispatcher.follow_up": _follow_up,
    "reporter.auto_closed": _auto_closed,
}
assert frozenset(_RENDERERS) == KINDS, "every dispatch notice kind needs a renderer"
