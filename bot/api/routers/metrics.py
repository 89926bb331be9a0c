"""Prometheus metrics (``GET /metrics``), behind a bearer token."""

from __future__ import annotations

import asyncio
import hmac
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Response, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from prometheus_client import CONTENT_TYPE_LATEST

from bot.api.deps import ServicesDep
from bot.metrics import render

router = APIRouter(tags=["metrics"])

_bearer = HTTPBearer(
    auto_error=False, scheme_name="MetricsToken", description="DMDESK_METRICS_TOKEN (or DMDESK_API_TOKEN)"
)


def require_metrics_token(
    services: ServicesDep, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> None:
    """Reject scrapes without ``DMDESK_METRICS_TOKEN`` (``DMDESK_API_TOKEN`` when that is unset)."""
    settings = services.settings
    expected = (settings.metrics_token or settings.api_token).get_secret_value().encode()
    given = (credentials.credentials if credentials else "").encode()
    if not credentials or not hmac.compare_digest(given, expected):
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED, "missing or invalid bearer token", headers={"WWW-Authenticate": "Bearer"}
        )


@router.get(
    "/metrics",
    summary="Prometheus metrics",
    response_class=Response,
    responses={
        200: {"content": {CONTENT_TYPE_LATEST: {"schema": {"type": "string"}}}, "description": "text format 0.0.4"},
        401: {"description": "missing or invalid bearer token"},
        503: {"description": "metrics not configured"},
    },
)
async def metrics(services: ServicesDep, _: Annotated[None, Depends(require_metrics_token)]) -> Response:
    """Queue length by brand, priority, team and channel (``dmdesk_queue_tickets``); waiting times of
    the waiting tickets (``dmdesk_queue_wait_seconds``, a gauge histogram, and
    ``dmdesk_queue_oldest_wait_seconds``); handoffs by reason and rule (``dmdesk_handoffs_total``);
    first-response times (``dmdesk_first_response_seconds``, a histogram); agents online
    (``dmdesk_agents_online``). Read from Redis at each scrape: every replica gives the same figures,
    and counters survive restarts. Send ``Authorization: Bearer $DMDESK_METRICS_TOKEN``
    (``$DMDESK_API_TOKEN`` when no metrics token is set)."""
    if services.metrics is None:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "metrics not configured")
    body = await asyncio.to_thread(render, services.metrics)
    return Response(content=body, media_type=CONTENT_TYPE_LATEST)
