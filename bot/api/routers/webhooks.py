"""Meta webhooks: subscription check (GET) and signed event deliveries (POST).

A delivery is verified (``X-Hub-Signature-256``, constant time), parsed,
stored in the ingest streams and answered 200 before any processing: the
consumers (``bot/ingest.py``) do the rest.
"""

from __future__ import annotations

import hmac
import json
import logging
from typing import Annotated, Literal

from fastapi import APIRouter, Header, HTTPException, Path, Query, Request, status
from fastapi.responses import PlainTextResponse
from redis.exceptions import RedisError

from bot.api.deps import ServicesDep
from connectors.meta.events import EventKind, MalformedDeliveryError, parse_delivery
from connectors.meta.signature import verify

log = logging.getLogger(__name__)

router = APIRouter(prefix="/webhooks", tags=["meta webhooks"])

_CHANNELS = "{channel}"
ChannelPath = Annotated[Literal["messenger", "instagram"], Path(description="messenger or instagram")]

_POST_RESPONSES: dict[int | str, dict[str, str]] = {
    200: {"description": "Stored durably (or a valid delivery with nothing to store); processed afterwards."},
    400: {"description": "Body is not JSON."},
    403: {"description": "Missing or wrong X-Hub-Signature-256."},
    413: {"description": "Body larger than DMDESK_WEBHOOK_MAX_BYTES."},
    503: {"description": "Webhooks not configured (no META_APP_SECRET) or storage unavailable: Meta retries."},
}


@router.get(
    "/" + _CHANNELS,
    response_class=PlainTextResponse,
    summary="Meta's subscription check",
    responses={200: {"description": "hub.challenge echoed"}, 403: {"description": "Wrong mode or verify token"}},
)
async def verify_subscription(
    services: ServicesDep,
    channel: ChannelPath,
    mode: Annotated[str, Query(alias="hub.mode")] = "",
    token: Annotated[str, Query(alias="hub.verify_token")] = "",
    challenge: Annotated[str, Query(alias="hub.challenge", max_length=512)] = "",
) -> str:
    """Answers ``hub.challenge`` when ``hub.mode=subscribe`` and the token is META_VERIFY_TOKEN."""
    expected = services.settings.meta_verify_token
    ok = (
        expected is not None
        and bool(expected.get_secret_value())
        and mode == "subscribe"
        and hmac.compare_digest(token.encode(), expected.get_secret_value().encode())
    )
    if not ok:
        log.warning("webhook verification refused", extra={"mode": mode[:20]})
        raise HTTPException(status.HTTP_403_FORBIDDEN, "verification failed")
    return challenge


async def _read_capped(request: Request, cap: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > cap:
        raise HTTPException(status.HTTP_413_REQUEST_ENTITY_TOO_LARGE, f"body larger than {cap} bytes")
    body = bytearray()
    async for chunk in request.stream():
        body.extend(chunk)
        if len(body) > cap:
            raise HTTPException(status.HTTP_413_REQUEST_ENTITY_TOO_LARGE, f"body larger than {cap} bytes")
    return bytes(body)


@router.post(
    "/" + _CHANNELS,
    response_class=PlainTextResponse,
    summary="Signed event delivery (messages, postbacks, echoes, reactions, reads, ...)",
    responses=_POST_RESPONSES,  # type: ignore[arg-type]
    openapi_extra={
        "requestBody": {
            "required": True,
            "description": "Meta's delivery: {object: page|instagram, entry: [{id, time, messaging|standby|changes}]}",
            "content": {"application/json": {"schema": {"type": "object"}}},
        }
    },
)
async def receive(
    request: Request,
    services: ServicesDep,
    channel: ChannelPath,
    signature: Annotated[
        str | None, Header(alias="X-Hub-Signature-256", description="sha256=<hex HMAC-SHA256 of the raw body>")
    ] = None,
) -> str:
    """Verify, store, answer ``EVENT_RECEIVED``; every entry and event of the batch."""
    path_channel = channel
    secret = services.settings.meta_app_secret
    if secret is None or not secret.get_secret_value() or services.ingest is None:
        log.error("webhook delivery refused: META_APP_SECRET is not set")
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "webhooks not configured")
    body = await _read_capped(request, services.settings.webhook_max_bytes)
    if not verify(body, signature, secret.get_secret_value()):
        log.warning("webhook signature refused", extra={"channel": path_channel, "bytes": len(body)})
        raise HTTPException(status.HTTP_403_FORBIDDEN, "missing or invalid X-Hub-Signature-256")
    try:
        data = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        log.warning("webhook body is not JSON", extra={"channel": path_channel})
        raise HTTPException(status.HTTP_400_BAD_REQUEST, "malformed JSON") from exc
    try:
        events = parse_delivery(data)
    except MalformedDeliveryError:
        log.warning("webhook delivery of unknown shape acknowledged", extra={"channel": path_channel})
        return "EVENT_RECEIVED"
    unknown = [e for e in events if e.kind == EventKind.UNKNOWN]
    if unknown:
        log.info("unknown webhook events acknowledged", extra={"count": len(unknown), "keys": unknown[0].detail})
    try:
        await services.ingest.enqueue([e for e in events if e.kind != EventKind.UNKNOWN])
    except RedisError as exc:
        log.error("webhook delivery not stored", extra={"error": type(exc).__name__})
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "storage unavailable, retry") from exc
    return "EVENT_RECEIVED"
