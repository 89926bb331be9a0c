"""Message vectors computed by the consumers and handed to the Rasa server with the message.

The Rasa server is the one serial step of the stack (one process, one core);
the sentence encoder was about a third of its CPU per message (README
"Performance"). The consumers, which run beside it and are not the bottleneck,
now encode each customer message themselves, in batches of whatever messages
are in flight together (:class:`BatchEncoder`: a batch of 8 costs about half
as much per message as 8 texts encoded one by one), and send the vector with
the message (:func:`pack`). The Rasa server's ``dmdesk`` channel checks it
(:func:`unpack`) and offers it for the turn (:data:`OFFERED`); the NLU
featurizer takes it instead of encoding (``bot.nlu.components``). The Rasa
server then never loads the encoder's weights.

A vector is content-addressed: it travels with the SHA-1 of the exact text it
encodes and the name of its encoder, and the featurizer takes it only for that
text and its own encoder, so a vector can make the turn faster, never
different. (A text encoded in a batch may differ from the same text encoded
alone in the last bits of float32, up to 2.5e-7 here, as BLAS sums a matrix
of another height in another order; one at a time, as at concurrency 1, it is
the vector the Rasa server would have computed, bit for bit.)

Plain Python and numpy: imported by the Rasa process (Python 3.10) and by the
consumers.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import logging
import threading
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from bot.faq.query_vectors import text_digest
from bot.nlu.handoff import clause_spans

log = logging.getLogger(__name__)

#: the longest vector accepted from a caller (floats)
MAX_DIM = 4096
#: texts encoded together at most
MAX_BATCH = 32
#: a batch is gathered for at most this long, and only while more texts keep coming
MAX_WAIT_S = 0.005
#: the payload's key for the vectors of a longer message's sentences
CLAUSE_VECTORS = "clauses"


def pack(encoder: str, text: str, vector: np.ndarray) -> dict[str, str]:
    """The JSON form of ``text``'s vector by ``encoder``, for the ``vector`` field of the channel's body."""
    data = np.ascontiguousarray(vector, dtype="<f4").tobytes()
    return {"encoder": encoder, "sha1": text_digest(text), "data": base64.b64encode(data).decode("ascii")}


def unpack(payload: Any, text: str) -> tuple[str, np.ndarray] | None:
    """The encoder name and vector of a :func:`pack` payload, if it is one and is ``text``'s; else None.

    Checked: the shape of the object, that the digest is ``text``'s, base64, a whole number of at most
    :data:`MAX_DIM` float32 values, all finite. The featurizer checks the length against its encoder.
    """
    if not isinstance(payload, dict):
        return None
    encoder, digest, data = payload.get("encoder"), payload.get("sha1"), payload.get("data")
    if not (isinstance(encoder, str) and 0 < len(encoder) <= 200) or not isinstance(digest, str):
        return None
    if not isinstance(data, str) or len(data) > 4 * MAX_DIM * 4 // 3 + 4 or digest != text_digest(text):
        return None
    try:
        raw = base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        return None
    if not raw or len(raw) % 4:
        return None
    vector = np.frombuffer(raw, dtype="<f4").astype(np.float32)
    if not np.isfinite(vector).all():
        return None
    return encoder, vector


class Offered:
    """The vectors handed in with the messages the Rasa server is processing, by (encoder, text).

    The channel offers a message's vector for as long as Rasa handles the message
    (:meth:`during`); the featurizer takes it (:meth:`take`). Two messages with the
    same text in flight share one entry (counted, dropped when the last one ends).
    """

    def __init__(self) -> None:
        self._vectors: dict[tuple[str, str], tuple[np.ndarray, int]] = {}
        self._lock = threading.Lock()
        #: vectors the featurizer took, and texts it had to encode itself
        self.taken = 0
        self.encoded = 0

    @contextmanager
    def during(self, encoder: str, text: str, vector: np.ndarray) -> Iterator[None]:
        """Offer ``vector`` as ``text``'s by ``encoder`` while the block runs."""
        key = (encoder, text)
        with self._lock:
            _, count = self._vectors.get(key, (vector, 0))
            self._vectors[key] = (vector, count + 1)
        try:
            yield
        finally:
            with self._lock:
                held, count = self._vectors[key]
                if count > 1:
                    self._vectors[key] = (held, count - 1)
                else:
                    del self._vectors[key]

    def take(self, encoder: str, text: str, dim: int) -> np.ndarray | None:
        """The vector offered for ``text`` by ``encoder`` if it has ``dim`` floats, else None."""
        with self._lock:
            entry = self._vectors.get((encoder, text))
        if entry is None or entry[0].shape != (dim,):
            return None
        return entry[0]

    def counts(self) -> dict[str, int]:
        """How many vectors were taken and how many texts encoded by the featurizer in this process."""
        return {"taken": self.taken, "encoded": self.encoded, "in_flight": len(self._vectors)}


#: the Rasa process's offered vectors (the channel offers, the featurizer takes)
OFFERED = Offered()


class _Waiting(NamedTuple):
    """A text waiting in a :class:`BatchEncoder`'s queue."""

    text: str
    future: asyncio.Future[np.ndarray | None]
    shared: bool


class BatchEncoder:
    """Encodes the texts asked for together in one batch, on the event loop.

    ``await encode(text)`` queues the text; the queue is encoded at a later turn
    of the loop, all of it at once (up to :data:`MAX_BATCH`): the loop turns
    (polling its I/O, so other messages get to ask) for as long as each turn
    brings more texts, at most ``max_wait_s``. While a batch is being encoded,
    the loop does nothing else, and the messages that arrive meanwhile make up
    the next batch: one message at a time under a trickle (one extra turn of the
    loop, no waiting), bigger batches, so less CPU per message, under load.
    ``on_batch`` (e.g. putting the vectors in Redis for the FAQ search; only those asked ``shared``) runs
    before the waiters get their vectors. A failure gives None, never an exception:
    the vector is an optimisation (the Rasa server then encodes the text itself).
    ``in_thread``: each batch is encoded in a worker thread, for a process whose event
    loop must not stop (the bot service, which acknowledges webhooks: its weights load
    on its first message and go when idle).
    """

    def __init__(
        self,
        encode: Callable[[list[str]], np.ndarray],
        on_batch: Callable[[list[str], np.ndarray], Awaitable[None]] | None = None,
        max_batch: int = MAX_BATCH,
        max_wait_s: float = MAX_WAIT_S,
        in_thread: bool = False,
    ) -> None:
        self._encode = encode
        self._in_thread = in_thread
        self._on_batch = on_batch
        self._max_batch = max_batch
        self._max_wait_s = max_wait_s
        self._queue: list[_Waiting] = []
        self._scheduled = False
        self._looked = 0  # texts waiting at the last look
        self._since = 0.0  # loop time of the first text of the batch being gathered
        self._tasks: set[asyncio.Task[None]] = set()
        #: batches encoded and the distinct texts in them
        self.batches = 0
        self.texts = 0

    async def encode(self, text: str, shared: bool = True) -> np.ndarray | None:
        """``text``'s vector, encoded with the others waiting now; None if encoding failed. ``shared``: the
        vector goes to ``on_batch`` with the batch's others (False: only to the caller)."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[np.ndarray | None] = loop.create_future()
        self._queue.append(_Waiting(text, future, shared))
        if not self._scheduled:
            self._scheduled, self._looked, self._since = True, 0, loop.time()
            loop.call_soon(self._flush)
        return await future

    def _flush(self) -> None:
        loop = asyncio.get_running_loop()
        waiting = len(self._queue)
        if self._looked < waiting < self._max_batch and loop.time() - self._since < self._max_wait_s:
            # more came since the last look: one more turn of the loop (its I/O polled), then look again
            self._looked = waiting
            loop.call_soon(self._flush)
            return
        batch, self._queue = self._queue[: self._max_batch], self._queue[self._max_batch :]
        self._looked, self._since = 0, loop.time()
        self._scheduled = bool(self._queue)
        if self._scheduled:
            loop.call_soon(self._flush)
        texts = list(dict.fromkeys(waiting.text for waiting in batch))  # a text asked twice is encoded once
        if self._in_thread:
            self._spawn(self._encoded_in_thread(texts, batch))
            return
        self._encoded(texts, batch, self._encode_or_none(texts))

    def _encode_or_none(self, texts: list[str]) -> np.ndarray | None:
        try:
            return self._encode(texts)
        except Exception as exc:  # noqa: BLE001 (any failure: the Rasa server encodes instead)
            log.warning("batch encoding failed: %s", type(exc).__name__)
            return None

    async def _encoded_in_thread(self, texts: list[str], batch: list[_Waiting]) -> None:
        self._encoded(texts, batch, await asyncio.to_thread(self._encode_or_none, texts))

    def _encoded(self, texts: list[str], batch: list[_Waiting], vectors: Any) -> None:
        self.batches += 1
        self.texts += len(texts)
        row = {text: i for i, text in enumerate(texts)}
        shared = list(dict.fromkeys(waiting.text for waiting in batch if waiting.shared))
        if vectors is not None and self._on_batch is not None and shared:
            self._spawn(self._after(shared, vectors[[row[t] for t in shared]], batch, vectors, row))
            return
        self._resolve(batch, vectors, row)

    def _spawn(self, step: Awaitable[None]) -> None:
        task = asyncio.ensure_future(step)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _after(
        self, texts: list[str], shared: np.ndarray, batch: list[_Waiting], vectors: np.ndarray, row: dict[str, int]
    ) -> None:
        assert self._on_batch is not None
        try:
            await self._on_batch(texts, shared)
        except Exception as exc:  # noqa: BLE001 (the waiters still get their vectors)
            log.warning("after-batch step failed: %s", type(exc).__name__)
        finally:
            self._resolve(batch, vectors, row)

    @staticmethod
    def _resolve(batch: list[_Waiting], vectors: np.ndarray | None, row: dict[str, int]) -> None:
        """Each waiter gets its text's row of ``vectors`` (``row``: text -> row)."""
        for text, future, _ in batch:
            if not future.done():  # a waiter cancelled meanwhile
                future.set_result(None if vectors is None else vectors[row[text]])


def featurizer_encoder(config_file: Path) -> str | None:
    """The encoder spec of the NLU's ``SentenceEncoderFeaturizer`` in a Rasa ``config.yml`` (None if none)."""
    import yaml

    try:
        config = yaml.safe_load(config_file.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError):
        return None
    for component in config.get("pipeline") or []:
        name = str((component or {}).get("name", ""))
        if name.rsplit(".", 1)[-1] == "SentenceEncoderFeaturizer":
            from bot.encoders.base import DEFAULT_ENCODER

            return str(component.get("encoder") or DEFAULT_ENCODER)
    return None


class MessageVectors:
    """The dispatcher's side: each message's vector for the Rasa server, batched (:class:`BatchEncoder`).

    Args:
        encoder: The NLU featurizer's encoder (the same spec as in ``config.yml``).
        on_batch: Puts a batch's vectors where the action server's FAQ search looks
            (``QueryVectors.aput``), before the messages go to Rasa.
        in_thread: Encode off the event loop (:class:`BatchEncoder`).
    """

    def __init__(
        self,
        encoder: Any,
        on_batch: Callable[[list[str], np.ndarray], Awaitable[None]] | None = None,
        in_thread: bool = False,
    ) -> None:
        self.encoder = encoder
        self.batcher = BatchEncoder(encoder.encode, on_batch, in_thread=in_thread)

    async def payload(self, text: str) -> dict[str, Any] | None:
        """The ``vector`` field for ``text`` (as Rasa featurizes it: stripped); None if empty or on a failure.

        A message of more than one sentence (``bot.nlu.handoff.clause_spans``), which the NLU also classifies
        sentence by sentence, carries its sentences' vectors too (``clauses``: a list of :func:`pack` payloads),
        encoded in the same batch; they are not shared with the FAQ search, which looks up whole messages.
        """
        stripped = text.strip()
        if not stripped:
            return None
        clauses = [stripped[start:end] for start, end in clause_spans(stripped)]
        vector, *parts = await asyncio.gather(
            self.batcher.encode(stripped), *(self.batcher.encode(c, shared=False) for c in clauses)
        )
        if vector is None:
            return None
        out: dict[str, Any] = pack(self.encoder.name, stripped, vector)
        packed = [pack(self.encoder.name, c, v) for c, v in zip(clauses, parts, strict=True) if v is not None]
        if packed:
            out[CLAUSE_VECTORS] = packed
        return out


def unpack_clauses(payload: Any, text: str) -> list[tuple[str, str, np.ndarray]]:
    """``(encoder, sentence, vector)`` of each sentence vector a :meth:`MessageVectors.payload` carries for
    ``text`` (checked as :func:`unpack` checks; a payload for another sentence is left out)."""
    packed = payload.get(CLAUSE_VECTORS) if isinstance(payload, dict) else None
    if not isinstance(packed, list):
        return []
    by_digest = {text_digest(text[start:end]): text[start:end] for start, end in clause_spans(text)}
    out = []
    for item in packed[: len(by_digest)]:
        clause = by_digest.get(str(item.get("sha1"))) if isinstance(item, dict) else None
        found = unpack(item, clause) if clause is not None else None
        if clause is not None and found is not None:
            out.append((found[0], clause, found[1]))
    return out
