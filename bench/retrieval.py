"""Retrieval micro-benchmarks: encoding time per message; search time over 50, 10,000 and 100,000 FAQ entries.

    .venv-app/bin/python -m bench.retrieval [--quick]

The real encoder (``DMDESK_ENCODERS``' first, as the bot uses it) encodes the
queries. The 50-entry index is the real FAQ. Larger indexes are the real
entries plus synthetic ones (questions recombined from the FAQ's own words);
their dense vectors are random unit vectors handed to the index through its
vector cache, so building them does not take hours of encoding: search cost
does not depend on what the vectors mean. Search time is measured with the
query already encoded (the encoder's time is reported on its own).
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import time
from collections.abc import Sequence
from typing import Any

import numpy as np
import yaml

from bench.harness import message_mix
from bot.encoders import Encoder, get_encoder
from bot.faq.index import FaqIndex, IndexWeights, digest
from bot.faq.models import FaqBook, FaqEntry
from bot.settings import CoreSettings
from bot.stack import ROOT


class DictCache:
    """An in-memory vector cache (the index's ``VectorCache`` protocol)."""

    def __init__(self) -> None:
        self.data: dict[tuple[str, str], bytes] = {}

    def get_many(self, encoder: str, digests: Sequence[str]) -> list[bytes | None]:
        return [self.data.get((encoder, d)) for d in digests]

    def set_many(self, encoder: str, items: dict[str, bytes]) -> None:
        for d, raw in items.items():
            self.data[(encoder, d)] = raw


class QueryCached(Encoder):
    """The real encoder, with the benchmark's queries encoded beforehand (search time without encoding)."""

    def __init__(self, inner: Encoder, queries: Sequence[str]) -> None:
        self.inner, self.name, self.dim = inner, inner.name, inner.dim
        self._known = dict(zip(queries, inner.encode(list(queries)), strict=True))

    def _encode(self, texts: list[str]) -> np.ndarray:
        return np.stack([self._known[t] if t in self._known else self.inner.encode_one(t) for t in texts])


def synthetic_entries(real: Sequence[FaqEntry], n: int, seed: int = 6) -> list[FaqEntry]:
    """``n`` entries with questions recombined from the real FAQ's words (one text each)."""
    rng = random.Random(seed)
    words = [w for e in real for t in e.texts() for w in t.split()]
    base = real[0].model_dump()
    out = []
    for i in range(n):
        question = " ".join(rng.choice(words) for _ in range(rng.randint(5, 12)))
        out.append(FaqEntry.model_validate({**base, "id": f"synthetic_{i}", "question": question, "alternatives": []}))
    return out


def _timed(fn: Any, items: Sequence[Any]) -> list[float]:
    out = []
    for item in items:
        t0 = time.perf_counter()
        fn(item)
        out.append((time.perf_counter() - t0) * 1000)
    return out


def _summary(ms: list[float]) -> dict[str, float]:
    ms = sorted(ms)
    return {
        "n": len(ms),
        "p50_ms": round(statistics.median(ms), 3),
        "p99_ms": round(ms[min(len(ms) - 1, int(len(ms) * 0.99))], 3),
        "mean_ms": round(statistics.fmean(ms), 3),
    }


def run(quick: bool = False) -> dict[str, Any]:
    """Every micro-benchmark; a JSON-ready dict."""
    settings = CoreSettings()
    encoder = get_encoder(settings.encoders[0])
    queries = [m.text for m in message_mix(ROOT)][: 60 if quick else 200]
    encoder.encode_one("warm up")
    result: dict[str, Any] = {"encoder": encoder.name, "encode_one": _summary(_timed(encoder.encode_one, queries))}
    book = FaqBook.model_validate(yaml.safe_load((ROOT / "data" / "faq.yml").read_text(encoding="utf-8")))
    real = [e for e in book.entries if e.enabled]
    rng = np.random.default_rng(6)
    cached = QueryCached(encoder, queries)
    weights = IndexWeights(dense={encoder.name: 1.0}, lexical=settings.lexical_weight)
    sizes = (len(real), 10_000) if quick else (len(real), 10_000, 100_000)
    searches: dict[str, Any] = {}
    for size in sizes:
        entries = real + synthetic_entries(real, size - len(real)) if size > len(real) else real
        cache = DictCache()
        real_texts = [t for e in real for t in e.texts()]
        cache.set_many(
            encoder.name, {digest(t): v.tobytes() for t, v in zip(real_texts, encoder.encode(real_texts), strict=True)}
        )
        fake = rng.standard_normal((len(entries) - len(real), encoder.dim)).astype(np.float32)
        fake /= np.linalg.norm(fake, axis=1, keepdims=True)
        cache.set_many(
            encoder.name, {digest(e.question): fake[i].tobytes() for i, e in enumerate(entries[len(real) :])}
        )
        index = FaqIndex([cached], weights, cache)
        t0 = time.perf_counter()
        index.build(entries)
        build_s = time.perf_counter() - t0
        index.search(queries[0])
        times = _timed(index.search, queries[: 30 if size >= 100_000 else len(queries)])
        searches[str(size)] = {"entries": len(index), "build_s": round(build_s, 2), **_summary(times)}
    result["search"] = searches
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    print(json.dumps(run(args.quick), indent=2))


if __name__ == "__main__":
    main()
