"""Page: the live agent console (agents, editors, admins).

The page is a shell: its script (``/static/console.js``) reads the queue and
tickets from ``/api/agent/*`` and follows ``GET /api/agent/events`` (SSE).
What it needs once per load (who is logged in, colleagues and teams to
transfer to, the channels and the brand's languages for the filters) is
embedded as JSON.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from bot.agents.models import Account
from bot.api.agent_deps import AgentsDep
from bot.api.web_deps import AgentPage
from bot.messages import Channel
from bot.web import render

router = APIRouter(include_in_schema=False)


async def console_config(account: Account, agents: AgentsDep) -> dict[str, Any]:
    """What the console script needs at load (never a password hash or a token)."""
    colleagues = [a for a in await asyncio.to_thread(agents.accounts.list, account.brand) if a.active]
    raw_meta = await agents.redis.get(agents.keys.faq_meta)
    meta = json.loads(raw_meta) if raw_meta else {}
    return {
        "me": {
            "username": account.username,
            "display_name": account.display_name,
            "role": account.role.value,
            "teams": account.teams,
        },
        "agents": [
            {"username": a.username, "display_name": a.display_name, "teams": a.teams, "role": a.role.value}
            for a in sorted(colleagues, key=lambda a: a.display_name.lower())
        ],
        "teams": sorted({team for a in colleagues for team in a.teams}),
        "channels": [c.value for c in Channel],
        "languages": list(meta.get("languages") or []),
        "first_response_target_s": agents.settings.first_response_target_s,
    }


@router.get("/console", response_class=HTMLResponse)
async def console_page(request: Request, account: AgentPage, agents: AgentsDep) -> HTMLResponse:
    """The queue, the conversation with its context, and the reply box."""
    config = await console_config(account, agents)
    return render(request, "console.html", account, config=config)
