"""Cross-validation of the verifier's training settings on a labelled dev file.

``make train`` fits the verifier on simulation plus every dev query, so
dev figures measured afterwards are in-sample. This replays the first-turn
FAQ decision (:func:`bot.faq.kb.decide`) on each of ``k`` folds of the dev
queries with a verifier fitted on simulation plus the other folds, for a
grid of calibration weights and regularisation strengths, and reports per
language the share of FAQ questions answered with the right entry and of
no-FAQ messages answered with one. Without ``--nlu`` every non-handoff
query is searched as an FAQ question. With ``--nlu`` (the trained model's
parses, written by ``bot.nlu.parses`` in Rasa's environment) the whole first
turn is replayed: escalation keywords (``--escalation``) and handoff intents
hand off (read again with the pipeline's handoff margins, ``--config``:
:mod:`bot.nlu.handoff`, as the bot does), FAQ intents search
(``out_of_scope`` strictly), other intents get no FAQ; the handoff rate per
language is reported too. The NLU model never saw the dev queries, so its
part is out of sample as well.

    python -m bot.faq.crossval eval/dev.yml [--weights 3 6 10] [--c 0.3 1 3] [--cache .cache/crossval.pkl]
        [--nlu .cache/dev_parses.json] [--config config.yml] [--not-covered 0.05 0.1 2] [--show-misses]

The searches (simulation and dev queries) take most of the time; ``--cache``
keeps their ranked candidates in a local pickle keyed by the FAQ file, the
query file and the retrieval code, so trying verifier features or settings
again takes seconds.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import itertools
import json
import pickle
import sys
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bot.faq.index import Candidate
from bot.faq.kb import DecisionKind, Thresholds, decide
from bot.faq.turn import FAQ_INTENTS, STRICT_INTENTS, skips_search
from bot.faq.verifier import Verifier, features, fit, row_weight
from bot.nlu.handoff import CLAUSES, HandoffPreference

#: sources whose change invalidates cached searches
_RETRIEVAL_CODE = ("index.py", "lexical.py", "normalize.py", "terms.py", "verifier.py", "models.py")


def outcome(candidates: Sequence[Candidate], verifier: Verifier, t: Thresholds, strict: bool = False) -> str:
    """What the bot replies to an FAQ-routed first message: an entry id, ``clarify:…`` or ``none``."""
    d = decide(candidates, verifier.probability(candidates), t, strict=strict)
    if d.kind is DecisionKind.ANSWER and d.best is not None:
        return d.best.entry_id
    if d.kind is DecisionKind.CLARIFY:
        return "clarify:" + ",".join(c.entry_id for c in d.candidates)
    return "none"


def route(parse: dict[str, Any], keyword: bool, preference: HandoffPreference) -> str:
    """The first turn's path for an NLU parse: ``handoff``, ``faq``, ``strict`` (search strictly) or ``none``.

    The parse's intent is read again with ``preference`` (a stored parse may predate its settings).
    """
    intent = parse["intent"]
    if keyword or preference.read(intent, parse.get("ranking"), parse.get(CLAUSES)) is not None:
        return "handoff"
    if intent in STRICT_INTENTS:
        return "none" if skips_search(intent, parse.get("confidence")) else "strict"
    return "faq" if intent in FAQ_INTENTS else "none"


def rates(queries: Sequence[dict[str, str]], got: Sequence[str]) -> dict[str, dict[str, float]]:
    """Per language: FAQ answered right (``faq``), no-FAQ message answered with an entry (``none_answered``)
    and, when ``got`` holds routed outcomes (``handoff`` among them), requests for a person handed off."""
    per: dict[str, dict[str, list[bool]]] = defaultdict(lambda: defaultdict(list))
    routed = "handoff" in got
    for q, g in zip(queries, got, strict=True):
        if q["expect"] == "none":
            per[q["lang"]]["none_answered"].append(g not in ("none", "handoff") and not g.startswith("clarify:"))
        elif q["expect"] != "handoff":
            per[q["lang"]]["faq"].append(g == q["expect"])
        elif routed:
            per[q["lang"]]["handoff"].append(g == "handoff")
    return {
        lang: {k: round(sum(v) / len(v), 3) for k, v in sorted(kinds.items())} for lang, kinds in sorted(per.items())
    }


def cache_key(*files: Path) -> str:
    """Digest of the given files and the retrieval code (a cached search is valid while it is unchanged)."""
    digest = hashlib.sha256()
    here = Path(__file__).parent
    for path in (*files, *(here / name for name in _RETRIEVAL_CODE)):
        digest.update(path.read_bytes())
    return digest.hexdigest()


def cross_validate(
    simulated: tuple[list[list[float]], list[int]],
    queries: Sequence[dict[str, str]],
    ranked: Sequence[Sequence[Candidate]],
    t: Thresholds,
    calibration_weight: float,
    c: float,
    folds: int = 4,
    routes: Sequence[str] | None = None,
) -> list[str]:
    """Out-of-fold first-turn outcomes for one setting, one per query (score them with :func:`rates`).

    ``routes`` (from :func:`route`, one per query) replays the NLU's part; without it every query is
    searched as an FAQ question.
    """
    rows = [features(r) for r in ranked]
    labels = [int(r[0].entry_id == q["expect"]) for q, r in zip(queries, ranked, strict=True)]
    got = [""] * len(queries)
    for f in range(folds):
        train = [i for i in range(len(queries)) if i % folds != f]
        weights = [row_weight(queries[i], calibration_weight) for i in train]
        verifier = fit(simulated, ([rows[i] for i in train], [labels[i] for i in train]), weights, c)
        for i in range(f, len(queries), folds):
            path = routes[i] if routes is not None else "faq"
            if path in ("faq", "strict"):
                got[i] = outcome(ranked[i], verifier, t, strict=path == "strict")
            else:
                got[i] = path
    return got


def nlu_routes(
    queries: Sequence[dict[str, str]], parses_file: Path, escalation_file: Path, preference: HandoffPreference
) -> list[str]:
    """:func:`route` of every query from a ``bot.nlu.parses`` file and the escalation keywords."""
    from bot.handoff.rules import load_escalator

    parses = {p["text"]: p for p in json.loads(parses_file.read_text(encoding="utf-8"))["parses"]}
    missing = [q["text"] for q in queries if q["text"] not in parses]
    if missing:
        raise SystemExit(
            f"{parses_file}: no parse for {len(missing)} queries (first: {missing[0]!r}); rerun bot.nlu.parses"
        )
    escalator = load_escalator(escalation_file)
    return [
        route(parses[q["text"]], escalator.keyword_match(q["text"], handoff_only=True) is not None, preference)
        for q in queries
    ]


def main(argv: list[str]) -> int:
    """CLI: print one JSON line per setting (worst-language FAQ rate first)."""
    from bot.evaluation import load_queries
    from bot.faq import store
    from bot.faq.index import FaqIndex
    from bot.faq.verifier import _MemoryCache, simulate_candidates
    from bot.runtime import index_config, thresholds
    from bot.settings import CoreSettings

    parser = argparse.ArgumentParser(prog="python -m bot.faq.crossval")
    parser.add_argument("queries", type=Path)
    parser.add_argument("--faq", type=Path, default=Path("data/faq.yml"))
    parser.add_argument("--weights", type=float, nargs="+", default=[1.0, 3.0, 6.0, 10.0])
    parser.add_argument("--c", type=float, nargs="+", default=[0.3, 1.0, 3.0])
    parser.add_argument("--folds", type=int, default=4)
    parser.add_argument(
        "--not-covered",
        type=float,
        nargs="+",
        help="margins to try for the not-covered questions (default: the setting's; 2 = off)",
    )
    parser.add_argument("--cache", type=Path, help="pickle of the searches, reused while inputs and code are unchanged")
    parser.add_argument("--nlu", type=Path, help="NLU parses of the queries (bot.nlu.parses): replay the routing too")
    parser.add_argument("--escalation", type=Path, default=Path("config/escalation.yml"))
    parser.add_argument("--config", type=Path, default=Path("config.yml"), help="the pipeline's handoff margins")
    parser.add_argument("--show-misses", action="store_true", help="print each query the last setting gets wrong")
    args = parser.parse_args(argv)
    settings = CoreSettings()
    queries = load_queries(args.queries)  # handoff rows train as negatives, are not scored
    key = cache_key(args.faq, args.queries) + ":" + json.dumps(settings.encoders) + str(settings.lexical_weight)
    searches = None
    if args.cache and args.cache.exists():
        with args.cache.open("rb") as fh:
            stored = pickle.load(fh)  # a local file this command wrote
        searches = stored["searches"] if stored.get("key") == key else None
    if searches is None:
        encoders, weights = index_config(settings)
        book = store.load(args.faq)
        cache = _MemoryCache()
        found, sim_labels = simulate_candidates(book, encoders, weights, cache)
        index = FaqIndex(encoders, weights, cache)
        index.build(book.entries)
        index.set_not_covered(book.not_covered)
        searches = (found, sim_labels, [index.search(q["text"], 5) for q in queries])
        if args.cache:
            args.cache.parent.mkdir(parents=True, exist_ok=True)
            with args.cache.open("wb") as fh:
                pickle.dump({"key": key, "searches": searches}, fh)
    found, sim_labels, ranked = searches
    simulated = ([features(f) for f in found], sim_labels)
    preference = HandoffPreference.from_pipeline(args.config)
    routes = nlu_routes(queries, args.nlu, args.escalation, preference) if args.nlu else None
    got: list[str] = []
    margins = args.not_covered or [settings.not_covered_margin]
    for w, c, margin in itertools.product(args.weights, args.c, margins):
        t = dataclasses.replace(thresholds(settings), not_covered=margin)
        got = cross_validate(simulated, queries, ranked, t, w, c, args.folds, routes)
        result = rates(queries, got)
        worst = min(v.get("faq", 0.0) for v in result.values())
        line = {"calibration_weight": w, "c": c, "not_covered": margin, "faq_min": worst, **result}
        print(json.dumps(line), flush=True)
    if args.show_misses:
        for q, g in zip(queries, got, strict=True):
            right = g == q["expect"] or (
                q["expect"] == "none" and (g in ("none", "handoff") or g.startswith("clarify:"))
            )
            if not right:
                print(f"{q['lang']}\t{q['expect']}\t{g}\t{q['text']}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
