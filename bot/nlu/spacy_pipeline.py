"""Builds the blank multilingual spaCy pipeline that config.yml loads.

No downloaded model is needed: ``spacy.blank("xx")`` tokenizes all four
languages, and an entity ruler finds order numbers, e-mail addresses and
phone numbers. ``python -m bot.nlu.spacy_pipeline OUT_DIR`` writes it to disk
where Rasa's ``SpacyNLP`` loads it by path.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

ORDER_NUMBER = r"^[Kk][Pp][Kk]-?\d{4,6}$"
EMAIL = r"^[\w.+-]+@[\w-]+(\.[\w-]+)+$"
PHONE_TOKEN = r"^\+?\d[\d-]{7,15}$"

PATTERNS: list[dict[str, Any]] = [
    {"label": "order_number", "pattern": [{"TEXT": {"REGEX": ORDER_NUMBER}}]},
    {"label": "email", "pattern": [{"LIKE_EMAIL": True}]},
    {"label": "email", "pattern": [{"TEXT": {"REGEX": EMAIL}}]},
    {"label": "phone", "pattern": [{"TEXT": {"REGEX": PHONE_TOKEN}}]},
    # "+62 812 3456 7890", "0812 3456 7890", "+33 6 12 34 56 78"
    {
        "label": "phone",
        "pattern": [
            {"TEXT": {"REGEX": r"^(\+\d{1,3}|0\d{1,4})$"}},
            {"TEXT": {"REGEX": r"^\d{1,4}$"}},
            {"TEXT": {"REGEX": r"^\d{2,4}$"}},
            {"TEXT": {"REGEX": r"^\d{2,4}$"}, "OP": "+"},
        ],
    },
]


def build(out_dir: Path) -> Path:
    """Create the pipeline and save it to ``out_dir``.

    Args:
        out_dir: Target directory (created or overwritten).

    Returns:
        The directory written.
    """
    import spacy

    nlp = spacy.blank("xx")
    nlp.meta["name"] = "dmdesk_xx"
    nlp.meta["version"] = "1.0.0"
    ruler = nlp.add_pipe("entity_ruler", config={"overwrite_ents": True})
    ruler.add_patterns(PATTERNS)  # type: ignore[attr-defined]
    out_dir.mkdir(parents=True, exist_ok=True)
    nlp.to_disk(out_dir)
    return out_dir


if __name__ == "__main__":
    print(build(Path(sys.argv[1] if len(sys.argv) > 1 else ".build/spacy_xx")))
