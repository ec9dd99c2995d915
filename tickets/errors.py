"""The one error tree of baoxiu.

Every error a person may see carries a catalog ``key`` and ``params`` so that the
conversation layer can render it in the person's language; ``str()`` is for logs.
"""

from __future__ import annotations

from typing import Any


class BaoxiuError(Exception):
    """Root of every error baoxiu raises on purpose."""

    default_key = "errors.generic"

    def __init__(self, key: str | None = None, /, **params: Any) -> None:
        self.key = key or self.default_key
        self.params = params
        detail = ", ".join(f"{k}={v!r}" for k, v in params.items())
        super().__init__(f"{self.key}({detail})" if detail else self.key)


class InvalidTransition(BaoxiuError):
    """The action is not possible from the ticket's current state."""

    default_key = "errors.invalid_transition"


class NotAllowed(BaoxiuError):
    """The actor may not do this to this ticket."""

    default_key = "errors.not_allowed"


class TicketNotFound(BaoxiuError):
    default_key = "errors.ticket_not_found"


class InvalidInput(BaoxiuError):
    """A value given by a person is not acceptable (bad phone, rating out of range…)."""

    default_key = "errors.invalid_input"


class StoreMissing(BaoxiuError):
    """A command that only reads found no database where the configuration says."""

    default_key = "errors.no_database"


class ConfigError(BaoxiuError):
    """The configuration file is invalid; the message names the key, the value and the fix."""

    default_key = "errors.config"

    def __init__(self, message: str) -> None:
        super().__init__("errors.config", message=message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class DeliveryError(BaoxiuError):
    """A notice could not be delivered. ``retry`` says whether trying again may help."""

    default_key = "errors.delivery"

    def __init__(
        self, reason: str, *, retry: bool = True, retry_after: float | None = None
    ) -> None:
        super().__init__("errors.delivery", reason=reason)
        self.reason = reason
        self.retry = retry
        self.retry_after = retry_after
