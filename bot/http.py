"""A small HTTP/1.1 client for the consumers' hot path (Send API, profiles, Rasa): pooled keep-alive connections.

httpx costs about 1 ms of CPU per request here (its connection pool polls every idle connection's
socket at each request; URL, header and stream models), some 20 times what the request itself needs:
more than half of a consumer's CPU per message went there. This client writes the request in one
buffer and parses the answer with httptools (the C parser uvicorn uses; it comes with uvicorn's
standard extra). It speaks plain HTTP/1.1 and HTTPS (certificates verified), keeps idle connections
per origin, drops one the server closed, and has one timeout per request. No proxies, no redirects,
no cookies, no compression: none of the services it talks to needs them.
"""

from __future__ import annotations

import asyncio
import json
import ssl
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode, urlsplit

import httptools

from bot.errors import DmdeskError

#: the largest answer read (Send API, profile and Rasa answers are a few KiB)
MAX_RESPONSE_BYTES = 8 << 20
#: what may not appear in a request line or header: a CR, LF or other control character would let a
#: value (an id taken from a webhook, say) end the line and write headers or a second request of its own
_FORBIDDEN = {chr(c) for c in range(32)} | {chr(127)}


class HttpError(DmdeskError):
    """The request got no complete answer (the service may or may not have processed it)."""


class HttpConnectError(HttpError):
    """No connection could be opened (nothing was sent)."""


class HttpTimeout(HttpError):
    """No complete answer within the timeout."""


@dataclass
class Response:
    """A complete answer."""

    status_code: int
    headers: dict[str, str]
    content: bytes

    def json(self) -> Any:
        """The body as JSON.

        Raises:
            json.JSONDecodeError: The body is not JSON.
        """
        return json.loads(self.content)


@dataclass
class _Parsed:
    headers: dict[str, str] = field(default_factory=dict)
    body: list[bytes] = field(default_factory=list)
    complete: bool = False

    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers[name.decode("latin-1").lower()] = value.decode("latin-1")

    def on_body(self, chunk: bytes) -> None:
        self.body.append(chunk)

    def on_message_complete(self) -> None:
        self.complete = True


class _Connection:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.idle_since = 0.0

    def usable(self, now: float, expiry_s: float) -> bool:
        return now - self.idle_since < expiry_s and not self.reader.at_eof() and not self.writer.is_closing()

    def close(self) -> None:
        self.writer.close()

    async def exchange(self, data: bytes) -> tuple[Response, bool]:
        """Send one request; its answer and whether the connection may be used again."""
        self.writer.write(data)
        parsed = _Parsed()
        parser = httptools.HttpResponseParser(parsed)
        received = 0
        while not parsed.complete:
            chunk = await self.reader.read(65536)
            if not chunk:
                raise HttpError("server closed the connection before a complete answer")
            received += len(chunk)
            if received > MAX_RESPONSE_BYTES:
                raise HttpError("answer too large", limit=MAX_RESPONSE_BYTES)
            try:
                parser.feed_data(chunk)
            except httptools.HttpParserError as exc:
                raise HttpError(f"malformed answer: {exc}") from exc
        response = Response(parser.get_status_code(), parsed.headers, b"".join(parsed.body))
        # (httptools' should_keep_alive() is reset once the message is complete)
        connection = parsed.headers.get("connection", "").lower()
        keep = connection == "keep-alive" if parser.get_http_version() == "1.0" else connection != "close"
        return response, keep


def _check_request(method: str, target: str, fields: dict[str, str]) -> None:
    """Refuse a request line or header that a control character (or a space in the target) would break.

    Raises:
        HttpError: Something would end its line early; nothing was sent.
    """
    texts = [method, *fields, *fields.values()]
    if " " in target or " " in method or any(ch in _FORBIDDEN for text in (target, *texts) for ch in text):
        raise HttpError("refused: a control character or space in the request line or a header")


class HttpPool:
    """Keep-alive connections to the origins of one client (``base_url`` for relative paths)."""

    def __init__(
        self,
        base_url: str = "",
        timeout_s: float = 10.0,
        headers: dict[str, str] | None = None,
        max_idle: int = 32,
        keepalive_s: float = 4.0,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        """``keepalive_s``: an idle connection is used again only within that time, shorter than the
        servers' own idle timeouts (uvicorn's and sanic's 5 s), so that a server never closes one
        just as a request goes out on it. ``ssl_context``: for HTTPS (default: the system's CAs)."""
        self._base = base_url.rstrip("/")
        self._keepalive_s = keepalive_s
        self._timeout = timeout_s
        self._headers = {"user-agent": "dmdesk", "accept": "*/*", **{k.lower(): v for k, v in (headers or {}).items()}}
        self._max_idle = max_idle
        self._idle: dict[tuple[str, str, int], deque[_Connection]] = {}
        self._ssl = ssl_context

    async def request(
        self,
        method: str,
        url: str,
        *,
        json_body: Any = None,
        content: bytes | None = None,
        params: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
        timeout_s: float | None = None,
    ) -> Response:
        """One request (``url`` absolute, or a path under ``base_url``); a body as ``json_body`` or as raw
        ``content`` (sent as it is, e.g. a signed payload), not both.

        Raises:
            HttpConnectError: No connection could be opened.
            HttpTimeout: No complete answer in time.
            HttpError: The connection broke or the answer was malformed.
        """
        parts = urlsplit(url if "://" in url else self._base + url)
        scheme, host = parts.scheme, parts.hostname or ""
        port = parts.port or (443 if scheme == "https" else 80)
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        if params:
            target += ("&" if "?" in target else "?") + urlencode(params)
        if json_body is not None and content is not None:
            raise ValueError("json_body or content, not both")
        if content is not None:
            body = content
        else:
            body = b"" if json_body is None else json.dumps(json_body, separators=(",", ":")).encode()
        fields = {**self._headers, **{k.lower(): v for k, v in (headers or {}).items()}}
        fields["host"] = host if parts.port is None else f"{host}:{port}"
        if json_body is not None:
            fields["content-type"] = "application/json"
        if body or method in ("POST", "PUT", "PATCH"):
            fields["content-length"] = str(len(body))
        _check_request(method, target, fields)
        head = f"{method} {target} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in fields.items()) + "\r\n"
        try:
            async with asyncio.timeout(self._timeout if timeout_s is None else timeout_s):
                return await self._exchange((scheme, host, port), head.encode("latin-1") + body)
        except TimeoutError as exc:
            raise HttpTimeout("no answer in time", host=host) from exc

    async def _exchange(self, origin: tuple[str, str, int], data: bytes) -> Response:
        connection = self._idle_connection(origin) or await self._connect(origin)
        try:
            response, keep = await connection.exchange(data)
        except BaseException:
            connection.close()
            raise
        idle = self._idle.setdefault(origin, deque())
        if keep and len(idle) < self._max_idle:
            connection.idle_since = time.monotonic()
            idle.append(connection)
        else:
            connection.close()
        return response

    def _idle_connection(self, origin: tuple[str, str, int]) -> _Connection | None:
        idle = self._idle.get(origin)
        now = time.monotonic()
        while idle:
            connection = idle.pop()  # the most recently used first
            if connection.usable(now, self._keepalive_s):
                return connection
            connection.close()  # idle too long, or closed by the server meanwhile
        return None

    async def _connect(self, origin: tuple[str, str, int]) -> _Connection:
        scheme, host, port = origin
        context = None
        if scheme == "https":
            self._ssl = self._ssl or ssl.create_default_context()
            context = self._ssl
        try:
            reader, writer = await asyncio.open_connection(
                host, port, ssl=context, server_hostname=host if context else None, limit=1 << 20
            )
        except OSError as exc:
            raise HttpConnectError("connection refused or unreachable", host=host, error=type(exc).__name__) from exc
        return _Connection(reader, writer)

    async def close(self) -> None:
        """Close every idle connection."""
        for idle in self._idle.values():
            while idle:
                idle.pop().close()
        self._idle.clear()
