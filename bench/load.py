"""Load generators: closed loop (``c`` customers at a time) and open loop (fixed arrival rate).

Two targets with one interface:

* ``WebhookTarget``: dmdesk. A signed Messenger webhook in (acknowledgement
  latency measured), the reply recorded by the fake Graph API out; reply
  latency is from the POST to the first reply part the Send API received.
* ``RestTarget``: the baseline, Rasa's REST channel; latency is the response time.

Every message of a closed or open loop phase is the first of a new
conversation (many distinct customers).

The load generator shares the machine's two cores with what it measures, so
its per-message calls (a webhook or REST post, the wait for a reply) go
through ``bot.http.HttpPool``, the same for both targets (about 0.46 ms of CPU
a message for both calls at c=64; httpx took about 1 ms a request); the rare
calls (resets, the list of sends) keep httpx.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Sequence
from typing import Any, Protocol

import httpx
from redis.asyncio import Redis

from bench.harness import Dm, stats
from bot import simulate as sim
from bot.http import HttpError, HttpPool, Response
from bot.keys import Keys

LIMITS = httpx.Limits(max_connections=512, max_keepalive_connections=256)
#: idle keep-alive connections kept per origin: one per concurrent customer of the largest phase
KEEP_IDLE = 512


class StatusError(HttpError):
    """The target answered with a status other than 200."""


#: what a load phase counts as a failed message (and the long conversation as a missed turn)
SEND_ERRORS = (httpx.HTTPError, HttpError)


def _ok(response: Response) -> Response:
    if response.status_code != 200:
        raise StatusError(f"HTTP {response.status_code}", status=response.status_code)
    return response


def new_customer() -> str:
    """A Messenger PSID-like customer id."""
    return str(uuid.uuid4().int % 10**16)


class Target(Protocol):
    """One system under load."""

    has_ack: bool

    async def one(self, customer: str, text: str) -> tuple[float | None, float]:
        """Send one message and wait for its reply: (ack ms or None, reply ms)."""

    async def post(self, customer: str, text: str) -> tuple[float | None, float]:
        """Send one message (open loop): (ack ms or None, wall-clock time sent); the reply is collected later."""

    async def collect(self, sent: dict[str, float], timeout_s: float) -> dict[str, float]:
        """Reply latency (ms) of each customer in ``sent`` (customer -> time sent) that got one."""

    async def reset(self) -> None:
        """Forget replies recorded so far (between phases)."""


class WebhookTarget:
    """dmdesk: signed webhooks in (round robin over bot-service replicas), replies at the fake Graph API."""

    has_ack = True

    def __init__(self, bot_urls: Sequence[str], fake_url: str, secret: str, redis: Redis, keys: Keys) -> None:
        self._bots = [HttpPool(u, timeout_s=60, max_idle=KEEP_IDLE) for u in bot_urls]
        self._fake_wait = HttpPool(fake_url, timeout_s=600, max_idle=KEEP_IDLE)
        self._fake = httpx.AsyncClient(base_url=fake_url, timeout=600, limits=LIMITS)
        self._secret = secret
        self._redis = redis
        self._keys = keys
        self._next = 0
        self.retries = 0
        self.mids: dict[str, list[str]] = {}

    async def send(self, customer: str, text: str) -> float:
        """Post one signed message; the acknowledgement latency (ms). Raises ``StatusError`` on a non-200."""
        mid = sim.new_mid()
        self.mids.setdefault(customer, []).append(mid)
        body = sim.delivery("page", sim.DEMO_PAGE, [sim.text(customer, sim.DEMO_PAGE, text, mid=mid)])
        raw, headers = sim.signed(body, self._secret)
        bot = self._bots[self._next % len(self._bots)]
        self._next += 1
        for attempt in range(3):
            t0 = time.perf_counter()
            try:
                response = await bot.request("POST", "/webhooks/messenger", content=raw, headers=headers)
            except HttpError:
                # a kept-alive connection closed by the server as it was reused: Meta redelivers
                # too, and the message id makes the redelivery harmless
                self.retries += 1
                if attempt == 2:
                    raise
                continue
            ack = (time.perf_counter() - t0) * 1000
            _ok(response)
            return ack
        raise AssertionError("unreachable")

    async def parts(self, mid: str) -> list[Any] | None:
        """The reply parts the bot decided on for a message (its outbox), or None (nothing answered yet)."""
        raw = await self._redis.hget(self._keys.outbox("messenger", mid), "parts")
        return json.loads(raw) if raw else None

    async def handed_off(self, customer: str) -> bool:
        """True if one of the customer's messages opened a handoff ticket (a person owns the chat)."""
        for mid in self.mids.get(customer, []):
            if await self._redis.hget(self._keys.outbox("messenger", mid), "ticket"):
                return True
        return False

    async def wait_sends(self, customer: str, n: int, timeout_s: float = 120) -> list[dict[str, Any]]:
        """The Send API calls to ``customer`` once there are ``n`` (or the timeout passed)."""
        params = {"recipient": customer, "n": str(n), "timeout": str(timeout_s)}
        response = await self._fake_wait.request("GET", "/_fake/wait", params=params, timeout_s=timeout_s + 30)
        return list(_ok(response).json())

    async def one(self, customer: str, text: str) -> tuple[float | None, float]:
        t0 = time.time()
        ack = await self.send(customer, text)
        sends = await self.wait_sends(customer, 1)
        if not sends:
            raise TimeoutError("no reply")
        return ack, (sends[0]["at"] - t0) * 1000

    async def post(self, customer: str, text: str) -> tuple[float | None, float]:
        t0 = time.time()
        return await self.send(customer, text), t0

    async def sends(self, since: int = 0) -> list[dict[str, Any]]:
        """The Send API calls recorded since the last reset (after the first ``since`` of them)."""
        response = await self._fake.get("/_fake/sends", params={"since": since})
        response.raise_for_status()
        return list(response.json())

    async def collect(self, sent: dict[str, float], timeout_s: float) -> dict[str, float]:
        # polled while the stack still works off a backlog: only the sends recorded since the last poll
        # (the whole list, thousands of records, cost the fake and this process CPU every half second)
        deadline = time.monotonic() + timeout_s
        first: dict[str, float] = {}
        seen = 0
        while True:
            new = await self.sends(since=seen)
            seen += len(new)
            for s in new:
                if s["recipient"] in sent and s["recipient"] not in first:
                    first[s["recipient"]] = s["at"]
            if len(first) >= len(sent) or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.5)
        return {c: (at - sent[c]) * 1000 for c, at in first.items()}

    async def reset(self) -> None:
        (await self._fake.post("/_fake/reset")).raise_for_status()
        self.mids.clear()

    async def close(self) -> None:
        """Close the HTTP clients."""
        for pool in (*self._bots, self._fake_wait):
            await pool.close()
        await self._fake.aclose()


class RestTarget:
    """The baseline: Rasa's REST channel, the replies in the response."""

    has_ack = False

    def __init__(self, rasa_url: str) -> None:
        self._http = HttpPool(rasa_url, timeout_s=600, max_idle=KEEP_IDLE)
        self._done: dict[str, float] = {}
        self._pending: set[asyncio.Task[None]] = set()

    async def one(self, customer: str, text: str) -> tuple[float | None, float]:
        t0 = time.perf_counter()
        response = await self._http.request(
            "POST", "/webhooks/rest/webhook", json_body={"sender": customer, "message": text}
        )
        latency = (time.perf_counter() - t0) * 1000
        if not _ok(response).json():
            raise ValueError("no reply")
        return None, latency

    async def post(self, customer: str, text: str) -> tuple[float | None, float]:
        t0 = time.time()

        async def run() -> None:
            try:
                _, latency = await self.one(customer, text)
                self._done[customer] = latency
            except (*SEND_ERRORS, ValueError):
                pass

        task = asyncio.create_task(run())
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)
        return None, t0

    async def collect(self, sent: dict[str, float], timeout_s: float) -> dict[str, float]:
        if self._pending:
            await asyncio.wait(set(self._pending), timeout=timeout_s)
        return {c: v for c, v in self._done.items() if c in sent}

    async def reset(self) -> None:
        self._done.clear()

    async def close(self) -> None:
        """Close the HTTP client."""
        for task in list(self._pending):
            task.cancel()
        await self._http.close()


async def closed_loop(target: Target, mix: Sequence[Dm], n: int, concurrency: int) -> dict[str, Any]:
    """``n`` messages, ``concurrency`` customers at a time, each message a new conversation."""
    latencies: list[float] = []
    acks: list[float] = []
    errors: list[str] = []
    counter = iter(range(n))

    async def worker() -> None:
        for i in counter:
            try:
                ack, latency = await target.one(new_customer(), mix[i % len(mix)].text)
            except (*SEND_ERRORS, TimeoutError, ValueError) as exc:
                errors.append(type(exc).__name__)
                continue
            latencies.append(latency)
            if ack is not None:
                acks.append(ack)

    await target.reset()
    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.perf_counter() - started
    return {
        "mode": "closed",
        "offered": f"c={concurrency}",
        "concurrency": concurrency,
        "messages": n,
        "throughput_msg_s": round(len(latencies) / elapsed, 2),
        "latency_ms": stats(latencies),
        "ack_ms": stats(acks) if target.has_ack else None,
        "errors": len(errors),
    }


async def open_loop(
    target: Target, mix: Sequence[Dm], rate: float, seconds: float, drain_s: float = 60
) -> dict[str, Any]:
    """Messages arriving at ``rate`` per second for ``seconds`` (Poisson-free: evenly spaced), new customers.

    Throughput is replies received over the time from the first message to the last reply; a
    message without a reply ``drain_s`` after the last was sent counts as an error.
    """
    await target.reset()
    total = max(1, int(rate * seconds))
    sent: dict[str, float] = {}
    acks: list[float] = []
    errors = 0
    started = time.perf_counter()
    wall0 = time.time()

    async def fire(i: int) -> None:
        nonlocal errors
        customer = new_customer()
        try:
            ack, t0 = await target.post(customer, mix[i % len(mix)].text)
        except SEND_ERRORS:
            errors += 1
            return
        sent[customer] = t0
        if ack is not None:
            acks.append(ack)

    tasks = []
    for i in range(total):
        await asyncio.sleep(max(0.0, started + i / rate - time.perf_counter()))
        tasks.append(asyncio.create_task(fire(i)))
    await asyncio.gather(*tasks)
    latencies = await target.collect(sent, drain_s)
    last = max((sent[c] + v / 1000 for c, v in latencies.items()), default=time.time())
    span = max(1e-3, last - wall0)
    return {
        "mode": "open",
        "offered": round(rate, 1),
        "messages": total,
        "throughput_msg_s": round(len(latencies) / span, 2),
        "latency_ms": stats(list(latencies.values())),
        "ack_ms": stats(acks) if target.has_ack else None,
        "errors": errors + (len(sent) - len(latencies)),
    }
