"""Pages: the login page, the site root and the static files of every page (bot/web)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles

from bot.api.deps import ServicesDep
from bot.web import DEFAULT_PAGE, STATIC_DIR, render, safe_next

router = APIRouter(include_in_schema=False)
router.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")


@router.get("/", response_class=RedirectResponse)
async def root() -> RedirectResponse:
    """The agent console is the home page."""
    return RedirectResponse(DEFAULT_PAGE, status_code=303)


@router.get("/login", response_class=HTMLResponse)
async def login_page(
    request: Request, services: ServicesDep, next: Annotated[str | None, Query(max_length=2000)] = None
) -> HTMLResponse:
    """Brand, username and password; the form posts to ``POST /api/agent/session`` and then
    opens ``next`` (a path on this site only)."""
    return render(request, "login.html", None, next=safe_next(next), default_brand=services.settings.brand)
