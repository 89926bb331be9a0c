"""Messages the workspace sends to customers on its own, per language."""

from __future__ import annotations

RESOLVED: dict[str, str] = {
    "en": "Our team has closed this conversation. If you need anything else, just write here: "
    "our assistant will help you.",
    "id": "Tim kami sudah menutup percakapan ini. Kalau butuh bantuan lain, tulis saja di sini ya, "
    "asisten kami siap membantu.",
    "fr": "Notre équipe a clôturé cette conversation. Si vous avez besoin d'autre chose, écrivez-nous ici : "
    "notre assistant vous aidera.",
    "ru": "Наша команда завершила этот разговор. Если понадобится что-то ещё, просто напишите сюда — "
    "наш ассистент поможет.",
}


#: sent when a ticket is closed automatically after an agent's reply went unanswered (bot/agents/idle.py)
IDLE_CLOSED: dict[str, str] = {
    "en": "We haven't heard back from you for a while, so we've closed this conversation. If you still need "
    "help, just write here: our assistant will help you, and a person is a message away.",
    "id": "Karena sudah beberapa waktu belum ada balasan, percakapan ini kami tutup ya. Kalau masih butuh bantuan, "
    "tulis saja di sini: asisten kami siap membantu, dan tim kami juga bisa dihubungi lagi.",
    "fr": "Sans nouvelles de votre part depuis un moment, nous avons clôturé cette conversation. Si vous avez "
    "encore besoin d'aide, écrivez-nous ici : notre assistant vous aidera, et une personne reste joignable.",
    "ru": "Мы давно не получали от вас ответа, поэтому закрыли этот разговор. Если помощь ещё нужна, просто "
    "напишите сюда — наш ассистент поможет, а при необходимости подключится сотрудник.",
}


def _in(texts: dict[str, str], language: str | None, default_language: str) -> str:
    return texts.get(language or "", texts.get(default_language, texts["en"]))


def resolved_message(language: str | None, default_language: str = "en") -> str:
    """The "conversation closed, the bot is back" message in ``language`` (or the default)."""
    return _in(RESOLVED, language, default_language)


def idle_closed_message(language: str | None, default_language: str = "en") -> str:
    """The "closed for lack of an answer" message in ``language`` (or the default)."""
    return _in(IDLE_CLOSED, language, default_language)
