"""Server-rendered staff pages: templates, the layout's navigation, static assets.

Pages are Jinja2 templates (autoescape on, undefined names are errors) with a
little vanilla JavaScript served from ``/static``; there is no front-end build.
Every page is sent with a strict Content-Security-Policy: scripts and styles
come from ``/static`` only (no inline ``<script>``, ``style=`` or ``on*=``
attributes), so text that slipped past escaping still cannot run. Pass data to
a page's script through ``data-*`` attributes or ``{{ value | tojson }}``
inside ``<script type="application/json">``.

Page routes authenticate with the session cookie (GET only,
``bot.api.web_deps.PageAccount``); everything that changes state goes through
the JSON API with the Bearer token that ``/static/api.js`` keeps (CSRF-safe).

A page is a router in ``bot/api/routers/web_<name>.py`` (registered in the
router loop of ``bot/api/app.py``)::

    router = APIRouter(include_in_schema=False)

    @router.get("/staff/faq", response_class=HTMLResponse)
    async def faq_page(request: Request, account: EditorPage) -> HTMLResponse:
        return render(request, "faq.html", account, languages=[...])

and a template extending the layout (blocks ``title``, ``head`` for a page
stylesheet, ``main_class`` (``page``: centred, 1100 px; ``wide``: the whole
window), ``content``, ``scripts``)::

    {% extends "base.html" %}
    {% block title %}FAQ{% endblock %}
    {% block head %}<link rel="stylesheet" href="{{ asset('faq.css') }}">{% endblock %}
    {% block content %}<div id="faq" data-languages="{{ languages | join(',') }}"></div>{% endblock %}
    {% block scripts %}<script src="{{ asset('faq.js') }}"></script>{% endblock %}

In the script, ``await dmdesk.api("GET", "/api/...")``, build the DOM with
``dmdesk.el(tag, attrs, ...children)`` (text only, never HTML) and report with
``dmdesk.toast(message, "error")``.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from jinja2 import Environment, FileSystemLoader, StrictUndefined

from bot.agents.models import Account, AccountPublic, Role

WEB_DIR = Path(__file__).resolve().parent
TEMPLATES_DIR = WEB_DIR / "templates"
STATIC_DIR = WEB_DIR / "static"
#: where a login goes when no (safe) ``next`` is given
DEFAULT_PAGE = "/console"

#: sent with every page (static files get their own headers from StaticFiles)
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


@dataclass(frozen=True)
class NavItem:
    """One entry of the layout's navigation bar."""

    label: str
    path: str
    role: Role


#: the navigation bar; items the account's role may not use are hidden
NAV = (
    NavItem("Console", "/console", Role.AGENT),
    NavItem("FAQ", "/staff/faq", Role.EDITOR),
    NavItem("Training data", "/staff/training", Role.EDITOR),
    NavItem("Unanswered", "/staff/unanswered", Role.EDITOR),
)


@lru_cache(maxsize=64)
def asset(path: str) -> str:
    """URL of a static file with a content hash, so browsers never run a stale script."""
    file = (STATIC_DIR / path).resolve()
    if STATIC_DIR not in file.parents or not file.is_file():
        raise FileNotFoundError(f"no static file {path!r}")
    return f"/static/{path}?v={hashlib.sha256(file.read_bytes()).hexdigest()[:10]}"


_SAFE_NEXT = re.compile(r"/(?![/\\])[\x21-\x7e]*")


def safe_next(value: str | None) -> str:
    """``value`` if it is a path on this site (never another host: no open redirect), else the default page."""
    return value if value and _SAFE_NEXT.fullmatch(value) else DEFAULT_PAGE


def _environment() -> Environment:
    env = Environment(loader=FileSystemLoader(TEMPLATES_DIR), autoescape=True, undefined=StrictUndefined)
    env.globals["asset"] = asset
    return env


templates = Jinja2Templates(env=_environment())


def render(
    request: Request, template_name: str, account: Account | None, status_code: int = 200, **context: Any
) -> HTMLResponse:
    """A page in the shared layout.

    Args:
        request: The page request.
        template_name: A template under ``bot/web/templates`` that extends ``base.html``.
        account: The logged-in account (None on the login page): shown in the nav bar with its brand
            and role; nav items its role may not use are hidden.
        status_code: HTTP status of the page.
        **context: The template's own variables.
    """
    nav = [item for item in NAV if account is not None and account.role.allows(item.role)]
    page = {
        "user": AccountPublic.of(account) if account is not None else None,
        "brand": account.brand if account is not None else None,
        "role": account.role.value if account is not None else None,
        "nav": nav,
        "current_path": request.url.path,
    }
    response = templates.TemplateResponse(request, template_name, {**page, **context}, status_code=status_code)
    response.headers.update(SECURITY_HEADERS)
    return response
