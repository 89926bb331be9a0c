"""Liveness and readiness."""

from __future__ import annotations

from fastapi import APIRouter, Response, status

from bot.api.deps import ServicesDep

router = APIRouter(tags=["health"])


@router.get("/healthz", summary="Is the service up and can it reach Rasa?")
async def healthz(services: ServicesDep, response: Response) -> dict[str, bool]:
    """200 when Rasa has a model loaded, 503 otherwise."""
    rasa = await services.rasa.ready()
    if not rasa:
        response.status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    return {"ok": rasa, "rasa": rasa}
