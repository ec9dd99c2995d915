"""Issue 12 item 5: every number phonenumbers judges a valid mobile is taken at the phone
step, whatever its country, in either language; an invalid one gets the localized answer
that says how to write a foreign number. The country default (CN) only fills in numbers
typed without a country code."""

from __future__ import annotations

import phonenumbers
import pytest
from test_intake import begin, to_step

from conversation.i18n import translate

_MOBILE = (phonenumbers.PhoneNumberType.MOBILE, phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE)


def _example_mobiles() -> list[tuple[str, str]]:
    """(region, number as a person writes it) for each region's example mobile."""
    found = []
    for region in sorted(phonenumbers.SUPPORTED_REGIONS):
        number = phonenumbers.example_number_for_type(region, phonenumbers.PhoneNumberType.MOBILE)
        if number is not None and phonenumbers.number_type(number) in _MOBILE:
            written = phonenumbers.format_number(
                number, phonenumbers.PhoneNumberFormat.INTERNATIONAL
            )
            found.append((region, written))
    return found


EXAMPLES = _example_mobiles()


def test_there_are_examples_from_every_continent() -> None:
    regions = {region for region, _ in EXAMPLES}
    assert {"GB", "US", "JP", "DE", "BR", "AU", "ZA", "IN", "CN"} <= regions
    assert len(EXAMPLES) > 200


@pytest.mark.parametrize("locale", ["en", "zh_CN"])
def test_every_regions_example_mobile_is_taken(locale: str) -> None:
    refused = []
    for region, written in EXAMPLES:
        d = to_step("phone", begin(locale))
        d.run([(written, None)])
        e164 = phonenumbers.format_number(
            phonenumbers.parse(written), phonenumbers.PhoneNumberFormat.E164
        )
        if d.state.step == "phone" or d.state.data.get("phone") != e164:
            refused.append((region, written))
    assert refused == []


@pytest.mark.parametrize(
    ("typed", "e164"),
    [
        ("+44 7911 123456", "+447911123456"),
        ("+1 (201) 555-0123", "+12015550123"),
        ("+81 90-1234-5678", "+819012345678"),
        ("+65 9123 4567", "+6591234567"),
        ("＋８１ ９０ １２３４ ５６７８", "+819012345678"),  # full-width, from a CJK keyboard
    ],
)
def test_foreign_mobiles_in_the_dialogue(typed: str, e164: str) -> None:
    d = to_step("phone", begin("en"))
    d.run([(typed, "describe the fault")])
    assert d.state.data["phone"] == e164


@pytest.mark.parametrize(
    ("locale", "typed"),
    [
        ("en", "+44 7700 900123"),  # Ofcom's drama range: no real line
        ("en", "+1 555 0100"),
        ("zh_CN", "+81 12"),
        ("zh_CN", "+44 20 7946 0000"),  # a valid London fixed line, not a mobile
    ],
)
def test_invalid_numbers_get_the_localized_answer(locale: str, typed: str) -> None:
    d = to_step("phone", begin(locale))
    d.run([(typed, translate(locale, "intake.phone_invalid"))])
    assert d.state.step == "phone"
    assert "phone" not in d.state.data
