"""Conversations of many messages: one long conversation (latency against its length), and
conversations posted back to back and checked for exactly one answer per message, in order."""

from __future__ import annotations

import asyncio
import statistics
import time
from pathlib import Path
from typing import Any

import yaml
from redis.asyncio import Redis as AsyncRedis

from bench.harness import check_replies
from bench.load import SEND_ERRORS, Target, WebhookTarget, new_customer
from bot.faq.models import FaqBook
from bot.keys import Keys
from bot.processes import stop_on_signals
from bot.stack import ROOT


def long_texts() -> list[str]:
    """Questions the FAQ answers (its own questions and alternatives, every language) and small talk."""
    book = FaqBook.model_validate(yaml.safe_load((ROOT / "data" / "faq.yml").read_text(encoding="utf-8")))
    # each entry's own question and its first two phrasings: answered, not taken for a request for a person
    # (not the entry about reaching a person: that is a handoff request, which pauses the bot)
    entries = [e for e in book.entries if e.enabled and e.topic != "contact"]
    texts = [t for entry in entries for t in (entry.question, *entry.alternatives[:2])]
    small = ["hi", "thanks!", "makasih kak", "merci", "спасибо", "hello there"]
    out: list[str] = []
    for i, t in enumerate(texts):
        out.append(t)
        if i % 4 == 3:
            out.append(small[(i // 4) % len(small)])
    return out


async def long_conversation(target: Target, n: int) -> dict[str, Any]:
    """One customer, ``n`` messages one after the other; latency around message 5, n/2 and n."""
    texts = long_texts()
    customer = new_customer()
    latencies: list[float] = []
    errors = 0
    for i in range(n):
        if isinstance(target, WebhookTarget):
            latency = await _webhook_turn(target, customer, texts[i % len(texts)])
            if latency is None and await target.handed_off(customer):
                # NLU took a message for a request for a person: the bot is silent from now on
                errors += n - i
                break
        else:
            try:
                _, latency = await target.one(customer, texts[i % len(texts)])
            except (*SEND_ERRORS, ValueError):
                latency = None
        if latency is None:
            errors += 1
            continue
        latencies.append(latency)

    def around(k: int) -> float | None:
        window = latencies[max(0, k - 3) : k + 2]
        return round(statistics.median(window), 1) if len(latencies) >= k and window else None

    marks = sorted({5, n // 2, n})
    last, first = around(n), around(5)
    return {
        "messages": n,
        "answered": len(latencies),
        "errors": errors,
        "latency_ms_at": {str(k): around(k) for k in marks},
        "ratio_last_vs_5": round(last / first, 2) if last is not None and first else None,
        "every_50": [round(statistics.median(latencies[a : a + 50]), 1) for a in range(0, len(latencies), 50)],
    }


_sent_so_far: dict[str, int] = {}


async def _webhook_turn(target: WebhookTarget, customer: str, text: str) -> float | None:
    """Post one message of a conversation and wait for all of its reply parts; latency to the first part."""
    before = _sent_so_far.get(customer, 0)
    t0 = time.time()
    try:
        await target.send(customer, text)
        sends = await target.wait_sends(customer, before + 1, timeout_s=20)
    except SEND_ERRORS:
        return None
    if len(sends) <= before:
        return None
    parts = None
    mid = target.mids[customer][-1]
    for _ in range(100):
        parts = await target.parts(mid)
        if parts is not None:
            break
        await asyncio.sleep(0.01)
    total = before + len(parts or [None])
    if len(sends) < total:
        sends = await target.wait_sends(customer, total, timeout_s=60)
    _sent_so_far[customer] = len(sends)
    return (sends[before]["at"] - t0) * 1000


async def ordered_conversations(
    target: WebhookTarget, redis: AsyncRedis, keys: Keys, conversations: int, per_conversation: int
) -> dict[str, Any]:
    """Conversations of several messages posted back to back (alternating bot services); exactly once, in order."""
    texts = [t for t in long_texts()]
    await target.reset()
    customers = [new_customer() for _ in range(conversations)]
    started = time.perf_counter()

    async def conversation(k: int, customer: str) -> None:
        for j in range(per_conversation):
            await target.send(customer, texts[(k * per_conversation + j) % len(texts)])

    await asyncio.gather(*(conversation(k, c) for k, c in enumerate(customers)))
    expected: dict[str, list[Any]] = {}
    deadline = time.monotonic() + 180
    all_mids = [m for c in customers for m in target.mids.get(c, [])]
    while time.monotonic() < deadline:
        for mid in all_mids:
            if mid in expected:
                continue
            # "done" is set after the outbox is written: read first, it tells a message with nothing to
            # send (a person owns the chat) from one whose outbox is written between the two reads
            done = await redis.get(keys.seen_message("messenger", mid)) == b"done"
            parts = await target.parts(mid)
            if parts is not None:
                expected[mid] = parts
            elif done:
                expected[mid] = []
        want = sum(len(p) for p in expected.values())
        sends = await target.sends()
        if len(expected) == len(all_mids) and len(sends) >= want:
            break
        await asyncio.sleep(0.5)
    elapsed = time.perf_counter() - started
    await asyncio.sleep(1.0)  # anything sent twice would arrive now
    received: dict[str, list[Any]] = {}
    for s in await target.sends():
        received.setdefault(s["recipient"], []).append(s["message"])
    check = check_replies({c: target.mids.get(c, []) for c in customers}, expected, received)
    broken = [*check["missing"], *check["duplicated"], *check["out_of_order"]][:3]
    # what went wrong, for the conversations that broke the rule: each message's decided parts, then what arrived
    detail = {
        c: {
            "decided": [[mid, expected.get(mid)] for mid in target.mids.get(c, [])],
            "received": received.get(c, []),
        }
        for c in broken
    }
    return {**check, "throughput_msg_s": round(len(all_mids) / elapsed, 2), **({"broken": detail} if detail else {})}


def main() -> None:
    """``python -m bench.conversations [--n 1000]``: the long conversation alone, on a private stack."""
    import argparse
    import json

    from bench.run import SECRET, _env, fake_graph
    from bot.cli import ensure_redis, redis_url
    from bot.stack import private_stack

    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "long_conversation.json"))
    args = parser.parse_args()
    ensure_redis(redis_url())
    with fake_graph() as (fake_url, _), private_stack("benchlong", redis_url(), _env(fake_url)) as stack:

        async def go() -> dict[str, Any]:
            redis = AsyncRedis.from_url(redis_url())
            target = WebhookTarget([stack.config.bot_url], fake_url, SECRET, redis, Keys(stack.config.redis_prefix))
            try:
                await long_conversation(target, 10)  # warm-up, another customer
                return await long_conversation(target, args.n)
            finally:
                await target.close()
                await redis.aclose()

        result = asyncio.run(go())
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    stop_on_signals()
    main()
