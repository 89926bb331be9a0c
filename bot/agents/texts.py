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


def resolved_message(language: str | None, default_language: str = "en") -> str:
    """The "conversation closed, the bot is back" message in ``language`` (or the default)."""
    return RESOLVED.get(language or "", RESOLVED.get(default_language, RESOLVED["en"]))
