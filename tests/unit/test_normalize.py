"""Query normalisation: chat abbreviations written out, accents folded."""

from bot.faq.normalize import expand, fold
from bot.faq.terms import terms


def test_expand_writes_out_chat_abbreviations_and_keeps_other_words() -> None:
    assert expand("kak brp ongkir ke Medan? gmn caranya") == "kak berapa ongkos kirim ke Medan? gimana caranya"
    assert expand("ça met cmb de temps") == "ça met combien de temps"
    assert expand("скок стоит доставка") == "сколько стоит доставка"
    assert expand("kira2 sampe kapan") == "kira-kira sampai kapan"
    # words that are also plain words in another demo language are left alone
    assert expand("min order 2 bags, c'est pr Bali") == "min order 2 bags, c'est pr Bali"
    assert expand("KPK-10482 udh dibayar") == "KPK-10482 sudah dibayar"
    assert expand("u ship to jogja? plz") == "you ship to jogja? please"
    assert expand("r ur beans organic") == "are your beans organic"
    assert expand("which bag shd i get b4 my bday") == "which bag should i get before my birthday"
    assert expand("спс, а скидос есть? плз") == "спасибо, а скидка есть? пожалуйста"
    assert expand("skrg bisa pake ovo?") == "sekarang bisa pakai ovo?"
    assert expand("c dispo stp ?") == "c disponible s'il te plaît ?"
    # "dont" is a French word, "trs" is French for "très": left alone
    assert expand("le colis dont je parle, trs urgent") == "le colis dont je parle, trs urgent"


def test_fold_strips_accents_so_hurried_spelling_matches() -> None:
    assert fold("Résilier l'abonnement") == fold("resilier l'abonnement") == "resilier l'abonnement"
    assert fold("ЕЩЁ") == "еще"
    assert terms("je congèle mes grains") == terms("je congele mes grains")
