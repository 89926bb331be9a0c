"""Dev endpoint: talk to the bot as a customer of any channel, through the real dispatcher."""

from __future__ import annotations

import time
import uuid

from fastapi import APIRouter, HTTPException, status
from pydantic import BaseModel, Field, field_validator

from bot.api.deps import Authenticated, ServicesDep
from bot.messages import Channel, DispatchResult, InboundMessage

router = APIRouter(prefix="/api/dev", tags=["dev"])


class DevMessageCreate(BaseModel):
    """A customer message typed by a developer."""

    channel: Channel = Field(description="dev, messenger or instagram")
    sender: str = Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_.:@-]+$")
    text: str = Field(description="1 to DMDESK_MAX_MESSAGE_CHARS characters, not only white space")
    message_id: str | None = Field(default=None, max_length=256, description="Give one to test de-duplication.")
    profile: dict[str, str] = Field(default_factory=dict, description="e.g. {'name': 'Budi'}")

    @field_validator("text")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("text is empty")
        return value


@router.post("/messages", response_model=DispatchResult, summary="Send a message as a customer; get the bot's replies")
async def post_message(body: DevMessageCreate, services: ServicesDep, _: Authenticated) -> DispatchResult:
    """Runs the same dispatcher path as a channel webhook and returns the replies."""
    if not services.settings.enable_dev_endpoint:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "dev endpoint disabled")
    if len(body.text) > services.settings.max_message_chars:
        raise HTTPException(
            status.HTTP_413_REQUEST_ENTITY_TOO_LARGE,
            f"text longer than {services.settings.max_message_chars} characters",
        )
    message = InboundMessage(
        channel=body.channel,
        sender=body.sender,
        text=body.text.strip(),
        message_id=body.message_id or f"dev-{uuid.uuid4().hex}",
        timestamp=time.time(),
        metadata={"profile": body.profile} if body.profile else {},
    )
    return await services.dispatcher.dispatch(message)
