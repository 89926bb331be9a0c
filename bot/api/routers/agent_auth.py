"""Agent API: login, logout, the current account, and account management (admins)."""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Path, Request, Response, status

from bot.agents.errors import ConflictError
from bot.agents.models import (
    USERNAME_PATTERN,
    AccountCreate,
    AccountPublic,
    AccountUpdate,
    LoginRequest,
    Role,
    SessionPublic,
)
from bot.api.agent_deps import SESSION_COOKIE, ActorDep, AdminAccount, AgentsDep, errors

router = APIRouter(prefix="/api/agent", tags=["agent: accounts"])

Username = Annotated[str, Path(pattern=USERNAME_PATTERN)]


@router.post(
    "/session",
    response_model=SessionPublic,
    summary="Log in: an opaque session token",
    responses={k: v for k, v in errors(401, 422, 429).items() if k != 403},
)
async def login(body: LoginRequest, agents: AgentsDep, request: Request, response: Response) -> SessionPublic:
    """Checks the password (scrypt) and starts a session of ``DMDESK_SESSION_TTL_S`` seconds.

    The token is also set as an HttpOnly, SameSite=Strict cookie, which only GET requests accept
    (the pages and the console's EventSource); everything else needs the Bearer header. The cookie
    is ``Secure`` when the request came over HTTPS (directly, or through a TLS proxy on loopback
    that sets ``X-Forwarded-Proto``), so a browser never sends it in clear text afterwards.
    """
    account = await asyncio.to_thread(agents.accounts.authenticate, body.brand, body.username, body.password)
    token, session = await asyncio.to_thread(agents.sessions.create, account)
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=agents.settings.session_ttl_s,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        path="/",  # the pages (bot/web) authenticate their GETs with it too
    )
    return SessionPublic(token=token, expires_at=session.expires_at, account=AccountPublic.of(account))


@router.delete(
    "/session",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Log out: the token stops working at once",
    responses=errors(),
)
async def logout(actor: ActorDep, agents: AgentsDep) -> Response:
    """Revokes the session; the agent no longer counts as online."""
    await asyncio.to_thread(agents.sessions.revoke, actor.token)
    await asyncio.to_thread(agents.presence.gone, actor.account.brand, actor.account.username)
    response = Response(status_code=status.HTTP_204_NO_CONTENT)
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="strict")
    return response


@router.get("/me", response_model=AccountPublic, summary="The logged-in account", responses=errors())
async def me(actor: ActorDep) -> AccountPublic:
    """Who the session belongs to."""
    return AccountPublic.of(actor.account)


@router.get("/users", response_model=list[AccountPublic], summary="Accounts of the brand (admins)", responses=errors())
async def list_users(admin: AdminAccount, agents: AgentsDep) -> list[AccountPublic]:
    """Every account of the admin's brand."""
    return [AccountPublic.of(a) for a in await asyncio.to_thread(agents.accounts.list, admin.brand)]


@router.post(
    "/users",
    response_model=AccountPublic,
    status_code=status.HTTP_201_CREATED,
    summary="Create an account in the brand (admins)",
    responses=errors(409, 422),
)
async def create_user(body: AccountCreate, admin: AdminAccount, agents: AgentsDep) -> AccountPublic:
    """A new agent, editor or admin of the admin's own brand."""
    return AccountPublic.of(await asyncio.to_thread(agents.accounts.create, admin.brand, body))


@router.patch(
    "/users/{username}",
    response_model=AccountPublic,
    summary="Change an account (admins)",
    responses=errors(404, 409, 422),
)
async def update_user(username: Username, body: AccountUpdate, admin: AdminAccount, agents: AgentsDep) -> AccountPublic:
    """Role, teams, languages, display name, password, active. A new password, a role change
    or deactivation ends the account's sessions. The brand's last active admin cannot be demoted
    or deactivated."""
    current = await asyncio.to_thread(agents.accounts.get, admin.brand, username)
    demoted = (body.role is not None and body.role is not Role.ADMIN) or body.active is False
    last_admin = current.role is Role.ADMIN and current.active and demoted
    if last_admin and await asyncio.to_thread(agents.accounts.count_admins, admin.brand) <= 1:
        raise ConflictError("the brand's last admin cannot be demoted or deactivated")
    return AccountPublic.of(await asyncio.to_thread(agents.accounts.update, admin.brand, username, body))


@router.delete(
    "/users/{username}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Delete an account (admins)",
    responses=errors(404, 409),
)
async def delete_user(username: Username, admin: AdminAccount, agents: AgentsDep) -> Response:
    """Removes the account and ends its sessions; admins cannot delete themselves."""
    if username == admin.username:
        raise ConflictError("you cannot delete your own account")
    await asyncio.to_thread(agents.accounts.delete, admin.brand, username)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
