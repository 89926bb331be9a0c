"""Agent sessions: opaque random tokens, stored by SHA-256 digest with an expiry."""

from __future__ import annotations

import hashlib
import secrets
import time

from redis import Redis

from bot.agents.errors import AuthenticationError
from bot.agents.models import Account, Session
from bot.keys import Keys


def digest(token: str) -> str:
    """The SHA-256 hex digest under which a token is stored (the token itself never is)."""
    return hashlib.sha256(token.encode()).hexdigest()


class SessionStore:
    """Create, resolve and revoke sessions."""

    def __init__(self, redis: Redis, keys: Keys, ttl_s: int) -> None:
        self._redis = redis
        self._keys = keys
        self._ttl_s = ttl_s

    def create(self, account: Account) -> tuple[str, Session]:
        """A new session for ``account``; returns ``(token, session)``."""
        token = secrets.token_urlsafe(32)
        now = time.time()
        session = Session(
            username=account.username,
            brand=account.brand,
            role=account.role,
            created_at=now,
            expires_at=now + self._ttl_s,
        )
        d = digest(token)
        index = self._keys.account_sessions(account.brand, account.username)
        pipe = self._redis.pipeline(transaction=True)
        pipe.set(self._keys.session(d), session.model_dump_json(), ex=self._ttl_s)
        pipe.sadd(index, d)
        pipe.expire(index, self._ttl_s)
        pipe.execute()
        return token, session

    def resolve(self, token: str) -> Session:
        """The session of ``token``.

        Raises:
            AuthenticationError: Unknown, expired or revoked token.
        """
        raw = self._redis.get(self._keys.session(digest(token))) if token else None
        if raw is None:
            raise AuthenticationError("missing, expired or revoked session")
        return Session.model_validate_json(raw)  # type: ignore[arg-type]

    def revoke(self, token: str) -> None:
        """Log out: the token stops working at once."""
        d = digest(token)
        raw = self._redis.get(self._keys.session(d))
        pipe = self._redis.pipeline(transaction=True)
        pipe.delete(self._keys.session(d))
        if raw is not None:
            session = Session.model_validate_json(raw)  # type: ignore[arg-type]
            pipe.srem(self._keys.account_sessions(session.brand, session.username), d)
        pipe.execute()
