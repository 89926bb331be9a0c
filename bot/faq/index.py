"""Hybrid index over FAQ entries: dense sentence embeddings plus character n-grams.

Each component scores every text row of every entry; an entry's component
score is the mean of its two best rows (one row: that row); component scores
are standardised over entries (z-scores) and combined by weight. Measured on
eval/dev.yml (README, "Evaluation"), this beats any single component: the
multilingual encoders carry meaning across languages, the n-grams catch the
informal spellings DMs are full of ("ongkir", "brp", "скок"). Texts and
queries are normalised first (:mod:`bot.faq.normalize`): abbreviations
written out for every component, accents folded for the n-grams.

The best :data:`RERANK_POOL` entries are then re-ranked by term coverage
(:mod:`bot.faq.terms`): each loses ``coverage`` times the idf-weighted share
of the query's terms its vocabulary never uses. Two neighbouring entries
that the embeddings cannot tell apart ("stop my subscription": how it works
or cancel; "dicicil": payment methods or instalments) are separated by the
words the question actually uses.

Questions the brand knows no entry answers (``FaqBook.not_covered``) are
kept apart from the entries: each candidate's evidence carries
``not_covered``, how much closer (primary-encoder cosine) the message is to
the nearest of them than to the candidate's own best text, and the decision
(:func:`bot.faq.kb.decide`) gives no answer when the top candidate's lead is
above a margin.

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
from bot.faq.normalize import expand
from bot.faq.terms import TermCoverage, word_stems


class QueryVectorSource(Protocol):
    """Vectors of queries already encoded elsewhere (the NLU, bot/faq/query_vectors.py)."""

    def get(self, encoder: str, text: str, dim: int) -> np.ndarray | None:
        """The vector of ``text`` by ``encoder``, or None."""


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
    """One FAQ entry scored against a query (``score``: combined z-score less the coverage penalty)."""

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
    #: combined z-score lost per unit of uncovered query-term share when re-ranking (0: off)
    coverage: float = 1.75


#: how many of the best entries by combined score are re-ranked by term coverage
RERANK_POOL = 5


def top2_mean(sims: np.ndarray, owner: np.ndarray, n_entries: int) -> np.ndarray:
    """Per entry, the mean of its two highest row similarities (O(rows))."""
    best = np.full(n_entries, -np.inf, dtype=np.float32)
    np.maximum.at(best, owner, sims)
    at_best = sims >= best[owner]
    rest = np.where(at_best, -np.inf, sims).astype(np.float32)
    second = np.full(n_entries, -np.inf, dtype=np.float32)
    np.maximum.at(second, owner, rest)
    tied = np.bincount(owner[at_best], minlength=n_entries) > 1  # two rows share the best: it is also second
    second = np.where(tied | ~np.isfinite(second), best, second)
    return (best + second) / 2


def zscore(scores: np.ndarray) -> np.ndarray:
    """Standardise scores over entries."""
    std = float(scores.std())
    return (scores - scores.mean()) / (std if std > 1e-9 else 1.0)


class FaqIndex:
    """Hybrid retrieval over the enabled FAQ entries."""

    def __init__(
        self,
        encoders: Sequence[Encoder],
        weights: IndexWeights,
        cache: VectorCache | None = None,
        queries: QueryVectorSource | None = None,
    ) -> None:
        self.encoders = list(encoders)
        self.weights = weights
        self._cache = cache
        self._queries = queries
        #: searches whose query vector came from ``queries`` / were encoded here (per encoder)
        self.query_vectors_reused = 0
        self.query_vectors_encoded = 0
        self._texts: list[str] = []
        self._owner = np.zeros(0, dtype=np.int64)
        self._ids: list[str] = []
        self._dense: dict[str, np.ndarray] = {}  # views of the first rows of _buffers
        self._buffers: dict[str, np.ndarray] = {}  # per encoder, rows with spare capacity
        self._lexical: LexicalIndex | None = None
        self._coverage = TermCoverage([])
        self._not_covered: tuple[str, ...] = ()
        self._not_covered_vectors = np.zeros((0, self.encoders[0].dim if self.encoders else 0), dtype=np.float32)
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
        if not missing:
            return out, 0
        # each text once: the same text twice in one batch can come out different in the last bits (the
        # BLAS sums another row in another order), and its rows must be the same vector, as after a restart
        # (the cache holds one per text); else the entry's top-2 score depends on that noise (top2_mean)
        row_of: dict[str, int] = {}
        for i in missing:
            row_of.setdefault(texts[i], len(row_of))
        fresh = encoder.encode(list(row_of))
        out[missing] = fresh[[row_of[texts[i]] for i in missing]]
        if self._cache:
            self._cache.set_many(encoder.name, {digest(text): fresh[row].tobytes() for text, row in row_of.items()})
        return out, len(row_of)

    def build(self, entries: Sequence[FaqEntry]) -> None:
        """(Re)build from the enabled entries, reusing cached vectors."""
        self._texts, self._owner, self._ids = [], np.zeros(0, dtype=np.int64), []
        self._buffers = {e.name: np.zeros((0, e.dim), dtype=np.float32) for e in self.encoders}
        self._dense = {name: buffer[:0] for name, buffer in self._buffers.items()}
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
        position = {entry_id: i for i, entry_id in enumerate(self._ids)}
        vocabularies: list[int | FaqEntry] = [latest.get(i) or position[i] for i in self._ids]
        moved = [e for e in latest.values() if (e.enabled or e.id in position) and not self._same_rows(e, position)]
        self.encoded_last_build = 0
        if moved or removed & set(position):
            vocabularies = self._move_rows(moved, removed, latest, position)
        self._coverage = self._coverage.updated(vocabularies)

    def set_not_covered(self, texts: Sequence[str]) -> int:
        """Use ``texts`` as the questions no entry answers (cached vectors reused). Returns how many were encoded."""
        wanted = tuple(dict.fromkeys(texts))
        if wanted == self._not_covered or not self.encoders:
            return 0
        encoder = self.encoders[0]
        if wanted:
            vectors, encoded = self._vectors(encoder, [expand(t) for t in wanted])
        else:
            vectors, encoded = np.zeros((0, encoder.dim), dtype=np.float32), 0
        self._not_covered, self._not_covered_vectors = wanted, vectors
        return encoded

    def nearest_not_covered(self, text: str) -> tuple[str, float] | None:
        """The not-covered question closest to ``text`` and its cosine (primary encoder), or None."""
        if not len(self._not_covered_vectors):
            return None
        return self._nearest_not_covered(self.query_vector(self.encoders[0], expand(text)))

    def _nearest_not_covered(self, vector: np.ndarray) -> tuple[str, float]:
        """The not-covered question closest to a primary-encoder query vector (the list is not empty)."""
        sims = self._not_covered_vectors @ vector
        best = int(np.argmax(sims))
        return self._not_covered[best], float(sims[best])

    @property
    def not_covered(self) -> tuple[str, ...]:
        """The questions no entry answers, as last set."""
        return self._not_covered

    def _same_rows(self, entry: FaqEntry, position: dict[str, int]) -> bool:
        """True if the entry is indexed with exactly these texts (e.g. only its answers changed)."""
        if not entry.enabled or entry.id not in position:
            return False
        rows = np.flatnonzero(self._owner == position[entry.id])
        return sorted(self._texts[r] for r in rows) == sorted(dict.fromkeys(entry.texts()))  # rows may be reordered

    def _move_rows(
        self, moved: Sequence[FaqEntry], removed: set[str], latest: dict[str, FaqEntry], position: dict[str, int]
    ) -> list[int | FaqEntry]:
        """Drop the rows of moved and removed entries and append the moved ones' new rows.

        Returns the coverage order of the new entry list (old positions or entries).
        """
        gone = {e.id for e in moved if not e.enabled} | removed
        enabled = [e for e in moved if e.enabled]
        touched = [position[i] for i in {*(e.id for e in moved), *removed} if i in position]
        ids = [i for i in self._ids if i not in gone] + [e.id for e in enabled if e.id not in position]
        new_position = {entry_id: i for i, entry_id in enumerate(ids)}
        remap = np.asarray([new_position.get(i, -1) for i in self._ids], dtype=np.int64)
        # The dropped rows' slots are filled with the last kept rows (row order does not matter to
        # the scores), so an edit moves O(its rows) vectors, not the whole matrix.
        n = len(self._texts)
        holes = np.flatnonzero(np.isin(self._owner, touched))
        m = n - len(holes)
        tail = np.arange(m, n)
        movers = tail[~np.isin(tail, holes)]
        targets = holes[holes < m]
        order = np.arange(m)
        order[targets] = movers
        texts = self._texts[:m]
        for target, source in zip(targets, movers, strict=True):
            texts[target] = self._texts[source]
        new_texts: list[str] = []
        new_owner: list[int] = []
        for entry in enabled:
            for text in dict.fromkeys(entry.texts()):
                new_texts.append(text)
                new_owner.append(new_position[entry.id])
        expanded = [expand(t) for t in new_texts]  # abbreviations written out (bot.faq.normalize)
        for encoder in self.encoders:
            fresh, encoded = self._vectors(encoder, expanded) if new_texts else (np.zeros((0, encoder.dim)), 0)
            buffer = self._buffers[encoder.name]
            buffer[targets] = buffer[movers]
            if buffer.shape[0] < m + len(new_texts):
                needed = m + len(new_texts)  # room to grow by an eighth before the next copy
                grown = np.empty((max(needed + needed // 8 + 64, int(buffer.shape[0] * 1.25)), encoder.dim), np.float32)
                grown[:m] = buffer[:m]
                buffer = self._buffers[encoder.name] = grown
            buffer[m : m + len(new_texts)] = fresh
            self._dense[encoder.name] = buffer[: m + len(new_texts)]
            self.encoded_last_build = max(self.encoded_last_build, encoded)
        if self._lexical is not None:
            self._lexical.update(order, new_texts)
        owner = np.concatenate([remap[self._owner[order]], np.asarray(new_owner, dtype=np.int64)])
        self._texts, self._owner, self._ids = texts + new_texts, owner, ids
        return [latest.get(i) or position[i] for i in ids]

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

    def query_vector(self, encoder: Encoder, text: str) -> np.ndarray:
        """``encoder``'s vector of the (normalised) query ``text``: the NLU's if it shared it, else encoded."""
        if self._queries is not None:
            found = self._queries.get(encoder.name, text, encoder.dim)
            if found is not None:
                self.query_vectors_reused += 1
                return found
        self.query_vectors_encoded += 1
        return encoder.encode_one(text)

    def _component_scores(self, text: str) -> tuple[dict[str, np.ndarray], np.ndarray, float | None]:
        """Per component, entry scores; the primary encoder's row cosines; the best not-covered cosine (or None)."""
        n = len(self._ids)
        scores: dict[str, np.ndarray] = {}
        primary_rows = np.zeros(len(self._texts), dtype=np.float32)
        not_covered = None
        query = expand(text)
        for i, encoder in enumerate(self.encoders):
            vector = self.query_vector(encoder, query)
            rows = self._dense[encoder.name] @ vector
            if i == 0:
                primary_rows = rows
                if len(self._not_covered_vectors):
                    not_covered = self._nearest_not_covered(vector)[1]
            scores[encoder.name] = top2_mean(rows, self._owner, n)
        if self._lexical is not None and len(self._lexical):
            scores["lexical"] = top2_mean(self._lexical.scores(text), self._owner, n)
        return scores, primary_rows, not_covered

    def search(self, text: str, k: int = 5) -> list[Candidate]:
        """Top ``k`` entries for a query, best first."""
        if not self._ids:
            return []
        scores, primary_rows, not_covered = self._component_scores(text)
        weights = {**self.weights.dense, "lexical": self.weights.lexical}
        total = sum(weights.get(name, 0.0) for name in scores) or 1.0
        combined = np.zeros(len(self._ids), dtype=np.float64)
        for name, s in scores.items():
            combined += weights.get(name, 0.0) * zscore(s)
        combined /= total
        pool = [int(i) for i in np.argsort(-combined)[: max(k, RERANK_POOL)]]
        evidence = self._coverage.evidence(self._coverage.respelled(word_stems(text)), pool)
        adjusted = [
            float(combined[i]) - self.weights.coverage * ev.uncovered for i, ev in zip(pool, evidence, strict=True)
        ]
        order = sorted(range(len(pool)), key=lambda j: -adjusted[j])[:k]
        out = []
        for j in order:
            i = pool[j]
            rows = np.flatnonzero(self._owner == i)
            row = int(rows[np.argmax(primary_rows[rows])])
            parts = {name: round(float(s[i]), 4) for name, s in scores.items()}
            facts = evidence[j].as_dict()
            if not_covered is not None:  # how much closer to a known uncovered question than to this entry
                facts["not_covered"] = round(not_covered - float(primary_rows[row]), 4)
            out.append(Candidate(self._ids[i], adjusted[j], self._texts[row], parts, facts))
        return out
