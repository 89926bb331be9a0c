"""Rasa 3.6 graph components named in config.yml.

* :class:`SentenceEncoderFeaturizer` adds the multilingual sentence
  embedding (the same encoder the FAQ uses) as dense sentence features. A
  message from the consumers comes with its vector (``bot/nlu/vectors.py``),
  taken as it is; a message without one is encoded here, and its vector put in
  Redis for the FAQ search of the same turn (``bot/faq/query_vectors.py``),
  which then does not encode it again.
* :class:`SentenceCountVectorsFeaturizer` (``bot/nlu/counts.py``, re-exported
  here) is Rasa's ``CountVectorsFeaturizer`` without the token (sequence)
  features that a logistic regression never reads.
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

At run time (not in training), a message of more than one sentence is also
classified sentence by sentence (``bot/nlu/clauses.py``): both featurizers add
the features of each sentence, the classifier puts each sentence's top intent
in the parse (``clause_intents``), which :class:`HandoffPreference` reads.
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
from rasa.nlu.constants import DENSE_FEATURIZABLE_ATTRIBUTES
from rasa.nlu.extractors.extractor import EntityExtractorMixin
from rasa.nlu.featurizers.dense_featurizer.dense_featurizer import DenseFeaturizer
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

from bot.encoders import Encoder, get_encoder
from bot.encoders.base import DEFAULT_ENCODER, IdleRelease
from bot.faq.query_vectors import QueryVectors, from_environment
from bot.language import SUPPORTED, detect_language
from bot.nlu.clauses import CLAUSE_DENSE, clause_intents, clause_texts, clause_vectors
from bot.nlu.counts import SentenceCountVectorsFeaturizer
from bot.nlu.handoff import CLAUSES, DEFAULT_MARGINS, READ_FROM, READ_OVER
from bot.nlu.handoff import HandoffPreference as Preference
from bot.nlu.vectors import OFFERED, Offered

__all__ = [
    "EscalationOverride",
    "HandoffPreference",
    "IntentLogisticRegression",
    "LanguageDetector",
    "SentenceCountVectorsFeaturizer",
    "SentenceEncoderFeaturizer",
    "class_weights",
]


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
            clauses = clause_texts(message)
            if clauses:
                encoder = get_encoder(self._config["encoder"])
                vectors = clause_vectors(encoder, clauses, OFFERED, _idle_release(encoder).touch)
                message.set(CLAUSE_DENSE, vectors)
        return messages

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
            found = clause_intents(self.clf, message)
            if found:
                message.set(CLAUSES, found, add_to_output=True)
        return messages


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
        reading = self._preference.read(intent, ranking, message.get(CLAUSES))
        if reading is None or reading.intent == intent:
            return None
        out = {INTENT_NAME_KEY: reading.intent, READ_OVER: intent}
        if reading.sentence is not None:  # read from one sentence: its confidence, and which sentence
            out[PREDICTED_CONFIDENCE_KEY] = reading.sentence.get(PREDICTED_CONFIDENCE_KEY) or 0.0
            out[READ_FROM] = reading.sentence["text"]
        else:
            scores = {r.get(INTENT_NAME_KEY): r.get(PREDICTED_CONFIDENCE_KEY) for r in ranking}
            out[PREDICTED_CONFIDENCE_KEY] = scores.get(reading.intent) or 0.0
        return out


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
