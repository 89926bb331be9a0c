"""End-to-end benchmark: dmdesk against Rasa 3.6's ``rasa init`` defaults, in the same run.

    .venv-app/bin/python -m bench.run [--quick] [--out-dir bench/results]

(``make bench``). Loopback only; a private stack (own ports, own Redis prefix).

1. Startup: the dmdesk stack is started; time until the first reply to a signed
   webhook reached the fake Graph API; resident memory of every process at idle.
2. dmdesk under load: signed webhooks in, replies at the fake Graph API out,
   realistic multilingual DMs (bench.harness.message_mix), each the first message
   of a new conversation; closed loop at concurrency 1, 16 and 64, then open loop
   at fixed rates from a quarter of the measured maximum to beyond saturation.
   Reply and acknowledgement latency, errors, CPU and RSS of every process.
3. Long conversation: one customer, message after message; latency of message
   5, 500 and 1,000 (the median of the five messages around each).
4. Scale-out: a second Rasa server, a second bot service and a second consumer
   process on the same Redis; the same closed loop, then conversations of
   several messages posted back to back to alternating bot services, checked
   for exactly one answer per message, in order (bench.harness.check_replies).
5. Baseline: Rasa 3.6.21 with ``rasa init``'s config.yml (its default pipeline
   and policies) trained on dmdesk's domain and data (``make bench-baseline``),
   our action server, Rasa's default (in-memory) tracker and lock stores,
   Rasa's REST channel; the same loads.
6. Retrieval micro-benchmarks (bench.retrieval).

Writes ``e2e.json``, ``e2e.md`` and ``e2e.png`` under the output directory.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import secrets
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import httpx
from redis import Redis
from redis.asyncio import Redis as AsyncRedis

from bench import retrieval
from bench.conversations import long_conversation, ordered_conversations
from bench.harness import Dm, ProcSampler, message_mix, sample_processes, write_reports
from bench.load import SEND_ERRORS, RestTarget, Target, WebhookTarget, closed_loop, new_customer, open_loop
from bench.summary import summarise
from bot.cli import ensure_redis, redis_url
from bot.keys import Keys
from bot.processes import stop_on_signals
from bot.settings import ServiceSettings
from bot.shards import shards_balanced
from bot.stack import (
    ROOT,
    Stack,
    StackConfig,
    actions_argv,
    bot_argv,
    consumers_argv,
    delete_prefix,
    free_port,
    private_stack,
    rasa_argv,
)

SECRET = "bench-secret"
BASELINE_MODEL = ROOT / ".cache" / "baseline" / "baseline.tar.gz"
OPEN_FRACTIONS = (0.25, 0.5, 0.8, 1.0, 1.25)


class Plan:
    """Sizes of every phase (``--quick``: a few minutes, for development)."""

    def __init__(self, quick: bool) -> None:
        self.quick = quick
        self.closed = {1: 20, 16: 120, 64: 200} if quick else {1: 40, 16: 250, 64: 400}
        self.baseline_closed = {1: 15, 16: 60, 64: 100} if quick else {1: 30, 16: 120, 64: 200}
        self.scale_closed = {16: 60, 64: 100} if quick else {16: 200, 64: 300}
        self.open_s = 4.0 if quick else 8.0
        self.long_n = 120 if quick else 1000
        self.baseline_long_n = 60 if quick else 200
        self.scale_conversations = 20 if quick else 60
        self.scale_messages = 4 if quick else 6


# --- processes
@contextlib.contextmanager
def fake_graph() -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """The fake Graph API in its own process."""
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "fake-graph", "--port", str(port)],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_http(f"{url}/_fake/stats", 30)
        yield url, proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _wait_http(url: str, timeout_s: float = 300) -> None:
    deadline = time.monotonic() + timeout_s
    with httpx.Client(timeout=2) as http:  # one client: each httpx.get() builds an SSL context (80 ms of CPU)
        while time.monotonic() < deadline:
            with contextlib.suppress(httpx.HTTPError):
                if http.get(url).status_code == 200:
                    return
            time.sleep(0.2)
    raise RuntimeError(f"{url} not ready after {timeout_s:.0f}s")


def stack_pids(stack: Stack) -> dict[str, int]:
    """Name -> pid of every process of the stack."""
    return {name: p.pid for name, p in stack.procs.items() if p.poll() is None}


# --- phases
def progress(message: str) -> None:
    """One line on stderr while the benchmark runs."""
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


async def load_phases(
    target: Target, mix: Sequence[Dm], closed: dict[int, int], plan: Plan, pids: dict[str, int]
) -> dict[str, Any]:
    """Closed loop at each concurrency, then open loop at fractions of the best closed-loop throughput."""
    phases: dict[str, Any] = {}
    await closed_loop(target, mix, 10, 2)  # warm-up: caches, connections
    for concurrency, n in closed.items():
        with ProcSampler(pids) as sampler:
            phase = await closed_loop(target, mix, n, concurrency)
        phases[f"closed_c{concurrency}"] = {
            **phase,
            "processes": sampler.result,
            "rss_mib_total": sampler.total_rss_mib,
        }
        progress(f"closed c={concurrency}: {phase['throughput_msg_s']} msg/s, p99 {phase['latency_ms']['p99']} ms")
    best = max(p["throughput_msg_s"] for p in phases.values())
    for fraction in OPEN_FRACTIONS:
        rate = max(0.5, best * fraction)
        with ProcSampler(pids) as sampler:
            phase = await open_loop(target, mix, rate, plan.open_s)
        phases[f"open_{int(fraction * 100)}pct"] = {
            **phase,
            "fraction_of_closed_max": fraction,
            "processes": sampler.result,
            "rss_mib_total": sampler.total_rss_mib,
        }
        progress(f"open {rate:.1f}/s: {phase['throughput_msg_s']} msg/s, p99 {phase['latency_ms']['p99']} ms")
    return phases


# --- systems
def _env(fake_url: str) -> dict[str, str]:
    return {
        "META_APP_SECRET": SECRET,
        "META_VERIFY_TOKEN": "bench",
        "META_GRAPH_URL": fake_url,
        "DMDESK_SUPPORT_HOURS": "mon-sun 00:00-23:59",
        "DMDESK_SEND_RATE_PER_S": "100000",
        # embeddings of FAQ texts are content-addressed and kept in Redis: a restarted stack reuses them
        "DMDESK_EMBEDDING_CACHE_PREFIX": "dmdeskbenchcache",
    }


async def _first_answer(target: WebhookTarget, started: float) -> float:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        with contextlib.suppress(*SEND_ERRORS, TimeoutError):
            await target.one(new_customer(), "hi")
            return round(time.monotonic() - started, 1)
        await asyncio.sleep(0.2)
    raise RuntimeError("no first answer within 120 s")


def run_dmdesk(plan: Plan, fake_url: str, fake_pid: int, mix: list[Dm]) -> dict[str, Any]:
    """Phases 1 to 4."""
    out: dict[str, Any] = {}
    started = time.monotonic()
    with private_stack("bench", redis_url(), _env(fake_url)) as stack:
        keys = Keys(stack.config.redis_prefix)

        async def single() -> None:
            redis = AsyncRedis.from_url(redis_url())
            target = WebhookTarget([stack.config.bot_url], fake_url, SECRET, redis, keys)
            try:
                out["first_answer_s"] = await _first_answer(target, started)
                await asyncio.sleep(3)
                out["rss_mib_idle"] = {n: round(r, 1) for n, (_, r) in sample_processes(stack_pids(stack)).items()}
                out["load"] = await load_phases(
                    target, mix, plan.closed, plan, {**stack_pids(stack), "fake_graph": fake_pid}
                )
                out["long_conversation"] = await long_conversation(target, plan.long_n)
                progress(f"long conversation: {out['long_conversation']['latency_ms_at']}")
            finally:
                await target.close()
                await redis.aclose()

        asyncio.run(single())
        out["scale_out"] = scale_out(stack, plan, fake_url, fake_pid, mix)
    return out


def scale_out(stack: Stack, plan: Plan, fake_url: str, fake_pid: int, mix: list[Dm]) -> dict[str, Any]:
    """A second Rasa, bot service and consumer process on the running stack's Redis; load and ordering.

    Pairs: the stack's consumers send to the Rasa server the NLU supervisor publishes; the second
    consumer process and bot service are pinned to the second Rasa server (DMDESK_RASA_PINNED), so
    both Rasa servers work. Both consumer processes take messages from the same streams (whichever
    is free), whichever bot service stored them; each Rasa server's CPU during the load phases shows that
    both served (the consumers' Rasa posts no longer write a log line per request to count).
    """
    c = stack.config
    endpoints = c.endpoints_file
    credentials = ROOT / c.credentials
    keys = Keys(c.redis_prefix)
    with Redis.from_url(redis_url()) as r:
        consumers_before = int(r.zcard(keys.ingest_consumers))  # type: ignore[arg-type]
    rasa2 = free_port()
    stack.spawn("rasa_2", rasa_argv(ROOT / "models" / "dmdesk.tar.gz", endpoints, credentials, rasa2), c.nlu_nice)
    rasa2_url = f"http://127.0.0.1:{rasa2}"
    bot2 = free_port()
    pinned = {"DMDESK_RASA_URL": rasa2_url, "DMDESK_RASA_PINNED": "true"}
    bot_env = {**c.bot_env(), **pinned, "DMDESK_CONSUMERS": "0", "DMDESK_PORT": str(bot2)}
    stack.spawn("bot_2", bot_argv(bot2), env=bot_env)
    stack.spawn("consumers_2", consumers_argv(), c.nlu_nice, pinned)
    _wait_http(f"{rasa2_url}/webhooks/dmdesk/")
    _wait_http(f"http://127.0.0.1:{bot2}/healthz")
    shards = int(c.env().get("DMDESK_INGEST_SHARDS") or ServiceSettings.model_fields["ingest_shards"].default)
    out: dict[str, Any] = {"replicas": {"rasa": 2, "bot": 2, "consumer_processes": 2, "action_servers": 1}}

    async def go() -> None:
        redis = AsyncRedis.from_url(redis_url())
        target = WebhookTarget([c.bot_url, f"http://127.0.0.1:{bot2}"], fake_url, SECRET, redis, keys)
        try:
            # the load phases measure two replicas, not the handover of shards to the one that joined
            waited = await _wait_balanced(redis, keys, shards, 2 * consumers_before)
            progress(f"scale-out: the second consumer process took its shards after {waited:.1f} s")
            await closed_loop(target, mix, 10, 2)
            load = {}
            for concurrency in (16, 64):
                with ProcSampler({**stack_pids(stack), "fake_graph": fake_pid}) as sampler:
                    phase = await closed_loop(target, mix, plan.scale_closed[concurrency], concurrency)
                load[f"closed_c{concurrency}"] = {
                    **phase,
                    "processes": sampler.result,
                    "rss_mib_total": sampler.total_rss_mib,
                }
            out["load"] = load
            out["exactly_once_in_order"] = await ordered_conversations(
                target, redis, keys, plan.scale_conversations, plan.scale_messages
            )
            out["rasa_cpu_pct"] = {
                name: [round(p["processes"].get(proc, {}).get("cpu_pct", 0.0), 1) for p in load.values()]
                for name, proc in (("rasa_1", "nlu"), ("rasa_2", "rasa_2"))
            }
            progress(
                f"scale-out: {load['closed_c64']['throughput_msg_s']} msg/s; ok {out['exactly_once_in_order']['ok']};"
                f" CPU % of each Rasa server at c=16, c=64: {out['rasa_cpu_pct']}"
            )
        finally:
            await target.close()
            await redis.aclose()

    asyncio.run(go())
    return out


async def _wait_balanced(redis: AsyncRedis, keys: Keys, shards: int, consumers: int, timeout_s: float = 90) -> float:
    """Seconds until the consumers hold their shards in balance (``bot.shards.shards_balanced``)."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout_s:
        if await shards_balanced(redis, keys, shards, consumers):
            return time.monotonic() - t0
        await asyncio.sleep(0.25)
    raise RuntimeError(f"the consumers did not balance their shards within {timeout_s:.0f} s")


def run_baseline(plan: Plan, fake_url: str, mix: list[Dm], model: Path) -> dict[str, Any]:
    """Phase 5: the same loads on Rasa's defaults through its REST channel."""
    if not model.exists():
        raise SystemExit(f"no baseline model at {model}: run `make bench-baseline`")
    config = model.parent / "config.yml"
    out: dict[str, Any] = {"model": str(model), "config": config.read_text(encoding="utf-8")}
    with private_stack_baseline(fake_url, model) as (stack, rasa_url):
        pids = stack_pids(stack)

        async def go() -> None:
            target = RestTarget(rasa_url)
            try:
                out["load"] = await load_phases(target, mix, plan.baseline_closed, plan, pids)
                out["long_conversation"] = await long_conversation(target, plan.baseline_long_n)
            finally:
                await target.close()

        asyncio.run(go())
    return out


@contextlib.contextmanager
def private_stack_baseline(fake_url: str, model: Path) -> Iterator[tuple[Stack, str]]:
    """Our action server and a Rasa server with the baseline model, Rasa's default endpoints (REST channel)."""
    prefix = f"dmdeskbase{uuid.uuid4().hex[:8]}"
    config = StackConfig(
        redis_url=redis_url(),
        redis_prefix=prefix,
        rasa_port=free_port(),
        action_port=free_port(),
        bot_port=free_port(),
        log_dir=ROOT / ".cache" / "logs-baseline",
        api_token=secrets.token_urlsafe(24),
        extra_env=_env(fake_url),
    )
    config.log_dir.mkdir(parents=True, exist_ok=True)
    endpoints = config.log_dir / "endpoints.yml"
    # rasa init's endpoints.yml: only the action server; default (in-memory) tracker and lock stores
    endpoints.write_text(f'action_endpoint:\n  url: "http://127.0.0.1:{config.action_port}/webhook"\n')
    credentials = config.log_dir / "credentials.yml"
    credentials.write_text("rest:\n")
    stack = Stack(config)
    try:
        stack.spawn("actions", actions_argv(config.action_port), config.nlu_nice)
        stack.spawn("rasa", rasa_argv(model, endpoints, credentials, config.rasa_port), config.nlu_nice)
        _wait_http(f"http://127.0.0.1:{config.action_port}/health")
        _wait_http(f"http://127.0.0.1:{config.rasa_port}/")
        yield stack, f"http://127.0.0.1:{config.rasa_port}"
    finally:
        stack.stop()
        delete_prefix(redis_url(), prefix)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="small phases (a few minutes), for development")
    parser.add_argument("--out-dir", default=str(ROOT / "bench" / "results"))
    parser.add_argument("--skip-retrieval", action="store_true", help="development only")
    parser.add_argument("--skip-baseline", action="store_true", help="development only (no ratios)")
    parser.add_argument("--baseline-model", type=Path, default=BASELINE_MODEL, help="its config.yml beside it")
    parser.add_argument("--scale-out-only", action="store_true", help="part 4 alone: writes scale_out.json")
    args = parser.parse_args()
    plan = Plan(args.quick)
    ensure_redis(redis_url())
    mix = message_mix(ROOT)
    if args.scale_out_only:
        with fake_graph() as (fake_url, fake_proc), private_stack("benchscale", redis_url(), _env(fake_url)) as stack:
            result = scale_out(stack, plan, fake_url, fake_proc.pid, mix)
        out = Path(args.out_dir) / "scale_out.json"
        out.write_text(json.dumps(result, indent=2) + "\n")
        print(
            json.dumps(
                {k: v for k, v in result.items() if k != "load"}
                | {
                    name: {
                        "throughput_msg_s": p["throughput_msg_s"],
                        "p99_ms": p["latency_ms"]["p99"],
                        "cpu_pct": {n: r["cpu_pct"] for n, r in p["processes"].items()},
                    }
                    for name, p in result["load"].items()
                },
                indent=2,
            )
        )
        return
    t0 = time.monotonic()
    with fake_graph() as (fake_url, fake_proc):
        base = {} if args.skip_baseline else run_baseline(plan, fake_url, mix, args.baseline_model)
        print(f"baseline done after {time.monotonic() - t0:.0f}s", flush=True)
        dm = run_dmdesk(plan, fake_url, fake_proc.pid, mix)
        print(f"dmdesk done after {time.monotonic() - t0:.0f}s", flush=True)
    micro = {} if args.skip_retrieval else retrieval.run(quick=args.quick)
    result = summarise(dm, base, micro, plan.long_n, plan.quick)
    result["duration_s"] = round(time.monotonic() - t0, 1)
    redis_rss = Redis.from_url(redis_url()).info("memory").get("used_memory_rss", 0) / 2**20
    result["redis_used_memory_rss_mib_shared"] = round(redis_rss, 1)
    paths = write_reports(result, Path(args.out_dir))
    print(Path(paths["md"]).read_text())


if __name__ == "__main__":
    stop_on_signals()
    main()
