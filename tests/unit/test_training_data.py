"""Training data editor: import, round trip, validation rules, versions, history (real Redis)."""

from __future__ import annotations

import filecmp
import threading
from pathlib import Path

import pytest
import yaml
from redis import Redis

from bot.agents.errors import ConflictError
from bot.errors import NotFoundError
from bot.keys import Keys
from bot.stack import ROOT
from bot.trainingdata import nlufile
from bot.trainingdata.models import ExampleCreate, ExampleUpdate, IssueCode
from bot.trainingdata.store import TrainingDataInvalid, TrainingDataStore, write_export
from bot.trainingdata.validate import Domain

NLU = ROOT / "data" / "nlu"
BRAND = "kopiku"


def examples_in_files() -> int:
    """The number of examples in data/nlu, counted straight from the YAML (not through the store)."""
    blocks = [b for p in NLU.glob("*.yml") for b in yaml.safe_load(p.read_text(encoding="utf-8"))["nlu"]]
    return sum(1 for b in blocks for line in b.get("examples", "").splitlines() if line.strip().startswith("- "))


@pytest.fixture()
def data(redis: Redis, keys: Keys) -> TrainingDataStore:
    intents, entities = nlufile.read_domain(ROOT / "domain.yml")
    store = TrainingDataStore(redis, keys, Domain(tuple(intents), tuple(entities), min_examples=5))
    assert store.seed_from_dir(BRAND, NLU)
    return store


def issue_codes(exc: pytest.ExceptionInfo[TrainingDataInvalid]) -> set[IssueCode]:
    return {i.code for i in exc.value.issues}


def test_unedited_export_is_identical_to_the_files(data: TrainingDataStore, tmp_path: Path) -> None:
    write_export(data.export(BRAND), tmp_path)
    names = sorted(p.name for p in NLU.glob("*.yml"))
    assert sorted(p.name for p in (tmp_path / "nlu").glob("*.yml")) == names
    match, mismatch, errors = filecmp.cmpfiles(NLU, tmp_path / "nlu", names, shallow=False)
    assert mismatch == [] and errors == [] and len(match) == 12
    assert not (tmp_path / "nlu_languages.yml").exists()


def test_import_detects_languages_and_is_done_once(data: TrainingDataStore) -> None:
    assert not data.seed_from_dir(BRAND, NLU)
    greet = {e.text: e.language for e in data.examples(BRAND, "greet")}
    assert greet["hello"] == "en"
    assert any(lang == "ru" for lang in greet.values()) and any(lang == "id" for lang in greet.values())
    status = data.status(BRAND)
    assert sum(s.examples for s in status.intents) == examples_in_files() > 1000
    assert [i.code for i in status.issues] == [IssueCode.NO_EXAMPLES]  # choose_faq: button payloads only


def test_add_edit_remove_with_history_and_export(data: TrainingDataStore, tmp_path: Path) -> None:
    added = data.add(BRAND, "greet", ExampleCreate(text="  selamat pagi kak kopiku  "), "rina")
    assert added.after is not None and added.after.text == "selamat pagi kak kopiku" and added.after.language == "id"
    ex = data.get(BRAND, added.example_id)
    assert data.examples(BRAND, "greet")[-1].id == ex.id  # appended at the end
    edited = data.update(BRAND, ex.id, ExampleUpdate(version=1, text="bonjour l'équipe kopiku", language="fr"), "budi")
    assert edited.before is not None and edited.before.text == "selamat pagi kak kopiku"
    assert edited.after is not None and edited.after.language == "fr" and edited.after.version == 2
    moved = data.update(BRAND, ex.id, ExampleUpdate(version=2, intent="thank"), "budi")
    assert moved.after is not None and moved.after.intent == "thank"
    history = data.history(BRAND, "greet")
    assert [(h.action.value, h.by) for h in history] == [("edit", "budi"), ("edit", "budi"), ("add", "rina")]
    assert data.history(BRAND, "thank")[0].after.intent == "thank"  # type: ignore[union-attr]
    write_export(data.export(BRAND), tmp_path)
    thank = nlufile.parse_file((tmp_path / "nlu" / "thank.yml").read_text())[0][1]
    assert thank[-1] == "bonjour l'équipe kopiku"
    assert nlufile.read_languages(tmp_path / "nlu_languages.yml") == {"thank": {"bonjour l'équipe kopiku": "fr"}}
    removed = data.remove(BRAND, ex.id, 3, "rina")
    assert removed.before is not None and removed.after is None
    with pytest.raises(NotFoundError):
        data.get(BRAND, ex.id)
    assert data.data_version(BRAND) == 5
    write_export(data.export(BRAND), tmp_path)
    assert (tmp_path / "nlu" / "thank.yml").read_text() == (NLU / "thank.yml").read_text()
    assert not (tmp_path / "nlu_languages.yml").exists()


@pytest.mark.parametrize(
    ("intent", "text", "code"),
    [
        ("greet", "   ", IssueCode.EMPTY),
        ("greet", "x" * 501, IssueCode.TOO_LONG),
        ("greet", "line one\nline two", IssueCode.MULTILINE),
        ("order_pizza", "i want a pizza", IssueCode.UNKNOWN_INTENT),
        ("faq", "where is [KPK-1](order_number", IssueCode.ENTITY_SYNTAX),
        ("faq", 'where is [KPK-1]{"entity": order}', IssueCode.ENTITY_SYNTAX),
        ("faq", "where is [KPK-1](flavour)", IssueCode.UNKNOWN_ENTITY),
        ("greet", "thank you", IssueCode.CONFLICT),  # an example of `thank`
        ("greet", "THANK   You", IssueCode.CONFLICT),  # folded
        ("greet", "[thank you](email)", IssueCode.CONFLICT),  # compared without annotations, as Rasa does
        ("greet", "Hello", IssueCode.DUPLICATE),
    ],
)
def test_a_bad_example_is_refused_and_nothing_is_saved(
    data: TrainingDataStore, intent: str, text: str, code: IssueCode
) -> None:
    assert "thank you" in [e.text for e in data.examples(BRAND, "thank")]
    before = data.data_version(BRAND)
    with pytest.raises(TrainingDataInvalid) as exc:
        data.add(BRAND, intent, ExampleCreate(text=text), "rina")
    assert code in issue_codes(exc)
    assert data.data_version(BRAND) == before


def test_valid_annotations_are_accepted(data: TrainingDataStore) -> None:
    data.add(BRAND, "faq", ExampleCreate(text="where is my order [KPK-10482](order_number) now"), "rina")
    data.add(BRAND, "faq", ExampleCreate(text="status of [KPK-7](order_number:KPK-00007) pls"), "rina")
    data.add(BRAND, "faq", ExampleCreate(text='mail [a@b.co]{"entity": "email"} ok?'), "rina")


def test_conflicting_move_and_minimum_examples(data: TrainingDataStore) -> None:
    hello = next(e for e in data.examples(BRAND, "greet") if e.text == "hello")
    with pytest.raises(TrainingDataInvalid) as exc:
        data.update(BRAND, hello.id, ExampleUpdate(version=1, text="thank you"), "rina")
    assert issue_codes(exc) == {IssueCode.CONFLICT}
    assert data.get(BRAND, hello.id).text == "hello"
    tiny = TrainingDataStore(data._redis, data._keys, Domain(data.domain.intents, data.domain.entities, 83))
    assert len(tiny.examples(BRAND, "greet")) == 83
    with pytest.raises(TrainingDataInvalid) as exc:
        tiny.remove(BRAND, hello.id, 1, "rina")
    assert issue_codes(exc) == {IssueCode.TOO_FEW}
    data.remove(BRAND, hello.id, 1, "rina")


def test_stale_versions_conflict_and_lose_nothing(data: TrainingDataStore) -> None:
    ex = data.examples(BRAND, "greet")[0]
    data.update(BRAND, ex.id, ExampleUpdate(version=1, text="hi there kopiku"), "rina")
    with pytest.raises(ConflictError):
        data.update(BRAND, ex.id, ExampleUpdate(version=1, text="hey there kopiku"), "budi")
    with pytest.raises(ConflictError):
        data.remove(BRAND, ex.id, 1, "budi")
    assert data.get(BRAND, ex.id).text == "hi there kopiku"


def test_concurrent_adds_of_one_text_keep_one(data: TrainingDataStore) -> None:
    results: list[str] = []

    def add() -> None:
        try:
            data.add(BRAND, "greet", ExampleCreate(text="morning kopiku crew"), "rina")
            results.append("ok")
        except TrainingDataInvalid:
            results.append("refused")

    threads = [threading.Thread(target=add) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == ["ok"] + ["refused"] * 5
    assert [e.text for e in data.examples(BRAND, "greet")].count("morning kopiku crew") == 1


def test_brands_are_separate(data: TrainingDataStore) -> None:
    assert data.examples("otherbrand") == []
    with pytest.raises(NotFoundError):
        data.get("otherbrand", data.examples(BRAND)[0].id)
