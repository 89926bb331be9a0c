"""Session authentication and role checks of the agent API."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel

from bot.agents.errors import AuthenticationError, PermissionDeniedError
from bot.agents.models import Account, Role
from bot.agents.service import AgentServices
from bot.api.deps import ServicesDep

#: the cookie set at login; accepted on GET requests only (EventSource cannot send headers),
#: so that a cross-site form can never act with it
SESSION_COOKIE = "dmdesk_session"

_session_bearer = HTTPBearer(
    auto_error=False,
    scheme_name="AgentSession",
    description="Agent session token from POST /api/agent/session (or the dmdesk_session cookie on GET).",
)


async def get_agents(services: ServicesDep) -> AgentServices:
    """The agent workspace services."""
    if services.agents is None:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "agent workspace not configured")
    return services.agents


AgentsDep = Annotated[AgentServices, Depends(get_agents)]


@dataclass
class Actor:
    """The logged-in account and its session token."""

    account: Account
    token: str


async def current_actor(
    request: Request,
    agents: AgentsDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_session_bearer)],
) -> Actor:
    """The account behind the request's session.

    Raises:
        AuthenticationError: No, unknown, expired or revoked session, or the account is gone or inactive.
    """
    token = credentials.credentials if credentials else None
    if token is None and request.method == "GET":
        token = request.cookies.get(SESSION_COOKIE)
    return Actor(await account_of(agents, token), token or "")


async def account_of(agents: AgentServices, token: str | None) -> Account:
    """The active account whose session ``token`` is.

    Raises:
        AuthenticationError: No, unknown, expired or revoked session, or the account is gone or inactive.
    """
    if not token:
        raise AuthenticationError("missing session token")
    session = await asyncio.to_thread(agents.sessions.resolve, token)
    account = await asyncio.to_thread(agents.accounts.find, session.brand, session.username)
    if account is None or not account.active:
        raise AuthenticationError("account is gone or inactive")
    return account


def require_role(needed: Role) -> Callable[[Actor], Awaitable[Account]]:
    """A dependency returning the account if its role includes ``needed``."""

    async def check(actor: Annotated[Actor, Depends(current_actor)]) -> Account:
        if not actor.account.role.allows(needed):
            raise PermissionDeniedError(f"needs the {needed.value} role", role=actor.account.role.value)
        return actor.account

    return check


ActorDep = Annotated[Actor, Depends(current_actor)]
AgentAccount = Annotated[Account, Depends(require_role(Role.AGENT))]
EditorAccount = Annotated[Account, Depends(require_role(Role.EDITOR))]
AdminAccount = Annotated[Account, Depends(require_role(Role.ADMIN))]


class ErrorBody(BaseModel):
    """Every error response."""

    detail: str | list[dict[str, Any]]


_DESCRIPTIONS = {
    400: "malformed request body (not UTF-8 / not JSON)",
    401: "missing, expired or revoked session",
    403: "the account's role does not allow this",
    404: "no such record in the account's brand",
    409: "the record's state does not allow this (e.g. ticket claimed by someone else)",
    422: "invalid input",
    429: "too many failed logins",
    502: "Rasa did not answer",
}


def errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` for the given error codes (401 and 403 always; 400 with 422)."""
    wanted = {401, 403, *codes} | ({400} if 422 in codes else set())
    return {c: {"model": ErrorBody, "description": _DESCRIPTIONS[c]} for c in sorted(wanted)}
