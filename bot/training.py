"""Training-data glue: FAQ questions become examples of the ``faq`` intent.

``python -m bot.training OUT.yml`` writes a Rasa NLU file with the FAQ's
questions and alternatives (skipping texts already used by another intent),
so the intent model learns what the brand's questions look like: of each
entry, at most :data:`EXAMPLES_PER_LANGUAGE` texts per language (question
first, then alternatives in file order). The FAQ search uses every
alternative; the cap keeps a language's new alternatives from outweighing
that language's hand-written requests for a person in the intent model
(README, "Ninth round").
"""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path

from bot.faq import store
from bot.faq.models import HANDOFF_ENTRIES, FaqBook
from bot.language import detect_language
from bot.trainingdata.nlufile import dump_file, read_dir

NLU_DIR = Path("data/nlu")
#: an entry's texts per language that become ``faq`` examples (chosen on eval/dev.yml: 12 turned
#: English FAQ questions into handoffs, 16 none, and kept more French requests for a person than no cap)
EXAMPLES_PER_LANGUAGE = 16


def existing_examples(nlu_dir: Path) -> set[str]:
    """Lower-cased examples already in the hand-written NLU files."""
    return {text.lower() for texts in read_dir(nlu_dir).values() for text in texts}


def faq_nlu_yaml(faq_file: Path, handoff_entries: frozenset[str] = HANDOFF_ENTRIES, nlu_dir: Path = NLU_DIR) -> str:
    """The generated NLU file's text, from the FAQ file and the hand-written files."""
    return faq_nlu_text(store.load(faq_file), existing_examples(nlu_dir), faq_file.name, handoff_entries)


def faq_nlu_text(
    book: FaqBook,
    seen: set[str],
    source: str,
    handoff_entries: frozenset[str] = HANDOFF_ENTRIES,
    per_language: int = EXAMPLES_PER_LANGUAGE,
) -> str:
    """The ``faq`` intent's examples from ``book``, skipping texts in ``seen`` (lower-cased).

    Of each entry, the first ``per_language`` texts of each detected language (texts whose language
    is unclear count as one more language).

    Entries in ``handoff_entries`` ("how do I reach a person?") are left
    out: their phrasings mix requests for a person (``request_human``, which
    hands off at once) with questions about support hours (``faq``), and the
    hand-written data in data/nlu teaches that line.
    """
    seen = set(seen)
    examples: list[str] = []
    for entry in book.entries:
        if entry.id in handoff_entries:
            continue
        taken: Counter[str | None] = Counter()
        for text in entry.texts():
            clean = " ".join(text.split())
            if clean.lower() in seen:
                continue
            language = detect_language(clean, book.languages)
            if taken[language] < per_language:
                taken[language] += 1
                seen.add(clean.lower())
                examples.append(clean)
    header = f"# generated from {source} by bot.training; do not edit\n"
    if not examples:
        return header + 'version: "3.1"\nnlu: []\n'
    # the lines of a '|' block are taken as they are (Rasa quotes nothing): no YAML quoting
    return header + dump_file("faq", examples)


if __name__ == "__main__":
    out = Path(sys.argv[1] if len(sys.argv) > 1 else ".build/nlu_faq.yml")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(faq_nlu_yaml(Path("data/faq.yml")), encoding="utf-8")
    print(out)
