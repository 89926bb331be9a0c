"""Language detection for short, informal DMs.

Plain Python (no Rasa import); used by the NLU component in the Rasa
process and by the bot service. Detection is restricted to the languages a
brand supports, and returns ``None`` when a message carries no signal
(emoji, "ok", an order number) so that callers keep the conversation's
previous language.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterable
from functools import lru_cache
from typing import Optional

SUPPORTED = ("en", "id", "fr", "ru")

_LETTERS = re.compile(r"[^\W\d_]+", re.UNICODE)
_CYRILLIC = re.compile(r"[\u0400-\u04FF]")
_FRENCH_MARKS = re.compile(r"[àâçéèêëîïôûùüÿœæ]", re.IGNORECASE)

# Very frequent DM words that decide a message that is too short for a
# statistical detector. Only unambiguous words are listed.
_MARKERS = {
    "id": {
        "kak",
        "min",
        "gan",
        "sis",
        "gak",
        "ga",
        "nggak",
        "enggak",
        "tidak",
        "bisa",
        "bs",
        "gimana",
        "gmn",
        "berapa",
        "brp",
        "ya",
        "iya",
        "yg",
        "yang",
        "dong",
        "sih",
        "aja",
        "saya",
        "aku",
        "kalian",
        "mau",
        "ada",
        "apa",
        "kapan",
        "terima",
        "kasih",
        "makasih",
        "mksh",
        "trims",
        "halo",
        "hai",
        "pagi",
        "siang",
        "malam",
        "sore",
        "pesanan",
        "kirim",
        "ongkir",
        "tolong",
        "selamat",
        "udah",
        "sudah",
        "belum",
        "blm",
        "bgt",
        "banget",
        "orang",
        "manusia",
        "admin",
    },
    "fr": {
        "bonjour",
        "bonsoir",
        "salut",
        "slt",
        "bjr",
        "merci",
        "oui",
        "non",
        "svp",
        "stp",
        "je",
        "vous",
        "est",
        "une",
        "le",
        "la",
        "les",
        "des",
        "pour",
        "avec",
        "mais",
        "pas",
        "quoi",
        "comment",
        "combien",
        "quand",
        "commande",
        "livraison",
        "ça",
        "ca",
        "c'est",
        "voila",
        "daccord",
        "d'accord",
        "conseiller",
        "personne",
        "parler",
    },
    "en": {
        "hi",
        "hello",
        "hey",
        "thanks",
        "thank",
        "thx",
        "yes",
        "yeah",
        "yep",
        "no",
        "nope",
        "please",
        "pls",
        "plz",
        "the",
        "is",
        "my",
        "you",
        "your",
        "what",
        "how",
        "when",
        "where",
        "can",
        "do",
        "order",
        "shipping",
        "human",
        "agent",
        "person",
        "bye",
        "sure",
    },
}


@lru_cache(maxsize=1)
def _detector():  # type: ignore[no-untyped-def]
    from lingua import Language, LanguageDetectorBuilder

    langs = [Language.ENGLISH, Language.INDONESIAN, Language.FRENCH, Language.RUSSIAN]
    return LanguageDetectorBuilder.from_languages(*langs).with_preloaded_language_models().build()


_DETECTOR_LOCK = threading.Lock()
#: when the statistical detector last ran (time.monotonic), for :func:`release_detector_if_idle`
_USED_AT = [0.0]
_LINGUA_CODES = {"ENGLISH": "en", "INDONESIAN": "id", "FRENCH": "fr", "RUSSIAN": "ru"}


def _marker_vote(words: list[str]) -> Optional[str]:
    counts = {lang: sum(w in vocab for w in words) for lang, vocab in _MARKERS.items()}
    best = max(counts, key=lambda lang: counts[lang])
    ranked = sorted(counts.values(), reverse=True)
    if ranked[0] > 0 and ranked[0] > ranked[1]:
        return best
    return None


def detect_language(text: str, supported: Iterable[str] = SUPPORTED) -> Optional[str]:
    """Detect the language of a customer message.

    Args:
        text: The message.
        supported: Language codes the brand serves; others are never returned.

    Returns:
        An ISO 639-1 code from ``supported``, or ``None`` when the text has too
        little signal to decide (emoji only, numbers, a single ambiguous word).
    """
    allowed = set(supported)
    words = [w.lower() for w in _LETTERS.findall(text)]
    if not words:
        return None
    letters = sum(len(w) for w in words)
    cyrillic = len(_CYRILLIC.findall(text))
    if cyrillic and cyrillic >= letters / 2:
        return "ru" if "ru" in allowed else None
    short = len(words) <= 2 and letters < 12
    vote = _marker_vote(words)
    if short:
        if vote is None and _FRENCH_MARKS.search(text):
            vote = "fr"
        return vote if vote in allowed else None
    with _DETECTOR_LOCK:
        _USED_AT[0] = time.monotonic()
        confidences = _detector().compute_language_confidence_values(text)
    ranked = [(_LINGUA_CODES.get(c.language.name), c.value) for c in confidences]
    ranked = [(code, value) for code, value in ranked if code in allowed]
    if not ranked:
        return None
    code, value = ranked[0]
    if value < 0.5 and vote in allowed:
        return vote
    return code


def release_detector_if_idle(idle_s: float) -> bool:
    """Drop the statistical detector's models (about 110 MiB) if it ran for no text in ``idle_s`` seconds.

    They load again with the next text that needs them (about a second). For a process that
    detects languages only for staff (the bot service: Try it, training examples; the NLU
    supervisor: the FAQ examples of a training), not for the NLU, which detects in every turn.
    Returns True if they were dropped.
    """
    with _DETECTOR_LOCK:
        if not _detector.cache_info().currsize or time.monotonic() - _USED_AT[0] < idle_s:
            return False
        # lingua keeps the models in a process-wide store that outlives the detector: unload them first
        _detector().unload_language_models()
        _detector.cache_clear()
        return True
