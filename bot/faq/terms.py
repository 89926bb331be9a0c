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

A Russian word the FAQ never uses is read as the FAQ's most common word one
edit away, if there is one (:meth:`TermCoverage.respelled`): hurried Russian
DMs misspell the key word ("пороля", "возварт", "подпска") more than the
other demo languages' do, and an unknown word reads as "not covered". The
words are compared whole (less their ending), not cut, so that "растительное"
does not become "раствор".

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


#: shortest Russian word (less its ending) read as a misspelling of a known one
_RU_MIN_RESPELL = 4


def _cyrillic(word: str) -> bool:
    return "а" <= word[0] <= "я"


def word_stem(word: str) -> str:
    """A Russian word less its inflectional ending; other words as they are."""
    if _cyrillic(word):
        for ending in _RU_ENDINGS:
            if word.endswith(ending) and len(word) - len(ending) >= _RU_MIN_STEM:
                return word[: -len(ending)]
    return word


def stem(word: str) -> str:
    """A crude stem: a Russian word loses its inflectional ending, then every word is cut to STEM_CHARS."""
    return word_stem(word)[:STEM_CHARS]


def word_stems(text: str) -> set[str]:
    """The uncut stems of ``text``'s words (letters only, abbreviations expanded, folded)."""
    return {word_stem(w) for w in _WORD.findall(fold(text))}


def terms(text: str) -> set[str]:
    """The stemmed terms of ``text`` (letters only, abbreviations expanded, folded: :mod:`bot.faq.normalize`)."""
    return {s[:STEM_CHARS] for s in word_stems(text)}


def _entry_texts(entry: FaqEntry) -> tuple[str, ...]:
    return (*entry.texts(), *entry.titles.values(), *entry.answers.values())


def entry_terms(entry: FaqEntry) -> set[str]:
    """Every term an entry uses: question, alternatives, titles and answers."""
    out: set[str] = set()
    for text in _entry_texts(entry):
        out |= terms(text)
    return out


def entry_russian_stems(entry: FaqEntry) -> set[str]:
    """The uncut stems of the Russian words an entry uses (what a misspelt Russian word is compared with)."""
    out: set[str] = set()
    for text in _entry_texts(entry):
        out |= {s for s in word_stems(text) if _cyrillic(s)}
    return out


def _deletions(word: str) -> set[str]:
    """The word and each string one deletion from it: two words share one iff one substitution,
    insertion, deletion or swap of neighbours turns one into the other."""
    return {word, *(word[:i] + word[i + 1 :] for i in range(len(word)))}


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


def _counts(sets: Iterable[set[str]]) -> dict[str, int]:
    """In how many of ``sets`` each member is."""
    return _recount({}, [], list(sets))


def _recount(counts: dict[str, int], removed: Sequence[set[str]], added: Sequence[set[str]]) -> dict[str, int]:
    """``counts`` less the ``removed`` sets, plus the ``added`` ones (zero counts dropped)."""
    out = dict(counts)
    for members in removed:
        for m in members:
            out[m] -= 1
            if not out[m]:
                del out[m]
    for members in added:
        for m in members:
            out[m] = out.get(m, 0) + 1
    return out


class TermCoverage:
    """Per-entry vocabularies and term weights over a set of entries."""

    def __init__(self, entries: Iterable[FaqEntry]) -> None:
        listed = list(entries)
        self._vocab: list[set[str]] = [entry_terms(e) for e in listed]
        self._russian: list[set[str]] = [entry_russian_stems(e) for e in listed]
        self._df = _counts(self._vocab)
        self._russian_df = _counts(self._russian)
        self._n = len(self._vocab)
        self._near: dict[str, list[str]] | None = None  # built on first use

    def updated(self, order: Sequence[int | FaqEntry]) -> TermCoverage:
        """A coverage over a new entry list: each item an old position (vocabulary kept) or an entry.

        Term frequencies are adjusted for the entries that left or changed only.
        """
        out = TermCoverage([])
        kept = {i for i in order if isinstance(i, int)}
        gone = [i for i in range(len(self._vocab)) if i not in kept]
        out._vocab = [self._vocab[i] if isinstance(i, int) else entry_terms(i) for i in order]
        out._russian = [self._russian[i] if isinstance(i, int) else entry_russian_stems(i) for i in order]
        added = [j for j, item in enumerate(order) if not isinstance(item, int)]
        out._df = _recount(self._df, [self._vocab[i] for i in gone], [out._vocab[j] for j in added])
        out._russian_df = _recount(self._russian_df, [self._russian[i] for i in gone], [out._russian[j] for j in added])
        out._n = len(order)
        return out

    def respelled(self, stems: set[str]) -> set[str]:
        """Query terms from uncut word stems (:func:`word_stems`): a Russian stem the FAQ never uses, of at
        least 4 letters, becomes the FAQ's most used stem one edit away, if any."""
        out = set()
        for word in stems:
            term = word[:STEM_CHARS]
            if term not in self._df and _cyrillic(word) and len(word) >= _RU_MIN_RESPELL:
                if self._near is None:
                    self._near = {}
                    for known in self._russian_df:
                        for variant in _deletions(known):
                            self._near.setdefault(variant, []).append(known)
                found = {k for v in _deletions(word) for k in self._near.get(v, ())}
                if found:
                    term = max(found, key=lambda k: (self._russian_df[k], k))[:STEM_CHARS]
            out.add(term)
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
