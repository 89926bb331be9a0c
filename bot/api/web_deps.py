"""Authentication of the server-rendered pages (bot/web): the session cookie, GET only.

``PageAccount(role)`` resolves the ``dmdesk_session`` cookie the way the agent
API does (``agent_deps.account_of``). Without a valid session the page answers
with a redirect to ``/login?next=<the page>``; with a role too low, a 403 page.
The HTTP layer (bot/api/app.py) turns the two exceptions below into those
responses.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Request

from bot.agents.errors import AuthenticationError, PermissionDeniedError
from bot.agents.models import Account, Role
from bot.api.agent_deps import SESSION_COOKIE, AgentsDep, account_of


class LoginRequired(AuthenticationError):
    """A page was asked for without a valid session: go to the login page, then come back."""

    def __init__(self, next_path: str) -> None:
        super().__init__("log in to see this page", next=next_path)
        self.next_path = next_path


class PageForbidden(PermissionDeniedError):
    """The account's role may not open the page."""

    def __init__(self, account: Account, needed: Role) -> None:
        super().__init__(f"this page needs the {needed.value} role", role=account.role.value)
        self.account = account
        self.needed = needed


def PageAccount(role: Role) -> Callable[[Request, AgentsDep], Awaitable[Account]]:  # noqa: N802 (reads as a type)
    """A dependency returning the cookie session's account if its role includes ``role``.

    Raises (to the exception handlers):
        LoginRequired: No, expired or revoked session, or the account is gone or inactive.
        PageForbidden: The role is too low.
    """

    async def page_account(request: Request, agents: AgentsDep) -> Account:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        try:
            account = await account_of(agents, request.cookies.get(SESSION_COOKIE))
        except AuthenticationError as exc:
            raise LoginRequired(target) from exc
        if not account.role.allows(role):
            raise PageForbidden(account, role)
        return account

    return page_account


AgentPage = Annotated[Account, Depends(PageAccount(Role.AGENT))]
EditorPage = Annotated[Account, Depends(PageAccount(Role.EDITOR))]
AdminPage = Annotated[Account, Depends(PageAccount(Role.ADMIN))]
