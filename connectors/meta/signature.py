"""Webhook signatures: ``X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the raw body>``."""

from __future__ import annotations

import hashlib
import hmac

PREFIX = "sha256="


def sign(body: bytes, secret: str) -> str:
    """The header value Meta would send for ``body``."""
    return PREFIX + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify(body: bytes, header: str | None, secret: str) -> bool:
    """True if ``header`` is the signature of the raw ``body`` (constant-time compare).

    Only SHA-256 is accepted; a missing, malformed or SHA-1 header is refused.
    """
    if not header or not secret or not header.startswith(PREFIX):
        return False
    expected = sign(body, secret).encode()
    return hmac.compare_digest(expected, header.strip().lower().encode())
