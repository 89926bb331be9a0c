"""Training-data glue: FAQ questions become examples of the ``faq`` intent.

``python -m bot.training OUT.yml`` writes a Rasa NLU file with every FAQ
question and alternative (skipping texts already used by another intent),
so the intent model learns what the brand's questions look like.
"""

from __future__ import annotations

import sys
from pathlib import Path

import yaml

from bot.faq import store
from bot.faq.models import HANDOFF_ENTRIES, FaqBook

NLU_DIR = Path("data/nlu")


def existing_examples(nlu_dir: Path) -> set[str]:
    """Lower-cased examples already in the hand-written NLU files."""
    seen: set[str] = set()
    for path in sorted(nlu_dir.glob("*.yml")):
        for block in (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("nlu", []):
            for line in str(block.get("examples", "")).splitlines():
                text = line.strip()
                if text.startswith("- "):
                    seen.add(text[2:].strip().lower())
    return seen


def _block(intent: str, examples: list[str]) -> str:
    lines = "".join(
        f"    - {yaml.safe_dump(t, allow_unicode=True, width=10_000).strip().removesuffix('...').strip()}\n"
        for t in examples
    )
    return f"- intent: {intent}\n  examples: |\n{lines}"


def faq_nlu_yaml(faq_file: Path, handoff_entries: frozenset[str] = HANDOFF_ENTRIES, nlu_dir: Path = NLU_DIR) -> str:
    """The generated NLU file's text, from the FAQ file and the hand-written files."""
    return faq_nlu_text(store.load(faq_file), existing_examples(nlu_dir), faq_file.name, handoff_entries)


def faq_nlu_text(book: FaqBook, seen: set[str], source: str, handoff_entries: frozenset[str] = HANDOFF_ENTRIES) -> str:
    """The ``faq`` intent's examples from ``book``, skipping texts in ``seen`` (lower-cased).

    Entries in ``handoff_entries`` ("how do I reach a person?") are left
    out: their phrasings mix requests for a person (``request_human``, which
    hands off at once) with questions about support hours (``faq``), and the
    hand-written data in data/nlu teaches that line.
    """
    seen = set(seen)
    by_intent: dict[str, list[str]] = {"faq": []}
    for entry in book.entries:
        if entry.id in handoff_entries:
            continue
        intent = "faq"
        for text in entry.texts():
            clean = " ".join(text.split())
            if clean.lower() not in seen:
                seen.add(clean.lower())
                by_intent[intent].append(clean)
    blocks = "".join(_block(intent, examples) for intent, examples in by_intent.items() if examples)
    return f'# generated from {source} by bot.training; do not edit\nversion: "3.1"\nnlu:\n{blocks}'


if __name__ == "__main__":
    out = Path(sys.argv[1] if len(sys.argv) > 1 else ".build/nlu_faq.yml")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(faq_nlu_yaml(Path("data/faq.yml")), encoding="utf-8")
    print(out)
