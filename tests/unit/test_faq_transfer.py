"""FAQ import/export (YAML round trip, CSV) and the incremental lexical index, on a real Redis and encoder."""

from __future__ import annotations

import csv
import io
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from sklearn.feature_extraction.text import TfidfVectorizer

from bot.errors import FaqImportError
from bot.evaluation import load_queries
from bot.faq import store, transfer
from bot.faq.editor import FaqEditor
from bot.faq.editor_models import ChangeAction, EntryPatch
from bot.faq.lexical import LexicalIndex, char_wb_ngrams
from bot.faq.normalize import fold
from bot.faq.transfer import ImportFormat
from bot.stack import ROOT
from tests.unit.test_faq_editor import BRAND, editor, kb  # noqa: F401 (fixtures)


def test_an_unedited_import_exports_byte_for_byte(editor: FaqEditor, faq_file: Path) -> None:  # noqa: F811
    text = faq_file.read_text(encoding="utf-8")
    assert transfer.export_yaml(editor.book(BRAND)) == text  # seeded from the file
    report = transfer.import_faq(editor, BRAND, "ana", ImportFormat.YAML, text)
    assert report.applied and report.unchanged == 54 and not (report.created or report.updated or report.deleted)
    assert transfer.export_yaml(editor.book(BRAND)) == text


def test_a_yaml_import_replaces_the_faq_and_records_history(editor: FaqEditor, faq_file: Path) -> None:  # noqa: F811
    book = store.load(faq_file)
    book.entries = [e for e in book.entries if e.id != "gift_cards"]
    book.entries[0] = book.entries[0].model_copy(update={"question": "A new first question?"})
    dry = transfer.import_faq(editor, BRAND, "ana", ImportFormat.YAML, store.dumps(book), dry_run=True)
    assert not dry.applied and dry.deleted == ["gift_cards"] and dry.updated == [book.entries[0].id]
    assert editor.get(BRAND, "gift_cards").version == 1  # a dry run writes nothing
    done = transfer.import_faq(editor, BRAND, "ana", ImportFormat.YAML, store.dumps(book))
    assert done.applied and done.faq_version
    assert transfer.export_yaml(editor.book(BRAND)) == store.dumps(book)
    assert editor.history(BRAND, "gift_cards")[0].action is ChangeAction.DELETED
    assert editor.history(BRAND, book.entries[0].id)[0].action is ChangeAction.IMPORTED
    other = store.dumps(book).replace("brand: Kopiku", "brand: Elsewhere")
    with pytest.raises(FaqImportError) as caught:
        transfer.import_faq(editor, BRAND, "ana", ImportFormat.YAML, other)
    assert caught.value.report.errors[0].column == "brand"


def test_a_yaml_import_sets_the_not_covered_questions_only_when_the_file_has_them(
    editor: FaqEditor,  # noqa: F811
    faq_file: Path,
) -> None:
    book = store.load(faq_file)
    assert editor.not_covered(BRAND).questions == book.not_covered
    mine = book.model_copy(update={"not_covered": [book.not_covered[0], "is there wifi?", "do you sell tea?"]})
    dry = transfer.import_faq(editor, BRAND, "ana", ImportFormat.YAML, store.dumps(mine), dry_run=True)
    assert not dry.applied and dry.not_covered_added == ["is there wifi?", "do you sell tea?"]
    assert dry.not_covered_removed == book.not_covered[1:] and dry.created == dry.updated == dry.deleted == []
    assert editor.not_covered(BRAND).questions == book.not_covered  # a dry run changes nothing
    mine = book.model_copy(update={"not_covered": ["is there wifi?", "do you sell tea?"]})
    applied = transfer.import_faq(editor, BRAND, "ana", ImportFormat.YAML, store.dumps(mine))
    assert applied.applied and len(applied.not_covered_removed) == len(book.not_covered)
    assert editor.not_covered(BRAND).questions == ["is there wifi?", "do you sell tea?"]
    assert editor.book(BRAND).not_covered == ["is there wifi?", "do you sell tea?"]
    older = store.dumps(book.model_copy(update={"not_covered": []}))  # a file from before the list
    assert "not_covered" not in older
    kept = transfer.import_faq(editor, BRAND, "ana", ImportFormat.YAML, older)
    assert kept.not_covered_added == kept.not_covered_removed == []
    assert editor.not_covered(BRAND).questions == ["is there wifi?", "do you sell tea?"]  # kept
    emptied = older + "not_covered: []\n"
    transfer.import_faq(editor, BRAND, "ana", ImportFormat.YAML, emptied)
    assert editor.not_covered(BRAND).questions == []


def test_yaml_errors_name_the_entry_and_field(editor: FaqEditor, faq_file: Path) -> None:  # noqa: F811
    text = faq_file.read_text(encoding="utf-8").replace("- id: order_tracking\n", "- id: Order Tracking!\n", 1)
    with pytest.raises(FaqImportError) as caught:
        transfer.import_faq(editor, BRAND, "ana", ImportFormat.YAML, text)
    (error,) = caught.value.report.errors
    ids = [e.id for e in store.load(faq_file).entries]
    assert error.row == ids.index("order_tracking") + 1 and error.column == "id"


def test_csv_round_trip_and_spreadsheet_edits(editor: FaqEditor) -> None:  # noqa: F811
    exported = transfer.export_csv(editor.book(BRAND))
    rows = list(csv.DictReader(io.StringIO(exported)))
    assert len(rows) == 54 and {"answer_en", "answer_ru", "title_en", "alternatives"} <= set(rows[0])
    same = transfer.import_faq(editor, BRAND, "ana", ImportFormat.CSV, exported)
    assert same.unchanged == 54 and not same.updated
    gift = next(r for r in rows if r["id"] == "gift_cards")
    gift["answer_en"] = "Gift cards from a spreadsheet."
    gift["alternatives"] = "voucher for my friend? | kartu hadiah ada?"
    gift["enabled"] = "no"
    new = dict(gift, id="wifi_store", question="Is there wifi in the store?", alternatives="wifi?\nwifi password?")
    new.update({k: "" for k in new if k.startswith(("answer_", "title_"))}, answer_en="Yes, ask the barista.")
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows([gift, new])
    report = transfer.import_faq(editor, BRAND, "ana", ImportFormat.CSV, out.getvalue())
    assert report.updated == ["gift_cards"] and report.created == ["wifi_store"] and report.deleted == []
    entry = editor.get(BRAND, "gift_cards")
    assert entry.answers["en"] == "Gift cards from a spreadsheet." and not entry.enabled
    assert entry.alternatives == ["voucher for my friend?", "kartu hadiah ada?"]
    assert editor.get(BRAND, "wifi_store").alternatives == ["wifi?", "wifi password?"]
    assert editor.get(BRAND, "order_tracking").version == 1  # rows not in the file stay as they are


def test_csv_errors_are_reported_by_row_and_column_and_nothing_is_applied(editor: FaqEditor) -> None:  # noqa: F811
    header = "id,topic,enabled,question,alternatives,answer_en,title_en"
    text = "\n".join(
        [
            header,
            "ok_one,shop,true,Is this fine?,,Yes.,",
            "bad_enabled,shop,perhaps,Question two?,,Yes.,",
            "ok_one,shop,true,Question three?,,Yes.,",
            "dup_text,shop,true,How can I track my order?,,Yes.,",
            "no_answer,shop,true,Question five?,,,",
            "short,shop,true",
        ]
    )
    with pytest.raises(FaqImportError) as caught:
        transfer.import_faq(editor, BRAND, "ana", ImportFormat.CSV, text)
    found = {(e.row, e.column) for e in caught.value.report.errors}
    assert found == {(3, "enabled"), (4, "id"), (5, "question"), (6, "answer_*"), (7, None)}
    assert editor.list_entries(BRAND, query="ok_one").total == 0
    with pytest.raises(FaqImportError) as caught:
        transfer.import_faq(editor, BRAND, "ana", ImportFormat.CSV, "id,topic,question,colour\n")
    assert {(e.row, e.column) for e in caught.value.report.errors} == {(1, "colour"), (1, "answer_<lang>")}


def test_editing_through_the_editor_then_exporting_gives_a_small_diff(editor: FaqEditor, faq_file: Path) -> None:  # noqa: F811
    entry = editor.get(BRAND, "gift_cards")
    editor.update(BRAND, "ana", "gift_cards", EntryPatch(answers={**entry.answers, "en": "New gift text."}), 1)
    before = faq_file.read_text(encoding="utf-8").splitlines()
    after = transfer.export_yaml(editor.book(BRAND)).splitlines()
    assert len(before) == len(after)
    assert [i for i, (a, b) in enumerate(zip(before, after, strict=True)) if a != b] == [
        next(i for i, line in enumerate(after) if "New gift text." in line)
    ]


def test_lexical_index_scores_like_scikit_learn_after_removals_and_additions(faq_file: Path) -> None:
    texts = [t for e in store.load(faq_file).entries for t in dict.fromkeys(e.texts())]
    reference = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 4), sublinear_tf=True, preprocessor=fold)
    matrix = reference.fit_transform(texts).T.tocsr()
    edited = LexicalIndex()
    edited.update(np.zeros(0, dtype=np.int64), texts[:300] + ["zzqx only here", "another gone text"])
    edited.update(np.arange(300)[::-1], texts[300:])  # two rows removed, the rest reordered
    order = np.concatenate([np.arange(300)[::-1], np.arange(300, len(texts))])
    for query in ("brp ongkir ke medan kak?", "скок стоит доставка", "zzqx", "Où est ma commande ?"):
        expected = np.asarray((reference.transform([query]) @ matrix).todense()).ravel()
        assert np.allclose(edited.scores(query), expected[order], atol=1e-6)


def test_the_lexical_index_has_scikit_learns_char_wb_ngrams_in_its_order(faq_file: Path) -> None:
    texts = [t for e in store.load(faq_file).entries for t in e.texts()]
    texts += [q["text"] for name in ("dev", "test", "holdout2") for q in load_queries(ROOT / "eval" / f"{name}.yml")]
    texts += ["", " ", "a", "ab", "abc", "  two\t\tspaces\n\nand\u00a0nbsp\u2003em ", "😀 ok!!", "x" * 40]
    analyzer = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 4), preprocessor=fold).build_analyzer()
    assert len(texts) > 3000
    for text in texts:
        assert char_wb_ngrams(fold(text)) == analyzer(text), text


def test_an_index_process_does_not_import_scikit_learn() -> None:
    code = "import sys, bot.runtime; print(sorted(m for m in sys.modules if m.split('.')[0] == 'sklearn'))"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True, timeout=60)
    assert out.stdout.strip() == "[]"  # about 70 MiB per process (scipy.stats and the rest)


def test_random_edits_applied_entry_by_entry_score_like_a_fresh_build(redis, keys, faq_file: Path) -> None:  # type: ignore[no-untyped-def]
    import random

    from bot.faq.index import FaqIndex
    from bot.faq.kb import RedisVectorCache
    from bot.runtime import index_config
    from bot.settings import CoreSettings

    encoders, weights = index_config(CoreSettings())
    cache = RedisVectorCache(redis, keys)
    entries = {e.id: e for e in store.load(faq_file).entries}
    live = FaqIndex(encoders, weights, cache)
    live.build(list(entries.values()))
    rng = random.Random(5)
    phrasings = [t for e in entries.values() for t in e.alternatives]
    for step in range(25):
        entry_id = rng.choice(sorted(entries))
        entry = entries[entry_id]
        kind = rng.choice(["add", "drop", "toggle", "delete", "answer"])
        if kind == "delete":
            del entries[entry_id]
            live.update([], [entry_id])
            continue
        if kind == "add":
            entry = entry.model_copy(update={"alternatives": [*entry.alternatives, rng.choice(phrasings) + f" {step}"]})
        elif kind == "drop" and entry.alternatives:
            entry = entry.model_copy(update={"alternatives": entry.alternatives[1:]})
        elif kind == "toggle":
            entry = entry.model_copy(update={"enabled": not entry.enabled})
        else:
            entry = entry.model_copy(update={"answers": {**entry.answers, "en": f"Changed answer {step}."}})
        entries[entry_id] = entry
        live.update([entry])
    fresh = FaqIndex(encoders, weights, cache)
    fresh.build(list(entries.values()))
    assert sorted(live._ids) == sorted(fresh._ids)
    assert live._coverage._df == fresh._coverage._df
    assert live._coverage._russian_df == fresh._coverage._russian_df
    queries = ("brp ongkir ke medan kak?", "Où est ma commande ?", "gift card", "changed answer", "возварт денег скока")
    for query in queries:
        a, b = live.search(query, 10), fresh.search(query, 10)
        assert [c.evidence for c in a] == [c.evidence for c in b]
        assert [c.entry_id for c in a] == [c.entry_id for c in b]
        assert [c.score for c in a] == pytest.approx([c.score for c in b], abs=1e-5)
        assert [c.components for c in a] == [pytest.approx(c.components, abs=1e-4) for c in b]
