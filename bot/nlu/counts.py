"""Count features for a classifier that reads sentence features only (Rasa 3.6 graph component).

:class:`SentenceCountVectorsFeaturizer` is Rasa's ``CountVectorsFeaturizer``
without the token (sequence) features of text attributes, which a pipeline
whose classifier reads sentence features only (ours: logistic regression)
computes for nothing; the sentence features are the same. At run time it also
gives each sentence of a longer message its own row of counts
(``bot.nlu.clauses``). Named in config.yml as
``bot.nlu.components.SentenceCountVectorsFeaturizer`` (re-exported there).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.nlu.constants import DENSE_FEATURIZABLE_ATTRIBUTES, TOKENS_NAMES
from rasa.nlu.featurizers.sparse_featurizer.count_vectors_featurizer import CountVectorsFeaturizer
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.message import Message
from scipy.sparse import csr_matrix

from bot.nlu.clauses import CLAUSE_SPARSE, message_spans


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
        # the rows of one-by-one calls, scaled all at once
        matrix = self._scaled(self.vectorizers[attribute].transform(joined)) if joined else None
        sentence: list[Any] = []
        done = 0
        for tokens in all_tokens:
            if not tokens:
                sentence.append(None)
                continue
            sentence.append(matrix[done].tocoo())
            done += 1
        return [None] * len(all_tokens), sentence

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
            words = self._words_within(message, message_spans(message))
            if not any(words):
                plain.append(message)
                continue
            kept = [i for i, w in enumerate(words) if w]
            counts = self.vectorizers[TEXT].transform([" ".join(words[i]) for i in kept]).tocsr()
            whole = csr_matrix(np.ones((1, counts.shape[0]), dtype=counts.dtype)) @ counts
            self.add_features_to_message(None, self._scaled(whole).tocoo(), TEXT, message)
            for attribute in self._attributes:  # as Rasa's process (a customer message has none of the others)
                if attribute != TEXT:
                    tokens = self._get_processed_message_tokens_by_attribute(message, attribute)
                    sequence, sentence = self._create_features(attribute, [tokens])
                    self.add_features_to_message(sequence[0], sentence[0], attribute, message)
            message.set(CLAUSE_SPARSE, (kept, self._scaled(counts)))
        return super().process(plain) if plain else messages

    def _sums_by_sentence(self) -> bool:
        """True if the analyzer's n-grams never cross a word boundary (a message's counts = its sentences')."""
        analyzer = self._config.get("analyzer")
        return analyzer == "char_wb" or (analyzer == "word" and int(self._config.get("max_ngram", 1)) == 1)

    def _scaled(self, counts: Any) -> Any:
        """Rows of counts (CSR) as sentence features, indices sorted: with ``norm`` ("l1" or "l2"), in float64,
        each row scaled to ``norm_scale`` in that norm (an all-zero row stays zero); else the counts as they
        are. Directly on the stored values, all rows at once: sklearn's ``normalize`` validates its input
        first, which cost twice the transform (0.15 against 0.06 ms a message)."""
        norm = self._config.get("norm")
        if not norm:
            out = counts.tocsr(copy=True)
            out.sort_indices()
            return out
        out = counts.astype(np.float64)
        per_row = np.diff(out.indptr)
        values = np.abs(out.data) if norm == "l1" else out.data * out.data
        lengths = np.bincount(np.repeat(np.arange(out.shape[0]), per_row), weights=values, minlength=out.shape[0])
        lengths = np.sqrt(lengths) if norm == "l2" else lengths
        scale = float(self._config.get("norm_scale", 1.0))
        factors = np.divide(scale, lengths, out=np.ones_like(lengths), where=lengths > 0)
        out.data *= np.repeat(factors, per_row)
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
