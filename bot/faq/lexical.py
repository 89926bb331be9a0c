"""Character n-gram TF-IDF over the index's text rows, updatable row by row.

The weighting is exactly scikit-learn's ``TfidfVectorizer(analyzer="char_wb",
ngram_range=(2, 4), sublinear_tf=True, lowercase=True)`` fitted on the rows
(smooth idf ``ln((1 + n) / (1 + df)) + 1``, ``1 + ln(tf)``, L2-normalised
rows and query), so scores do not depend on whether the index was built at
once or edited entry by entry. What differs is the bookkeeping: document
frequencies are counted per n-gram and kept up to date when rows leave or
join, so an FAQ edit costs one pass over the stored matrix (no re-analysis of
every text) instead of a refit.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence

import numpy as np
from scipy import sparse
from sklearn.feature_extraction.text import TfidfVectorizer

_ANALYZE = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 4), lowercase=True).build_analyzer()


class LexicalIndex:
    """TF-IDF rows (one per text) with incremental row removal and addition."""

    def __init__(self) -> None:
        self._vocab: dict[str, int] = {}
        self._df = np.zeros(0, dtype=np.int64)
        self._tf = sparse.csr_matrix((0, 0), dtype=np.float64)  # rows x n-grams: 1 + ln(count)
        self._idf = np.zeros(0, dtype=np.float64)
        self._weighted = sparse.csr_matrix((0, 0), dtype=np.float64)  # n-grams x rows, L2-normalised rows

    def __len__(self) -> int:
        return int(self._tf.shape[0])

    def _rows(self, texts: Sequence[str]) -> sparse.csr_matrix:
        indptr, indices, data = [0], [], []
        for text in texts:
            counts = Counter(_ANALYZE(text))
            for gram, count in counts.items():
                col = self._vocab.setdefault(gram, len(self._vocab))
                indices.append(col)
                data.append(1.0 + math.log(count))
            indptr.append(len(indices))
        return sparse.csr_matrix(
            (np.asarray(data, dtype=np.float64), np.asarray(indices, dtype=np.int64), np.asarray(indptr)),
            shape=(len(texts), len(self._vocab)),
        )

    def update(self, keep: np.ndarray, texts: Sequence[str]) -> None:
        """Keep the rows where ``keep`` is True (in order), then append one row per text.

        Args:
            keep: Boolean mask over the current rows.
            texts: Texts of the new rows, appended after the kept ones.
        """
        new = self._rows(texts)
        width = len(self._vocab)
        old = self._tf
        old.resize((old.shape[0], width))
        kept = old[np.flatnonzero(keep)] if old.shape[0] else old
        dropped = old[np.flatnonzero(~keep)] if old.shape[0] else old
        df = np.zeros(width, dtype=np.int64)
        df[: len(self._df)] = self._df
        df -= np.bincount(dropped.indices, minlength=width)
        df += np.bincount(new.indices, minlength=width)
        self._tf = sparse.vstack([kept, new], format="csr") if kept.shape[0] else new
        self._df = df
        n = self._tf.shape[0]
        self._idf = np.log((1.0 + n) / (1.0 + df)) + 1.0
        weighted = self._tf.multiply(self._idf[np.newaxis, :]).tocsr()
        norms = np.sqrt(np.asarray(weighted.multiply(weighted).sum(axis=1)).ravel())
        norms[norms == 0] = 1.0
        self._weighted = sparse.diags(1.0 / norms).dot(weighted).T.tocsr()

    def scores(self, text: str) -> np.ndarray:
        """Cosine of the query's TF-IDF vector with every row (float32)."""
        n = self._tf.shape[0]
        counts = Counter(g for g in _ANALYZE(text) if g in self._vocab)
        cols = np.asarray([self._vocab[g] for g in counts], dtype=np.int64)
        if not len(cols):
            return np.zeros(n, dtype=np.float32)
        live = self._df[cols] > 0  # n-grams of rows that left the index are not part of the vocabulary
        cols = cols[live]
        weights = (1.0 + np.log(np.asarray(list(counts.values()), dtype=np.float64)[live])) * self._idf[cols]
        norm = float(np.sqrt((weights**2).sum()))
        if not len(cols) or norm == 0:
            return np.zeros(n, dtype=np.float32)
        rows = self._weighted[cols].T @ (weights / norm)
        return np.asarray(rows, dtype=np.float32).ravel()
