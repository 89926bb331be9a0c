"""Character n-gram TF-IDF over the index's text rows, updatable row by row.

The weighting is exactly scikit-learn's ``TfidfVectorizer(analyzer="char_wb",
ngram_range=(2, 4), sublinear_tf=True, preprocessor=normalize.fold)`` fitted on the rows
(its n-grams: :func:`char_wb_ngrams`; smooth idf ``ln((1 + n) / (1 + df)) + 1``, ``1 + ln(tf)``,
L2-normalised rows and query), so scores do not depend on whether the index was built at
once or edited entry by entry. What differs is the bookkeeping: document
frequencies are counted per n-gram and kept up to date when rows leave or
join, so an FAQ edit costs one pass over the stored matrix (no re-analysis of
every text) instead of a refit.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence

import numpy as np
from scipy import sparse

from bot.faq.normalize import fold

NGRAM_RANGE = (2, 4)
_WHITE_SPACES = re.compile(r"\s\s+")


def char_wb_ngrams(text: str, min_n: int = NGRAM_RANGE[0], max_n: int = NGRAM_RANGE[1]) -> list[str]:
    """The n-grams of scikit-learn's ``analyzer="char_wb"``, in its order (the column order of new n-grams).

    Each word, padded with a space on either side, gives its n-grams of every length from ``min_n``
    to ``max_n``; a padded word not longer than ``n`` gives itself once and no longer n-grams.
    Written here so that the processes with an index do not import scikit-learn for it (about
    70 MiB of RSS each: scipy.stats and the rest); ``tests/unit/test_lexical.py`` checks it
    against scikit-learn's analyzer.
    """
    grams: list[str] = []
    append = grams.append  # as fast as scikit-learn's (about 25 us a text here)
    for word in _WHITE_SPACES.sub(" ", text).split():
        padded = " " + word + " "
        size = len(padded)
        for n in range(min_n, max_n + 1):
            if size <= n:
                append(padded)
                break
            for start in range(size - n + 1):
                append(padded[start : start + n])
    return grams


def _analyze(text: str) -> list[str]:
    """Texts and queries are normalised first (abbreviations written out, lower case, accents folded)."""
    return char_wb_ngrams(fold(text))


class LexicalIndex:
    """TF-IDF rows (one per text) with incremental row removal and addition.

    Rows live in a *main* block, stored n-grams x rows for fast queries, and a
    small *delta* block of rows added since the last compaction; removed rows
    stay in their block until then but leave the ``order`` (logical row ->
    stored row), the document frequencies and the row count. Document
    frequencies, idf and row norms are exact after every update, so scores
    equal a fresh fit. Compaction (one transpose of the live rows) happens when
    the delta or the dead rows grow past a fraction of the main block.
    """

    #: compact when the delta block has more rows than this plus a share of the main block
    DELTA_ROWS = 256
    DELTA_SHARE = 0.05
    DEAD_SHARE = 0.2

    def __init__(self) -> None:
        self._vocab: dict[str, int] = {}
        self._df = np.zeros(0, dtype=np.int64)
        self._main = _empty(0)  # stored rows x n-grams: 1 + ln(count)
        self._main_t = _empty(0).T.tocsr()  # the same, n-grams x rows
        self._delta = _empty(0)  # rows added since the last compaction
        self._order = np.zeros(0, dtype=np.int64)  # logical row -> stored row (main first, then delta)
        self._idf = np.zeros(0, dtype=np.float64)
        self._norms = np.ones(0, dtype=np.float64)  # per stored row, with the current idf

    def __len__(self) -> int:
        return len(self._order)

    def _rows(self, texts: Sequence[str]) -> sparse.csr_matrix:
        indptr, indices, data = [0], [], []
        for text in texts:
            counts = Counter(_analyze(text))
            for gram, count in counts.items():
                col = self._vocab.setdefault(gram, len(self._vocab))
                indices.append(col)
                data.append(1.0 + math.log(count))
            indptr.append(len(indices))
        return sparse.csr_matrix(
            (np.asarray(data, dtype=np.float64), np.asarray(indices, dtype=np.int64), np.asarray(indptr)),
            shape=(len(texts), len(self._vocab)),
        )

    def update(self, kept: np.ndarray, texts: Sequence[str]) -> None:
        """Keep the rows ``kept`` (current row numbers, in their new order), then append one row per text.

        Args:
            kept: Integer array of current rows; the others are removed.
            texts: Texts of the new rows, appended after the kept ones.
        """
        new = self._rows(texts)
        width = len(self._vocab)
        n_main, n_delta = self._main.shape[0], self._delta.shape[0]
        keep = np.zeros(len(self._order), dtype=bool)
        keep[kept] = True
        dropped = self._order[~keep]
        df = np.zeros(width, dtype=np.int64)
        df[: len(self._df)] = self._df
        for block, rows in (
            (self._main, dropped[dropped < n_main]),
            (self._delta, dropped[dropped >= n_main] - n_main),
        ):
            if len(rows):
                df -= np.bincount(block[rows].indices, minlength=width)
        df += np.bincount(new.indices, minlength=width)
        self._df = df
        self._order = np.concatenate([self._order[kept], np.arange(n_main + n_delta, n_main + n_delta + len(texts))])
        self._idf = np.log((1.0 + len(self._order)) / (1.0 + df)) + 1.0
        self._delta.resize((n_delta, width))
        self._delta = sparse.vstack([self._delta, new], format="csr") if n_delta else new
        dead = n_main + self._delta.shape[0] - len(self._order)
        if self._delta.shape[0] > self.DELTA_ROWS + self.DELTA_SHARE * n_main or dead > self.DEAD_SHARE * (n_main + 1):
            self._main.resize((n_main, width))
            stored = sparse.vstack([self._main, self._delta], format="csr") if n_main else self._delta
            self._main = stored[self._order] if len(self._order) else _empty(width)
            self._main_t = self._main.T.tocsr()
            self._delta = _empty(width)
            self._order = np.arange(self._main.shape[0])
        else:
            self._main_t.resize((width, n_main))
        self._norms = np.concatenate([_norms(self._main, self._idf), _norms(self._delta, self._idf)])

    def scores(self, text: str) -> np.ndarray:
        """Cosine of the query's TF-IDF vector with every row (float32)."""
        counts = Counter(g for g in _analyze(text) if g in self._vocab)
        cols = np.asarray([self._vocab[g] for g in counts], dtype=np.int64)
        if not len(cols) or not len(self._order):
            return np.zeros(len(self._order), dtype=np.float32)
        live = self._df[cols] > 0  # n-grams only removed rows had are not part of the vocabulary
        tf = 1.0 + np.log(np.asarray(list(counts.values()), dtype=np.float64)[live])
        cols = cols[live]
        weights = tf * self._idf[cols]
        norm = float(np.sqrt((weights**2).sum()))
        if not len(cols) or norm == 0:
            return np.zeros(len(self._order), dtype=np.float32)
        query = weights * self._idf[cols] / norm  # the rows' idf weight is applied here, their norm below
        main = self._main_t[cols].T @ query if self._main.shape[0] else np.zeros(0)
        delta = self._delta[:, cols] @ query if self._delta.shape[0] else np.zeros(0)
        raw = np.concatenate([np.asarray(main).ravel(), np.asarray(delta).ravel()])
        return (raw / self._norms)[self._order].astype(np.float32)


def _norms(block: sparse.csr_matrix, idf: np.ndarray) -> np.ndarray:
    """L2 norm of each row of ``block`` weighted by ``idf`` (1 for empty rows)."""
    out = np.zeros(block.shape[0])
    lengths = np.diff(block.indptr)
    if block.nnz:
        squares = (block.data * idf[block.indices]) ** 2
        sums = np.add.reduceat(squares, block.indptr[:-1][lengths > 0])
        out[lengths > 0] = sums
    out = np.sqrt(out)
    out[out == 0] = 1.0
    return out


def _empty(width: int) -> sparse.csr_matrix:
    return sparse.csr_matrix((0, width), dtype=np.float64)
