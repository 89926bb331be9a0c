"""The verifier's simulation edits one index in place; it must find what a fresh index per search finds."""

import random
from pathlib import Path

from bot.faq import store
from bot.faq.index import FaqIndex
from bot.faq.verifier import SAMPLES_PER_ENTRY, _MemoryCache, features, simulate_candidates
from bot.runtime import index_config
from bot.settings import CoreSettings


def rebuilt_per_search(entries, encoders, weights, cache, seed: int = 0):
    """The leave-one-out searches with a new index built for each: the reference."""
    rng = random.Random(seed)
    found, labels = [], []
    for entry in entries:
        index = FaqIndex(encoders, weights, cache)
        index.build([e for e in entries if e.id != entry.id])
        for text in rng.sample(entry.texts(), min(SAMPLES_PER_ENTRY, len(entry.texts()))):
            found.append(index.search(text, 5))
            labels.append(0)
    for entry in entries:
        for text in rng.sample(entry.alternatives, min(SAMPLES_PER_ENTRY, len(entry.alternatives))):
            left_out = entry.model_copy(update={"alternatives": [a for a in entry.alternatives if a != text]})
            index = FaqIndex(encoders, weights, cache)
            index.build([left_out if e.id == entry.id else e for e in entries])
            ranked = index.search(text, 5)
            found.append(ranked)
            labels.append(int(ranked[0].entry_id == entry.id))
    return found, labels


def test_simulation_in_place_matches_a_fresh_index_per_search(faq_file: Path) -> None:
    book = store.load(faq_file)
    # neighbours that compete (shipping, orders) and a disabled entry, which the simulation skips
    picked = [e for e in book.entries if e.topic in ("shipping", "orders")][:8]
    picked[-1] = picked[-1].model_copy(update={"enabled": False})
    book = book.model_copy(update={"entries": picked})
    encoders, weights = index_config(CoreSettings())
    cache = _MemoryCache()
    found, labels = simulate_candidates(book, encoders, weights, cache)
    expected, expected_labels = rebuilt_per_search([e for e in picked if e.enabled], encoders, weights, cache)
    assert labels == expected_labels and 0 in labels and 1 in labels
    assert [[c.entry_id for c in f] for f in found] == [[c.entry_id for c in f] for f in expected]
    for got, want in zip(found, expected, strict=True):
        assert max(abs(a - b) for a, b in zip(features(got), features(want), strict=True)) < 1e-5
