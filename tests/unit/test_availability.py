"""Availability (presence), the customer's wait message, idle tickets, on a real Redis."""

from __future__ import annotations

import time
from datetime import datetime, timezone

import pytest
from redis import Redis
from redis.asyncio import Redis as AsyncRedis

from bot.agents.accounts import AccountStore
from bot.agents.desk import AgentDesk
from bot.agents.idle import IdleCloser, is_idle
from bot.agents.models import AccountCreate
from bot.agents.outbound import DevOutbox, OutboundRouter
from bot.agents.workflow import AgentWorkflow
from bot.handoff.context import wait_message_vars
from bot.handoff.events import TicketEvent
from bot.handoff.hours import SupportHours
from bot.handoff.models import HandoffReason, Ticket, TicketStatus, TranscriptLine
from bot.handoff.presence import Presence
from bot.handoff.queue import HandoffStore
from bot.keys import Keys
from bot.rasa_client import RasaClient
from tests.unit.test_handoff import ticket

HOURS = SupportHours.parse("mon-fri 09:00-18:00", "Asia/Jakarta")
MONDAY_10_WIB = datetime(2026, 11, 30, 3, 0, tzinfo=timezone.utc)
MONDAY_20_WIB = datetime(2026, 11, 30, 13, 0, tzinfo=timezone.utc)


def test_an_agent_is_online_while_seen_within_the_ttl_and_not_away(redis: Redis, keys: Keys) -> None:
    presence = Presence(redis, keys, ttl_s=45, mode="on")
    now = time.time()
    assert presence.online("kopiku", now) == [] and presence.anyone_online("kopiku", now) is False
    presence.seen("kopiku", "sari", now)
    presence.seen("kopiku", "budi", now - 60)  # a console closed a minute ago
    presence.seen("otherbrand", "spy", now)
    assert presence.online("kopiku", now) == ["sari"] and presence.anyone_online("kopiku", now) is True
    assert presence.online("kopiku", now + 46) == []  # TTL passed without a keep-alive
    presence.set_available("kopiku", "sari", False)
    assert presence.is_away("kopiku", "sari") and presence.online("kopiku", now) == []
    presence.seen("kopiku", "sari", now)  # an open stream does not override "away"
    assert presence.online("kopiku", now) == []
    presence.set_available("kopiku", "sari", True, now)
    assert presence.online("kopiku", now) == ["sari"] and presence.last_seen("kopiku", "sari") == pytest.approx(now)
    presence.gone("kopiku", "sari")
    assert presence.online("kopiku", now) == [] and presence.last_seen("kopiku", "sari") is None


def test_presence_counts_in_auto_mode_only_when_the_brand_has_accounts(redis: Redis, keys: Keys) -> None:
    auto = Presence(redis, keys, 45, "auto")
    assert auto.anyone_online("kopiku") is None  # support hours decide alone
    AccountStore(redis, keys).create("kopiku", AccountCreate(username="sari", password="a long password"))
    assert auto.anyone_online("kopiku") is False
    assert Presence(redis, keys, 45, "off").anyone_online("kopiku") is None
    assert Presence(redis, keys, 45, "on").anyone_online("nobrand") is False


def test_the_customer_is_told_when_to_expect_a_person() -> None:
    assert wait_message_vars(HOURS, 10, MONDAY_10_WIB, agents_online=True) == ("utter_handoff_open", {"wait": "10"})
    assert wait_message_vars(HOURS, 10, MONDAY_10_WIB, agents_online=None) == ("utter_handoff_open", {"wait": "10"})
    away = wait_message_vars(HOURS, 10, MONDAY_10_WIB, agents_online=False, away_wait_minutes=45)
    assert away == ("utter_handoff_away", {"wait": "45"})
    for online in (True, False, None):  # outside hours: the next opening, whoever is online
        closed = wait_message_vars(HOURS, 10, MONDAY_20_WIB, agents_online=online)
        assert closed == ("utter_handoff_closed", {"next_open": "2026-12-01 09:00 WIB"})


def test_a_ticket_is_idle_only_when_claimed_and_the_agent_spoke_last_long_ago() -> None:
    t = ticket("messenger:idle", HandoffReason.REQUESTED, 1000.0)
    now = 10_000.0
    t.status = TicketStatus.CLAIMED
    t.transcript.append(TranscriptLine(sender="agent", text="anything else?", timestamp=now - 700))
    assert is_idle(t, 600, now) and not is_idle(t, 800, now)
    t.transcript.append(TranscriptLine(sender="customer", text="wait", timestamp=now - 650))
    assert not is_idle(t, 600, now)  # the customer answered: the agent's turn
    t.transcript.append(TranscriptLine(sender="agent", text="ok", timestamp=now - 640))
    t.status = TicketStatus.WAITING
    assert not is_idle(t, 600, now)  # waiting tickets are never closed


async def test_a_ticket_that_is_not_idle_or_claimed_by_another_replica_is_left_alone(
    redis: Redis, aredis: AsyncRedis, keys: Keys
) -> None:
    store = HandoffStore(redis, keys, "kopiku")
    desk = AgentDesk(store, redis, keys, AccountStore(redis, keys), 60)
    rasa = RasaClient("http://127.0.0.1:9", 1.0, "unused")  # never reached: nothing is closed
    workflow = AgentWorkflow(desk, OutboundRouter({"dev": DevOutbox(aredis, keys)}), rasa, aredis, keys, 0)
    fresh, _ = store.open(ticket("messenger:fresh", HandoffReason.REQUESTED, time.time()))
    closers = [IdleCloser(workflow, aredis, keys, idle_s=600, scan_s=30) for _ in range(2)]
    assert await closers[0].close(fresh.id) is False  # waiting, not idle: Rasa is never called
    assert store.get(fresh.id).status is TicketStatus.WAITING and redis.get(keys.idle_close_claim(fresh.id)) is None

    def make_idle(t: Ticket) -> list[TicketEvent]:
        t.status, t.assignee = TicketStatus.CLAIMED, "sari"
        t.transcript.append(TranscriptLine(sender="agent", text="more?", timestamp=time.time() - 3600))
        return []

    store.transact(fresh.id, make_idle)
    assert [t.id for t in closers[0].idle_tickets()] == [fresh.id]
    redis.set(keys.idle_close_claim(fresh.id), "other-replica", ex=60)
    assert await closers[1].close(fresh.id) is False  # another replica is closing it
    assert redis.get(keys.idle_close_claim(fresh.id)) == b"other-replica"  # untouched: Rasa was not called
    assert await closers[0].scan_once() == [] and await closers[1].scan_once() == []  # one scans per period
    assert redis.get(keys.idle_scan_lock) is not None
    await rasa.close()
