"""Startup timeline of the stack: when each process becomes ready, and the first answer.

    .venv-app/bin/python -m bench.startup [--runs 2] [--out bench/results/startup.json]

A private stack is started (the ``make run`` layout, Meta webhooks on, sends to
the fake Graph API) while a poller records, in seconds from the start:

* ``actions``: the action server's ``/health`` answers (the FAQ index is built before it listens);
* ``rasa_listening``: the first Rasa server's dmdesk channel answers (its model is loaded);
* ``rasa_published``: the NLU supervisor published that server in Redis (after its probe turn);
* ``bot_listening``: the bot service answers HTTP at all (``/healthz``, any status);
* ``bot_ready``: ``/healthz`` is 200 (it reaches Rasa);
* ``stack_started``: ``Stack.start`` returned (what ``make run`` waits for before printing where to talk);
* ``first_answer``: a signed webhook's reply reached the fake Graph API (posted from the moment the
  bot service listens, one after the other).

Also the CPU seconds each process tree used by then (what competes on a 2-core machine).
Run 1 may find the FAQ embeddings cache cold for a new encoder; the runs after it are restarts.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import threading
import time
from pathlib import Path
from typing import Any

import httpx
from redis.asyncio import Redis as AsyncRedis

from bench.harness import sample_processes
from bench.load import SEND_ERRORS, WebhookTarget, new_customer
from bot.keys import Keys
from bot.processes import stop_on_signals
from bot.stack import ROOT, Stack, private_stack_config

_TICK_S = 0.01  # /proc ticks (SC_CLK_TCK 100)


async def _poll_until(check: Any, period_s: float = 0.1, timeout_s: float = 240) -> float:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with contextlib.suppress(*SEND_ERRORS, OSError):
            if await check():
                return time.monotonic()
        await asyncio.sleep(period_s)
    raise TimeoutError("not ready")


async def timeline(stack: Stack, fake_url: str, secret: str, t0: float, started: threading.Event) -> dict[str, Any]:
    """Poll every readiness signal of a stack being started; seconds from ``t0``."""
    c = stack.config
    keys = Keys(c.redis_prefix)
    redis = AsyncRedis.from_url(c.redis_url)
    http = httpx.AsyncClient(timeout=2)
    marks: dict[str, float] = {}
    cpu: dict[str, dict[str, float]] = {}

    def mark(name: str, at: float) -> None:
        marks[name] = round(at - t0, 2)
        cpu[name] = {n: round(t * _TICK_S, 1) for n, (t, _) in sample_processes(_pids(stack)).items()}

    async def status(url: str, ok: set[int]) -> bool:
        return (await http.get(url)).status_code in ok

    async def watch(name: str, check: Any) -> None:
        with contextlib.suppress(TimeoutError):  # absent from the timeline: never ready
            mark(name, await _poll_until(check))

    async def first_answer() -> None:
        await _poll_until(lambda: status(f"{c.bot_url}/healthz", {200, 503}), period_s=0.05)
        target = WebhookTarget([c.bot_url], fake_url, secret, redis, keys)
        customer = new_customer()
        try:
            await _poll_until(lambda: _posted(target, customer), period_s=0.05)
            sends = await target.wait_sends(customer, 1, timeout_s=180)
            if sends:  # the fake Graph API's wall-clock time of the send
                mark("first_answer", t0 + sends[0]["at"] - wall0)
        finally:
            await target.close()

    wall0 = time.time() - (time.monotonic() - t0)  # wall-clock time of t0

    async def stack_started() -> None:
        while not started.is_set():
            await asyncio.sleep(0.05)
        mark("stack_started", time.monotonic())

    try:
        await asyncio.gather(
            watch("actions", lambda: status(f"http://127.0.0.1:{c.action_port}/health", {200})),
            watch("rasa_listening", lambda: status(f"http://127.0.0.1:{c.rasa_port}/webhooks/dmdesk/", {200})),
            watch("rasa_published", lambda: redis.exists(keys.rasa_endpoint)),
            watch("bot_listening", lambda: status(f"{c.bot_url}/healthz", {200, 503})),
            watch("bot_ready", lambda: status(f"{c.bot_url}/healthz", {200})),
            stack_started(),
            first_answer(),
        )
    finally:
        await http.aclose()
        await redis.aclose()
    order = sorted(marks, key=marks.__getitem__)
    return {"seconds": {k: marks[k] for k in order}, "cpu_s_by_then": cpu}


async def _posted(target: WebhookTarget, customer: str) -> bool:
    await target.send(customer, "hi")
    return True


def _pids(stack: Stack) -> dict[str, int]:
    return {name: p.pid for name, p in list(stack.procs.items()) if p.poll() is None}


def measure(fake_url: str, secret: str, env: dict[str, str]) -> dict[str, Any]:
    """Start one private stack and return its timeline."""
    from bot.cli import redis_url

    with private_stack_config("startup", redis_url(), env) as config, Stack(config) as stack:
        started = threading.Event()
        result: dict[str, Any] = {}
        t0 = time.monotonic()
        thread = threading.Thread(target=lambda: (stack.start(), started.set()), daemon=True)
        thread.start()
        # the processes are spawned at once by start(); the poller runs meanwhile
        while "nlu" not in stack.procs:
            time.sleep(0.01)
        result = asyncio.run(timeline(stack, fake_url, secret, t0, started))
        thread.join()
        return result


def main() -> None:
    """Measure ``--runs`` starts one after the other; print and write the timelines."""
    from bench.run import SECRET, _env, fake_graph
    from bot.cli import ensure_redis, redis_url

    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "startup.json"))
    args = parser.parse_args()
    ensure_redis(redis_url())
    runs = []
    with fake_graph() as (fake_url, _):
        for k in range(args.runs):
            run = measure(fake_url, SECRET, _env(fake_url))
            runs.append(run)
            print(f"run {k + 1}: {json.dumps(run['seconds'])}", flush=True)
    Path(args.out).write_text(json.dumps({"runs": runs}, indent=2) + "\n")


if __name__ == "__main__":
    stop_on_signals()
    main()
