"""What a dialogue shows that depends only on the configuration and the catalogs, made
once per configuration (both never change while a configuration object lives; a reload
makes a new one), in the configuration's own ``made`` dict: hashing the configuration
would cost as much as making the text again.

Must not: keep anything that depends on a person, a ticket or the time.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import TypeVar

from config.model import Config

T = TypeVar("T")

MAX_PER_CONFIG = 1024
"""Texts kept per configuration (e.g. the buildings of many areas, in two languages)."""


def remembered(config: Config, key: Hashable, make: Callable[[], T]) -> T:
    """``make()``, or what it returned before for this configuration and ``key`` (which
    must name everything else it depends on)."""
    made = config.made
    if key in made:
        found: T = made[key]
        return found
    if len(made) >= MAX_PER_CONFIG:
        made.clear()
    found = made[key] = make()
    return found
