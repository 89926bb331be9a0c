"""Prometheus metrics of the agent workspace, read from Redis at each scrape.

Everything comes from Redis (no per-process counters), so every replica
answers ``GET /metrics`` with the same figures, and they survive restarts:

* ``dmdesk_queue_tickets{brand,priority,team,channel}``: waiting tickets;
* ``dmdesk_queue_wait_seconds{brand}``: how long the waiting tickets have waited
  (a gauge histogram), and ``dmdesk_queue_oldest_wait_seconds{brand}``;
* ``dmdesk_handoffs_total{brand,reason,rule,priority}``: tickets created (counted in
  the same Lua script that creates them, ``bot/handoff/queue.py``);
* ``dmdesk_first_response_seconds{brand}``: escalation to first agent reply (a
  histogram, recorded in the reply's transaction, ``record_first_response``);
* ``dmdesk_agents_online{brand}``: agents online (``bot/handoff/presence.py``).
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeHistogramMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector
from redis import Redis
from redis.client import Pipeline

from bot.handoff.presence import Presence
from bot.handoff.queue import HandoffStore, created_ms_of
from bot.keys import Keys

#: upper bounds (s) of the first-response histogram
FIRST_RESPONSE_BUCKETS: tuple[float, ...] = (30, 60, 120, 300, 600, 1800, 3600, 7200, 14400, 43200, 86400)
#: upper bounds (s) of the waiting-time gauge histogram
WAIT_BUCKETS: tuple[float, ...] = (60, 300, 600, 1800, 3600, 7200, 14400, 43200, 86400)
INF = "+Inf"


def bucket_of(seconds: float, bounds: Sequence[float] = FIRST_RESPONSE_BUCKETS) -> str:
    """The histogram field a value is counted in: the first bound at or above it, else ``+Inf``."""
    return next((_bound(b) for b in bounds if seconds <= b), INF)


def _bound(value: float) -> str:
    return f"{value:g}"


def record_first_response(pipe: Pipeline, keys: Keys, brand: str, seconds: float) -> None:
    """Queue the commands counting one first-response time (inside the reply's transaction)."""
    key = keys.first_response_histogram(brand)
    pipe.hincrby(key, bucket_of(max(0.0, seconds)), 1)
    pipe.hincrbyfloat(key, "sum", max(0.0, seconds))
    pipe.hincrby(key, "count", 1)


def _cumulative(counts: dict[str, float], bounds: Sequence[float]) -> list[tuple[str, float]]:
    running, out = 0.0, []
    for bound in [*(_bound(b) for b in bounds), INF]:
        running += counts.get(bound, 0)
        out.append((bound, running))
    return out


def _decoded(raw: dict[bytes, bytes]) -> dict[str, str]:
    return {k.decode(): v.decode() for k, v in raw.items()}


class WorkspaceCollector(Collector):
    """Collects the workspace's metrics from Redis at scrape time."""

    def __init__(self, redis: Redis, keys: Keys, store: HandoffStore, presence: Presence) -> None:
        self._redis = redis
        self._keys = keys
        self._store = store
        self._presence = presence

    def brands(self) -> list[str]:
        """The deployment's brand and every brand that has had tickets."""
        known = {m.decode() for m in self._redis.smembers(self._keys.brands)}  # type: ignore[union-attr]
        return sorted(known | {self._store.brand})

    def collect(self) -> Iterator[Metric]:
        """Every metric family, for every brand."""
        brands = self.brands()
        yield self._queue(brands)
        yield from self._waits(brands)
        yield self._handoffs(brands)
        yield self._first_response(brands)
        online = GaugeMetricFamily("dmdesk_agents_online", "Agents online (available, console open)", labels=["brand"])
        for brand in brands:
            online.add_metric([brand], len(self._presence.online(brand)))
        yield online

    def _queue(self, brands: Iterable[str]) -> Metric:
        family = GaugeMetricFamily(
            "dmdesk_queue_tickets", "Waiting tickets", labels=["brand", "priority", "team", "channel"]
        )
        for brand in brands:
            counts = Counter(
                (str(a.get("priority", "")), str(a.get("team") or ""), str(a.get("channel", "")))
                for a in self._store.waiting_attrs(brand)
            )
            for (priority, team, channel), n in sorted(counts.items()):
                family.add_metric([brand, priority, team, channel], n)
        return family

    def _waits(self, brands: Iterable[str]) -> Iterator[Metric]:
        now_ms = time.time() * 1000
        hist = GaugeHistogramMetricFamily(
            "dmdesk_queue_wait_seconds", "How long the waiting tickets have waited", labels=["brand"]
        )
        oldest = GaugeMetricFamily(
            "dmdesk_queue_oldest_wait_seconds", "Wait of the longest-waiting ticket", labels=["brand"]
        )
        for brand in brands:
            waits = [max(0.0, (now_ms - created_ms_of(score)) / 1000) for _, score in self._store.waiting_scores(brand)]
            counts = Counter(bucket_of(w, WAIT_BUCKETS) for w in waits)
            buckets = _cumulative(dict(counts), WAIT_BUCKETS)
            hist.add_metric([brand], buckets, gsum_value=sum(waits))
            oldest.add_metric([brand], max(waits, default=0.0))
        yield hist
        yield oldest

    def _handoffs(self, brands: Iterable[str]) -> Metric:
        family = CounterMetricFamily(
            "dmdesk_handoffs", "Tickets created, by reason", labels=["brand", "reason", "rule", "priority"]
        )
        for brand in brands:
            raw = _decoded(self._redis.hgetall(self._keys.handoff_counts(brand)))  # type: ignore[arg-type]
            for field, value in sorted(raw.items()):
                labels = json.loads(field)
                family.add_metric(
                    [brand, labels.get("reason", ""), labels.get("rule", ""), labels.get("priority", "")], float(value)
                )
        return family

    def _first_response(self, brands: Iterable[str]) -> Metric:
        family = HistogramMetricFamily(
            "dmdesk_first_response_seconds", "Escalation to the first agent reply", labels=["brand"]
        )
        for brand in brands:
            raw = _decoded(self._redis.hgetall(self._keys.first_response_histogram(brand)))  # type: ignore[arg-type]
            counts = {k: float(v) for k, v in raw.items() if k not in ("sum", "count")}
            family.add_metric([brand], _cumulative(counts, FIRST_RESPONSE_BUCKETS), sum_value=float(raw.get("sum", 0)))
        return family


def render(collector: WorkspaceCollector) -> bytes:
    """The metrics in Prometheus' text format (0.0.4)."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(collector)
    return generate_latest(registry)
