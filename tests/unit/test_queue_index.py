"""The per-brand queue index (filtered and paged in Redis) and the Prometheus metrics, on a real Redis."""

from __future__ import annotations

import itertools
import time

from prometheus_client.parser import text_string_to_metric_families
from redis import Redis

from bot.agents.accounts import AccountStore
from bot.agents.desk import AgentDesk
from bot.agents.models import Account, AccountCreate, Role, TransferRequest
from bot.handoff.models import HandoffReason, Ticket
from bot.handoff.presence import Presence
from bot.handoff.queue import HandoffStore, QueueQuery
from bot.keys import Keys
from bot.metrics import FIRST_RESPONSE_BUCKETS, WorkspaceCollector, bucket_of, record_first_response, render
from tests.unit.test_handoff import ticket

CHANNELS, LANGUAGES, TEAMS = ["messenger", "instagram", "dev"], ["en", "id", "fr", "ru"], [None, "billing", "legal"]


def fill(store: HandoffStore, n: int, now: float) -> list[Ticket]:
    out = []
    combos = itertools.cycle(itertools.product(CHANNELS, LANGUAGES, TEAMS, [1, 2, 3]))
    for i in range(n):
        channel, language, team, priority = next(combos)
        t = ticket(f"{channel}:c{i}", HandoffReason.REQUESTED, now - 1000 + i)
        t.channel = t.customer.channel = channel
        t.language, t.team, t.priority = language, team, priority
        opened, created = store.open(t)
        assert created
        out.append(opened)
    return out


def expected(tickets: list[Ticket], **want: object) -> list[str]:
    rows = [t for t in tickets if all(getattr(t, k) == v for k, v in want.items())]
    return [t.id for t in sorted(rows, key=lambda t: (t.priority, t.created_at))]


def test_the_queue_is_filtered_and_paged_in_redis_like_a_full_scan(redis: Redis, keys: Keys) -> None:
    store = HandoffStore(redis, keys, "kopiku")
    tickets = fill(store, 300, time.time())
    HandoffStore(redis, keys, "otherbrand").open(ticket("messenger:other", HandoffReason.ANGRY, time.time()))
    assert store.waiting_page("kopiku", QueueQuery(limit=500)).ids == expected(tickets)
    for want in [
        {"channel": "instagram"},
        {"language": "ru", "team": "billing"},
        {"priority": 1, "channel": "dev", "language": "fr"},
        {"team": "legal", "priority": 3},
    ]:
        page = store.waiting_page("kopiku", QueueQuery(limit=500, **want))  # type: ignore[arg-type]
        assert page.ids == expected(tickets, **want) and page.total == len(page.ids) > 0, want
    paged = store.waiting_page("kopiku", QueueQuery(language="id", limit=10, offset=20))
    assert paged.ids == expected(tickets, language="id")[20:30] and paged.total == 75
    assert store.queue_length() == 300 and store.queue_length("otherbrand") == 1
    assert len(store.waiting_page("otherbrand").ids) == 1


def test_the_index_follows_claims_transfers_and_releases(redis: Redis, keys: Keys) -> None:
    store = HandoffStore(redis, keys, "kopiku")
    accounts = AccountStore(redis, keys)
    desk = AgentDesk(store, redis, keys, accounts, 60)
    make = [("sari", []), ("budi", ["billing"])]
    agents: dict[str, Account] = {
        n: accounts.create("kopiku", AccountCreate(username=n, password="a long password", role=Role.AGENT, teams=t))
        for n, t in make
    }
    t, _ = store.open(ticket("messenger:idx", HandoffReason.REQUESTED, time.time()))
    desk.claim(agents["sari"], t.id)
    assert store.waiting_page("kopiku").total == 0 and store.waiting_attrs("kopiku") == []
    desk.transfer(agents["sari"], t.id, TransferRequest(to_team="billing"))
    assert store.waiting_page("kopiku", QueueQuery(team="billing")).ids == [t.id]
    assert store.waiting_page("kopiku", QueueQuery(team="legal")).ids == []
    desk.claim(agents["budi"], t.id)
    desk.release(agents["budi"], t.id)
    rows, total = desk.queue_page("kopiku", QueueQuery(team="billing"))
    assert [r.id for r in rows] == [t.id] and total == 1


def test_a_keyword_later_raises_a_waiting_tickets_priority_only(redis: Redis, keys: Keys) -> None:
    store = HandoffStore(redis, keys, "kopiku")
    t, _ = store.open(ticket("messenger:later", HandoffReason.OFFER_ACCEPTED, time.time()))
    assert t.priority == 3
    assert store.raise_priority(t.id, 1, "allergy", "allergy", "product-safety") is True
    assert store.waiting_page("kopiku", QueueQuery(team="product-safety", priority=1)).ids == [t.id]
    assert store.raise_priority(t.id, 2, "chargeback", "chargeback", "billing") is False  # not more urgent
    raised = store.get(t.id)
    assert (raised.priority, raised.rule, raised.team) == (1, "allergy", "product-safety")


def test_tickets_of_the_old_single_queue_move_into_their_brands_queue(redis: Redis, keys: Keys) -> None:
    store = HandoffStore(redis, keys, "kopiku")
    t, _ = store.open(ticket("messenger:legacy", HandoffReason.REQUESTED, time.time()))
    pipe = redis.pipeline()
    pipe.delete(keys.brand_queue("kopiku"), keys.queue_attrs("kopiku"))
    pipe.zadd(f"{keys.prefix}:queue", {t.id: 2})
    pipe.execute()
    assert store.migrate_legacy_queue() == 1 and store.migrate_legacy_queue() == 0
    assert store.waiting_page("kopiku", QueueQuery(channel="messenger")).ids == [t.id]


def test_metrics_come_from_redis_in_prometheus_text_format(redis: Redis, keys: Keys) -> None:
    store = HandoffStore(redis, keys, "kopiku")
    now = time.time()
    fill(store, 12, now)
    allergy = ticket("dev:allergy", HandoffReason.KEYWORD, now - 4000)
    allergy.rule, allergy.team, allergy.priority, allergy.channel = "allergy", "product-safety", 1, "dev"
    store.open(allergy)
    pipe = redis.pipeline(transaction=True)
    for seconds in (10, 45, 45, 400, 100_000):
        record_first_response(pipe, keys, "kopiku", seconds)
    pipe.execute()
    presence = Presence(redis, keys, 45, "on")
    presence.seen("kopiku", "sari")
    text = render(WorkspaceCollector(redis, keys, store, presence)).decode()
    families = {f.name: f for f in text_string_to_metric_families(text)}

    queue = {
        (s.labels["priority"], s.labels["team"], s.labels["channel"]): s.value
        for s in families["dmdesk_queue_tickets"].samples
    }
    assert sum(queue.values()) == 13 and queue[("1", "product-safety", "dev")] == 1
    handoffs = {
        (s.labels["reason"], s.labels["rule"], s.labels["priority"]): s.value
        for s in families["dmdesk_handoffs"].samples
    }
    assert handoffs == {
        ("requested_human", "", "1"): 4,
        ("requested_human", "", "2"): 4,
        ("requested_human", "", "3"): 4,
        ("keyword", "allergy", "1"): 1,
    }
    assert all(s.name == "dmdesk_handoffs_total" for s in families["dmdesk_handoffs"].samples)

    waits = {s.labels["le"]: s.value for s in families["dmdesk_queue_wait_seconds"].samples if "le" in s.labels}
    assert waits["+Inf"] == 13 and waits["3600"] == 12  # the allergy ticket has waited over an hour
    oldest = families["dmdesk_queue_oldest_wait_seconds"].samples[0].value
    assert 3990 < oldest < 4100

    frt = {s.name: s for s in families["dmdesk_first_response_seconds"].samples if "le" not in s.labels}
    buckets = {s.labels["le"]: s.value for s in families["dmdesk_first_response_seconds"].samples if "le" in s.labels}
    assert (buckets["30"], buckets["60"], buckets["600"], buckets["86400"], buckets["+Inf"]) == (1, 3, 4, 4, 5)
    assert frt["dmdesk_first_response_seconds_count"].value == 5
    assert frt["dmdesk_first_response_seconds_sum"].value == 100_500
    assert families["dmdesk_agents_online"].samples[0].value == 1


def test_first_response_buckets() -> None:
    assert bucket_of(0) == "30" and bucket_of(30) == "30" and bucket_of(31) == "60"
    assert bucket_of(FIRST_RESPONSE_BUCKETS[-1] + 1) == "+Inf"
