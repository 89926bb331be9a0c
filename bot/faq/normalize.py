"""Query normalisation for informal DMs, applied alike to FAQ texts and messages.

Two steps, both language-independent (the index does not know the language):

* :func:`expand` rewrites chat abbreviations and slang spellings that a
  sentence encoder has rarely seen into the plain word ("brp" -> "berapa",
  "gmn" -> "gimana", "cmb" -> "combien", "скок" -> "сколько"). Only tokens
  that are unambiguous across the four demo languages are listed; a word
  that is also an English, French or Russian word ("min", "dr", "pr", "c")
  is left alone.
* :func:`fold` lower-cases and strips diacritics ("résilier" and "resilier",
  "ещё" and "еще" become one), for the character n-grams and the term
  coverage, where an accent dropped in a hurry must not change the match.

The dense encoders see the expanded text with its accents; the lexical
component and :mod:`bot.faq.terms` see the expanded, folded text.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

#: chat spelling -> plain word. Keys are lower-case whole tokens.
ABBREVIATIONS: dict[str, str] = {
    # Indonesian
    "brp": "berapa",
    "brapa": "berapa",
    "gmn": "gimana",
    "gmna": "gimana",
    "gimna": "gimana",
    "bgmn": "bagaimana",
    "gk": "gak",
    "nggak": "gak",
    "ngga": "gak",
    "engga": "gak",
    "udh": "sudah",
    "sdh": "sudah",
    "udah": "sudah",
    "blm": "belum",
    "blom": "belum",
    "sy": "saya",
    "aq": "aku",
    "yg": "yang",
    "dgn": "dengan",
    "klo": "kalau",
    "kalo": "kalau",
    "tp": "tapi",
    "bgt": "banget",
    "utk": "untuk",
    "krn": "karena",
    "jg": "juga",
    "lg": "lagi",
    "msh": "masih",
    "dmn": "dimana",
    "kpn": "kapan",
    "knp": "kenapa",
    "napa": "kenapa",
    "tdk": "tidak",
    "hrs": "harus",
    "bln": "bulan",
    "thn": "tahun",
    "org": "orang",
    "ongkir": "ongkos kirim",
    "pesenan": "pesanan",
    "pesen": "pesan",
    "nyampe": "sampai",
    "nyampai": "sampai",
    "sampe": "sampai",
    "kira2": "kira-kira",
    "gimana2": "gimana",
    # French
    "cmb": "combien",
    "cb": "combien",
    "jsuis": "je suis",
    "chui": "je suis",
    "pq": "pourquoi",
    "pk": "pourquoi",
    "bcp": "beaucoup",
    "tjrs": "toujours",
    "qd": "quand",
    "mtn": "maintenant",
    "abo": "abonnement",
    "reduc": "réduction",
    "deca": "décaféiné",
    "slt": "salut",
    # Russian
    "скок": "сколько",
    "скоко": "сколько",
    "скока": "сколько",
    "щас": "сейчас",
    "чё": "что",
    "плиз": "пожалуйста",
    "пж": "пожалуйста",
    "пжл": "пожалуйста",
    "пжлст": "пожалуйста",
}

_TOKEN = re.compile(r"[^\W_]+(?:2)?", re.UNICODE)


@lru_cache(maxsize=4096)
def expand(text: str) -> str:
    """``text`` with chat abbreviations written out (case of other words kept)."""

    def repl(match: re.Match[str]) -> str:
        word = match.group(0)
        return ABBREVIATIONS.get(word.lower(), word)

    return _TOKEN.sub(repl, text)


@lru_cache(maxsize=4096)
def fold(text: str) -> str:
    """Lower-cased ``text`` without diacritics (after :func:`expand`)."""
    decomposed = unicodedata.normalize("NFKD", expand(text).lower())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))
