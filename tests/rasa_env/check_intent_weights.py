"""bot.nlu.components.IntentLogisticRegression against Rasa's LogisticRegressionClassifier (needs Rasa, Python 3.10).

    .venv-rasa/bin/python -m tests.rasa_env.check_intent_weights QUERIES...

Both are trained on the queries of the eval files (char n-gram sentence features from config.yml's
count-vectors options; labels: ``faq`` for an FAQ question, else the expectation, so one large class and
two small ones, as in the real training data). Checked: with ``class_weight_power`` 1 every probability
is Rasa's, bit for bit; the weights are scikit-learn's "balanced" ones raised to the power (all 1 at 0);
softer weights (0.5) raise the large class's mean probability. Prints ``ok`` and exits 0, or raises
AssertionError.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import numpy as np


def main(files: list[str]) -> None:
    from rasa.engine.graph import ExecutionContext, GraphSchema
    from rasa.engine.storage.local_model_storage import LocalModelStorage
    from rasa.engine.storage.resource import Resource
    from rasa.nlu.classifiers.logistic_regression_classifier import LogisticRegressionClassifier
    from rasa.nlu.tokenizers.whitespace_tokenizer import WhitespaceTokenizer
    from rasa.shared.nlu.constants import INTENT, TEXT
    from rasa.shared.nlu.training_data.message import Message
    from rasa.shared.nlu.training_data.training_data import TrainingData

    from bot.nlu.components import IntentLogisticRegression, SentenceCountVectorsFeaturizer, class_weights
    from tests.rasa_env.check_count_vectors import count_vectors_config, queries_of

    queries = queries_of(files)
    labels = [q["expect"] if q["expect"] in ("none", "handoff") else "faq" for q in queries]
    config = count_vectors_config()
    context = ExecutionContext(GraphSchema({}), "check")
    tokenizer = WhitespaceTokenizer(WhitespaceTokenizer.get_default_config())
    training = TrainingData([Message(data={TEXT: q["text"], INTENT: y}) for q, y in zip(queries, labels, strict=True)])
    tokenizer.process_training_data(training)

    with tempfile.TemporaryDirectory() as tmp:
        storage = LocalModelStorage(Path(tmp))
        featurizer = SentenceCountVectorsFeaturizer.create(config, storage, Resource("cv"), context)
        featurizer.train(training)
        featurizer.process_training_data(training)

        def probabilities(classifier: LogisticRegressionClassifier) -> np.ndarray:
            classifier.train(training)
            return classifier.clf.predict_proba(classifier._create_X(training.intent_examples))

        options = {"max_iter": 500, "random_state": 42}
        rasa = LogisticRegressionClassifier.create(options, storage, Resource("rasa"), context)
        theirs = probabilities(rasa)
        by_power = {}
        for power in (1.0, 0.5, 0.0):
            ours = IntentLogisticRegression.create(
                {**options, "class_weight_power": power}, storage, Resource(f"ours{power}"), context
            )
            by_power[power] = probabilities(ours)
            assert list(ours.clf.classes_) == list(rasa.clf.classes_)
            assert ours.clf.class_weight == class_weights(labels, power)
        assert np.array_equal(by_power[1.0], theirs), "power 1 must be Rasa's balanced weights exactly"

    n = len(labels)
    counts = {y: labels.count(y) for y in set(labels)}
    for y, w in class_weights(labels, 1.0).items():
        assert abs(w - n / (len(counts) * counts[y])) < 1e-12, y
    assert set(class_weights(labels, 0.0).values()) == {1.0}
    faq = list(rasa.clf.classes_).index("faq")
    assert by_power[0.5][:, faq].mean() > by_power[1.0][:, faq].mean()
    print("ok")


if __name__ == "__main__":
    main(sys.argv[1:])
