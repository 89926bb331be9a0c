from pathlib import Path

import pytest
import yaml

from bot.errors import FaqFileError
from bot.faq import store
from bot.faq.models import FaqEntry

SHARED_FAQ = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "demo_faq.yml"


def test_repository_file_round_trips_exactly(faq_file: Path) -> None:
    text = faq_file.read_text(encoding="utf-8")
    assert store.dumps(store.parse(text)) == text


def test_demo_brand_has_54_entries_in_four_languages(faq_file: Path) -> None:
    book = store.load(faq_file)
    assert len(book.entries) == 54
    assert book.languages == ["en", "id", "fr", "ru"]
    for entry in book.entries:
        assert set(entry.answers) == {"en", "id", "fr", "ru"}, entry.id


@pytest.mark.skipif(not SHARED_FAQ.exists(), reason="shared/ not beside the repository")
def test_entries_match_the_shared_demo_faq(faq_file: Path) -> None:
    shared = yaml.safe_load(SHARED_FAQ.read_text(encoding="utf-8"))
    book = store.load(faq_file)
    assert [e.id for e in book.entries] == [f["id"] for f in shared["faqs"]]
    for entry, src in zip(book.entries, shared["faqs"], strict=True):
        assert entry.question == src["question"]
        assert entry.answers == src["answer"]
        assert set(src.get("alternatives", [])) <= set(entry.alternatives)


@pytest.mark.parametrize(
    ("mutation", "message"),
    [
        (lambda d: d["entries"].append(dict(d["entries"][0])), "duplicate entry id"),
        (lambda d: d["entries"][0]["answers"].update(en="  "), "empty answer"),
        (lambda d: d["entries"][0].update(id="Bad Id!"), "String should match pattern"),
        (lambda d: d.pop("brand"), "brand"),
        (lambda d: d["not_covered"].append("   "), "not-covered question must have 1 to 500"),
        (lambda d: d["not_covered"].append("x" * 501), "not-covered question must have 1 to 500"),
    ],
)
def test_invalid_files_are_rejected_with_the_reason(faq_file: Path, mutation, message: str) -> None:
    data = yaml.safe_load(faq_file.read_text(encoding="utf-8"))
    mutation(data)
    with pytest.raises(FaqFileError, match=message):
        store.parse(yaml.safe_dump(data, allow_unicode=True))


def test_not_yaml_is_rejected() -> None:
    with pytest.raises(FaqFileError):
        store.parse("entries: [unclosed")


def test_answer_falls_back_to_default_language() -> None:
    entry = FaqEntry(id="x_1", topic="t", question="q?", answers={"en": "E", "fr": "F"})
    assert entry.answer_in("fr", "en") == ("fr", "F")
    assert entry.answer_in("ru", "en") == ("en", "E")
    assert entry.answer_in(None, "en") == ("en", "E")


def test_not_covered_questions_are_tidied_and_left_out_of_the_file_when_there_are_none(faq_file: Path) -> None:
    book = store.load(faq_file)
    assert len(book.not_covered) > 200  # the demo brand's list of shop questions no entry answers
    tidy = book.model_validate({**book.model_dump(), "not_covered": [" wifi  ada? ", "wifi ada?", "Tea?"]})
    assert tidy.not_covered == ["wifi ada?", "Tea?"]
    bare = book.model_copy(update={"not_covered": []})
    assert "not_covered" not in store.dumps(bare)
    assert store.parse(store.dumps(bare)) == bare
