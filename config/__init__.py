"""Loading and validating the operator's configuration (TOML), and the built-in default.

``load(path)`` returns a validated ``Config``; ``load(None)`` the embedded default.
"""

from config.model import (
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
]
