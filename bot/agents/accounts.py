"""Agent accounts in Redis, with scrypt password hashes (hashlib, no extra package).

A hash is stored as ``scrypt$<n>$<r>$<p>$<salt b64>$<key b64>`` so that the
cost can be raised later without breaking existing accounts.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from functools import lru_cache

from redis import Redis

from bot.agents.errors import AuthenticationError, ConflictError, TooManyAttemptsError
from bot.agents.models import Account, AccountCreate, AccountUpdate, Role
from bot.errors import InvalidInputError, NotFoundError
from bot.keys import Keys

SCRYPT_N, SCRYPT_R, SCRYPT_P, KEY_LEN = 2**14, 8, 1, 32
LOGIN_FAILURE_WINDOW_S = 15 * 60


def hash_password(password: str) -> str:
    """A salted scrypt hash of ``password``."""
    salt = secrets.token_bytes(16)
    key = hashlib.scrypt(password.encode(), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P, dklen=KEY_LEN)
    b64 = base64.b64encode
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${b64(salt).decode()}${b64(key).decode()}"


def verify_password(password: str, stored: str) -> bool:
    """True if ``password`` matches ``stored`` (constant-time comparison)."""
    try:
        scheme, n, r, p, salt, key = stored.split("$")
        if scheme != "scrypt":
            return False
        expected = base64.b64decode(key)
        got = hashlib.scrypt(
            password.encode(), salt=base64.b64decode(salt), n=int(n), r=int(r), p=int(p), dklen=len(expected)
        )
    except ValueError:
        return False
    return hmac.compare_digest(got, expected)


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    """Verified against when the user does not exist, so that timing does not reveal it."""
    return hash_password(secrets.token_urlsafe(16))


class AccountStore:
    """Accounts of every brand, one JSON string per account."""

    def __init__(self, redis: Redis, keys: Keys, max_login_failures: int = 10) -> None:
        self._redis = redis
        self._keys = keys
        self._max_failures = max_login_failures

    def get(self, brand: str, username: str) -> Account:
        """Load one account.

        Raises:
            NotFoundError: No such account in the brand.
        """
        raw = self._redis.get(self._keys.account(brand, username))
        if raw is None:
            raise NotFoundError("account not found", brand=brand, username=username)
        return Account.model_validate_json(raw)  # type: ignore[arg-type]

    def find(self, brand: str, username: str) -> Account | None:
        """The account, or None."""
        raw = self._redis.get(self._keys.account(brand, username))
        return None if raw is None else Account.model_validate_json(raw)  # type: ignore[arg-type]

    def list(self, brand: str) -> list[Account]:
        """A brand's accounts, by username."""
        names = sorted(
            n.decode() if isinstance(n, bytes) else str(n)
            for n in self._redis.smembers(self._keys.accounts(brand))  # type: ignore[union-attr]
        )  # type: ignore[union-attr]
        if not names:
            return []
        raws = self._redis.mget([self._keys.account(brand, n) for n in names])
        return [Account.model_validate_json(r) for r in raws if r is not None]  # type: ignore[union-attr]

    def create(self, brand: str, data: AccountCreate) -> Account:
        """Create an account.

        Raises:
            ConflictError: The username is taken in this brand.
        """
        now = time.time()
        account = Account(
            username=data.username,
            brand=brand,
            role=data.role,
            display_name=data.display_name or data.username,
            teams=data.teams,
            languages=data.languages,
            password_hash=hash_password(data.password),
            created_at=now,
            updated_at=now,
        )
        pipe = self._redis.pipeline(transaction=True)
        pipe.set(self._keys.account(brand, data.username), account.model_dump_json(), nx=True)
        pipe.sadd(self._keys.accounts(brand), data.username)
        created, _ = pipe.execute()
        if not created:
            raise ConflictError("username already exists", brand=brand, username=data.username)
        return account

    def update(self, brand: str, username: str, data: AccountUpdate) -> Account:
        """Change an account; a new password, a role change or deactivation ends its sessions.

        Raises:
            NotFoundError: No such account.
        """
        account = self.get(brand, username)
        changes = data.model_dump(exclude_unset=True, exclude={"password"})
        if any(v is None for v in changes.values()):
            raise InvalidInputError("fields cannot be set to null")
        updated = account.model_copy(update=changes)
        if data.password is not None:
            updated.password_hash = hash_password(data.password)
        updated.updated_at = time.time()
        self._redis.set(self._keys.account(brand, username), updated.model_dump_json())
        if data.password is not None or updated.role != account.role or not updated.active:
            self.revoke_sessions(brand, username)
        return updated

    def delete(self, brand: str, username: str) -> None:
        """Remove an account and end its sessions.

        Raises:
            NotFoundError: No such account.
        """
        self.get(brand, username)
        self.revoke_sessions(brand, username)
        pipe = self._redis.pipeline(transaction=True)
        pipe.delete(self._keys.account(brand, username))
        pipe.srem(self._keys.accounts(brand), username)
        pipe.execute()

    def count_admins(self, brand: str) -> int:
        """Active admins of a brand."""
        return sum(1 for a in self.list(brand) if a.role is Role.ADMIN and a.active)

    def revoke_sessions(self, brand: str, username: str) -> None:
        """End every session of an account."""
        key = self._keys.account_sessions(brand, username)
        digests = [d.decode() if isinstance(d, bytes) else str(d) for d in self._redis.smembers(key)]  # type: ignore[union-attr]
        pipe = self._redis.pipeline(transaction=True)
        for digest in digests:
            pipe.delete(self._keys.session(digest))
        pipe.delete(key)
        pipe.execute()

    def authenticate(self, brand: str, username: str, password: str) -> Account:
        """The account if the password is right and the account active.

        Raises:
            TooManyAttemptsError: Too many failed logins lately.
            AuthenticationError: Unknown account, wrong password or inactive account.
        """
        fails_key = self._keys.login_failures(brand, username)
        if int(self._redis.get(fails_key) or 0) >= self._max_failures:  # type: ignore[arg-type]
            raise TooManyAttemptsError("too many failed logins; try again later", brand=brand, username=username)
        account = self.find(brand, username)
        ok = verify_password(password, account.password_hash if account else _dummy_hash())
        if account is None or not ok or not account.active:
            pipe = self._redis.pipeline(transaction=True)
            pipe.incr(fails_key)
            pipe.expire(fails_key, LOGIN_FAILURE_WINDOW_S)
            pipe.execute()
            raise AuthenticationError("wrong brand, username or password", brand=brand, username=username)
        self._redis.delete(fails_key)
        return account
