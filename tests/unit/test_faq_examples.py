"""FAQ texts that become ``faq`` intent examples (bot.training): at most N per entry and language."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import yaml

from bot.faq.models import FaqBook, FaqEntry
from bot.language import detect_language
from bot.training import EXAMPLES_PER_LANGUAGE, NLU_DIR, existing_examples, faq_nlu_text
from bot.training import faq_nlu_yaml as generated
from bot.trainingdata.nlufile import dump_file

ENGLISH = [f"how long does shipping to city number {n} take, roughly?" for n in range(1, 21)]
FRENCH = [
    "combien de jours pour une livraison à Surabaya ?",
    "ça met combien de temps pour arriver à Bali svp ?",
    "quel est le délai de livraison vers Medan ?",
]
INDONESIAN = ["kak kirim ke Makassar brp hari nyampe ya?"]


def examples(text: str) -> list[str]:
    """The ``faq`` examples as Rasa reads them: each line after ``- `` as it is (no YAML unquoting)."""
    blocks = yaml.safe_load(text)["nlu"]
    assert [b["intent"] for b in blocks] == ["faq"]
    return [line[2:] for line in blocks[0]["examples"].splitlines()]


def book(*entries: FaqEntry) -> FaqBook:
    return FaqBook(brand="Test", default_language="en", languages=["en", "id", "fr", "ru"], entries=list(entries))


def entry(entry_id: str, alternatives: list[str]) -> FaqEntry:
    return FaqEntry(
        id=entry_id,
        topic="shipping",
        question="How long does delivery take?",
        alternatives=alternatives,
        answers={"en": "2-4 days."},
    )


def test_each_language_gives_its_first_texts_up_to_the_cap() -> None:
    shipping = entry("shipping_time", [*ENGLISH[:8], *FRENCH, *ENGLISH[8:], *INDONESIAN])
    got = examples(faq_nlu_text(book(shipping), set(), "test", per_language=6))
    # the question and the first five English alternatives, in file order; every French and Indonesian text
    assert got == ["How long does delivery take?", *ENGLISH[:5], *FRENCH, *INDONESIAN]
    assert len(examples(faq_nlu_text(book(shipping), set(), "test", per_language=100))) == 25


def test_texts_another_intent_has_do_not_use_the_quota_and_handoff_entries_give_none() -> None:
    shipping = entry("shipping_time", ENGLISH[:4])
    contact = entry("contact_human", ["Can I talk to a real person?"])
    seen = {"how long does delivery take?", ENGLISH[0].lower()}  # hand-written examples of other intents
    got = examples(faq_nlu_text(book(shipping, contact), seen, "test", per_language=2))
    assert got == ENGLISH[1:3]
    assert yaml.safe_load(faq_nlu_text(book(contact), set(), "test"))["nlu"] == []  # no examples: no empty block


def test_the_demo_faq_gives_at_most_the_cap_per_entry_and_language() -> None:
    from bot.faq import store
    from bot.stack import ROOT

    faq = ROOT / "data" / "faq.yml"
    got = examples(generated(faq, nlu_dir=ROOT / NLU_DIR))
    demo = store.load(faq)
    owner = {" ".join(t.split()): e.id for e in demo.entries for t in e.texts()}
    counts = Counter((owner[t], detect_language(t, demo.languages)) for t in got)
    assert max(counts.values()) == EXAMPLES_PER_LANGUAGE  # the cap is reached somewhere (the FAQ has more)
    assert any(": " in t or t.startswith("'") for t in got)  # texts YAML would quote reach Rasa unquoted
    assert not {t.lower() for t in got} & existing_examples(ROOT / NLU_DIR)  # no text of a hand-written intent
    assert len(got) < sum(len(e.texts()) for e in demo.entries)


def test_a_training_snapshot_drops_the_language_detector_again(tmp_path: Path) -> None:
    from bot import language
    from bot.retrain.trainer import TrainSpec, write_snapshot

    shipping = entry("shipping_time", [*ENGLISH[:3], *FRENCH])
    files = {"nlu/request_human.yml": dump_file("request_human", ["can I talk to a person?"])}
    write_snapshot(files, book(shipping), TrainSpec(models_dir=tmp_path / "models"), tmp_path / "data")
    got = examples((tmp_path / "data" / "nlu_faq.yml").read_text(encoding="utf-8"))
    assert got == ["How long does delivery take?", *ENGLISH[:3], *FRENCH]
    # the supervisor detects languages only here: the detector's models are not kept between trainings
    assert language._detector.cache_info().currsize == 0
