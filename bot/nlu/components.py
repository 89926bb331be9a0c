"""Rasa 3.6 graph components named in config.yml.

* :class:`SentenceEncoderFeaturizer` adds the multilingual sentence
  embedding (the same encoder the FAQ uses) as dense sentence features. A
  message from the consumers comes with its vector (``bot/nlu/vectors.py``),
  taken as it is; a message without one is encoded here, and its vector put in
  Redis for the FAQ search of the same turn (``bot/faq/query_vectors.py``),
  which then does not encode it again.
* :class:`SentenceCountVectorsFeaturizer` is Rasa's ``CountVectorsFeaturizer``
  without the token (sequence) features of text attributes, which a pipeline
  whose classifier reads sentence features only (ours: logistic regression)
  computes for nothing; the sentence features are the same.
* :class:`IntentLogisticRegression` is Rasa's ``LogisticRegressionClassifier``
  with softer class weights: Rasa's weighs each intent by the inverse of its
  example count ("balanced"), so with thousands of FAQ examples against a
  hundred of spam each spam example counts 30 times as much, and a long polite
  question ("Добрый день. ... Подскажите, пожалуйста, ...") is classified as
  spam. ``class_weight_power`` raises the balanced weights to a power: 1 is
  Rasa's, 0 weighs every example alike.
* :class:`LanguageDetector` adds a ``language`` entity when a message's
  language is clear, which fills the ``language`` slot.
* :class:`HandoffPreference` reads a message as a request for a person (or
  an angry complaint) when the classifier ranks one close behind its top
  intent or first under fallback, or gives a request for a person as the top
  intent of one of its sentences (``bot/nlu/handoff.py``).
* :class:`EscalationOverride` makes a message the dispatcher found an
  escalation keyword in (``metadata.escalation``, ``bot/handoff/rules.py``) a
  request for a person, whatever the classifier said: it is handed off in that
  turn, with its language and entities still taken from the words.

At run time (not in training), a message of more than one sentence
(:func:`bot.nlu.handoff.clause_spans`) is also classified sentence by
sentence: both featurizers add the features of each sentence (the count
featurizer from the message's own tokens within the sentence), the classifier
puts each sentence's top intent in the parse (``clause_intents``).
"""

from __future__ import annotations

import os
from functools import lru_cache
from typing import Any, Optional

import numpy as np
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.classifiers.logistic_regression_classifier import LogisticRegressionClassifier
from rasa.nlu.constants import DENSE_FEATURIZABLE_ATTRIBUTES, TOKENS_NAMES
from rasa.nlu.extractors.extractor import EntityExtractorMixin
from rasa.nlu.featurizers.dense_featurizer.dense_featurizer import DenseFeaturizer
from rasa.nlu.featurizers.sparse_featurizer.count_vectors_featurizer import CountVectorsFeaturizer
from rasa.shared.nlu.constants import (
    ENTITIES,
    ENTITY_ATTRIBUTE_CONFIDENCE,
    ENTITY_ATTRIBUTE_END,
    ENTITY_ATTRIBUTE_START,
    ENTITY_ATTRIBUTE_TYPE,
    ENTITY_ATTRIBUTE_VALUE,
    FEATURE_TYPE_SENTENCE,
    INTENT,
    INTENT_NAME_KEY,
    INTENT_RANKING_KEY,
    PREDICTED_CONFIDENCE_KEY,
    TEXT,
)
from rasa.shared.nlu.training_data.features import Features
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData
from scipy.sparse import csr_matrix, diags, hstack

from bot.encoders import Encoder, get_encoder
from bot.encoders.base import DEFAULT_ENCODER, IdleRelease
from bot.faq.query_vectors import QueryVectors, from_environment
from bot.language import SUPPORTED, detect_language
from bot.nlu.handoff import CLAUSES, DEFAULT_MARGINS, READ_FROM, READ_OVER, REQUEST_HUMAN, clause_spans
from bot.nlu.handoff import HandoffPreference as Preference
from bot.nlu.vectors import OFFERED, Offered

#: message attributes (not in the parse) with the features of each sentence of a longer message: the vectors
#: (one row per sentence), and the indices of the sentences with tokens with a CSR matrix of their count rows
CLAUSE_DENSE = "dmdesk_clause_dense"
CLAUSE_SPARSE = "dmdesk_clause_sparse"
#: a sentence's text in the parse's ``clause_intents``, at most
CLAUSE_TEXT_SHOWN = 200


def _clauses(message: Message) -> list[str]:
    """The sentences of a customer message of more than one (``[]`` otherwise, and for ``/intent`` payloads)."""
    text = message.get(TEXT)
    if not isinstance(text, str) or text.startswith("/"):
        return []
    return [text[start:end] for start, end in clause_spans(text)]


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.MESSAGE_FEATURIZER], is_trainable=False)
class SentenceEncoderFeaturizer(DenseFeaturizer, GraphComponent):
    """Dense sentence features from a bot.encoders encoder."""

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        """Default config: the project's default encoder, batches of 64."""
        return {**DenseFeaturizer.get_default_config(), "encoder": DEFAULT_ENCODER, "batch_size": 64}

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> SentenceEncoderFeaturizer:
        """Creates the component (see parent class for full docstring)."""
        return cls(execution_context.node_name, config)

    @classmethod
    def validate_config(cls, config: dict[str, Any]) -> None:
        """Nothing to validate beyond the encoder spec, checked on first use."""

    @staticmethod
    def required_packages() -> list[str]:
        """The encoder backends import their own packages lazily."""
        return []

    def _add(self, message: Message, attribute: str, vector: np.ndarray) -> None:
        features = Features(np.expand_dims(vector, 0), FEATURE_TYPE_SENTENCE, attribute, self._config["alias"])
        message.add_features(features)

    def _featurize(
        self, messages: list[Message], attribute: str, offered: Optional[Offered] = None
    ) -> tuple[list[str], list[np.ndarray]]:
        """Add the features in place; the texts encoded here (not offered) and their vectors."""
        todo = [m for m in messages if isinstance(m.get(attribute), str) and m.get(attribute)]
        texts: list[str] = []
        encoded: list[np.ndarray] = []
        if not todo:
            return texts, encoded
        encoder = get_encoder(self._config["encoder"])
        if offered is not None:  # vectors the consumers sent with the messages (bot/nlu/vectors.py)
            rest = []
            for message in todo:
                vector = offered.take(encoder.name, message.get(attribute), encoder.dim)
                if vector is None:
                    rest.append(message)
                else:
                    self._add(message, attribute, vector)
            offered.taken += len(todo) - len(rest)
            offered.encoded += len(rest)
            todo = rest
        if offered is not None and todo:  # at run time: the weights go again once they are not used
            _idle_release(encoder).touch()
        size = int(self._config["batch_size"])
        for start in range(0, len(todo), size):
            chunk = todo[start : start + size]
            vectors = encoder.encode([m.get(attribute) for m in chunk])
            for message, vector in zip(chunk, vectors, strict=True):
                self._add(message, attribute, vector)
                texts.append(message.get(attribute))
                encoded.append(vector)
        return texts, encoded

    def process(self, messages: list[Message]) -> list[Message]:
        """Featurizes incoming messages in place, with the vectors offered for them where there are;
        shares the vectors it computed itself with the FAQ search (the consumers put theirs). Adds the
        vectors of each sentence of a longer message (:data:`CLAUSE_DENSE`)."""
        texts, vectors = self._featurize(messages, TEXT, OFFERED)
        shared = _shared_query_vectors()
        if shared is not None and texts:
            shared.put(get_encoder(self._config["encoder"]).name, texts, np.stack(vectors))
        for message in messages:
            clauses = _clauses(message)
            if clauses:
                message.set(CLAUSE_DENSE, self._clause_vectors(clauses, OFFERED))
        return messages

    def _clause_vectors(self, clauses: list[str], offered: Offered) -> np.ndarray:
        """The vectors of a message's sentences: offered ones as they are, the rest encoded here."""
        encoder = get_encoder(self._config["encoder"])
        found = [offered.take(encoder.name, clause, encoder.dim) for clause in clauses]
        missing = [i for i, vector in enumerate(found) if vector is None]
        offered.taken += len(clauses) - len(missing)
        offered.encoded += len(missing)
        if missing:
            _idle_release(encoder).touch()
            fresh = encoder.encode([clauses[i] for i in missing])
            for row, i in enumerate(missing):
                found[i] = fresh[row]
        return np.stack([np.asarray(v, dtype=np.float32) for v in found])

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        """Featurizes every text attribute of the training examples in place."""
        for attribute in DENSE_FEATURIZABLE_ATTRIBUTES:
            self._featurize(training_data.training_examples, attribute)
        return training_data


@lru_cache(maxsize=4)
def _idle_release(encoder: Encoder) -> IdleRelease:
    """The Rasa server drops the weights after ``DMDESK_RASA_ENCODER_IDLE_S`` (default 60 s; 0: never) unused:
    the consumers send every customer message with its vector, so it encodes only a probe turn or a rare
    message from another caller (README "Performance")."""
    return IdleRelease(encoder, float(os.environ.get("DMDESK_RASA_ENCODER_IDLE_S", "60")))


@lru_cache(maxsize=1)
def _shared_query_vectors() -> Optional[QueryVectors]:
    """Where message vectors go for the FAQ search (None outside a stack: no REDIS_URL)."""
    return from_environment()


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.MESSAGE_FEATURIZER], is_trainable=True)
class SentenceCountVectorsFeaturizer(CountVectorsFeaturizer):
    """``CountVectorsFeaturizer`` (same options, vocabulary and sentence features) without sequence features
    for the text attributes.

    Rasa's featurizer transforms every message twice: its tokens, one row each (the sequence features,
    read by DIET and TED), then the joined tokens (the sentence feature, which is all a logistic
    regression reads). Here the text attributes get the sentence feature only, in training and at run
    time; other attributes (intents, action names) are featurized as Rasa does. A pipeline with DIET,
    or a CRF entity extractor, needs the sequence features: use ``CountVectorsFeaturizer`` there.
    """

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        """Rasa's options, plus ``norm`` (None, "l1" or "l2": scale each sentence row to unit norm, so that a
        long message's counts do not outweigh everything else) and ``norm_scale`` (the norm after it)."""
        return {**CountVectorsFeaturizer.get_default_config(), "norm": None, "norm_scale": 1.0}

    def _create_features(self, attribute: str, all_tokens: list[list[str]]) -> tuple[list[Any], list[Any]]:
        if attribute not in DENSE_FEATURIZABLE_ATTRIBUTES or not self.vectorizers.get(attribute):
            return super()._create_features(attribute, all_tokens)  # type: ignore[no-any-return]
        joined = [" ".join(tokens) for tokens in all_tokens if tokens]  # as Rasa builds the sentence feature
        matrix = self.vectorizers[attribute].transform(joined) if joined else None  # the rows of one-by-one calls
        sentence: list[Any] = []
        done = 0
        for tokens in all_tokens:
            if not tokens:
                sentence.append(None)
                continue
            sentence.append(self._finished(matrix[done]))
            done += 1
        return [None] * len(all_tokens), sentence

    def _finished(self, row: Any) -> Any:
        """A sentence feature from one row of counts: scaled (``norm``), indices sorted, COO."""
        if self._config.get("norm"):
            row = _scaled(row, self._config["norm"], float(self._config.get("norm_scale", 1.0)))
        row.sort_indices()
        return row.tocoo()

    def process(self, messages: list[Message]) -> list[Message]:
        """Rasa's features; a longer message's also per sentence (:data:`CLAUSE_SPARSE`).

        A sentence's counts come from the message's own tokens within it, all sentences in one call, and
        the whole message's counts are their sum: the ``char_wb`` analyzer (n-grams within each word, which
        no sentence boundary splits; or ``word`` with single words) counts each word once, in whichever
        sentence it is. So a longer message costs the analyzer no more than before. ``CLAUSE_SPARSE`` is a
        pair (the indices of the sentences with tokens, a CSR matrix of their rows); none without tokens.
        Other analyzers (n-grams across words) get Rasa's features and no sentence features.
        """
        if not self.vectorizers or not self.vectorizers.get(TEXT) or not self._sums_by_sentence():
            return super().process(messages)
        plain = []
        for message in messages:
            clauses = clause_spans(message.get(TEXT)) if _clauses(message) else []
            words = self._words_within(message, clauses)
            if not any(words):
                plain.append(message)
                continue
            kept = [i for i, w in enumerate(words) if w]
            counts = self.vectorizers[TEXT].transform([" ".join(words[i]) for i in kept]).tocsr()
            whole = csr_matrix(np.ones((1, counts.shape[0]), dtype=counts.dtype)) @ counts
            self.add_features_to_message(None, self._finished(whole), TEXT, message)
            for attribute in self._attributes:  # as Rasa's process (a customer message has none of the others)
                if attribute != TEXT:
                    tokens = self._get_processed_message_tokens_by_attribute(message, attribute)
                    sequence, sentence = self._create_features(attribute, [tokens])
                    self.add_features_to_message(sequence[0], sentence[0], attribute, message)
            message.set(CLAUSE_SPARSE, (kept, self._scaled_rows(counts)))
        return super().process(plain) if plain else messages

    def _sums_by_sentence(self) -> bool:
        """True if the analyzer's n-grams never cross a word boundary (a message's counts = its sentences')."""
        analyzer = self._config.get("analyzer")
        return analyzer == "char_wb" or (analyzer == "word" and int(self._config.get("max_ngram", 1)) == 1)

    def _scaled_rows(self, counts: Any) -> Any:
        """Rows of counts scaled as :meth:`_finished` scales one (up to float rounding), all at once, as CSR."""
        out = counts.astype(np.float64)
        norm = self._config.get("norm")
        if norm:
            squares = out.multiply(out) if norm == "l2" else abs(out)
            lengths = np.asarray(squares.sum(axis=1), dtype=np.float64).ravel()
            lengths = np.sqrt(lengths) if norm == "l2" else lengths
            scale = float(self._config.get("norm_scale", 1.0))
            factors = np.divide(scale, lengths, out=np.ones_like(lengths), where=lengths > 0)
            out = csr_matrix(diags(factors) @ out)
        out.sort_indices()
        return out

    def _words_within(self, message: Message, spans: list[tuple[int, int]]) -> list[list[str]]:
        """The processed tokens (as Rasa's ``_get_processed_message_tokens_by_attribute``) of each span."""
        tokens = message.get(TOKENS_NAMES[TEXT]) or []
        out = []
        for start, end in spans:
            words = [t.lemma if self.use_lemma else t.text for t in tokens if start <= t.start and t.end <= end]
            out.append(self._replace_with_oov_token(self._process_tokens(words, TEXT), TEXT))
        return out


def _scaled(row: Any, norm: str, scale: float) -> Any:
    """``row`` (one sparse row of counts) in float64, scaled to ``scale`` in the ``norm`` ("l1" or "l2");
    an all-zero row stays zero. Directly on the stored values: sklearn's ``normalize`` validates its input
    first, which costs twice the transform (0.15 against 0.06 ms a message)."""
    out = row.astype(np.float64)
    length = float(np.abs(out.data).sum()) if norm == "l1" else float(np.sqrt(np.dot(out.data, out.data)))
    if length > 0:
        out.data *= scale / length
    return out


def class_weights(labels: list[str], power: float) -> dict[str, float]:
    """Per-label weights: scikit-learn's "balanced" (``n / (classes * count)``) raised to ``power``."""
    counts: dict[str, int] = {}
    for label in labels:
        counts[label] = counts.get(label, 0) + 1
    n, k = len(labels), len(counts)
    return {label: (n / (k * c)) ** power for label, c in counts.items()}


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER], is_trainable=True)
class IntentLogisticRegression(LogisticRegressionClassifier):
    """Rasa's logistic-regression intent classifier with class weights softened by ``class_weight_power``."""

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {**LogisticRegressionClassifier.get_default_config(), "class_weight_power": 1.0}

    def train(self, training_data: TrainingData) -> Resource:
        labels = [e.get(INTENT) for e in training_data.intent_examples if e.get(INTENT) and e.get(TEXT)]
        self.clf.set_params(class_weight=class_weights(labels, float(self.config["class_weight_power"])))
        return super().train(training_data)  # type: ignore[no-any-return]

    def process(self, messages: list[Message]) -> list[Message]:
        """Rasa's intent and ranking; for a longer message also each sentence's top intent (``clause_intents``)."""
        messages = super().process(messages)
        for message in messages:
            found = self._clause_intents(message)
            if found:
                message.set(CLAUSES, found, add_to_output=True)
        return messages

    def _clause_intents(self, message: Message) -> list[dict[str, Any]]:
        """``[{text, name, confidence}]`` per sentence with features of every kind the whole message has."""
        clauses = _clauses(message)
        if not clauses or not hasattr(self.clf, "classes_"):
            return []
        kept = list(range(len(clauses)))
        parts = []  # as Rasa's _create_X: the sparse sentence features, then the dense ones
        if message.get_sparse_features(TEXT)[1] is not None:
            sparse = message.get(CLAUSE_SPARSE)
            if sparse is None:
                return []
            kept, matrix = sparse
            parts.append(matrix)
        if message.get_dense_features(TEXT)[1] is not None:
            dense = message.get(CLAUSE_DENSE)
            if dense is None or len(dense) != len(clauses):
                return []
            parts.append(csr_matrix(np.asarray(dense)[kept]))
        if not parts or not kept:
            return []
        probas = self.clf.predict_proba(hstack(parts, format="csr"))
        found = []
        for i, row in zip(kept, probas, strict=True):
            best = int(np.argmax(row))
            shown = clauses[i][:CLAUSE_TEXT_SHOWN]
            found.append(
                {
                    "text": shown,
                    INTENT_NAME_KEY: str(self.clf.classes_[best]),
                    PREDICTED_CONFIDENCE_KEY: float(row[best]),
                }
            )
        return found


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR], is_trainable=False)
class LanguageDetector(GraphComponent, EntityExtractorMixin):
    """Adds a ``language`` entity with the detected language of a message."""

    def __init__(self, config: dict[str, Any]) -> None:
        self._config = config

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        """Default config: the four demo languages, entity ``language``."""
        return {"languages": list(SUPPORTED), "entity": "language"}

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> LanguageDetector:
        """Creates the component (see parent class for full docstring)."""
        return cls(config)

    @staticmethod
    def required_packages() -> list[str]:
        """The detector imports lingua lazily."""
        return ["lingua"]

    def _entity(self, text: str) -> Optional[dict[str, Any]]:
        code = detect_language(text, self._config["languages"])
        if code is None:
            return None
        return {
            ENTITY_ATTRIBUTE_TYPE: self._config["entity"],
            ENTITY_ATTRIBUTE_VALUE: code,
            ENTITY_ATTRIBUTE_START: 0,
            ENTITY_ATTRIBUTE_END: len(text),
            ENTITY_ATTRIBUTE_CONFIDENCE: 1.0,
        }

    def process(self, messages: list[Message]) -> list[Message]:
        """Adds the language entity to each message whose language is clear."""
        for message in messages:
            text = message.get(TEXT)
            if not isinstance(text, str) or text.startswith("/"):
                continue
            entity = self._entity(text)
            if entity is not None:
                found = self.add_extractor_name([entity])
                message.set(ENTITIES, message.get(ENTITIES, []) + found, add_to_output=True)
        return messages


class _IntentReader(GraphComponent):
    """A component after the classifiers that may set another intent on a message (:meth:`_read`)."""

    def __init__(self, config: dict[str, Any]) -> None:
        self._config = config

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> _IntentReader:
        """Creates the component (see parent class for full docstring)."""
        return cls(config)

    def _read(self, message: Message) -> dict[str, Any] | None:
        """The intent to set on ``message``, or None to keep its own."""
        raise NotImplementedError

    def process(self, messages: list[Message]) -> list[Message]:
        """Sets the intent of each message :meth:`_read` reads otherwise."""
        for message in messages:
            intent = self._read(message)
            if intent is not None:
                message.set(INTENT, intent, add_to_output=True)
        return messages


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER], is_trainable=False)
class HandoffPreference(_IntentReader):
    """Sets a handoff intent when :meth:`bot.nlu.handoff.HandoffPreference.reading` finds one.

    Runs after the fallback classifier; the classifier's ranking stays in the parse data, the intent keeps
    its own confidence from that ranking, and the intent the classifier gave is kept as ``read_over``
    (the agent sees it in the ticket).
    """

    def __init__(self, config: dict[str, Any]) -> None:
        super().__init__(config)
        self._preference = Preference.from_config(config)

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        """Default config: the margins of :class:`bot.nlu.handoff.HandoffPreference`."""
        return {
            "margin": Preference.margin,
            "margins": dict(DEFAULT_MARGINS),
            "clause_confidence": Preference.clause_confidence,
        }

    def _read(self, message: Message) -> dict[str, Any] | None:
        intent = (message.get(INTENT) or {}).get(INTENT_NAME_KEY)
        ranking = message.get(INTENT_RANKING_KEY) or []
        whole = self._preference.reading(intent, ranking)
        clause = self._preference.clause(message.get(CLAUSES)) if whole is None else None
        wanted = whole if clause is None else REQUEST_HUMAN
        if wanted is None or wanted == intent:
            return None
        if clause is not None:  # read from one sentence: its confidence, and which sentence
            confidence = clause.get(PREDICTED_CONFIDENCE_KEY) or 0.0
            return {
                INTENT_NAME_KEY: wanted,
                PREDICTED_CONFIDENCE_KEY: confidence,
                READ_OVER: intent,
                READ_FROM: clause["text"],
            }
        scores = {r.get(INTENT_NAME_KEY): r.get(PREDICTED_CONFIDENCE_KEY) for r in ranking}
        return {INTENT_NAME_KEY: wanted, PREDICTED_CONFIDENCE_KEY: scores.get(wanted) or 0.0, READ_OVER: intent}


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER], is_trainable=False)
class EscalationOverride(_IntentReader):
    """Sets the intent to ``request_human`` when the message's metadata carries ``escalation``.

    The dispatcher (bot service) matches the brand's escalation keywords and marks the message;
    this component runs after the classifiers (last in the pipeline), so the classifier's ranking
    stays in the parse data for the agent to see.
    """

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        """Default config: the intent that hands off, the metadata key that asks for it."""
        return {"intent": "request_human", "metadata_key": "escalation"}

    def _read(self, message: Message) -> dict[str, Any] | None:
        metadata = message.get("metadata") or {}
        if isinstance(metadata, dict) and metadata.get(self._config["metadata_key"]):
            return {INTENT_NAME_KEY: self._config["intent"], PREDICTED_CONFIDENCE_KEY: 1.0}
        return None
