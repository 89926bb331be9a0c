"""Keyword matching for escalation rules, robust to case, accents and simple inflection.

A term is one or more words. Text and terms are folded the same way (case
folded, accents and other combining marks removed, so ``é`` = ``e`` and
``ё`` = ``е``) and split into words (``l'avocat`` is ``l`` + ``avocat``). A
term matches where its words appear in a row, each word matching:

* the same word;
* the term's word plus an inflectional ending of the term's language
  (``allergy`` / ``allergies``, ``alergi`` / ``alerginya``, ``allergie`` /
  ``allergies``, ``аллергия`` / ``аллергии``): both are cut to their stem
  (the longest known ending removed, at least 4 letters kept) and compared,
  or the word is the term's word plus one of the endings;
* for Indonesian, also with a verb prefix (``gugat`` / ``digugat``);
* any word that starts with it, when the term's word ends with ``*``
  (``аллерг*``).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache

_WORD = re.compile(r"\w+")
MIN_STEM = 4


def fold(text: str) -> str:
    """Case-fold and strip combining marks (accents, ``ё`` -> ``е``)."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def words(text: str) -> list[str]:
    """The folded words of ``text``."""
    return _WORD.findall(fold(text))


def _folded(endings: Iterable[str]) -> tuple[str, ...]:
    return tuple(sorted({fold(e) for e in endings}, key=len, reverse=True))


#: inflectional (and a few derivational) endings per language, longest first
ENDINGS: dict[str, tuple[str, ...]] = {
    "en": _folded(["ies", "ing", "ed", "es", "s", "d", "y", "ic", "ical"]),
    "id": _folded(["nya", "kan", "lah", "kah", "an", "ku", "mu", "i"]),
    "fr": _folded(["iques", "ique", "ies", "ie", "es", "e", "s", "x", "ees", "ee"]),
    "ru": _folded(
        [
            "ическими",
            "ическая",
            "ические",
            "ическую",
            "ической",
            "ическом",
            "ический",
            "иями",
            "ями",
            "ами",
            "ией",
            "ии",
            "ия",
            "ию",
            "ие",
            "ий",
            "ей",
            "ой",
            "ом",
            "ем",
            "ах",
            "ях",
            "ов",
            "ев",
            "ам",
            "ям",
            "а",
            "я",
            "ы",
            "и",
            "у",
            "ю",
            "е",
            "о",
            "ь",
        ]
    ),  # fmt: skip
}
#: Indonesian verb prefixes (``digugat``, ``menggugat``), longest first
ID_PREFIXES = ("meng", "peng", "mem", "men", "pem", "pen", "ber", "ter", "di", "me", "pe")


@lru_cache(maxsize=65536)
def stem(word: str, language: str) -> str:
    """``word`` without its longest known ending (at least ``MIN_STEM`` letters are kept)."""
    for ending in ENDINGS.get(language, ()):
        if word.endswith(ending) and len(word) - len(ending) >= MIN_STEM:
            return word[: -len(ending)]
    return word


@lru_cache(maxsize=65536)
def _candidates(word: str, language: str) -> tuple[tuple[str, str], ...]:
    """The forms of a text word a term's word is compared with, each with its stem: the word itself
    and, in Indonesian, the word without a verb prefix (cached: the same words come back message
    after message, and every term of every rule looks at every word)."""
    forms = [word]
    if language == "id":
        forms += [word[len(p) :] for p in ID_PREFIXES if word.startswith(p) and len(word) - len(p) >= MIN_STEM]
    return tuple((form, stem(form, language)) for form in forms)


@dataclass(frozen=True)
class Term:
    """One keyword of a rule, folded and split into words."""

    text: str
    language: str
    parts: tuple[str, ...]
    prefix: bool
    stems: tuple[str, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "stems", tuple(stem(p, self.language) for p in self.parts))

    @classmethod
    def of(cls, text: str, language: str) -> Term:
        """Compile ``text`` (a trailing ``*`` makes its last word a prefix).

        Raises:
            ValueError: The term has no word characters.
        """
        raw = text.strip()
        prefix = raw.endswith("*")
        parts = tuple(words(raw.rstrip("*")))
        if not parts:
            raise ValueError(f"keyword {text!r} has no letters")
        return cls(raw, language, parts, prefix)

    def _word_matches(self, index: int, word: str, last: bool) -> bool:
        part = self.parts[index]
        if word == part or (last and self.prefix and word.startswith(part)):
            return True
        endings = ENDINGS.get(self.language, ())
        part_stem = self.stems[index]
        for cand, stemmed in _candidates(word, self.language):
            if cand == part or (cand.startswith(part) and cand[len(part) :] in endings):
                return True
            if len(stemmed) >= MIN_STEM and stemmed == part_stem:
                return True
        return False

    def _anywhere(self, index: int, text: TextWords) -> bool:
        """True if word ``index`` of the term matches some word of the text (set look-ups)."""
        part, part_stem = self.parts[index], self.stems[index]
        forms, stems = text.forms(self.language)
        if part in forms or (len(part_stem) >= MIN_STEM and part_stem in stems):
            return True
        if any(part + ending in forms for ending in ENDINGS.get(self.language, ())):
            return True
        return index == len(self.parts) - 1 and self.prefix and any(w.startswith(part) for w in text.words)

    def find(self, text_words: Sequence[str] | TextWords) -> bool:
        """True if the term occurs in the text (its folded words, as ``words`` gives, or a ``TextWords``)."""
        text = text_words if isinstance(text_words, TextWords) else TextWords(text_words)
        n = len(self.parts)
        if not all(self._anywhere(i, text) for i in range(n)):
            return False
        if n == 1:
            return True
        found = text.words
        for start in range(len(found) - n + 1):
            if all(self._word_matches(i, found[start + i], i == n - 1) for i in range(n)):
                return True
        return False


class TextWords:
    """A message's folded words, with the forms and stems terms compare with (built once per language)."""

    def __init__(self, text_words: Sequence[str]) -> None:
        self.words = list(text_words)
        self._forms: dict[str, tuple[frozenset[str], frozenset[str]]] = {}

    @classmethod
    def of(cls, text: str) -> TextWords:
        """The words of ``text``."""
        return cls(words(text))

    def forms(self, language: str) -> tuple[frozenset[str], frozenset[str]]:
        """Every form of every word (``_candidates``), and their stems of at least ``MIN_STEM`` letters."""
        if language not in self._forms:
            pairs = [pair for word in self.words for pair in _candidates(word, language)]
            self._forms[language] = (
                frozenset(form for form, _ in pairs),
                frozenset(st for _, st in pairs if len(st) >= MIN_STEM),
            )
        return self._forms[language]
