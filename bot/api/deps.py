"""Shared FastAPI dependencies as Annotated aliases."""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from bot.agents.service import AgentServices
from bot.dispatcher import Dispatcher
from bot.faq.editor import FaqEditor
from bot.handoff.queue import HandoffStore
from bot.ingest import Ingest
from bot.meta.send import SendClient
from bot.metrics import WorkspaceCollector
from bot.rasa_client import RasaClient
from bot.settings import ServiceSettings


@dataclass
class Services:
    """Everything the routers need, created once in the app's lifespan."""

    settings: ServiceSettings
    dispatcher: Dispatcher
    handoffs: HandoffStore
    rasa: RasaClient
    agents: AgentServices | None = None
    ingest: Ingest | None = None
    send: SendClient | None = None
    metrics: WorkspaceCollector | None = None
    faq: FaqEditor | None = None


async def get_services(request: Request) -> Services:
    """The app's services.

    ``async`` like every dependency that does no I/O: FastAPI runs a plain ``def`` dependency in its
    thread pool, a hop to a worker thread and back on every request (every webhook too), which on
    a busy machine waits for that thread to get a CPU.
    """
    services: Services = request.app.state.services
    return services


ServicesDep = Annotated[Services, Depends(get_services)]

_bearer = HTTPBearer(auto_error=False, description="DMDESK_API_TOKEN")


async def require_token(
    services: ServicesDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> None:
    """Reject requests without the API bearer token (constant-time compare)."""
    expected = services.settings.api_token.get_secret_value().encode()
    given = (credentials.credentials if credentials else "").encode()
    if not credentials or not hmac.compare_digest(given, expected):
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED, "missing or invalid bearer token", headers={"WWW-Authenticate": "Bearer"}
        )


Authenticated = Annotated[None, Depends(require_token)]
