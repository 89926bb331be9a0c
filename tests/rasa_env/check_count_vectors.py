"""bot.nlu.components.SentenceCountVectorsFeaturizer against Rasa's CountVectorsFeaturizer (needs Rasa, Python 3.10).

    .venv-rasa/bin/python -m tests.rasa_env.check_count_vectors QUERIES...

Both are trained with config.yml's options on the same tokenized texts (the
queries of the eval files, their intents as labels); then, for every query:
the same sentence features (data, indices, shape, dtype; with config.yml's
``norm``, Rasa's row scaled to that norm times ``norm_scale``), no sequence
features for the text from ours, and any other attribute featurized as Rasa
does; the same vocabulary. At run time (``process``) too, where a message of more than one sentence gets its
row as the sum of its sentences' counts, and each sentence's row (``CLAUSE_SPARSE``) is Rasa's for the
sentence sent alone. Prints ``ok`` and exits 0, or raises AssertionError.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import yaml


def queries_of(files: list[str]) -> list[dict[str, Any]]:
    """Every query of the eval files."""
    return [q for f in files for q in yaml.safe_load(Path(f).read_text(encoding="utf-8"))["queries"]]


def count_vectors_config() -> dict[str, Any]:
    """config.yml's options of the sentence count-vectors featurizer over Rasa's defaults."""
    from rasa.nlu.featurizers.sparse_featurizer.count_vectors_featurizer import CountVectorsFeaturizer

    options = next(
        c
        for c in yaml.safe_load(Path("config.yml").read_text(encoding="utf-8"))["pipeline"]
        if c["name"].endswith("SentenceCountVectorsFeaturizer")
    )
    return {**CountVectorsFeaturizer.get_default_config(), **{k: v for k, v in options.items() if k != "name"}}


def main(files: list[str]) -> None:
    from rasa.engine.graph import ExecutionContext, GraphSchema
    from rasa.engine.storage.local_model_storage import LocalModelStorage
    from rasa.engine.storage.resource import Resource
    from rasa.nlu.featurizers.sparse_featurizer.count_vectors_featurizer import CountVectorsFeaturizer
    from rasa.nlu.tokenizers.whitespace_tokenizer import WhitespaceTokenizer
    from rasa.shared.nlu.constants import INTENT, TEXT
    from rasa.shared.nlu.training_data.message import Message
    from rasa.shared.nlu.training_data.training_data import TrainingData

    from bot.nlu.clauses import CLAUSE_SPARSE
    from bot.nlu.components import SentenceCountVectorsFeaturizer
    from bot.nlu.handoff import clause_spans

    queries = queries_of(files)
    config = count_vectors_config()
    context = ExecutionContext(GraphSchema({}), "check")
    tokenizer = WhitespaceTokenizer(WhitespaceTokenizer.get_default_config())

    def data() -> TrainingData:
        messages = [Message(data={TEXT: q["text"], INTENT: str(q["expect"])}) for q in queries if q["text"].strip()]
        training = TrainingData(messages)
        tokenizer.process_training_data(training)
        return training

    with tempfile.TemporaryDirectory() as tmp:
        storage = LocalModelStorage(Path(tmp))
        theirs = CountVectorsFeaturizer.create(config, storage, Resource("theirs"), context)
        ours = SentenceCountVectorsFeaturizer.create(config, storage, Resource("ours"), context)
        a, b = data(), data()
        theirs.train(a)
        ours.train(b)
        assert theirs.vectorizers[TEXT].vocabulary_ == ours.vectorizers[TEXT].vocabulary_
        theirs.process_training_data(a)
        ours.process_training_data(b)
        for x, y in zip(a.training_examples, b.training_examples, strict=True):
            seq_x, sent_x = x.get_sparse_features(TEXT)
            seq_y, sent_y = y.get_sparse_features(TEXT)
            assert seq_x is not None and seq_y is None, x.get(TEXT)
            _same(_as_configured(sent_x.features, config), sent_y.features)
            for attribute in theirs._attributes:  # the other attributes featurized (none with char n-grams)
                if attribute != TEXT:
                    for f, g in zip(x.get_sparse_features(attribute), y.get_sparse_features(attribute), strict=True):
                        assert (f is None) == (g is None), attribute
                        if f is not None:
                            _same(f.features, g.features)
        assert ours._attributes == theirs._attributes

        # at run time (process): the same, a longer message's row being the sum of its sentences' counts
        def fresh() -> list[Message]:
            messages = [Message(data={TEXT: q["text"]}) for q in queries if q["text"].strip()]
            for message in messages:
                tokenizer.process([message])
            return messages

        c, d = fresh(), fresh()
        theirs.process(c)
        ours.process(d)
        longer = 0
        for x, y in zip(c, d, strict=True):
            assert y.get_sparse_features(TEXT)[0] is None, y.get(TEXT)
            _same(
                _as_configured(x.get_sparse_features(TEXT)[1].features, config), y.get_sparse_features(TEXT)[1].features
            )
            if y.get(CLAUSE_SPARSE) is not None:
                longer += 1
                kept, rows = y.get(CLAUSE_SPARSE)
                spans = clause_spans(y.get(TEXT))
                alone = [Message(data={TEXT: y.get(TEXT)[a:b]}) for a, b in spans]
                tokenizer.process(alone)
                theirs.process(alone)
                assert rows.shape[0] == len(kept) and set(kept) <= set(range(len(spans))), y.get(TEXT)
                # a sentence without tokens of its own in the message ("🙏" after a question) is left out
                for j, i in enumerate(kept):  # each sentence's row: as Rasa's for the sentence sent alone
                    want = _as_configured(alone[i].get_sparse_features(TEXT)[1].features, config).tocsr()
                    got = rows[j]
                    assert np.array_equal(got.indices, want.indices) and np.allclose(got.data, want.data, rtol=1e-9)
        assert longer > 100, longer
    print("ok")


def _as_configured(row: Any, config: dict[str, Any]) -> Any:
    """Rasa's sentence row as ours should be: unchanged, or scaled to ``norm`` x ``norm_scale``."""
    if not config.get("norm"):
        return row
    scaled = row.astype(np.float64)
    length = float(np.abs(scaled.data).sum() if config["norm"] == "l1" else np.sqrt((scaled.data**2).sum()))
    assert length > 0
    return scaled * (float(config.get("norm_scale", 1.0)) / length)


def _same(m: Any, n: Any) -> None:
    m, n = m.tocsr(), n.tocsr()
    assert m.shape == n.shape and m.dtype == n.dtype
    for name in ("indices", "indptr"):
        assert np.array_equal(getattr(m, name), getattr(n, name)), name
    assert np.allclose(m.data, n.data, rtol=1e-12, atol=0) if m.dtype.kind == "f" else np.array_equal(m.data, n.data)


if __name__ == "__main__":
    main(sys.argv[1:])
