"""The dmdesk exception hierarchy. Only the HTTP layer maps these to status codes."""

from __future__ import annotations

from typing import Any


class DmdeskError(Exception):
    """Base of every dmdesk error; carries structured context for logs."""

    def __init__(self, message: str, **context: Any) -> None:
        super().__init__(message)
        self.context = context

    def response_fields(self) -> dict[str, Any]:
        """Fields the HTTP layer adds to the error body beside ``detail`` (none by default)."""
        return {}


class NotFoundError(DmdeskError):
    """A requested record does not exist."""


class InvalidInputError(DmdeskError):
    """Input from a customer, an agent or an API client is unusable."""


class FaqFileError(DmdeskError):
    """The FAQ file cannot be read or is not valid."""


class UpstreamError(DmdeskError):
    """A service dmdesk depends on (Rasa, the action server) failed."""


class RetryLater(DmdeskError):
    """A passing condition outside the event itself: an ingest consumer retries the event later,
    with a growing pause, and does not count it against the attempts before the dead-letter stream."""


class UpstreamUnavailable(UpstreamError, RetryLater):
    """A service dmdesk depends on refused the connection (down, restarting, not listening yet)."""


class FaqConflictError(DmdeskError):
    """An FAQ entry changed since the version an editor started from (409; the body has the current entry)."""

    def __init__(self, message: str, current: Any, **context: Any) -> None:
        super().__init__(message, **context)
        self.current = current

    def response_fields(self) -> dict[str, Any]:
        """``current``: the entry as it is now (None when it was deleted)."""
        return {"current": None if self.current is None else self.current.model_dump(mode="json")}


class FaqCheckError(InvalidInputError):
    """An FAQ entry failed a blocking check on save (422; the body lists every finding)."""

    def __init__(self, message: str, checks: list[Any], **context: Any) -> None:
        super().__init__(message, **context)
        self.checks = checks

    def response_fields(self) -> dict[str, Any]:
        """``checks``: errors and warnings, as :class:`bot.faq.editor_models.Check`."""
        return {"checks": [c.model_dump(mode="json") for c in self.checks]}


class FaqImportError(InvalidInputError):
    """An FAQ import has invalid rows; nothing was applied (422; the body has the report)."""

    def __init__(self, message: str, report: Any, **context: Any) -> None:
        super().__init__(message, **context)
        self.report = report

    def response_fields(self) -> dict[str, Any]:
        """``report``: :class:`bot.faq.editor_models.ImportReport` with every error by row and column."""
        return {"report": self.report.model_dump(mode="json")}
