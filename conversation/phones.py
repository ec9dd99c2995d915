"""Mobile numbers as typed or shared, in E.164 (``+8613800000000``): what the intake
asks for, and what the console, the CLI and WeCom take (kept out of ``intake``, which
re-exports it, to keep that module small).

Pure: no store, no network, no clock.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

import phonenumbers

# Mobile only: the number also receives SMS notices when chat delivery fails, and a
# technician calls it from the road.
_MOBILE = (phonenumbers.PhoneNumberType.MOBILE, phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE)
_PHONE_CHARS = re.compile(r"[0-9 ()+.\-]{5,30}")


@lru_cache(maxsize=1024)  # asked again at each phone question (the last phone offered)
def normalize_phone(text: str, region: str = "CN") -> str | None:
    """A typed or shared mobile number in E.164 (``+8613800000000``), or None.

    Accepts ``13800000000``, ``+86 138 0000 0000``, ``138-0000-0000``, full-width digits;
    rejects letters, fixed lines, short or over-long digit runs."""
    cleaned = unicodedata.normalize("NFKC", text).strip()
    if cleaned.lower().startswith("tel:"):
        cleaned = cleaned[4:].strip()
    if not _PHONE_CHARS.fullmatch(cleaned) or cleaned.count("+") > 1:
        return None
    try:
        number = phonenumbers.parse(cleaned, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number) or phonenumbers.number_type(number) not in _MOBILE:
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
