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
from collections.abc import Iterable
from dataclasses import dataclass

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


def stem(word: str, language: str) -> str:
    """``word`` without its longest known ending (at least ``MIN_STEM`` letters are kept)."""
    for ending in ENDINGS.get(language, ()):
        if word.endswith(ending) and len(word) - len(ending) >= MIN_STEM:
            return word[: -len(ending)]
    return word


def _unprefixed(word: str) -> list[str]:
    return [word[len(p) :] for p in ID_PREFIXES if word.startswith(p) and len(word) - len(p) >= MIN_STEM]


@dataclass(frozen=True)
class Term:
    """One keyword of a rule, folded and split into words."""

    text: str
    language: str
    parts: tuple[str, ...]
    prefix: bool

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

    def _word_matches(self, part: str, word: str, last: bool) -> bool:
        if word == part or (last and self.prefix and word.startswith(part)):
            return True
        endings = ENDINGS.get(self.language, ())
        candidates = [word, *(_unprefixed(word) if self.language == "id" else [])]
        for cand in candidates:
            if cand == part or (cand.startswith(part) and cand[len(part) :] in endings):
                return True
            stemmed = stem(cand, self.language)
            if len(stemmed) >= MIN_STEM and stemmed == stem(part, self.language):
                return True
        return False

    def find(self, text_words: list[str]) -> bool:
        """True if the term occurs in ``text_words`` (folded words, as ``words`` gives)."""
        n = len(self.parts)
        for start in range(len(text_words) - n + 1):
            if all(self._word_matches(part, text_words[start + i], i == n - 1) for i, part in enumerate(self.parts)):
                return True
        return False
