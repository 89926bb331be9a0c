"""HTTP client for the Rasa server's ``dmdesk`` input channel (connectors/rasa_channel.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx

from bot.errors import UpstreamError, UpstreamUnavailable
from bot.http import HttpConnectError, HttpError, HttpPool
from bot.messages import Button, OutboundMessage
from bot.retrain.endpoint import RasaEndpoints


def fold_replies(raw: list[dict[str, Any]]) -> list[OutboundMessage]:
    """Turn Rasa REST replies into outbound messages.

    Rasa's REST channel emits a message's ``custom`` data as a separate item
    right after its text; it is folded into the message it belongs to.
    """
    out: list[OutboundMessage] = []
    for item in raw:
        custom = item.get("custom") if isinstance(item.get("custom"), dict) else None
        meta = (custom or {}).get("dmdesk") if custom else None
        if item.get("text") is None and not item.get("buttons") and meta is not None:
            if out and not out[-1].meta:
                out[-1].meta = meta
            else:
                out.append(OutboundMessage(meta=meta))
            continue
        buttons = [
            Button(title=str(b.get("title", "")), payload=str(b.get("payload", ""))) for b in item.get("buttons") or []
        ]
        out.append(OutboundMessage(text=item.get("text"), buttons=buttons, meta=meta or {}))
    return out


class RasaClient:
    """Sends customer messages to Rasa and returns the bot's replies.

    With ``endpoints``, each request goes to the URL the NLU supervisor
    published (it changes when a new model is swapped in); else to ``base_url``.
    """

    def __init__(
        self, base_url: str, timeout_s: float = 30.0, channel_token: str = "", endpoints: RasaEndpoints | None = None
    ) -> None:
        headers = {"X-Dmdesk-Token": channel_token} if channel_token else {}
        self._base_url = base_url.rstrip("/")
        self.endpoints = endpoints
        self._http = httpx.AsyncClient(
            headers=headers,
            timeout=timeout_s,
            limits=httpx.Limits(max_connections=64, max_keepalive_connections=32),
        )
        # the hot path (one request per customer message): bot.http, a fraction of httpx's CPU per request
        self._messages = HttpPool(timeout_s=timeout_s, headers=headers, max_idle=32)

    @asynccontextmanager
    async def _base(self) -> AsyncIterator[str]:
        if self.endpoints is None:
            yield self._base_url
            return
        async with self.endpoints.use() as url:
            yield url

    async def send(
        self, conversation_id: str, text: str, metadata: dict[str, Any], vector: dict[str, Any] | None = None
    ) -> list[OutboundMessage]:
        """Post one message; returns the bot's replies (empty while paused).

        ``vector``: the text's sentence vector for the NLU (``bot.nlu.vectors.MessageVectors.payload``).

        Raises:
            UpstreamUnavailable: Rasa refused the connection (nothing was processed).
            UpstreamError: Rasa timed out or answered with an error.
        """
        body: dict[str, Any] = {"sender": conversation_id, "message": text, "metadata": metadata}
        if vector is not None:
            body["vector"] = vector
        async with self._base() as base:
            try:
                response = await self._messages.request("POST", f"{base}/webhooks/dmdesk/webhook", json_body=body)
            except HttpConnectError as exc:
                raise UpstreamUnavailable("rasa not listening", error=type(exc).__name__) from exc
            except HttpError as exc:
                raise UpstreamError("rasa unreachable", error=type(exc).__name__) from exc
        if response.status_code != 200:
            raise UpstreamError("rasa error", status=response.status_code)
        data = response.json()
        messages = data.get("messages") if isinstance(data, dict) else None
        return fold_replies(messages if isinstance(messages, list) else [])

    async def ready(self) -> bool:
        """True if the Rasa server answers (it listens only once its model is loaded)."""
        async with self._base() as base:
            try:
                response = await self._http.get(f"{base}/webhooks/dmdesk/")
            except httpx.HTTPError:
                return False
        return response.status_code == 200

    async def control(self, conversation_id: str, op: str, text: str | None = None) -> None:
        """Pause or resume the bot in a conversation (see ``control_conversation``)."""
        async with self._base() as base:
            await control_conversation(self._http, conversation_id, op, text, base)

    async def close(self) -> None:
        """Close the connection pools."""
        await self._messages.close()
        await self._http.aclose()


async def control_conversation(
    http: httpx.AsyncClient, conversation_id: str, op: str, text: str | None = None, base_url: str = ""
) -> None:
    """Pause or resume the bot in a conversation through Rasa's ``dmdesk_control`` channel.

    ``op`` is ``pause`` or ``resume``; ``text`` (resume only) is recorded in
    the tracker as the bot's message, so the dialogue history shows it.

    Raises:
        UpstreamError: Rasa is unreachable or refused the change.
    """
    body = {"sender": conversation_id, "op": op, "text": text}
    try:
        response = await http.post(f"{base_url}/webhooks/dmdesk_control/control", json=body)
    except httpx.HTTPError as exc:
        raise UpstreamError("rasa unreachable", error=type(exc).__name__) from exc
    if response.status_code != 200:
        raise UpstreamError("rasa refused the conversation change", status=response.status_code, op=op)
