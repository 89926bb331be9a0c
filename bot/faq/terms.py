"""Term coverage: does the FAQ even talk about the words of the question?

Sentence embeddings place "is there wifi in the store?" close to the store
address-and-hours entry: same topic, different question. What gives it away
is a salient word ("wifi") that the entry, and often the whole FAQ, never
uses. This module measures that, language-independently:

* a term is a word cut to its first :data:`STEM_CHARS` characters, a crude
  stem that folds most inflections of the four demo languages
  ("магазине"/"магазин", "parkir"/"parking", "livraison"/"livrer");
* each entry's vocabulary is the terms of its question, alternatives,
  titles and answers (all languages);
* terms are weighted by inverse entry frequency, so words every entry uses
  ("you", "kak", "вы") weigh little and rare ones weigh much.

The verifier (:mod:`bot.faq.verifier`) uses the resulting evidence as
features next to the retrieval scores.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from bot.faq.models import FaqEntry
from bot.faq.normalize import fold

STEM_CHARS = 5
_WORD = re.compile(r"[^\W\d_]+", re.UNICODE)
#: Russian inflectional endings (after folding: "ё" is "е", "й" is "и"), longest first. Russian stems are
#: often shorter than :data:`STEM_CHARS` ("карта"/"карту"/"картой", "чай"/"чая"), so the ending
#: goes before the cut.
_RU_ENDINGS = tuple(
    sorted(
        [
            "иями",
            "ями",
            "ами",
            "ого",
            "его",
            "ому",
            "ему",
            "ыми",
            "ими",
            "ая",
            "яя",
            "ое",
            "ее",
            "ые",
            "ие",
            "ую",
            "юю",
            "ои",
            "еи",
            "ии",
            "ыи",
            "ом",
            "ем",
            "ам",
            "ям",
            "ах",
            "ях",
            "ов",
            "ев",
            "ию",
            "ия",
            "ью",
            "ть",
            "ти",
            "а",
            "я",
            "у",
            "ю",
            "ы",
            "и",
            "е",
            "о",
            "ь",
        ],
        key=len,
        reverse=True,
    )
)
_RU_MIN_STEM = 3


def stem(word: str) -> str:
    """A crude stem: a Russian word loses its inflectional ending, then every word is cut to STEM_CHARS."""
    if "а" <= word[0] <= "я":
        for ending in _RU_ENDINGS:
            if word.endswith(ending) and len(word) - len(ending) >= _RU_MIN_STEM:
                word = word[: -len(ending)]
                break
    return word[:STEM_CHARS]


def terms(text: str) -> set[str]:
    """The stemmed terms of ``text`` (letters only, abbreviations expanded, folded: :mod:`bot.faq.normalize`)."""
    return {stem(w) for w in _WORD.findall(fold(text))}


def entry_terms(entry: FaqEntry) -> set[str]:
    """Every term an entry uses: question, alternatives, titles and answers."""
    out: set[str] = set()
    for text in (*entry.texts(), *entry.titles.values(), *entry.answers.values()):
        out |= terms(text)
    return out


@dataclass(frozen=True)
class TermEvidence:
    """How well one entry's vocabulary covers a query's terms (shares are idf-weighted)."""

    uncovered: float
    unknown: float
    unknown_terms: int
    query_terms: int = 0

    def as_dict(self) -> dict[str, float]:
        """For :class:`bot.faq.index.Candidate` and tickets."""
        return {
            "uncovered": round(self.uncovered, 4),
            "unknown": round(self.unknown, 4),
            "unknown_terms": self.unknown_terms,
            "query_terms": self.query_terms,
        }


class TermCoverage:
    """Per-entry vocabularies and term weights over a set of entries."""

    def __init__(self, entries: Iterable[FaqEntry]) -> None:
        self._vocab: list[set[str]] = [entry_terms(e) for e in entries]
        df: dict[str, int] = {}
        for vocab in self._vocab:
            for term in vocab:
                df[term] = df.get(term, 0) + 1
        self._df = df
        self._n = len(self._vocab)

    def updated(self, order: Sequence[int | FaqEntry]) -> TermCoverage:
        """A coverage over a new entry list: each item an old position (vocabulary kept) or an entry.

        Term frequencies are adjusted for the entries that left or changed only.
        """
        out = TermCoverage([])
        kept = {i for i in order if isinstance(i, int)}
        df = dict(self._df)
        for i, vocab in enumerate(self._vocab):
            if i not in kept:
                for term in vocab:
                    df[term] -= 1
                    if not df[term]:
                        del df[term]
        vocabularies = []
        for item in order:
            if isinstance(item, int):
                vocabularies.append(self._vocab[item])
                continue
            vocab = entry_terms(item)
            for term in vocab:
                df[term] = df.get(term, 0) + 1
            vocabularies.append(vocab)
        out._vocab, out._df, out._n = vocabularies, df, len(vocabularies)
        return out

    def weight(self, term: str) -> float:
        """Inverse entry frequency (an unknown term weighs the most)."""
        return math.log((self._n + 1) / (self._df.get(term, 0) + 1))

    def evidence(self, query: set[str], entries: Sequence[int]) -> list[TermEvidence]:
        """Coverage of ``query`` terms by each entry (by position) in ``entries``."""
        if not self._n:
            return [TermEvidence(0.0, 0.0, 0, len(query)) for _ in entries]
        if not query:  # emoji, digits, punctuation only: nothing the FAQ could be said to cover
            return [TermEvidence(1.0, 1.0, 0) for _ in entries]
        weights = {t: self.weight(t) for t in query}
        total = sum(weights.values()) or 1.0
        unknown = [t for t in query if t not in self._df]
        unknown_share = sum(weights[t] for t in unknown) / total
        return [
            TermEvidence(
                sum(w for t, w in weights.items() if t not in self._vocab[i]) / total,
                unknown_share,
                len(unknown),
                len(query),
            )
            for i in entries
        ]
