"""The dmdesk exception hierarchy. Only the HTTP layer maps these to status codes."""

from __future__ import annotations

from typing import Any


class DmdeskError(Exception):
    """Base of every dmdesk error; carries structured context for logs."""

    def __init__(self, message: str, **context: Any) -> None:
        super().__init__(message)
        self.context = context


class NotFoundError(DmdeskError):
    """A requested record does not exist."""


class InvalidInputError(DmdeskError):
    """Input from a customer, an agent or an API client is unusable."""


class FaqFileError(DmdeskError):
    """The FAQ file cannot be read or is not valid."""


class UpstreamError(DmdeskError):
    """A service dmdesk depends on (Rasa, the action server) failed."""
