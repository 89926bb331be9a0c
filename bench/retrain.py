"""Retrain-and-swap benchmark: how long a retrain takes until the new model serves, and failed requests.

    .venv-app/bin/python -m bench.retrain [--concurrency 2] [--out bench/results/retrain.json]

Starts a private stack, adds one example through the training data API,
starts a training, and keeps ``--concurrency`` customers writing through the
dev endpoint (a new conversation every other message) until the swap is done
and a few seconds after; then restores the previous model the same way.
Reports the time per state, requested-to-serving, the requests sent and
failed (goal: none), and latency before, during and after the swap.
"""

from __future__ import annotations

import argparse
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
from redis import Redis

from bench import write_result
from bot.agents.accounts import AccountStore
from bot.agents.models import AccountCreate, Role
from bot.cli import ensure_redis, redis_url
from bot.evaluation import percentile
from bot.keys import Keys
from bot.processes import stop_on_signals
from bot.stack import ROOT, private_stack

TEXTS = ["hello", "how long does delivery to Medan take?", "thanks!", "brp ongkir ke bali kak?", "can I pay by card?"]
PASSWORD = "bench password 123"


class Customers:
    """``n`` threads writing continuously; each request's start, latency and outcome are kept."""

    def __init__(self, base_url: str, token: str, n: int) -> None:
        self.base_url, self.token, self.n = base_url, token, n
        self.samples: list[tuple[float, float, bool]] = []
        self.stop = threading.Event()
        self.threads = [threading.Thread(target=self._run, args=(i,), daemon=True) for i in range(n)]

    def _run(self, k: int) -> None:
        headers = {"Authorization": f"Bearer {self.token}"}
        ongoing = f"bench{k}{uuid.uuid4().hex[:6]}"
        with httpx.Client(base_url=self.base_url, headers=headers, timeout=60) as http:
            i = 0
            while not self.stop.is_set():
                sender = ongoing if i % 2 == 0 else f"b{uuid.uuid4().hex[:10]}"
                started = time.time()
                t0 = time.perf_counter()
                try:
                    r = http.post("/api/dev/messages", json={"channel": "dev", "sender": sender, "text": TEXTS[i % 5]})
                    ok = r.status_code == 200 and r.json().get("status") == "answered"
                except httpx.HTTPError:
                    ok = False
                self.samples.append((started, (time.perf_counter() - t0) * 1000, ok))
                i += 1
                time.sleep(0.1)

    def __enter__(self) -> Customers:
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        for t in self.threads:
            t.join(timeout=90)


def warm_up(base_url: str, token: str) -> None:
    """The first FAQ turn of a fresh stack builds the action server's knowledge base; not part of a swap."""
    with httpx.Client(base_url=base_url, headers={"Authorization": f"Bearer {token}"}, timeout=120) as http:
        for text in TEXTS:
            for _ in range(5):
                body = {"channel": "dev", "sender": f"warm{uuid.uuid4().hex[:8]}", "text": text}
                if http.post("/api/dev/messages", json=body).status_code == 200:
                    break
                time.sleep(5)


def run(http: httpx.Client, path: str) -> dict[str, Any]:
    job = http.post(path, json={}).json()
    while job["state"] not in ("done", "failed"):
        time.sleep(0.5)
        job = http.get(f"/api/training/jobs/{job['id']}").json()
    return job


def window(samples: list[tuple[float, float, bool]], start: float, end: float) -> dict[str, Any]:
    inside = [s for s in samples if start <= s[0] < end]
    lat = [s[1] for s in inside]
    return {
        "requests": len(inside),
        "failed": sum(1 for s in inside if not s[2]),
        "p50_ms": round(percentile(lat, 50), 1) if lat else None,
        "p99_ms": round(percentile(lat, 99), 1) if lat else None,
    }


def report(job: dict[str, Any], samples: list[tuple[float, float, bool]]) -> dict[str, Any]:
    at = {h["state"]: h["at"] for h in job["history"]}
    end = at.get("done") or at.get("failed") or time.time()
    durations = {}
    states = [h for h in job["history"] if h["state"] != "queued"]
    for cur, nxt in zip(states, states[1:], strict=False):
        durations[cur["state"]] = round(nxt["at"] - cur["at"], 1)
    swap_start = at.get("swapping", end)
    return {
        "state": job["state"],
        "error": job["error"],
        "model_version": job["model_version"],
        "requested_to_serving_s": round(end - job["requested_at"], 1),
        "seconds_per_state": durations,
        "requests": window(samples, job["requested_at"], end + 3),
        "before_swap": window(samples, job["requested_at"], swap_start),
        "during_swap": window(samples, swap_start, end),
        "after_swap": window(samples, end, end + 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--concurrency", type=int, default=2)
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "retrain.json"))
    args = parser.parse_args()
    ensure_redis(redis_url())
    with private_stack("benchretrain", redis_url()) as stack:
        c = stack.config
        redis = Redis.from_url(c.redis_url)
        AccountStore(redis, Keys(c.redis_prefix)).create(
            "kopiku", AccountCreate(username="bench", password=PASSWORD, role=Role.EDITOR)
        )
        with httpx.Client(base_url=c.bot_url, timeout=60) as http:
            login = {"brand": "kopiku", "username": "bench", "password": PASSWORD}
            http.headers["Authorization"] = "Bearer " + http.post("/api/agent/session", json=login).json()["token"]
            warm_up(c.bot_url, c.api_token)
            added = http.post(
                "/api/training/intents/bot_challenge/examples", json={"text": "are you powered by a toaster"}
            )
            added.raise_for_status()
            with Customers(c.bot_url, c.api_token, args.concurrency) as load:
                trained = run(http, "/api/training/jobs")
                time.sleep(3)
            train_report = report(trained, load.samples)
            with Customers(c.bot_url, c.api_token, args.concurrency) as load:
                restored = run(http, "/api/training/models/restore")
                time.sleep(3)
            restore_report = report(restored, load.samples)
            models = http.get("/api/training/models").json()["models"]
        for m in models:
            if m["version"] == trained["model_version"]:
                Path(m["path"]).unlink(missing_ok=True)
        redis.close()
    write_result(
        {"concurrency": args.concurrency, "retrain": train_report, "restore": restore_report, "brand": "kopiku"},
        args.out,
    )


if __name__ == "__main__":
    stop_on_signals()
    main()
