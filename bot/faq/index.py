"""Embedding index over FAQ entries, with a Redis-backed embedding cache."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Protocol, Sequence

import numpy as np

from bot.encoders import Encoder
from bot.faq.models import FaqEntry


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
    """One FAQ entry scored against a query."""

    entry_id: str
    score: float
    matched: str


class FaqIndex:
    """Cosine-similarity index; an entry scores the max over its texts."""

    def __init__(self, encoder: Encoder, cache: VectorCache | None = None) -> None:
        self.encoder = encoder
        self._cache = cache
        self._texts: list[str] = []
        self._owner: np.ndarray = np.zeros(0, dtype=np.int32)
        self._ids: list[str] = []
        self._matrix: np.ndarray = np.zeros((0, encoder.dim), dtype=np.float32)
        self.encoded_last_build = 0

    def __len__(self) -> int:
        return len(self._ids)

    def _vectors(self, texts: list[str]) -> np.ndarray:
        keys = [digest(t) for t in texts]
        cached = self._cache.get_many(self.encoder.name, keys) if self._cache else [None] * len(texts)
        out = np.zeros((len(texts), self.encoder.dim), dtype=np.float32)
        missing: list[int] = []
        for i, raw in enumerate(cached):
            if raw is not None and len(raw) == 4 * self.encoder.dim:
                out[i] = np.frombuffer(raw, dtype=np.float32)
            else:
                missing.append(i)
        if missing:
            fresh = self.encoder.encode([texts[i] for i in missing])
            for row, i in enumerate(missing):
                out[i] = fresh[row]
            if self._cache:
                self._cache.set_many(self.encoder.name, {keys[i]: fresh[row].tobytes() for row, i in enumerate(missing)})
        self.encoded_last_build = len(missing)
        return out

    def build(self, entries: Sequence[FaqEntry]) -> None:
        """(Re)build the index from enabled entries, reusing cached vectors."""
        texts: list[str] = []
        owner: list[int] = []
        ids: list[str] = []
        for entry in entries:
            if not entry.enabled:
                continue
            ids.append(entry.id)
            for text in dict.fromkeys(entry.texts()):  # dedupe, keep order
                texts.append(text)
                owner.append(len(ids) - 1)
        self._matrix = self._vectors(texts) if texts else np.zeros((0, self.encoder.dim), dtype=np.float32)
        self._texts, self._owner, self._ids = texts, np.asarray(owner, dtype=np.int32), ids

    def search_vector(self, query: np.ndarray, k: int = 5) -> list[Candidate]:
        """Top ``k`` entries for an already-encoded query."""
        if not self._ids:
            return []
        sims = self._matrix @ query
        best = np.full(len(self._ids), -1.0, dtype=np.float32)
        np.maximum.at(best, self._owner, sims)
        top = np.argsort(-best)[:k]
        out = []
        for i in top:
            rows = np.flatnonzero(self._owner == i)
            row = int(rows[np.argmax(sims[rows])])
            out.append(Candidate(self._ids[i], float(best[i]), self._texts[row]))
        return out

    def search(self, text: str, k: int = 5) -> list[Candidate]:
        """Top ``k`` entries for a query text."""
        return self.search_vector(self.encoder.encode_one(text), k)
