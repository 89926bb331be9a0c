"""Hybrid index over FAQ entries: dense sentence embeddings plus character n-grams.

Each component scores every text row of every entry; an entry's component
score is the mean of its two best rows (one row: that row); component scores
are standardised over entries (z-scores) and combined by weight. Measured on
eval/dev.yml (README, "Evaluation"), this beats any single component: the
multilingual encoders carry meaning across languages, the n-grams catch the
informal spellings DMs are full of ("ongkir", "brp", "скок").

Dense vectors are cached in Redis per encoder, so a restart or an edit
re-encodes only new texts.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from bot.encoders import Encoder
from bot.faq.lexical import LexicalIndex
from bot.faq.models import FaqEntry
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
        self._lexical: LexicalIndex | None = None
        self._coverage = TermCoverage([])
        self.encoded_last_build = 0
        self.build([])

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
        self._texts, self._owner, self._ids = [], np.zeros(0, dtype=np.int64), []
        self._dense = {e.name: np.zeros((0, e.dim), dtype=np.float32) for e in self.encoders}
        self._lexical = LexicalIndex() if self.weights.lexical > 0 else None
        self._coverage = TermCoverage([])
        self.update(entries)

    def update(self, upserts: Sequence[FaqEntry], removals: Iterable[str] = ()) -> None:
        """Apply changed entries in place: only their texts are looked up (and encoded if new).

        An upserted entry keeps its position (a new one goes last); a disabled
        or removed one leaves the index. The result scores exactly like a
        :meth:`build` over the same entries.

        Args:
            upserts: New or changed entries (disabled ones are removed).
            removals: Ids of deleted entries.
        """
        latest = {e.id: e for e in upserts}
        removed = set(removals)
        enabled = [e for e in latest.values() if e.enabled]
        position = {entry_id: i for i, entry_id in enumerate(self._ids)}
        touched = [position[i] for i in {*latest, *removed} if i in position]
        staying = {e.id for e in enabled}
        ids = [i for i in self._ids if (i not in latest and i not in removed) or i in staying]
        ids += [e.id for e in enabled if e.id not in position]
        new_position = {entry_id: i for i, entry_id in enumerate(ids)}
        remap = np.asarray([new_position.get(i, -1) for i in self._ids], dtype=np.int64)
        keep = ~np.isin(self._owner, touched)
        texts, owner = [t for t, k in zip(self._texts, keep, strict=True) if k], list(remap[self._owner[keep]])
        new_texts: list[str] = []
        for entry in enabled:
            for text in dict.fromkeys(entry.texts()):
                new_texts.append(text)
                owner.append(new_position[entry.id])
        dense: dict[str, np.ndarray] = {}
        encoded = 0
        for encoder in self.encoders:
            fresh, n = self._vectors(encoder, new_texts) if new_texts else (np.zeros((0, encoder.dim)), 0)
            dense[encoder.name] = np.concatenate([self._dense[encoder.name][keep], fresh.astype(np.float32)])
            encoded = max(encoded, n)
        if self._lexical is not None:
            self._lexical.update(keep, new_texts)
        vocabularies: list[int | FaqEntry] = [latest.get(i) or position[i] for i in ids]
        self._coverage = self._coverage.updated(vocabularies)
        self._texts, self._owner, self._ids = texts + new_texts, np.asarray(owner, dtype=np.int64), ids
        self._dense = dense
        self.encoded_last_build = encoded

    def nearest(self, vectors: np.ndarray, exclude: str | None = None) -> list[tuple[str, str, float] | None]:
        """Per query vector (primary encoder), the closest text of another entry: ``(entry_id, text, cosine)``.

        ``exclude`` leaves one entry out; None where no other entry is indexed.
        """
        if not self._ids or not len(vectors):
            return [None] * len(vectors)
        sims = vectors @ self._dense[self.encoders[0].name].T
        if exclude in self._ids:
            sims[:, self._owner == self._ids.index(exclude)] = -np.inf
        out: list[tuple[str, str, float] | None] = []
        for row_sims in sims:
            row = int(np.argmax(row_sims))
            best = float(row_sims[row])
            out.append(None if not np.isfinite(best) else (self._ids[int(self._owner[row])], self._texts[row], best))
        return out

    def embed(self, texts: list[str]) -> np.ndarray:
        """Vectors of ``texts`` by the primary encoder (cached like the index's own)."""
        return self._vectors(self.encoders[0], texts)[0]

    def _component_scores(self, text: str) -> tuple[dict[str, np.ndarray], np.ndarray]:
        n = len(self._ids)
        scores: dict[str, np.ndarray] = {}
        primary_rows = np.zeros(len(self._texts), dtype=np.float32)
        for i, encoder in enumerate(self.encoders):
            rows = self._dense[encoder.name] @ encoder.encode_one(text)
            if i == 0:
                primary_rows = rows
            scores[encoder.name] = top2_mean(rows, self._owner, n)
        if self._lexical is not None and len(self._lexical):
            scores["lexical"] = top2_mean(self._lexical.scores(text), self._owner, n)
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
