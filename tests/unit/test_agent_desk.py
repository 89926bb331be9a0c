"""Queue operations on a real Redis: atomic claim, transfer, release, notes, reopen, events."""

from __future__ import annotations

import json
import threading
import time

import pytest
from redis import Redis

from bot.agents.accounts import AccountStore
from bot.agents.desk import AgentDesk
from bot.agents.errors import ConflictError, PermissionDeniedError
from bot.agents.models import Account, AccountCreate, Role, TransferRequest
from bot.errors import InvalidInputError, NotFoundError
from bot.handoff.models import HandoffReason, TicketStatus
from bot.handoff.queue import HandoffStore
from bot.keys import Keys
from tests.unit.test_handoff import ticket

PASSWORD = "long enough password"


@pytest.fixture()
def desk(redis: Redis, keys: Keys) -> AgentDesk:
    accounts = AccountStore(redis, keys)
    return AgentDesk(HandoffStore(redis, keys, "kopiku"), redis, keys, accounts, first_response_target_s=60)


def account(
    desk: AgentDesk, name: str, role: Role = Role.AGENT, brand: str = "kopiku", teams: list[str] | None = None
) -> Account:
    return desk._accounts.create(brand, AccountCreate(username=name, password=PASSWORD, role=role, teams=teams or []))


def open_ticket(desk: AgentDesk, conversation: str, reason: HandoffReason = HandoffReason.REQUESTED, age_s: float = 0):
    new = ticket(conversation, reason, time.time() - age_s)
    new.channel = new.customer.channel = conversation.split(":")[0]
    t, created = desk.store.open(new)
    assert created
    return t


def test_of_many_agents_claiming_at_once_exactly_one_wins(desk: AgentDesk) -> None:
    agents = [account(desk, f"agent{i}") for i in range(8)]
    t = open_ticket(desk, "messenger:race")
    barrier = threading.Barrier(len(agents))
    won, lost = [], []

    def claim(a: Account) -> None:
        barrier.wait()
        try:
            won.append(desk.claim(a, t.id).assignee)
        except ConflictError:
            lost.append(a.username)

    threads = [threading.Thread(target=claim, args=(a,)) for a in agents]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert len(won) == 1 and len(lost) == 7
    stored = desk.store.get(t.id)
    assert stored.status is TicketStatus.CLAIMED and stored.assignee == won[0]
    assert desk.store.queue_length() == 0 and desk.store.claimed_ids() == [t.id]
    assert desk.store.owner("messenger:race") == t.id


def test_queue_order_filters_and_first_response_breach(desk: AgentDesk) -> None:
    old = open_ticket(desk, "messenger:old", age_s=120)
    angry = open_ticket(desk, "instagram:angry", HandoffReason.ANGRY, age_s=5)
    fresh = open_ticket(desk, "messenger:fresh", age_s=1)
    rows = desk.queue("kopiku")
    assert [r.id for r in rows] == [angry.id, old.id, fresh.id]
    by_id = {r.id: r for r in rows}
    assert by_id[old.id].first_response_breached and not by_id[fresh.id].first_response_breached
    assert by_id[old.id].waiting_s >= 119 and by_id[old.id].first_response_due_at == pytest.approx(old.created_at + 60)
    assert [r.id for r in desk.queue("kopiku", channel="instagram")] == [angry.id]
    assert [r.id for r in desk.queue("kopiku", priority=2)] == [old.id, fresh.id]
    assert desk.queue("kopiku", language="fr") == [] and len(desk.queue("kopiku", language="id")) == 3
    assert desk.queue("kopiku", limit=1, offset=1)[0].id == old.id
    assert desk.queue("otherbrand") == []


def test_other_brands_tickets_are_invisible(desk: AgentDesk) -> None:
    t = open_ticket(desk, "messenger:brand")
    outsider = account(desk, "spy", Role.ADMIN, brand="otherbrand")
    with pytest.raises(NotFoundError):
        desk.view(outsider, t.id)
    with pytest.raises(NotFoundError):
        desk.claim(outsider, t.id)
    assert desk.store.get(t.id).status is TicketStatus.WAITING


def test_release_and_transfer(desk: AgentDesk) -> None:
    sari, budi, boss = (
        account(desk, "sari"),
        account(desk, "budi", teams=["billing"]),
        account(desk, "boss", Role.ADMIN),
    )
    t = open_ticket(desk, "messenger:xfer")
    desk.claim(sari, t.id)
    with pytest.raises(ConflictError):
        desk.release(budi, t.id)  # not his
    with pytest.raises(InvalidInputError):
        desk.transfer(sari, t.id, TransferRequest())
    with pytest.raises(NotFoundError):
        desk.transfer(sari, t.id, TransferRequest(to_agent="ghost"))
    with pytest.raises(InvalidInputError):
        desk.transfer(sari, t.id, TransferRequest(to_team="nobodys-team"))
    moved = desk.transfer(sari, t.id, TransferRequest(to_agent="budi", note="VIP customer"))
    assert moved.assignee == "budi" and moved.status is TicketStatus.CLAIMED
    assert [n.text for n in desk.notes(t.id)] == ["VIP customer"]
    routed = desk.transfer(budi, t.id, TransferRequest(to_team="billing"))
    assert routed.status is TicketStatus.WAITING and routed.team == "billing" and routed.assignee is None
    assert [r.id for r in desk.queue("kopiku", team="billing")] == [t.id]
    with pytest.raises(PermissionDeniedError):
        desk.claim(sari, t.id)  # not in the team
    desk.claim(budi, t.id)
    released = desk.release(boss, t.id)  # admins may release anyone's ticket
    assert released.status is TicketStatus.WAITING and released.waiting_since
    assert desk.store.queue_length() == 1 and desk.store.claimed_ids() == []


def test_notes_view_and_earlier_tickets(desk: AgentDesk, redis: Redis, keys: Keys) -> None:
    sari = account(desk, "sari")
    first = open_ticket(desk, "messenger:again")
    desk.claim(sari, first.id)
    desk.store.transact(first.id, lambda t: setattr(t, "status", TicketStatus.RESOLVED) or [])
    second = open_ticket(desk, "messenger:again")
    note = desk.add_note(sari, second.id, "asked about KPK-10482 last week")
    view = desk.view(sari, second.id)
    assert view.ticket.id == second.id and view.notes == [note]
    assert [e.id for e in view.earlier_tickets] == [first.id]
    assert view.ticket.transcript and view.ticket.intents and view.ticket.customer.name == "Budi"


def test_state_changes_are_published_on_the_brand_channel(desk: AgentDesk, redis: Redis, keys: Keys) -> None:
    pubsub = redis.pubsub()
    pubsub.subscribe(keys.agent_events("kopiku"))
    assert pubsub.get_message(timeout=1)["type"] == "subscribe"  # type: ignore[index]
    sari = account(desk, "sari")
    t = open_ticket(desk, "messenger:events")
    desk.claim(sari, t.id)
    desk.add_note(sari, t.id, "note")
    desk.release(sari, t.id)
    seen = []
    deadline = time.monotonic() + 2
    while len(seen) < 4 and time.monotonic() < deadline:
        message = pubsub.get_message(timeout=0.2)
        if message and message["type"] == "message":
            seen.append(json.loads(message["data"]))
    pubsub.close()
    assert [e["type"] for e in seen] == ["ticket.created", "ticket.claimed", "ticket.note", "ticket.released"]
    assert all(e["ticket_id"] == t.id and e["brand"] == "kopiku" for e in seen)
    assert seen[1]["actor"] == "sari"


def test_a_resolved_ticket_reopens_only_within_the_window(desk: AgentDesk, redis: Redis, keys: Keys) -> None:
    sari = account(desk, "sari")
    t = open_ticket(desk, "messenger:reopen")
    desk.claim(sari, t.id)

    def resolve(x):  # type: ignore[no-untyped-def]
        x.status = TicketStatus.RESOLVED
        return []

    desk.store.transact(t.id, resolve, resolved_ttl_s=60)
    assert desk.store.owner("messenger:reopen") is None
    reopened = desk.store.reopen_recent("messenger:reopen")
    assert reopened is not None and reopened.id == t.id and reopened.status is TicketStatus.WAITING
    assert desk.store.owner("messenger:reopen") == t.id and desk.store.waiting_page("kopiku").ids == [t.id]
    assert desk.store.reopen_recent("messenger:reopen") is None  # already open
    desk.claim(sari, t.id)
    desk.store.transact(t.id, resolve, resolved_ttl_s=1)
    time.sleep(1.2)
    assert desk.store.reopen_recent("messenger:reopen") is None
    assert desk.store.get(t.id).status is TicketStatus.RESOLVED


def test_changing_an_old_resolved_ticket_never_frees_a_newer_ones_conversation(desk: AgentDesk) -> None:
    sari = account(desk, "sari")
    old = open_ticket(desk, "messenger:twice")
    desk.claim(sari, old.id)

    def resolve(x):  # type: ignore[no-untyped-def]
        x.status = TicketStatus.RESOLVED
        return []

    desk.store.transact(old.id, resolve)
    new = open_ticket(desk, "messenger:twice")
    desk.store.transact(old.id, lambda x: [])  # e.g. a delivery retry on the old ticket
    assert desk.store.owner("messenger:twice") == new.id
