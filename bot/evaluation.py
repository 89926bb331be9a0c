"""End-to-end evaluation: each query is the first message of a fresh conversation.

Input YAML: ``queries: [{text, lang, expect}]`` where ``expect`` is an FAQ id,
``none`` (no FAQ fits) or ``handoff``. Output JSON:
``{"results": [{text, lang, expect, got, reason, latency_ms}], "summary": {...}}`` where
``got`` is the FAQ id answered, ``none``, ``handoff`` or ``clarify:<id>,<id>``, and
``reason`` why the FAQ search decided so (``bot.faq.kb.DecisionReason``; null when no search ran).
"""

from __future__ import annotations

import json
import statistics
import time
import uuid
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import httpx
import yaml

SPECIAL = ("none", "handoff")


def kind_of(expect: str) -> str:
    """``faq``, ``none`` or ``handoff``."""
    return expect if expect in SPECIAL else "faq"


def got_from_result(result: dict[str, Any]) -> str:
    """What the bot did, from a dev-endpoint result."""
    for reply in result.get("replies") or []:
        meta = reply.get("meta") or {}
        kind = meta.get("kind")
        if kind == "handoff":
            return "handoff"
        if kind == "faq" and meta.get("faq_id"):
            return str(meta["faq_id"])
        if kind == "clarify":
            return "clarify:" + ",".join(meta.get("choices") or [])
    return "handoff" if result.get("status") == "human" else "none"


def reason_from_result(result: dict[str, Any]) -> str | None:
    """Why the FAQ search decided as it did (``bot.faq.kb.DecisionReason``), when one ran."""
    for reply in result.get("replies") or []:
        reason = (reply.get("meta") or {}).get("decision_reason")
        if reason:
            return str(reason)
    return None


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (nearest rank) of ``values``."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, int(round(q / 100 * len(ordered) + 0.5)) - 1))
    return ordered[rank]


def summarize(results: list[dict[str, Any]]) -> dict[str, Any]:
    """Accuracy per language and per kind of expectation, plus the goal rates."""
    by_lang: dict[str, list[bool]] = defaultdict(list)
    by_kind: dict[str, list[bool]] = defaultdict(list)
    by_lang_kind: dict[str, dict[str, list[bool]]] = defaultdict(lambda: defaultdict(list))
    none_answered: dict[str, list[bool]] = defaultdict(list)
    clarified: dict[str, list[bool]] = defaultdict(list)
    reasons: dict[str, Counter[str]] = defaultdict(Counter)
    for r in results:
        ok = r["got"] == r["expect"]
        kind = kind_of(r["expect"])
        by_lang[r["lang"]].append(ok)
        by_kind[kind].append(ok)
        by_lang_kind[r["lang"]][kind].append(ok)
        if kind == "none":
            none_answered[r["lang"]].append(r["got"] not in SPECIAL and not r["got"].startswith("clarify:"))
        if kind == "faq":
            clarified[r["lang"]].append(r["got"].startswith("clarify:"))
        reasons[kind][r.get("reason") or "no_search"] += 1

    def rate(values: list[bool]) -> float:
        return round(sum(values) / len(values), 4) if values else 0.0

    latencies = [r["latency_ms"] for r in results if "latency_ms" in r]
    return {
        "n": len(results),
        "accuracy": rate([r["got"] == r["expect"] for r in results]),
        "accuracy_by_language": {k: rate(v) for k, v in sorted(by_lang.items())},
        "accuracy_by_kind": {k: rate(v) for k, v in sorted(by_kind.items())},
        "accuracy_by_language_and_kind": {
            lang: {k: rate(v) for k, v in sorted(kinds.items())} for lang, kinds in sorted(by_lang_kind.items())
        },
        "none_answered_with_faq_rate": {k: rate(v) for k, v in sorted(none_answered.items())},
        "faq_clarify_rate": {k: rate(v) for k, v in sorted(clarified.items())},
        "reasons_by_kind": {k: dict(sorted(v.items())) for k, v in sorted(reasons.items())},
        "latency_ms": {
            "p50": round(percentile(latencies, 50), 1),
            "p99": round(percentile(latencies, 99), 1),
            "mean": round(statistics.fmean(latencies), 1) if latencies else 0.0,
        },
    }


def load_queries(path: Path) -> list[dict[str, str]]:
    """Read and check a query file."""
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    queries = data.get("queries")
    if not isinstance(queries, list):
        raise ValueError(f"{path}: expected a 'queries' list")
    for i, q in enumerate(queries):
        if not isinstance(q, dict) or not all(isinstance(q.get(k), str) for k in ("text", "lang", "expect")):
            raise ValueError(f"{path}: query {i} needs text, lang and expect strings")
    return queries


def evaluate(queries: list[dict[str, str]], base_url: str, token: str, channel: str = "dev") -> dict[str, Any]:
    """Run every query as the first message of a new conversation through the dev endpoint."""
    results = []
    run = uuid.uuid4().hex[:8]
    with httpx.Client(base_url=base_url, headers={"Authorization": f"Bearer {token}"}, timeout=120) as http:
        for i, q in enumerate(queries):
            started = time.perf_counter()
            response = http.post(
                "/api/dev/messages", json={"channel": channel, "sender": f"eval-{run}-{i}", "text": q["text"]}
            )
            latency = (time.perf_counter() - started) * 1000
            ok = response.status_code == 200
            body = response.json() if ok else {}
            got = got_from_result(body) if ok else f"error:{response.status_code}"
            results.append(
                {
                    "text": q["text"],
                    "lang": q["lang"],
                    "expect": q["expect"],
                    "got": got,
                    "reason": reason_from_result(body),
                    "latency_ms": round(latency, 1),
                }
            )
    return {"results": results, "summary": summarize(results)}


def evaluate_file(path: Path, out: Path, base_url: str, token: str) -> dict[str, Any]:
    """Evaluate ``path`` and write the JSON report to ``out``."""
    report = evaluate(load_queries(path), base_url, token)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, ensure_ascii=False, indent=2), encoding="utf-8")
    s = report["summary"]
    print(
        f"{s['n']} queries, accuracy {s['accuracy']:.1%}; by language {s['accuracy_by_language']}; "
        f"by kind {s['accuracy_by_kind']}; none answered with an FAQ {s['none_answered_with_faq_rate']}; "
        f"latency p50 {s['latency_ms']['p50']} ms, p99 {s['latency_ms']['p99']} ms -> {out}"
    )
    return report
