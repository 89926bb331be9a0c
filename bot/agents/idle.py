"""Automatic closing of idle tickets (``DMDESK_IDLE_CLOSE_S``, off by default).

A claimed ticket is **idle** when the last message on it is an agent's reply
and nothing was written for ``DMDESK_IDLE_CLOSE_S`` seconds: the agent is
waiting for a customer who left. It is resolved with a message to the
customer (in their language) and the bot takes the chat back, as on a resolve
by the agent. Waiting tickets (a customer waiting for us) are never closed.

A background task of the bot service looks for idle tickets every
``DMDESK_IDLE_SCAN_S`` seconds. With several replicas, one scans per period
(a Redis lock with a TTL), and each ticket is closed by one replica only (an
atomic ``SET NX`` claim per ticket, then the check is repeated under the
conversation's lock and inside the closing transaction).
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid

from redis.asyncio import Redis as AsyncRedis

from bot.agents.workflow import AgentWorkflow
from bot.errors import UpstreamError
from bot.handoff.models import Ticket, TicketStatus
from bot.keys import Keys

log = logging.getLogger(__name__)

CLAIM_TTL_S = 300


def is_idle(ticket: Ticket, idle_s: float, now: float) -> bool:
    """True if the ticket is claimed, its last line is an agent's, and that is ``idle_s`` old."""
    if ticket.status is not TicketStatus.CLAIMED or not ticket.transcript:
        return False
    last = ticket.transcript[-1]
    return last.sender == "agent" and now - last.timestamp >= idle_s


class IdleCloser:
    """Finds and closes idle tickets; safe to run in every replica at once."""

    def __init__(self, workflow: AgentWorkflow, redis: AsyncRedis, keys: Keys, idle_s: float, scan_s: float) -> None:
        self._workflow = workflow
        self._redis = redis
        self._keys = keys
        self.idle_s = idle_s
        self.scan_s = scan_s
        self._me = uuid.uuid4().hex[:12]

    def idle_tickets(self, now: float | None = None) -> list[Ticket]:
        """Claimed tickets that are idle now."""
        moment = now if now is not None else time.time()
        store = self._workflow.desk.store
        return [t for t in store.get_many(store.claimed_ids()) if is_idle(t, self.idle_s, moment)]

    async def scan_once(self, now: float | None = None) -> list[str]:
        """One pass (if no other replica holds this period's lock): the ids of the tickets closed."""
        period_ms = max(1, int(self.scan_s * 1000 * 0.9))
        if not await self._redis.set(self._keys.idle_scan_lock, self._me, nx=True, px=period_ms):
            return []
        closed = []
        for ticket in await asyncio.to_thread(self.idle_tickets, now):
            if await self.close(ticket.id):
                closed.append(ticket.id)
        return closed

    async def close(self, ticket_id: str) -> bool:
        """Close one idle ticket unless another replica is on it; True if this call closed it."""
        claim = self._keys.idle_close_claim(ticket_id)
        if not await self._redis.set(claim, self._me, nx=True, ex=CLAIM_TTL_S):
            return False
        try:
            done = await self._workflow.close_idle(ticket_id, lambda t: is_idle(t, self.idle_s, time.time()))
        except UpstreamError as exc:
            log.warning("idle ticket not closed: Rasa did not answer", extra={"ticket": ticket_id, "error": str(exc)})
            await self._redis.delete(claim)
            return False
        if done is None:
            await self._redis.delete(claim)  # not idle after all: a later pass may close it
            return False
        log.info("idle ticket closed", extra={"ticket": ticket_id})
        return True

    async def run(self, stop: asyncio.Event) -> None:
        """Scan every ``scan_s`` seconds until ``stop`` is set."""
        while not stop.is_set():
            try:
                await self.scan_once()
            except Exception:  # noqa: BLE001 - a failed pass is logged and retried next period
                log.exception("idle ticket scan failed")
            try:
                await asyncio.wait_for(stop.wait(), timeout=self.scan_s)
            except asyncio.TimeoutError:
                continue
