"""The words of an SMS: one short text per notice kind from the ``sms`` catalog, the
template parameters the vendors with approved templates need, and how many billed
segments a text takes.

An SMS is billed per segment: 160 characters in the GSM 7-bit alphabet (two for each
of ``^{}\\[~]|€``), or 70 in UCS-2 as soon as one other character (any Chinese) is in it;
a longer text is split into parts of 153 or 67. The catalog's texts are written to fit
one segment with the signature; a long name can still push one into two — counted here,
never cut.

Pure: no I/O besides reading the catalog.
"""

from __future__ import annotations

import string
from dataclasses import dataclass
from typing import Any

from config.model import Config
from conversation.i18n import catalog, local_phone, normalize
from tickets.rows import OutboxRow

GSM7 = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENDED = frozenset("^{}\\[~]|€\f")


@dataclass(frozen=True)
class SmsText:
    kind: str  # the notice kind whose template was used ("generic" if none)
    body: str  # the text without the signature
    params: dict[str, str]  # the template's placeholders and their values, in order
    locale: str


def compose(row: OutboxRow, config: Config) -> SmsText:
    """The SMS for ``row`` in ``row.locale``; a kind without its own text is generic."""
    locale = normalize(row.locale)
    table = catalog(locale)
    kind = row.kind if f"sms.{row.kind}" in table else "generic"
    template = table[f"sms.{kind}"]
    values = values_of(row)
    names = placeholders(template)
    params = {name: values.get(name, "") for name in names}
    return SmsText(kind, template.format_map(params), params, locale)


def with_sign(body: str, sign_name: str) -> str:
    """The text as a phone shows it: 【签名】 first, as Chinese carriers require."""
    return f"【{sign_name}】{body}" if sign_name else body


def placeholders(template: str) -> list[str]:
    """The ``{names}`` of a template, in order of first appearance."""
    names: list[str] = []
    for _, name, _, _ in string.Formatter().parse(template):
        if name and name not in names:
            names.append(name)
    return names


def values_of(row: OutboxRow) -> dict[str, str]:
    """Every value an SMS template may name, as short text."""
    params: dict[str, Any] = row.params if isinstance(row.params, dict) else {}

    def text(name: str) -> str:
        value = params.get(name)
        return "" if value is None else str(value).strip()

    return {
        "number": text("number") or (row.number or ""),
        "name": text("technician_name"),
        "phone": local_phone(text("technician_phone")),
        "master": text("master"),
        "code": text("code"),  # a one-time code (conversation.phone_code)
    }


def is_gsm7(text: str) -> bool:
    return all(ch in GSM7 or ch in GSM7_EXTENDED for ch in text)


def segments(text: str) -> tuple[str, int]:
    """(``"gsm7"`` or ``"ucs2"``, how many billed segments ``text`` takes)."""
    if is_gsm7(text):
        units = sum(2 if ch in GSM7_EXTENDED else 1 for ch in text)
        single, part = 160, 153
        encoding = "gsm7"
    else:
        # UCS-2 counts UTF-16 code units: a character outside the BMP (an emoji) is two.
        units = len(text.encode("utf-16-le")) // 2
        single, part = 70, 67
        encoding = "ucs2"
    if units <= single:
        return encoding, 1
    return encoding, -(-units // part)
