"""Agent workspace benchmark: handoff latency to a live console, the queue with 1,000 waiting tickets,
20 agents claiming 200 tickets at once.

    .venv-app/bin/python -m bench.agents [--n 100] [--queue 1000] [--agents 20] [--tickets 200]

One private stack (own ports and Redis prefix, the layout ``make run`` uses),
Meta webhooks on, sends to a fake Graph API in its own process.

1. Handoff latency: an agent's console event stream (``GET /api/agent/events``,
   SSE) is open; a customer asks for a person (each message the first of a new
   conversation, one at a time), through the dev endpoint and as a signed
   Messenger webhook. Measured: from sending the message to the
   ``ticket.created`` event arriving on the stream.
2. The queue with ``--queue`` waiting tickets (realistic transcripts, mixed
   channels, languages, teams, priorities): ``GET /api/agent/queue`` (a page of
   100, and filtered by team / language / channel); and, for reference, what
   the previous implementation did for every request (load and parse every
   waiting ticket, filter in Python), timed in-process.
3. ``--agents`` agents, each with its own session and connection, claim the
   same ``--tickets`` waiting tickets at once over HTTP, each in its own random
   order: every ticket must be claimed exactly once.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import random
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Sequence
from typing import Any

import httpx
from redis import Redis

from bench import write_result
from bench.meta import SECRET, _stats
from bot import simulate as sim
from bot.agents.accounts import AccountStore
from bot.agents.models import AccountCreate, Role
from bot.cli import ensure_redis, redis_url
from bot.handoff.models import CustomerProfile, HandoffReason, Ticket, TranscriptLine
from bot.handoff.queue import HandoffStore, QueueQuery
from bot.keys import Keys
from bot.processes import stop_on_signals
from bot.stack import ROOT, StackConfig, free_port, private_stack

PASSWORD = "benchmark password"
ASKS = [
    "I want to talk to a human",
    "mau ngobrol sama admin dong",
    "je veux parler à un conseiller",
    "позовите оператора",
]


class Stream:
    """A console's event stream: the arrival time of each ``ticket.created``, by conversation."""

    def __init__(self) -> None:
        self.created: dict[str, float] = {}
        self.ready = asyncio.Event()
        self._waiters: dict[str, asyncio.Event] = {}

    async def run(self, bot_url: str, token: str) -> None:
        headers = {"Authorization": f"Bearer {token}"}
        async with (
            httpx.AsyncClient(base_url=bot_url, timeout=httpx.Timeout(30, read=None)) as http,
            http.stream("GET", "/api/agent/events", headers=headers) as response,
        ):
            kind = None
            async for line in response.aiter_lines():
                if line.startswith("event: "):
                    kind = line[7:]
                elif line.startswith("data: ") and kind == "ready":
                    self.ready.set()
                elif line.startswith("data: ") and kind == "ticket.created":
                    conversation = str(json.loads(line[6:])["conversation_id"])
                    self.created[conversation] = time.perf_counter()
                    self.waiter(conversation).set()

    def waiter(self, conversation: str) -> asyncio.Event:
        return self._waiters.setdefault(conversation, asyncio.Event())


async def login(http: httpx.AsyncClient, username: str) -> str:
    body = {"brand": "kopiku", "username": username, "password": PASSWORD}
    response = await http.post("/api/agent/session", json=body)
    response.raise_for_status()
    return str(response.json()["token"])


async def handoff_latency(config: StackConfig, n: int) -> dict[str, object]:
    """Message sent -> ``ticket.created`` on an open console stream, via the dev endpoint and a webhook."""
    async with httpx.AsyncClient(base_url=config.bot_url, timeout=60) as http:
        stream = Stream()
        task = asyncio.create_task(stream.run(config.bot_url, await login(http, "agent00")))
        await asyncio.wait_for(stream.ready.wait(), 10)
        api = {"Authorization": f"Bearer {config.api_token}"}
        result: dict[str, object] = {}

        async def dev(i: int) -> str:
            sender = f"b{uuid.uuid4().hex[:12]}"
            body = {"channel": "dev", "sender": sender, "text": ASKS[i % len(ASKS)]}
            (await http.post("/api/dev/messages", json=body, headers=api)).raise_for_status()
            return f"dev:{sender}"

        async def webhook(i: int) -> str:
            customer = str(uuid.uuid4().int % 10**16)
            body = sim.delivery("page", sim.DEMO_PAGE, [sim.text(customer, sim.DEMO_PAGE, ASKS[i % len(ASKS)])])
            raw, headers = sim.signed(body, SECRET)
            (await http.post("/webhooks/messenger", content=raw, headers=headers)).raise_for_status()
            return customer

        # the first turn loads the action server's knowledge base (and encodes the FAQ on a cold cache)
        deadline = time.monotonic() + 300
        while True:
            try:
                await dev(0)
                break
            except httpx.HTTPStatusError:
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(2)
        for name, send in (("dev_endpoint", dev), ("signed_webhook", webhook)):
            latencies = []
            for i in range(n + 5):  # the first 5 warm up
                t0 = time.perf_counter()
                key = await send(i)
                conversation = key if name == "dev_endpoint" else f"messenger:{key}"
                await asyncio.wait_for(stream.waiter(conversation).wait(), 30)
                if i >= 5:
                    latencies.append((stream.created[conversation] - t0) * 1000)
            result[name] = _stats(latencies)
        task.cancel()
    return result


def seed_queue(store: HandoffStore, count: int, teams: Sequence[str | None] = (None, "billing", "orders")) -> list[str]:
    """``count`` waiting tickets with 12-line transcripts, mixed filters, waiting up to an hour."""
    ids = []
    now = time.time()
    combos = itertools.cycle(itertools.product(["messenger", "instagram", "dev"], ["en", "id", "fr", "ru"], teams))
    for i in range(count):
        channel, language, team = next(combos)
        created = now - 3600 + i * 3600 / count
        lines = [
            TranscriptLine(
                sender="customer" if j % 2 == 0 else "bot",
                text=f"message {j} about order KPK-{10000 + i}: " + "lorem ipsum dolor sit amet " * 4,
                timestamp=created - 60 + j,
                intent="faq" if j % 2 == 0 else None,
                confidence=0.8 if j % 2 == 0 else None,
            )
            for j in range(12)
        ]
        customer = f"q{uuid.uuid4().hex[:12]}"
        ticket = Ticket(
            id=uuid.uuid4().hex[:12],
            conversation_id=f"{channel}:{customer}",
            channel=channel,
            customer=CustomerProfile(id=customer, channel=channel, name=f"Customer {i}"),
            language=language,
            reason=HandoffReason.REQUESTED,
            priority=1 + i % 3,
            created_at=created,
            transcript=lines,
            team=team,
        )
        opened, created_now = store.open(ticket)
        assert created_now
        ids.append(opened.id)
    return ids


async def queue_latency(config: StackConfig, store: HandoffStore, n: int) -> dict[str, object]:
    """``GET /api/agent/queue`` latencies with the seeded queue."""
    async with httpx.AsyncClient(base_url=config.bot_url, timeout=60) as http:
        http.headers["Authorization"] = f"Bearer {await login(http, 'agent00')}"
        result: dict[str, object] = {"waiting": store.queue_length()}
        for name, params in [
            ("page_of_100", {}),
            ("team_billing", {"team": "billing"}),
            ("language_id", {"language": "id"}),
            ("channel_instagram_priority_1", {"channel": "instagram", "priority": 1}),
            ("page_of_500", {"limit": 500}),
        ]:
            latencies = []
            for i in range(n + 5):
                t0 = time.perf_counter()
                response = await http.get("/api/agent/queue", params=params)
                if response.status_code != 200:
                    raise RuntimeError(f"queue: {response.status_code} {response.text} after {i} requests of {name}")
                if i >= 5:
                    latencies.append((time.perf_counter() - t0) * 1000)
            result[name] = {
                **_stats(latencies),
                "rows": len(response.json()),
                "total": response.headers["X-Total-Count"],
            }
    # what every request cost before the index: load and parse every waiting ticket, filter in Python
    scans = []
    for _ in range(20):
        t0 = time.perf_counter()
        tickets = store.get_many(store.waiting_page("kopiku", QueueQuery(limit=100_000)).ids)
        _ = [t for t in tickets if t.team == "billing"][:100]
        scans.append((time.perf_counter() - t0) * 1000)
    result["reference_full_scan_in_process"] = _stats(scans)
    return result


async def claim_race(config: StackConfig, ticket_ids: list[str], agents: int) -> dict[str, object]:
    """Every agent claims every ticket at once, each in its own order."""
    limits = httpx.Limits(max_connections=4, max_keepalive_connections=4)
    clients = [httpx.AsyncClient(base_url=config.bot_url, timeout=120, limits=limits) for _ in range(agents)]
    try:
        for i, client in enumerate(clients):
            client.headers["Authorization"] = f"Bearer {await login(client, f'agent{i:02d}')}"
        wins: Counter[str] = Counter()
        statuses: Counter[int] = Counter()
        winner: dict[str, str] = {}
        latencies: list[float] = []
        start = asyncio.Event()

        async def agent(i: int) -> None:
            order = list(ticket_ids)
            random.Random(i).shuffle(order)
            await start.wait()
            for ticket_id in order:
                t0 = time.perf_counter()
                response = await clients[i].post(f"/api/agent/tickets/{ticket_id}/claim")
                latencies.append((time.perf_counter() - t0) * 1000)
                statuses[response.status_code] += 1
                if response.status_code == 200:
                    wins[ticket_id] += 1
                    winner[ticket_id] = f"agent{i:02d}"

        tasks = [asyncio.create_task(agent(i)) for i in range(agents)]
        t0 = time.perf_counter()
        start.set()
        await asyncio.gather(*tasks)
        elapsed = time.perf_counter() - t0
    finally:
        for client in clients:
            await client.aclose()
    return {
        "agents": agents,
        "tickets": len(ticket_ids),
        "requests": sum(statuses.values()),
        "statuses": dict(statuses),
        "tickets_claimed": len(wins),
        "claimed_more_than_once": sum(1 for n in wins.values() if n > 1),
        "claim_latency_ms": _stats(latencies),
        "elapsed_s": round(elapsed, 2),
        "winners": winner,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=100, help="handoffs per path")
    parser.add_argument("--queue", type=int, default=1000, help="waiting tickets")
    parser.add_argument("--queue-requests", type=int, default=100)
    parser.add_argument("--agents", type=int, default=20)
    parser.add_argument("--tickets", type=int, default=200)
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "agents.json"))
    args = parser.parse_args()
    ensure_redis(redis_url())
    fake_port = free_port()
    fake = subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "fake-graph", "--port", str(fake_port)],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    env = {
        "META_APP_SECRET": SECRET,
        "META_GRAPH_URL": f"http://127.0.0.1:{fake_port}",
        "DMDESK_SUPPORT_HOURS": "mon-sun 00:00-23:59",
        "DMDESK_SEND_RATE_PER_S": "1000",
        "DMDESK_RASA_TIMEOUT_S": "120",
    }
    result: dict[str, Any] = {}
    try:
        with private_stack("benchagents", redis_url(), env) as stack:
            config = stack.config
            redis = Redis.from_url(config.redis_url)
            keys = Keys(config.redis_prefix)
            accounts = AccountStore(redis, keys)
            for i in range(args.agents):
                accounts.create("kopiku", AccountCreate(username=f"agent{i:02d}", password=PASSWORD, role=Role.AGENT))
            result["handoff_to_console_ms"] = asyncio.run(handoff_latency(config, args.n))
            store = HandoffStore(redis, keys, "kopiku")
            seed_queue(store, max(0, args.queue - store.queue_length()))
            result["queue_api_ms"] = asyncio.run(queue_latency(config, store, args.queue_requests))
            race_ids = seed_queue(store, args.tickets, teams=[None])  # any agent may claim them
            race = asyncio.run(claim_race(config, race_ids, args.agents))
            assigned = {t.id: t.assignee for t in store.get_many(race_ids)}
            race["assignee_matches_winner"] = all(assigned[t] == w for t, w in race.pop("winners").items())
            result["claim_race"] = race
            redis.close()
    finally:
        fake.terminate()
        fake.wait(timeout=10)
    result["machine"] = {"cpus": os.cpu_count()}
    write_result(result, args.out)


if __name__ == "__main__":
    stop_on_signals()
    main()
