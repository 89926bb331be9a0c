"""Agents' replies to Messenger and Instagram customers through the Send API client.

Implements :class:`bot.agents.outbound.Sender`: a person's message goes out
as ``RESPONSE`` inside 24 hours and with the ``HUMAN_AGENT`` tag up to 7 days
(:meth:`bot.meta.send.SendClient.messaging_type`); long texts are split and
quick replies rendered within the platform's limits. Failures come back as a
failed delivery with the reason, never as an exception, so the console shows
them on the message with a retry.
"""

from __future__ import annotations

import logging

from bot.agents.outbound import DeliveryResult
from bot.handoff.models import DeliveryStatus, Ticket
from bot.messages import Button, Channel, OutboundMessage
from bot.meta.pages import Account
from bot.meta.send import SendClient, SendError
from connectors.meta.render import render

log = logging.getLogger(__name__)


class MetaAgentSender:
    """Sends a person's message on the ticket's Messenger or Instagram conversation."""

    def __init__(self, client: SendClient, channel: Channel) -> None:
        self._client = client
        self._channel = channel

    def _account(self, ticket: Ticket) -> Account | None:
        page_id = ticket.customer.extra.get("page_id")
        if page_id:
            return self._client.pages.find(str(page_id))
        candidates = [a for a in self._client.pages.accounts if a.channel is self._channel]
        return candidates[0] if len(candidates) == 1 else None

    async def send_agent_message(self, ticket: Ticket, text: str, quick_replies: list[str]) -> DeliveryResult:
        """Send ``text`` with optional quick replies as a human agent's message."""
        account = self._account(ticket)
        if account is None:
            return DeliveryResult(status=DeliveryStatus.FAILED, error="no configured page or account for this chat")
        reply = OutboundMessage(text=text, buttons=[Button(title=q, payload=q) for q in quick_replies])
        mid = None
        try:
            for part in render(reply, self._channel):
                mid = await self._client.send_message(
                    account, ticket.customer.id, part, ticket.conversation_id, human=True
                )
        except SendError as exc:
            log.info("agent message not delivered", extra={"ticket": ticket.id, "error": type(exc).__name__})
            return DeliveryResult(status=DeliveryStatus.FAILED, error=str(exc))
        return DeliveryResult(status=DeliveryStatus.SENT, message_id=mid or None)
