"""Core-loop benchmark: start-to-first-answer, serial latency, memory per process.

    .venv-app/bin/python -m bench.core [--n 300] [--out bench/results/core.json]

Starts a private stack (own ports and Redis prefix), waits for the first
answer, then sends the dev and test queries serially, each as the first
message of a new conversation, through the dev endpoint.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import httpx
from redis import Redis

from bench import write_result
from bot.cli import ensure_redis, redis_url
from bot.evaluation import load_queries, percentile
from bot.processes import stop_on_signals
from bot.stack import ROOT, private_stack


def rss_mib(pid: int) -> float:
    """Resident memory of a process and its children, MiB."""
    total = 0
    pids = [pid]
    children = Path(f"/proc/{pid}/task/{pid}/children")
    if children.exists():
        pids += [int(p) for p in children.read_text().split()]
    for p in pids:
        status = Path(f"/proc/{p}/status")
        if status.exists():
            for line in status.read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
    return round(total / 1024, 1)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=300)
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "core.json"))
    args = parser.parse_args()
    ensure_redis(redis_url())
    queries = load_queries(ROOT / "eval" / "dev.yml") + load_queries(ROOT / "eval" / "test.yml")
    started = time.monotonic()
    with private_stack("bench", redis_url()) as stack:
        config = stack.config
        headers = {"Authorization": f"Bearer {config.api_token}"}
        with httpx.Client(base_url=config.bot_url, headers=headers, timeout=120) as http:
            http.post("/api/dev/messages", json={"channel": "dev", "sender": "warm", "text": "hi"}).raise_for_status()
            first_answer_s = time.monotonic() - started
            idle = {name: rss_mib(p.pid) for name, p in stack.procs.items()}
            latencies = []
            for i in range(args.n):
                q = queries[i % len(queries)]
                t0 = time.perf_counter()
                r = http.post("/api/dev/messages", json={"channel": "dev", "sender": f"b{i}", "text": q["text"]})
                latencies.append((time.perf_counter() - t0) * 1000)
                r.raise_for_status()
            loaded = {name: rss_mib(p.pid) for name, p in stack.procs.items()}
    redis_rss = Redis.from_url(redis_url()).info("memory").get("used_memory_rss", 0) / 2**20
    result = {
        "first_answer_s": round(first_answer_s, 1),
        "serial_latency_ms": {
            "n": len(latencies),
            "p50": round(percentile(latencies, 50), 1),
            "p99": round(percentile(latencies, 99), 1),
            "mean": round(statistics.fmean(latencies), 1),
        },
        "rss_mib_idle": idle,
        "rss_mib_after_load": loaded,
        "rss_mib_total_after_load": round(sum(loaded.values()), 1),
        "redis_used_memory_rss_mib": round(redis_rss, 1),
    }
    write_result(result, args.out)


if __name__ == "__main__":
    stop_on_signals()
    main()
