"""Message vectors shared by the NLU and the FAQ search (bot/faq/query_vectors.py), over a real Redis."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
from redis import Redis

from bot.faq.normalize import expand
from bot.faq.query_vectors import QueryVectors, text_digest
from bot.keys import Keys
from bot.processes import blas_env, cpu_flags, openblas_coretype
from bot.stack import ROOT
from tests.conftest import TEST_REDIS_URL
from tests.unit.test_kb import make_kb

TEXT = "brp lama pengiriman ke balikpapan?"  # normalisation changes it ("brp" -> "berapa")


def test_put_and_get_by_encoder_and_exact_text(redis: Redis, keys: Keys) -> None:
    shared = QueryVectors(redis, keys, ttl_s=30)
    vectors = np.arange(8, dtype=np.float32).reshape(2, 4)
    shared.put("enc", ["hello", "bye"], vectors)
    assert np.array_equal(shared.get("enc", "bye", 4), vectors[1])  # type: ignore[arg-type]
    assert shared.get("enc", "hello ", 4) is None  # another text
    assert shared.get("other", "hello", 4) is None  # another encoder
    assert shared.get("enc", "hello", 8) is None  # another dimension: not used
    assert 0 < redis.ttl(keys.query_embedding("enc", text_digest("hello"))) <= 30


def test_the_search_reuses_the_shared_vector_and_scores_as_if_it_encoded(
    redis: Redis, keys: Keys, faq_file: Path
) -> None:
    kb = make_kb(redis, keys)
    kb.seed_from_file(faq_file)
    kb.refresh()
    encoder = kb.index.encoders[0]
    query = expand(TEXT)
    alone = kb.search(TEXT)
    assert kb.index.query_vectors_encoded == 1 and kb.index.query_vectors_reused == 0
    # what the NLU puts: the vector of the text it encoded (here the normalised one the search asks for)
    QueryVectors(redis, keys).put(encoder.name, [query], encoder.encode([query]))
    shared = kb.search(TEXT)
    assert kb.index.query_vectors_reused == 1 and kb.index.query_vectors_encoded == 1
    assert shared == alone
    assert [c.components for c in shared] == [c.components for c in alone]


def test_a_vector_of_another_text_is_not_used(redis: Redis, keys: Keys, faq_file: Path) -> None:
    kb = make_kb(redis, keys)
    kb.seed_from_file(faq_file)
    kb.refresh()
    encoder = kb.index.encoders[0]
    # the NLU encodes the raw message; the search normalises it first, so the raw vector is not its own
    QueryVectors(redis, keys).put(encoder.name, [TEXT], encoder.encode(["completely different words"]))
    kb.search(TEXT)
    assert kb.index.query_vectors_reused == 0 and kb.index.query_vectors_encoded == 1


def test_the_nlu_featurizer_puts_the_vector_the_search_finds(redis: Redis, keys: Keys, faq_file: Path) -> None:
    text = "how long does delivery to Balikpapan take?"  # normalisation leaves it as it is
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "REDIS_URL": TEST_REDIS_URL,
        "DMDESK_REDIS_PREFIX": keys.prefix,
        "TF_CPP_MIN_LOG_LEVEL": "2",
    }
    argv = [str(ROOT / ".venv-rasa" / "bin" / "python"), "-m", "tests.rasa_env.check_featurizer_shares", text]
    done = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0 and done.stdout.strip().endswith("ok"), done.stderr[-3000:]
    kb = make_kb(redis, keys)  # the action server's side: the search uses that vector, encodes nothing
    kb.seed_from_file(faq_file)
    kb.refresh()
    kb.search(text)
    assert kb.index.query_vectors_reused == 1 and kb.index.query_vectors_encoded == 0


def _encode_in(python: Path, texts_file: Path, out: Path, env: dict[str, str]) -> str:
    argv = [str(python), "-m", "tests.rasa_env.encode", str(texts_file), str(out)]
    done = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0 and done.stdout.strip().endswith("ok"), done.stderr[-3000:]
    return done.stdout.splitlines()[0]


def test_both_environments_encode_bit_identically_with_the_stacks_blas_settings(tmp_path: Path) -> None:
    """What the search relies on when it takes the NLU's vector: the same vector it would compute."""
    import yaml

    queries = yaml.safe_load((ROOT / "eval" / "dev.yml").read_text(encoding="utf-8"))["queries"]
    texts = [" ".join(q["text"].split()) for q in queries[::3]]
    texts_file = tmp_path / "texts.txt"
    texts_file.write_text("\n".join(t for t in texts if t), encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "2", **blas_env()}
    kernels = {
        name: _encode_in(python, texts_file, tmp_path / f"{name}.npy", env)
        for name, python in (("rasa", ROOT / ".venv-rasa" / "bin" / "python"), ("app", Path(sys.executable)))
    }
    rasa, app = np.load(tmp_path / "rasa.npy"), np.load(tmp_path / "app.npy")
    assert rasa.shape == app.shape and rasa.shape[0] >= 150
    assert np.array_equal(rasa, app), (kernels, float(np.abs(rasa - app).max()))


def test_openblas_kernels_follow_the_cpu_features(tmp_path: Path) -> None:
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("processor\t: 0\nflags\t\t: fpu sse3 avx avx2 fma\nprocessor\t: 1\nflags\t\t: fpu\n")
    assert cpu_flags(cpuinfo) == {"fpu", "sse3", "avx", "avx2", "fma"}
    assert cpu_flags(tmp_path / "missing") == frozenset()
    avx512 = {"avx2", "fma", "avx512f", "avx512cd", "avx512bw", "avx512dq", "avx512vl"}
    assert openblas_coretype(frozenset(avx512)) == "SkylakeX"
    assert openblas_coretype(frozenset(avx512 - {"avx512vl"})) == "Haswell"
    assert openblas_coretype(frozenset({"avx2"})) is None  # no FMA: OpenBLAS chooses
    assert openblas_coretype(frozenset()) is None
