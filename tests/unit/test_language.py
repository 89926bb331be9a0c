import pytest

from bot.language import detect_language


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
