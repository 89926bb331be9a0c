"""Accounts, password hashing and sessions in a real Redis."""

from __future__ import annotations

import pytest
from redis import Redis

from bot.agents.accounts import AccountStore, hash_password, verify_password
from bot.agents.errors import AuthenticationError, ConflictError, TooManyAttemptsError
from bot.agents.models import AccountCreate, AccountUpdate, Role
from bot.agents.sessions import SessionStore, digest
from bot.keys import Keys

PASSWORD = "correct horse battery"


def test_password_hash_is_salted_scrypt_and_verifies() -> None:
    first, second = hash_password(PASSWORD), hash_password(PASSWORD)
    assert first.startswith("scrypt$16384$8$1$") and first != second
    assert PASSWORD not in first
    assert verify_password(PASSWORD, first) and verify_password(PASSWORD, second)
    assert not verify_password("wrong password", first)
    assert not verify_password(PASSWORD, "garbage") and not verify_password(PASSWORD, "bcrypt$1$2$3$4$5")


def test_roles_include_the_lower_ones() -> None:
    assert Role.ADMIN.allows(Role.EDITOR) and Role.ADMIN.allows(Role.AGENT) and Role.EDITOR.allows(Role.AGENT)
    assert not Role.AGENT.allows(Role.EDITOR) and not Role.EDITOR.allows(Role.ADMIN)


def test_create_authenticate_and_conflicts(redis: Redis, keys: Keys) -> None:
    store = AccountStore(redis, keys)
    account = store.create("kopiku", AccountCreate(username="sari", password=PASSWORD, teams=["billing", "billing"]))
    assert account.role is Role.AGENT and account.teams == ["billing"] and account.display_name == "sari"
    assert PASSWORD.encode() not in redis.get(keys.account("kopiku", "sari"))  # type: ignore[operator]
    with pytest.raises(ConflictError):
        store.create("kopiku", AccountCreate(username="sari", password=PASSWORD))
    store.create("otherbrand", AccountCreate(username="sari", password=PASSWORD))  # same name, other brand
    assert store.authenticate("kopiku", "sari", PASSWORD).username == "sari"
    for brand, name, password in [("kopiku", "sari", "nope"), ("kopiku", "nobody", PASSWORD), ("x", "sari", PASSWORD)]:
        with pytest.raises(AuthenticationError):
            store.authenticate(brand, name, password)
    store.update("kopiku", "sari", AccountUpdate(active=False))
    with pytest.raises(AuthenticationError):
        store.authenticate("kopiku", "sari", PASSWORD)
    assert [a.username for a in store.list("kopiku")] == ["sari"]


def test_repeated_failed_logins_lock_the_account(redis: Redis, keys: Keys) -> None:
    store = AccountStore(redis, keys, max_login_failures=3)
    store.create("kopiku", AccountCreate(username="budi", password=PASSWORD))
    for _ in range(3):
        with pytest.raises(AuthenticationError):
            store.authenticate("kopiku", "budi", "wrong-password")
    with pytest.raises(TooManyAttemptsError):
        store.authenticate("kopiku", "budi", PASSWORD)


def test_sessions_are_opaque_hashed_expiring_and_revocable(redis: Redis, keys: Keys) -> None:
    accounts = AccountStore(redis, keys)
    sessions = SessionStore(redis, keys, ttl_s=600)
    account = accounts.create("kopiku", AccountCreate(username="rina", password=PASSWORD, role=Role.EDITOR))
    token, session = sessions.create(account)
    assert len(token) >= 40 and session.role is Role.EDITOR
    assert redis.get(keys.session(token)) is None  # stored by digest only
    assert 590 < int(redis.ttl(keys.session(digest(token)))) <= 600  # type: ignore[arg-type]
    assert sessions.resolve(token).username == "rina"
    sessions.revoke(token)
    with pytest.raises(AuthenticationError):
        sessions.resolve(token)
    with pytest.raises(AuthenticationError):
        sessions.resolve("")


def test_password_change_and_deletion_end_sessions(redis: Redis, keys: Keys) -> None:
    accounts = AccountStore(redis, keys)
    sessions = SessionStore(redis, keys, ttl_s=600)
    account = accounts.create("kopiku", AccountCreate(username="dewi", password=PASSWORD))
    token, _ = sessions.create(account)
    accounts.update("kopiku", "dewi", AccountUpdate(password="another long password"))
    with pytest.raises(AuthenticationError):
        sessions.resolve(token)
    assert accounts.authenticate("kopiku", "dewi", "another long password")
    token, _ = sessions.create(account)
    accounts.update("kopiku", "dewi", AccountUpdate(display_name="Dewi"))  # harmless change keeps it
    assert sessions.resolve(token)
    accounts.delete("kopiku", "dewi")
    with pytest.raises(AuthenticationError):
        sessions.resolve(token)
