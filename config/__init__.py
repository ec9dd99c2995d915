"""Loading and validating the operator's configuration (TOML), and the built-in default.

``load(path)`` returns a validated ``Config``; ``load(None)`` the embedded default.
``check(path)`` is the same for ``baoxiu config check``; ``load_text(text)`` reads TOML
text; ``starter_text()`` is a commented file for a new operator to edit.
"""

from config.loader import check, load, load_text, starter_text
from config.model import (
    DEFAULT_LIMITS,
    Area,
    Building,
    Category,
    CategoryGroup,
    Config,
    Dispatcher,
    Team,
    Technician,
    TimeLimits,
    WebChannel,
)

__all__ = [
    "DEFAULT_LIMITS",
    "Area",
    "Building",
    "Category",
    "CategoryGroup",
    "Config",
    "Dispatcher",
    "Team",
    "Technician",
    "TimeLimits",
    "WebChannel",
    "check",
    "load",
    "load_text",
    "starter_text",
]
