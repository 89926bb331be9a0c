import pytest

from bot import language
from bot.language import detect_language, release_detector_if_idle


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("hi", "en"),
        ("where is my order KPK-10482", "en"),
        ("halo kak", "id"),
        ("brp ongkir ke medan?", "id"),
        ("pesanan saya belum sampai sudah seminggu", "id"),
        ("je veux parler à un conseiller", "fr"),
        ("merci", "fr"),
        ("livraison en france?", "fr"),
        ("спасибо", "ru"),
        ("где мой заказ KPK-10482?", "ru"),
        ("Здравствуйте, можно оплатить картой?", "ru"),
    ],
)
def test_detects_the_four_languages(text: str, expected: str) -> None:
    assert detect_language(text) == expected


@pytest.mark.parametrize("text", ["👍", "KPK-10482", "ok", "   ", "?!", "12345"])
def test_no_signal_gives_none(text: str) -> None:
    assert detect_language(text) is None


def test_only_supported_languages_are_returned() -> None:
    assert detect_language("где мой заказ?", supported=["en", "id"]) is None
    assert detect_language("je veux parler à un conseiller", supported=["en", "fr"]) == "fr"


def test_an_idle_detector_is_released_and_loads_again_with_the_same_answers() -> None:
    texts = ["Combien coûte la livraison à Lyon ?", "berapa lama pengiriman ke surabaya", "where is my order please"]
    before = [detect_language(t) for t in texts]
    assert language._detector.cache_info().currsize == 1
    assert release_detector_if_idle(3600) is False  # just used
    assert release_detector_if_idle(0) is True
    assert language._detector.cache_info().currsize == 0
    assert release_detector_if_idle(0) is False  # nothing left to release
    assert [detect_language(t) for t in texts] == before == ["fr", "id", "en"]
    assert language._detector.cache_info().currsize == 1
