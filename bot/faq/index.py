"""Hybrid index over FAQ entries: dense sentence embeddings plus character n-grams.

Each component scores every text row of every entry; an entry's component
score is the mean of its two best rows (one row: that row); component scores
are standardised over entries (z-scores) and combined by weight. Measured on
eval/dev.yml (README, "Evaluation"), this beats any single component: the
multilingual encoders carry meaning across languages, the n-grams catch the
informal spellings DMs are full of ("ongkir", "brp", "скок"). Texts and
queries are normalised first (:mod:`bot.faq.normalize`): abbreviations
written out for every component, accents folded for the n-grams.

Dense vectors are cached in Redis per encoder, so a restart or an edit
re-encodes only new texts.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer

from bot.encoders import Encoder
from bot.faq.models import FaqEntry
from bot.faq.normalize import expand, fold
from bot.faq.terms import TermCoverage, terms


class VectorCache(Protocol):
    """Where embeddings of FAQ texts are kept between restarts."""

    def get_many(self, encoder: str, digests: Sequence[str]) -> list[bytes | None]:
        """Return the stored vectors (raw float32 bytes) or None per digest."""

    def set_many(self, encoder: str, items: dict[str, bytes]) -> None:
        """Store vectors by digest."""


def digest(text: str) -> str:
    """Cache key of a text."""
    return hashlib.sha1(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Candidate:
    """One FAQ entry scored against a query (``score``: combined z-score)."""

    entry_id: str
    score: float
    matched: str
    components: dict[str, float] = field(default_factory=dict, compare=False)
    evidence: dict[str, float] = field(default_factory=dict, compare=False)


@dataclass(frozen=True)
class IndexWeights:
    """Weights of the index components."""

    dense: dict[str, float]
    lexical: float = 0.5


def top2_mean(sims: np.ndarray, owner: np.ndarray, n_entries: int) -> np.ndarray:
    """Per entry, the mean of its two highest row similarities (O(rows))."""
    best = np.full(n_entries, -np.inf, dtype=np.float32)
    np.maximum.at(best, owner, sims)
    rest = np.where(sims >= best[owner], -np.inf, sims).astype(np.float32)
    second = np.full(n_entries, -np.inf, dtype=np.float32)
    np.maximum.at(second, owner, rest)
    second = np.where(np.isfinite(second), second, best)
    return (best + second) / 2


def zscore(scores: np.ndarray) -> np.ndarray:
    """Standardise scores over entries."""
    std = float(scores.std())
    return (scores - scores.mean()) / (std if std > 1e-9 else 1.0)


class FaqIndex:
    """Hybrid retrieval over the enabled FAQ entries."""

    def __init__(self, encoders: Sequence[Encoder], weights: IndexWeights, cache: VectorCache | None = None) -> None:
        self.encoders = list(encoders)
        self.weights = weights
        self._cache = cache
        self._texts: list[str] = []
        self._owner = np.zeros(0, dtype=np.int64)
        self._ids: list[str] = []
        self._dense: dict[str, np.ndarray] = {}
        self._tfidf: TfidfVectorizer | None = None
        self._lexical = None
        self._coverage = TermCoverage([])
        self.encoded_last_build = 0

    def __len__(self) -> int:
        return len(self._ids)

    def _vectors(self, encoder: Encoder, texts: list[str]) -> tuple[np.ndarray, int]:
        keys = [digest(t) for t in texts]
        cached = self._cache.get_many(encoder.name, keys) if self._cache else [None] * len(texts)
        out = np.zeros((len(texts), encoder.dim), dtype=np.float32)
        missing: list[int] = []
        for i, raw in enumerate(cached):
            if raw is not None and len(raw) == 4 * encoder.dim:
                out[i] = np.frombuffer(raw, dtype=np.float32)
            else:
                missing.append(i)
        if missing:
            fresh = encoder.encode([texts[i] for i in missing])
            out[missing] = fresh
            if self._cache:
                self._cache.set_many(encoder.name, {keys[i]: fresh[row].tobytes() for row, i in enumerate(missing)})
        return out, len(missing)

    def build(self, entries: Sequence[FaqEntry]) -> None:
        """(Re)build from the enabled entries, reusing cached vectors."""
        texts: list[str] = []
        owner: list[int] = []
        ids: list[str] = []
        enabled = [e for e in entries if e.enabled]
        for entry in enabled:
            ids.append(entry.id)
            for text in dict.fromkeys(entry.texts()):
                texts.append(text)
                owner.append(len(ids) - 1)
        dense: dict[str, np.ndarray] = {}
        encoded = 0
        expanded = [expand(t) for t in texts]
        for encoder in self.encoders:
            dense[encoder.name], n = self._vectors(encoder, expanded) if texts else (np.zeros((0, encoder.dim)), 0)
            encoded = max(encoded, n)
        tfidf, lexical = None, None
        if texts and self.weights.lexical > 0:
            tfidf = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 4), sublinear_tf=True, preprocessor=fold)
            lexical = tfidf.fit_transform(texts).T.tocsr()
        self._texts, self._owner, self._ids = texts, np.asarray(owner, dtype=np.int64), ids
        self._dense, self._tfidf, self._lexical = dense, tfidf, lexical
        self._coverage = TermCoverage(enabled)
        self.encoded_last_build = encoded

    def _component_scores(self, text: str) -> tuple[dict[str, np.ndarray], np.ndarray]:
        n = len(self._ids)
        scores: dict[str, np.ndarray] = {}
        primary_rows = np.zeros(len(self._texts), dtype=np.float32)
        for i, encoder in enumerate(self.encoders):
            rows = self._dense[encoder.name] @ encoder.encode_one(expand(text))
            if i == 0:
                primary_rows = rows
            scores[encoder.name] = top2_mean(rows, self._owner, n)
        if self._tfidf is not None and self._lexical is not None:
            query = self._tfidf.transform([text])
            rows = np.asarray((query @ self._lexical).todense()).ravel().astype(np.float32)
            scores["lexical"] = top2_mean(rows, self._owner, n)
        return scores, primary_rows

    def search(self, text: str, k: int = 5) -> list[Candidate]:
        """Top ``k`` entries for a query, best first."""
        if not self._ids:
            return []
        scores, primary_rows = self._component_scores(text)
        weights = {**self.weights.dense, "lexical": self.weights.lexical}
        total = sum(weights.get(name, 0.0) for name in scores) or 1.0
        combined = np.zeros(len(self._ids), dtype=np.float64)
        for name, s in scores.items():
            combined += weights.get(name, 0.0) * zscore(s)
        combined /= total
        top = np.argsort(-combined)[:k]
        evidence = self._coverage.evidence(terms(text), [int(i) for i in top])
        out = []
        for i, ev in zip(top, evidence, strict=True):
            rows = np.flatnonzero(self._owner == i)
            row = int(rows[np.argmax(primary_rows[rows])])
            parts = {name: round(float(s[i]), 4) for name, s in scores.items()}
            out.append(Candidate(self._ids[i], float(combined[i]), self._texts[row], parts, ev.as_dict()))
        return out
