"""Inbound and outbound message wire formats (channel-independent)."""

from __future__ import annotations

from enum import Enum
from typing import Any

from pydantic import BaseModel, Field


class Channel(str, Enum):
    """Channels dmdesk serves."""

    DEV = "dev"
    MESSENGER = "messenger"
    INSTAGRAM = "instagram"


class Button(BaseModel):
    """A choice the customer can tap."""

    title: str
    payload: str


class InboundMessage(BaseModel):
    """One customer message, after the channel connector parsed it."""

    channel: Channel
    sender: str = Field(min_length=1, max_length=128, description="Customer id on the channel.")
    text: str
    message_id: str = Field(min_length=1, max_length=256)
    timestamp: float
    metadata: dict[str, Any] = Field(default_factory=dict)

    @property
    def conversation_id(self) -> str:
        """The conversation key shared by Rasa's tracker, locks and tickets."""
        return f"{self.channel.value}:{self.sender}"


class OutboundMessage(BaseModel):
    """One bot message to render on the channel."""

    text: str | None = None
    buttons: list[Button] = Field(default_factory=list)
    meta: dict[str, Any] = Field(default_factory=dict, description="What the bot did: kind, faq_id, ticket_id ...")


class DispatchResult(BaseModel):
    """What happened to an inbound message."""

    conversation_id: str
    message_id: str
    status: str = Field(description="answered | duplicate | human")
    replies: list[OutboundMessage] = Field(default_factory=list)
    ticket_id: str | None = None
