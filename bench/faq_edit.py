"""FAQ editor benchmark: edit-to-live latency on a running stack; index build, update and search by size.

    .venv-app/bin/python -m bench.faq_edit [--edits 60] [--sizes 50,10000,100000] [--out bench/results/faq_edit.json]

1. Edit-to-live: a private stack (own ports and Redis prefix); an editor
   saves a new answer through ``PATCH /api/staff/faq/entries/{id}``, then the
   question is asked through the dev endpoint (NLU, action server, FAQ) until
   the reply is the new answer. Latency = from sending the save to the end of
   the first reply that has it (and to the start of that request, a lower
   bound: each poll is a whole bot turn), and from the save's response. Also:
   from the save until a knowledge base in this process (its pub/sub
   listener) has applied it. The first edit (warm-up) is not counted.
2. Index: synthetic entries (a question and two alternatives each, made of
   pseudo-words so character n-grams behave like real text) with vectors
   already cached (random unit vectors, as after a restart with a warm
   embedding cache); build, a one-entry update (what an edit costs each
   process), and search (query encoding included) p50/p99. Cold encoding
   throughput of the real encoder is measured on a sample.
"""

from __future__ import annotations

import argparse
import random
import statistics
import threading
import time
import uuid
from collections.abc import Sequence

import httpx
import numpy as np
from redis import Redis

from bench import write_result
from bot.agents.accounts import AccountStore
from bot.agents.models import AccountCreate, Role
from bot.cli import ensure_redis, redis_url
from bot.encoders import Encoder, get_encoder
from bot.evaluation import percentile
from bot.faq.index import FaqIndex, IndexWeights, digest
from bot.faq.kb import KnowledgeBase
from bot.faq.models import FaqEntry
from bot.keys import Keys
from bot.processes import stop_on_signals
from bot.runtime import build_knowledge_base
from bot.settings import CoreSettings
from bot.stack import ROOT, private_stack

ENTRY = "order_tracking"
QUESTION = "How can I track my order?"
SYLLABLES = "ka ri mo tu se lan pe do vi nor bel sa kit ur am po zen ta li gor fe mi ne ro".split()  # noqa: SIM905


def ms(values: Sequence[float]) -> dict[str, float]:
    """p50 / p99 / max of seconds, in milliseconds."""
    return {
        "p50_ms": round(1000 * percentile(list(values), 50), 1),
        "p99_ms": round(1000 * percentile(list(values), 99), 1),
        "max_ms": round(1000 * max(values), 1),
    }


def edit_to_live(edits: int) -> dict[str, object]:
    """Save-to-answer latency through the dev endpoint of a private stack."""
    url = redis_url()
    with private_stack("faqbench", url) as stack:
        config = stack.config
        redis = Redis.from_url(url)
        password = f"pw-{uuid.uuid4().hex}"
        AccountStore(redis, Keys(config.redis_prefix)).create(
            "kopiku", AccountCreate(username="benchedit", password=password, role=Role.EDITOR)
        )
        settings = CoreSettings(redis_url=url, redis_prefix=config.redis_prefix)
        local = build_knowledge_base(settings, redis)  # a replica's view: listens to the change channel
        dev = httpx.Client(base_url=config.bot_url, headers={"Authorization": f"Bearer {config.api_token}"}, timeout=60)
        staff = httpx.Client(base_url=config.bot_url, timeout=60)
        token = staff.post(
            "/api/agent/session", json={"brand": "kopiku", "username": "benchedit", "password": password}
        )
        staff.headers["Authorization"] = f"Bearer {token.raise_for_status().json()['token']}"

        def ask() -> list[str]:
            body = {"channel": "dev", "sender": f"b{uuid.uuid4().hex[:10]}", "text": QUESTION}
            return [
                r.get("text") or ""
                for r in dev.post("/api/dev/messages", json=body).raise_for_status().json()["replies"]
            ]

        entry = staff.get(f"/api/staff/faq/entries/{ENTRY}").raise_for_status().json()
        turns, saves, lower, upper, after_save, replica, polls = [], [], [], [], [], [], []
        for i in range(edits + 1):  # the first edit warms up (connections, caches) and is not counted
            t0 = time.perf_counter()
            ask()
            turns.append(time.perf_counter() - t0)
            marker = f"Track your order in the app, edit {i} ({uuid.uuid4().hex[:6]})."
            body = {"answers": {**entry["answers"], "en": marker}, "expected_version": entry["version"]}
            applied: list[float] = []
            watcher = threading.Thread(target=wait_applied, args=(local, marker, applied), daemon=True)
            watcher.start()
            started = time.perf_counter()
            entry = staff.patch(f"/api/staff/faq/entries/{ENTRY}", json=body).raise_for_status().json()["entry"]
            saved = time.perf_counter()
            n = 0
            while True:
                n += 1
                sent = time.perf_counter()
                if marker in ask():
                    done = time.perf_counter()
                    break
                if time.perf_counter() - started > 30:
                    raise RuntimeError("edit not live after 30 s")
            watcher.join(timeout=30)
            if i == 0:
                continue
            saves.append(saved - started)
            lower.append(sent - started)
            upper.append(done - started)
            after_save.append(done - saved)
            replica.append(applied[0] - started)
            polls.append(n)
        local.close()
        staff.close()
        dev.close()
        redis.close()
    return {
        "edits": edits,
        "save_request": ms(saves),
        "save_sent_to_reply_with_new_answer": ms(upper),
        "save_sent_to_start_of_that_turn": ms(lower),
        "save_answered_to_reply_with_new_answer": ms(after_save),
        "turns_until_new_answer_mean": round(statistics.mean(polls), 2),
        "bot_turn_latency": ms(turns[1:]),
        "save_sent_to_applied_in_another_process": ms(replica),
    }


def wait_applied(kb: KnowledgeBase, marker: str, out: list[float], timeout_s: float = 30) -> None:
    """Append the time at which ``kb`` (its listener thread) serves ``marker`` as the entry's answer."""
    deadline = time.perf_counter() + timeout_s
    while time.perf_counter() < deadline:
        entry = kb.book.get(ENTRY)
        if entry is not None and entry.answers.get("en") == marker:
            out.append(time.perf_counter())
            return
        time.sleep(0.001)


def pseudo_words(rng: random.Random, n: int) -> str:
    """``n`` pseudo-words of 2-3 syllables."""
    return " ".join("".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 3))) for _ in range(n))


def synthetic(n: int, seed: int = 7) -> list[FaqEntry]:
    """``n`` entries: a question and two alternatives of pseudo-words, an answer."""
    rng = random.Random(seed)
    return [
        FaqEntry(
            id=f"e{i:06d}",
            topic="bench",
            question=pseudo_words(rng, 7) + "?",
            alternatives=[pseudo_words(rng, 5), pseudo_words(rng, 6) + "?"],
            answers={"en": pseudo_words(rng, 20) + "."},
        )
        for i in range(n)
    ]


class MemoryCache:
    """A vector cache in this process (the index's ``VectorCache`` protocol)."""

    def __init__(self) -> None:
        self.vectors: dict[str, bytes] = {}

    def get_many(self, encoder: str, digests: Sequence[str]) -> list[bytes | None]:
        return [self.vectors.get(d) for d in digests]

    def set_many(self, encoder: str, items: dict[str, bytes]) -> None:
        self.vectors.update(items)


def prefill(cache: MemoryCache, dim: int, texts: Sequence[str], seed: int) -> None:
    """Random unit vectors for ``texts`` (stand-ins for cached embeddings)."""
    rng = np.random.default_rng(seed)
    for start in range(0, len(texts), 20_000):
        chunk = texts[start : start + 20_000]
        block = rng.standard_normal((len(chunk), dim)).astype(np.float32)
        block /= np.linalg.norm(block, axis=1, keepdims=True)
        cache.vectors.update({digest(t): block[i].tobytes() for i, t in enumerate(chunk)})


def index_at(encoder: Encoder, n: int, queries: int) -> dict[str, object]:
    """Build, one-entry update and search times over ``n`` synthetic entries."""
    entries = synthetic(n)
    changed = [
        e.model_copy(update={"alternatives": [*e.alternatives, f"changed phrasing {k}"]})
        for k, e in enumerate(entries[:5])
    ]
    cache = MemoryCache()
    prefill(cache, encoder.dim, [t for e in entries + changed for t in e.texts()], seed=n)
    index = FaqIndex([encoder], IndexWeights(dense={encoder.name: 1.0}, lexical=0.5), cache)
    t0 = time.perf_counter()
    index.build(entries)
    build_s = time.perf_counter() - t0
    updates = []
    for entry in changed:
        t0 = time.perf_counter()
        index.update([entry])
        updates.append(time.perf_counter() - t0)
    rng = random.Random(n)
    texts = [rng.choice(entries).question for _ in range(queries)]
    index.search(texts[0])
    times = []
    for text in texts:
        t0 = time.perf_counter()
        index.search(text)
        times.append(time.perf_counter() - t0)
    return {
        "entries": n,
        "rows": n * 3,
        "build_s": round(build_s, 2),
        "one_entry_update": ms(updates),
        "search": ms(times),
        "queries": queries,
    }


def encoding_rate(encoder: Encoder, n: int = 600) -> float:
    """Texts per second the encoder embeds (batched, cold)."""
    texts = [t for e in synthetic(n // 3, seed=99) for t in e.texts()]
    t0 = time.perf_counter()
    encoder.encode(texts)
    return round(len(texts) / (time.perf_counter() - t0), 1)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--edits", type=int, default=60)
    parser.add_argument("--sizes", default="50,10000,100000")
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--skip-stack", action="store_true", help="index figures only")
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "faq_edit.json"))
    args = parser.parse_args()
    ensure_redis(redis_url())
    result: dict[str, object] = {"date": time.strftime("%Y-%m-%d")}
    if not args.skip_stack:
        result["edit_to_live"] = edit_to_live(args.edits)
    encoder = get_encoder(CoreSettings().encoders[0])
    result["encoder"] = {"name": encoder.name, "dim": encoder.dim, "cold_texts_per_s": encoding_rate(encoder)}
    result["index"] = [index_at(encoder, int(n), args.queries) for n in args.sizes.split(",")]
    write_result(result, args.out)


if __name__ == "__main__":
    stop_on_signals()
    main()
