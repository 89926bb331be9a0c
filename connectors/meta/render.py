"""Render dmdesk replies as Send API ``message`` objects, within each platform's limits.

Messenger: text up to 2000 characters; up to 3 buttons as a button template
(text up to 640), more as quick replies. Instagram: text up to 1000
characters; choices as quick replies. Quick replies: at most 13, titles at
most 20 characters. Long answers are split at sentence boundaries; the
choices go with the last part.
"""

from __future__ import annotations

import re
from typing import Any

from bot.messages import Button, Channel, OutboundMessage

TEXT_LIMIT = {Channel.MESSENGER: 2000, Channel.INSTAGRAM: 1000}
BUTTON_TEMPLATE_TEXT_LIMIT = 640
MAX_TEMPLATE_BUTTONS = 3
MAX_QUICK_REPLIES = 13
TITLE_LIMIT = 20
PAYLOAD_LIMIT = 1000

_SENTENCE_END = re.compile(r"(?<=[.!?。！？…])\s+|\n+")


def shorten(title: str, limit: int = TITLE_LIMIT) -> str:
    """A title cut to ``limit`` characters, with an ellipsis when cut."""
    title = " ".join(title.split())
    return title if len(title) <= limit else title[: limit - 1].rstrip() + "…"


def split_text(text: str, limit: int) -> list[str]:
    """Split at sentence boundaries into parts of at most ``limit`` characters.

    A sentence longer than the limit is split at the last space (or hard) before it.
    """
    text = text.strip()
    if len(text) <= limit:
        return [text] if text else []
    sentences = [s for s in _SENTENCE_END.split(text) if s.strip()]
    parts: list[str] = []
    current = ""
    for sentence in sentences:
        while len(sentence) > limit:
            cut = sentence.rfind(" ", 0, limit + 1)
            cut = cut if cut > limit // 2 else limit
            head, sentence = sentence[:cut].rstrip(), sentence[cut:].lstrip()
            if current:
                parts.append(current)
                current = ""
            parts.append(head)
        candidate = f"{current} {sentence}" if current else sentence
        if len(candidate) <= limit:
            current = candidate
        else:
            parts.append(current)
            current = sentence
    if current:
        parts.append(current)
    return parts


def _quick_replies(buttons: list[Button]) -> list[dict[str, Any]]:
    return [
        {"content_type": "text", "title": shorten(b.title), "payload": b.payload[:PAYLOAD_LIMIT]}
        for b in buttons[:MAX_QUICK_REPLIES]
    ]


def render(reply: OutboundMessage, channel: Channel) -> list[dict[str, Any]]:
    """The Send API ``message`` objects for one reply, in sending order (may be empty)."""
    limit = TEXT_LIMIT.get(channel, 1000)
    parts = split_text(reply.text or "", limit)
    buttons = reply.buttons
    if not buttons:
        return [{"text": p} for p in parts]
    if not parts:
        parts = ["…"]
    messages: list[dict[str, Any]] = [{"text": p} for p in parts[:-1]]
    last = parts[-1]
    if (
        channel == Channel.MESSENGER
        and len(buttons) <= MAX_TEMPLATE_BUTTONS
        and len(last) <= BUTTON_TEMPLATE_TEXT_LIMIT
    ):
        template_buttons = [
            {"type": "postback", "title": shorten(b.title), "payload": b.payload[:PAYLOAD_LIMIT]} for b in buttons
        ]
        messages.append(
            {
                "attachment": {
                    "type": "template",
                    "payload": {"template_type": "button", "text": last, "buttons": template_buttons},
                }
            }
        )
    else:
        messages.append({"text": last, "quick_replies": _quick_replies(buttons)})
    return messages


def plain_text(message: dict[str, Any]) -> str:
    """The text a person sees in a rendered message (for logs and transcripts)."""
    if "text" in message:
        return str(message["text"])
    payload = (message.get("attachment") or {}).get("payload") or {}
    return str(payload.get("text") or "")
