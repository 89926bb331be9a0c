"""Handoff ticket wire format."""

from __future__ import annotations

from enum import Enum
from typing import Any

from pydantic import BaseModel, Field


class TicketStatus(str, Enum):
    """Lifecycle of a ticket."""

    WAITING = "waiting"
    CLAIMED = "claimed"
    RESOLVED = "resolved"


class HandoffReason(str, Enum):
    """Why the bot escalated."""

    REQUESTED = "requested_human"
    ANGRY = "angry_complaint"
    REPEATED_FAILURE = "repeated_failure"
    OFFER_ACCEPTED = "accepted_offer"
    AGENT_INBOX = "agent_answered_in_inbox"
    KEYWORD = "keyword"


#: 1 is most urgent
PRIORITY_BY_REASON: dict[HandoffReason, int] = {
    HandoffReason.ANGRY: 1,
    HandoffReason.REPEATED_FAILURE: 2,
    HandoffReason.REQUESTED: 2,
    HandoffReason.OFFER_ACCEPTED: 3,
    HandoffReason.AGENT_INBOX: 3,
    HandoffReason.KEYWORD: 1,
}


class DeliveryStatus(str, Enum):
    """Outbound delivery of a message sent on an agent's behalf."""

    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"


class Delivery(BaseModel):
    """Delivery state of one outbound line."""

    status: DeliveryStatus
    error: str | None = None
    message_id: str | None = Field(default=None, description="id given by the channel")
    attempts: int = 0
    updated_at: float | None = None


class TranscriptLine(BaseModel):
    """One message of the conversation as the agent sees it."""

    sender: str = Field(description="customer | bot | agent | system")
    text: str | None = None
    timestamp: float
    intent: str | None = None
    confidence: float | None = None
    entities: list[dict[str, Any]] = Field(default_factory=list)
    language: str | None = None
    read_over: str | None = Field(
        default=None, description="the classifier's intent when the message was read as a request for a person"
    )
    read_from: str | None = Field(
        default=None,
        description="the sentence that asked for a person, when the message was read so from one of its sentences",
    )
    payload: dict[str, Any] | None = Field(default=None, description="buttons, custom data")
    # Agent workspace (bot/agents): lines written by agents or sent on their behalf
    id: str | None = Field(default=None, description="line id (agent and resolution lines)")
    author: str | None = Field(default=None, description="agent username for agent lines")
    quick_replies: list[str] = Field(default_factory=list)
    delivery: Delivery | None = Field(default=None, description="outbound delivery of agent/resolution lines")
    message_id: str | None = Field(default=None, description="The channel's message id (mid), when known.")


class FaqAttempt(BaseModel):
    """An FAQ search the bot made, with what it found."""

    text: str
    outcome: str = Field(description="answer | clarify | none")
    reason: str | None = Field(
        default=None,
        description="why: confident | close_call | low_confidence | strict (out of scope, not sure enough) | "
        "not_covered (closer to one of the FAQ's not-covered questions) | empty (no entry)",
    )
    candidates: list[dict[str, Any]] = Field(default_factory=list, description="top 3: [{entry_id, score}]")
    confidence: float | None = Field(default=None, description="verifier probability that the top entry fits")
    timestamp: float | None = None


class CustomerProfile(BaseModel):
    """What is known about the customer."""

    id: str
    channel: str
    name: str | None = None
    extra: dict[str, Any] = Field(default_factory=dict)


class Ticket(BaseModel):
    """A handoff ticket: everything the bot knew when it escalated."""

    id: str
    conversation_id: str
    channel: str
    customer: CustomerProfile
    language: str
    reason: HandoffReason
    priority: int = Field(ge=1, le=5)
    status: TicketStatus = TicketStatus.WAITING
    created_at: float
    transcript: list[TranscriptLine]
    intents: list[dict[str, Any]] = Field(
        default_factory=list,
        description="per customer message: text, intent, confidence, read_over (the classifier's intent when "
        "the message was read as a request for a person), read_from (the sentence it was read from, if one "
        "sentence of a longer message asked for a person), timestamp, message_id",
    )
    entities: list[dict[str, Any]] = Field(default_factory=list)
    faq_attempts: list[FaqAttempt] = Field(default_factory=list)
    slots: dict[str, Any] = Field(default_factory=dict)
    # Escalation rules (bot/handoff/rules.py)
    rule: str | None = Field(default=None, description="id of the escalation rule that set priority and team")
    matched: str | None = Field(default=None, description="the keyword (as written in the rules) that matched")
    vip: bool = Field(default=False, description="the customer is a VIP (escalation rules' vip section)")
    # Agent workspace (bot/agents)
    brand: str = Field(default="", description="brand slug; empty on tickets from before brands (= the default)")
    team: str | None = Field(default=None, description="team the ticket is routed to, if any")
    assignee: str | None = Field(default=None, description="username of the agent who owns it")
    claimed_at: float | None = None
    first_response_at: float | None = Field(default=None, description="first agent reply")
    resolved_at: float | None = None
    resolved_by: str | None = None
    reopened_at: float | None = None
    waiting_since: float | None = Field(default=None, description="back in the queue at (release, transfer, reopen)")
    context: list[dict[str, Any]] = Field(
        default_factory=list, description="referrals (ads, m.me links), story replies and mentions"
    )


class TicketSummary(BaseModel):
    """A queue row."""

    id: str
    conversation_id: str
    channel: str
    customer_name: str | None
    language: str
    reason: HandoffReason
    priority: int
    status: TicketStatus
    created_at: float
    waiting_s: float
    last_message: str | None
    rule: str | None = None
    vip: bool = False

    @classmethod
    def fields_of(cls, ticket: Ticket, now: float) -> dict[str, Any]:
        """The summary's fields for ``ticket`` at time ``now`` (subclasses add their own)."""
        last = next((line.text for line in reversed(ticket.transcript) if line.sender == "customer"), None)
        return {
            "id": ticket.id,
            "conversation_id": ticket.conversation_id,
            "channel": ticket.channel,
            "customer_name": ticket.customer.name,
            "language": ticket.language,
            "reason": ticket.reason,
            "priority": ticket.priority,
            "status": ticket.status,
            "created_at": ticket.created_at,
            "waiting_s": round(now - ticket.created_at, 3),
            "last_message": last,
            "rule": ticket.rule,
            "vip": ticket.vip,
        }
