"""Errors of the agent workspace; ``bot/api/app.py`` maps them to status codes."""

from __future__ import annotations

from bot.errors import DmdeskError


class AuthenticationError(DmdeskError):
    """Unknown user, wrong password, or a missing, expired or revoked session (401)."""


class PermissionDeniedError(DmdeskError):
    """The account's role or brand does not allow this (403)."""


class ConflictError(DmdeskError):
    """The ticket or record is not in a state that allows this (409), e.g. already claimed."""


class TooManyAttemptsError(DmdeskError):
    """Too many failed logins for one account (429)."""
