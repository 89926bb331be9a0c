"""Webhook deliveries shaped like Meta's documented examples, signed, for tests and ``dmdesk simulate``.

Every builder returns one messaging event (the element of ``entry[].messaging``);
``delivery`` wraps events into the body Meta posts; ``post`` signs and sends it.
"""

from __future__ import annotations

import itertools
import json
import time
import uuid
from typing import Any

import httpx

from connectors.meta.signature import sign

DEMO_PAGE = "100000000000001"
DEMO_INSTAGRAM = "17800000000000001"
INBOX_APP_ID = "263902037430900"  # the app id Meta's own Page inbox uses on echoes

_seq = itertools.count(1)


def now_ms() -> int:
    """Meta timestamps are milliseconds."""
    return int(time.time() * 1000)


def new_mid() -> str:
    """A message id in Meta's style."""
    return f"m_{uuid.uuid4().hex}"


def _event(customer: str, account: str, ts: int | None, **body: Any) -> dict[str, Any]:
    return {"sender": {"id": customer}, "recipient": {"id": account}, "timestamp": ts or now_ms(), **body}


def text(customer: str, account: str, value: str, mid: str | None = None, ts: int | None = None) -> dict[str, Any]:
    """A text message."""
    return _event(customer, account, ts, message={"mid": mid or new_mid(), "text": value})


def quick_reply(customer: str, account: str, title: str, payload: str, mid: str | None = None) -> dict[str, Any]:
    """A tapped quick reply (text is the title, payload what we set)."""
    return _event(
        customer, account, None, message={"mid": mid or new_mid(), "text": title, "quick_reply": {"payload": payload}}
    )


def postback(customer: str, account: str, title: str, payload: str, mid: str | None = None) -> dict[str, Any]:
    """A tapped button (postback), with the newer ``mid`` field."""
    return _event(customer, account, None, postback={"mid": mid or new_mid(), "title": title, "payload": payload})


def attachment(customer: str, account: str, kind: str, mid: str | None = None, **payload: Any) -> dict[str, Any]:
    """image, audio, video, file (payload url), location (coordinates), sticker (sticker_id)."""
    if kind == "location":
        payload = {"coordinates": {"lat": payload.get("lat", -6.9147), "long": payload.get("long", 107.6098)}}
    elif not payload:
        payload = {"url": f"https://scontent.example/{kind}/{uuid.uuid4().hex[:8]}"}
    return _event(
        customer, account, None, message={"mid": mid or new_mid(), "attachments": [{"type": kind, "payload": payload}]}
    )


def like(customer: str, account: str, mid: str | None = None) -> dict[str, Any]:
    """The thumbs-up sticker."""
    return attachment(
        customer, account, "image", mid, url="https://scontent.example/like.png", sticker_id=369239263222822
    )


def echo(customer: str, account: str, value: str, app_id: str, mid: str | None = None) -> dict[str, Any]:
    """An echo of a message the page sent (``app_id``: which app sent it)."""
    return _event(
        account, customer, None, message={"mid": mid or new_mid(), "is_echo": True, "app_id": app_id, "text": value}
    )


def story_reply(customer: str, account: str, value: str, mid: str | None = None) -> dict[str, Any]:
    """Instagram: a reply to the account's story."""
    story = {"url": "https://lookaside.example/story.jpg", "id": "17900000000000001"}
    return _event(
        customer, account, None, message={"mid": mid or new_mid(), "text": value, "reply_to": {"story": story}}
    )


def story_mention(customer: str, account: str, mid: str | None = None) -> dict[str, Any]:
    """Instagram: the customer mentioned the account in their story."""
    attachments = [{"type": "story_mention", "payload": {"url": "https://lookaside.example/mention.jpg"}}]
    return _event(customer, account, None, message={"mid": mid or new_mid(), "attachments": attachments})


def unsent(customer: str, account: str, mid: str) -> dict[str, Any]:
    """Instagram: the customer unsent message ``mid``."""
    return _event(customer, account, None, message={"mid": mid, "is_deleted": True})


def reaction(customer: str, account: str, mid: str, emoji: str = "❤️") -> dict[str, Any]:
    """A reaction to one of our messages."""
    return _event(customer, account, None, reaction={"mid": mid, "action": "react", "reaction": "love", "emoji": emoji})


def read(customer: str, account: str, watermark: int | None = None) -> dict[str, Any]:
    """A read receipt."""
    return _event(customer, account, None, read={"watermark": watermark or now_ms()})


def delivery_receipt(customer: str, account: str, mids: list[str]) -> dict[str, Any]:
    """A delivery receipt."""
    return _event(customer, account, None, delivery={"mids": mids, "watermark": now_ms()})


def referral(customer: str, account: str, ref: str = "summer_sale") -> dict[str, Any]:
    """An m.me link or ad referral on an existing conversation."""
    return _event(customer, account, None, referral={"ref": ref, "source": "SHORTLINK", "type": "OPEN_THREAD"})


def delivery(
    obj: str,
    account: str,
    events: list[dict[str, Any]],
    standby: list[dict[str, Any]] | None = None,
    per_entry: int = 0,
) -> dict[str, Any]:
    """The POST body: ``object`` page or instagram; events split over entries of ``per_entry`` (0: one entry)."""
    chunks = [events[i : i + per_entry] for i in range(0, len(events), per_entry)] if per_entry else [events]
    entries: list[dict[str, Any]] = [{"id": account, "time": now_ms(), "messaging": chunk} for chunk in chunks]
    if standby:
        entries.append({"id": account, "time": now_ms(), "standby": standby})
    return {"object": obj, "entry": entries}


def changes_test_event(account: str, customer: str, value: str) -> dict[str, Any]:
    """The ``changes``-shaped sample the app dashboard's "Test" button posts (Instagram messages field)."""
    message = {"mid": new_mid(), "text": value}
    change = {
        "field": "messages",
        "value": {
            "sender": {"id": customer},
            "recipient": {"id": account},
            "timestamp": str(now_ms()),
            "message": message,
        },
    }
    return {"object": "instagram", "entry": [{"id": account, "time": now_ms(), "changes": [change]}]}


def signed(body: dict[str, Any] | bytes, secret: str) -> tuple[bytes, dict[str, str]]:
    """Raw bytes and headers for a delivery."""
    raw = body if isinstance(body, bytes) else json.dumps(body, ensure_ascii=False).encode()
    return raw, {"Content-Type": "application/json", "X-Hub-Signature-256": sign(raw, secret)}


def post(client: httpx.Client, channel: str, body: dict[str, Any] | bytes, secret: str) -> httpx.Response:
    """Sign and post one delivery to ``/webhooks/{channel}``."""
    raw, headers = signed(body, secret)
    return client.post(f"/webhooks/{channel}", content=raw, headers=headers)


def tour(customer: str, ig_customer: str, our_app_id: str) -> list[tuple[str, str, dict[str, Any]]]:
    """One delivery of every kind, in an order that makes a sensible conversation: (label, channel, body)."""
    p, ig = DEMO_PAGE, DEMO_INSTAGRAM
    first = new_mid()
    return [
        ("referral (m.me link)", "messenger", delivery("page", p, [referral(customer, p)])),
        ("text", "messenger", delivery("page", p, [text(customer, p, "hi, how can I track my order?", first)])),
        ("same delivery again (Meta retry)", "messenger", delivery("page", p, [text(customer, p, "hi", first)])),
        ("quick reply", "messenger", delivery("page", p, [quick_reply(customer, p, "Delivery time", "/greet")])),
        ("postback", "messenger", delivery("page", p, [postback(customer, p, "Get started", "/greet")])),
        ("like sticker (recorded, not answered)", "messenger", delivery("page", p, [like(customer, p)])),
        ("read receipt", "messenger", delivery("page", p, [read(customer, p)])),
        ("delivery receipt", "messenger", delivery("page", p, [delivery_receipt(customer, p, [first])])),
        ("reaction", "messenger", delivery("page", p, [reaction(customer, p, first)])),
        ("echo of our own send", "messenger", delivery("page", p, [echo(customer, p, "(bot)", our_app_id)])),
        ("story reply", "instagram", delivery("instagram", ig, [story_reply(ig_customer, ig, "love this blend!")])),
        ("story mention", "instagram", delivery("instagram", ig, [story_mention(ig_customer, ig)])),
        ("dashboard test event (changes)", "instagram", changes_test_event(ig, ig_customer, "hello from the test")),
        ("image (goes to a person)", "instagram", delivery("instagram", ig, [attachment(ig_customer, ig, "image")])),
        ("unsent message", "instagram", delivery("instagram", ig, [unsent(ig_customer, ig, first)])),
        ("location", "messenger", delivery("page", p, [attachment(f"{customer}9", p, "location")])),
        (
            "a person answers in Meta's inbox",
            "messenger",
            delivery("page", p, [echo(customer, p, "Hi, Sari here!", INBOX_APP_ID)]),
        ),
        ("customer writes (bot silent)", "messenger", delivery("page", p, [text(customer, p, "thanks Sari")])),
        (
            "standby (another app owns the thread)",
            "messenger",
            delivery("page", p, [], standby=[text(f"{customer}8", p, "hello?")]),
        ),
    ]
