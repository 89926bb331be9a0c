"""Meta webhook payloads (Messenger ``object: page``, Instagram ``object: instagram``).

``parse_delivery`` turns one signed delivery into flat, channel-independent
``MetaEvent`` records: every entry, every event of ``messaging`` and
``standby``, and ``changes``-shaped events (the dashboard's test button).
Shapes it does not know become ``EventKind.UNKNOWN`` and are only logged.
"""

from __future__ import annotations

import hashlib
from enum import Enum
from typing import Any

from pydantic import BaseModel, Field

from bot.messages import Channel

OBJECT_CHANNEL = {"page": Channel.MESSENGER, "instagram": Channel.INSTAGRAM}

#: Meta's thumbs-up "like" sticker ids (small, medium, large)
LIKE_STICKERS = {"369239263222822", "369239343222814", "369239383222810"}

CHANGE_FIELDS = {
    "messages",
    "messaging_postbacks",
    "message_reactions",
    "messaging_seen",
    "message_reads",
    "message_deliveries",
    "messaging_referral",
    "message_echoes",
    "standby",
}


class EventKind(str, Enum):
    """What a webhook event is."""

    TEXT = "text"
    QUICK_REPLY = "quick_reply"
    POSTBACK = "postback"
    ATTACHMENT = "attachment"
    ECHO = "echo"
    DELETED = "deleted"
    STORY_MENTION = "story_mention"
    REACTION = "reaction"
    READ = "read"
    DELIVERY = "delivery"
    REFERRAL = "referral"
    UNKNOWN = "unknown"


#: kinds that are customer messages for the dispatcher (NLU, or the ticket while a human owns the chat)
MESSAGE_KINDS = {EventKind.TEXT, EventKind.QUICK_REPLY, EventKind.POSTBACK, EventKind.ATTACHMENT}


class MetaEvent(BaseModel):
    """One event of a webhook delivery, flattened."""

    channel: Channel
    kind: EventKind
    account_id: str = Field(description="Page id or Instagram account id.")
    customer_id: str = Field(description="PSID / IGSID of the customer (the recipient of an echo).")
    timestamp: float = Field(description="Seconds since the epoch.")
    mid: str | None = None
    text: str | None = None
    payload: str | None = None
    title: str | None = None
    attachments: list[dict[str, Any]] = Field(default_factory=list)
    app_id: str | None = None
    reply_to: dict[str, Any] | None = None
    referral: dict[str, Any] | None = None
    detail: dict[str, Any] = Field(default_factory=dict, description="reaction, watermark, mids ...")
    standby: bool = False

    @property
    def conversation_id(self) -> str:
        """Same key as ``InboundMessage.conversation_id``."""
        return f"{self.channel.value}:{self.customer_id}"

    @property
    def event_id(self) -> str:
        """Stable id for de-duplication: the mid where Meta gives one, else derived from the content."""
        if self.mid and self.kind in MESSAGE_KINDS | {EventKind.ECHO, EventKind.STORY_MENTION}:
            return self.mid
        basis = f"{self.kind.value}|{self.customer_id}|{self.timestamp}|{self.mid}|{self.payload}|{self.detail}"
        return f"{self.kind.value}.{hashlib.sha1(basis.encode()).hexdigest()[:20]}"


class MalformedDeliveryError(ValueError):
    """The body is JSON but not a webhook delivery (no ``object`` / ``entry``)."""


def _str(value: Any) -> str | None:
    return None if value is None else str(value)


def _ts(value: Any, fallback: Any = None) -> float:
    raw = value if isinstance(value, (int, float)) else fallback
    if not isinstance(raw, (int, float)):
        return 0.0
    return raw / 1000 if raw > 10**11 else float(raw)  # Meta sends milliseconds; some test events seconds


def parse_event(channel: Channel, raw: dict[str, Any], entry_id: str, entry_time: Any, standby: bool) -> MetaEvent:
    """One element of ``messaging`` / ``standby`` (or a change's ``value``)."""
    sender = _str((raw.get("sender") or {}).get("id")) or ""
    recipient = _str((raw.get("recipient") or {}).get("id")) or ""
    base: dict[str, Any] = {
        "channel": channel,
        "account_id": recipient or entry_id,
        "customer_id": sender,
        "timestamp": _ts(raw.get("timestamp"), entry_time),
        "standby": standby,
        "kind": EventKind.UNKNOWN,
    }
    message = raw.get("message")
    if isinstance(message, dict):
        base.update(mid=_str(message.get("mid")), text=message.get("text"), referral=message.get("referral"))
        attachments = [a for a in message.get("attachments") or [] if isinstance(a, dict)]
        base["attachments"] = attachments
        reply_to = message.get("reply_to")
        base["reply_to"] = reply_to if isinstance(reply_to, dict) else None
        if message.get("is_echo"):
            base.update(kind=EventKind.ECHO, account_id=sender or entry_id, customer_id=recipient)
            base["app_id"] = _str(message.get("app_id"))
        elif message.get("is_deleted"):
            base["kind"] = EventKind.DELETED
        elif isinstance(message.get("quick_reply"), dict):
            base.update(kind=EventKind.QUICK_REPLY, payload=_str(message["quick_reply"].get("payload")))
        elif any(a.get("type") == "story_mention" for a in attachments):
            base["kind"] = EventKind.STORY_MENTION
        elif attachments:
            base["kind"] = EventKind.ATTACHMENT
        elif isinstance(message.get("text"), str):
            base["kind"] = EventKind.TEXT
        return MetaEvent.model_validate(base)
    postback = raw.get("postback")
    if isinstance(postback, dict):
        base.update(
            kind=EventKind.POSTBACK,
            mid=_str(postback.get("mid")),
            payload=_str(postback.get("payload")),
            title=_str(postback.get("title")),
            referral=postback.get("referral"),
        )
        return MetaEvent.model_validate(base)
    if isinstance(raw.get("reaction"), dict):
        r = raw["reaction"]
        base.update(kind=EventKind.REACTION, mid=_str(r.get("mid")), detail={k: r.get(k) for k in r})
    elif isinstance(raw.get("read"), dict):
        r = raw["read"]
        base.update(kind=EventKind.READ, mid=_str(r.get("mid")), detail={"watermark": r.get("watermark")})
    elif isinstance(raw.get("delivery"), dict):
        d = raw["delivery"]
        base.update(kind=EventKind.DELIVERY, detail={"watermark": d.get("watermark"), "mids": d.get("mids") or []})
    elif isinstance(raw.get("referral"), dict):
        base.update(kind=EventKind.REFERRAL, referral=raw["referral"])
    else:
        base["detail"] = {"keys": sorted(raw)[:10]}
    return MetaEvent.model_validate(base)


def parse_delivery(body: Any) -> list[MetaEvent]:
    """Every event of one webhook delivery, in the order Meta sent them.

    Raises:
        MalformedDeliveryError: Not a webhook delivery at all.
    """
    if not isinstance(body, dict) or not isinstance(body.get("entry"), list):
        raise MalformedDeliveryError("expected an object with an 'entry' list")
    channel = OBJECT_CHANNEL.get(str(body.get("object")))
    if channel is None:
        return []
    events: list[MetaEvent] = []
    for entry in body["entry"]:
        if not isinstance(entry, dict):
            continue
        entry_id, entry_time = str(entry.get("id") or ""), entry.get("time")
        for key, standby in (("messaging", False), ("standby", True)):
            for raw in entry.get(key) or []:
                if isinstance(raw, dict):
                    events.append(parse_event(channel, raw, entry_id, entry_time, standby))
        for change in entry.get("changes") or []:
            if isinstance(change, dict) and isinstance(change.get("value"), dict):
                field = str(change.get("field"))
                event = parse_event(channel, change["value"], entry_id, entry_time, field == "standby")
                if field not in CHANGE_FIELDS:
                    event.kind = EventKind.UNKNOWN
                events.append(event)
    return events


def inbound_text(event: MetaEvent) -> tuple[str, str]:
    """What the dispatcher gets for a customer message, and what a person reads in the transcript.

    Quick replies and postbacks send their payload (the bot's own intents);
    a like sticker is a thumbs-up; a photo, voice note, video, file or
    location goes to a person (``/request_human``): the bot reads text only.
    """
    if event.kind in (EventKind.QUICK_REPLY, EventKind.POSTBACK):
        payload = event.payload or event.text or event.title or ""
        return payload, event.title or event.text or payload
    if event.kind == EventKind.ATTACHMENT:
        stickers = [str((a.get("payload") or {}).get("sticker_id")) for a in event.attachments]
        if event.text and event.text.strip():
            shown = event.text + "".join(f" [{a.get('type')}]" for a in event.attachments)
            return event.text, shown
        if any(s in LIKE_STICKERS for s in stickers):
            return "👍", "👍"
        described = ", ".join(_describe(a) for a in event.attachments)
        return "/request_human", f"[{described}]"
    return event.text or "", event.text or ""


def is_like(event: MetaEvent) -> bool:
    """A thumbs-up sticker with no text."""
    if event.kind != EventKind.ATTACHMENT or (event.text or "").strip():
        return False
    return any(str((a.get("payload") or {}).get("sticker_id")) in LIKE_STICKERS for a in event.attachments)


def _describe(attachment: dict[str, Any]) -> str:
    kind = str(attachment.get("type") or "attachment")
    payload = attachment.get("payload") or {}
    if kind == "location" and isinstance(payload.get("coordinates"), dict):
        c = payload["coordinates"]
        return f"location {c.get('lat')},{c.get('long')}"
    url = payload.get("url") if isinstance(payload, dict) else None
    return f"{kind} {url}" if url else kind
