"""``dmdesk users``: accounts from the shell, the password never shown."""

from __future__ import annotations

import io

import pytest
from redis import Redis

from bot.agents.accounts import AccountStore
from bot.agents.models import Role
from bot.cli import main
from bot.keys import Keys

SECRET = "sup3r secret passphrase"


@pytest.fixture()
def shell(monkeypatch: pytest.MonkeyPatch, redis_url: str, keys: Keys) -> None:
    monkeypatch.setenv("REDIS_URL", redis_url)
    monkeypatch.setenv("DMDESK_REDIS_PREFIX", keys.prefix)
    monkeypatch.delenv("DMDESK_NEW_PASSWORD", raising=False)


def test_users_add_reads_stdin_and_never_prints_the_password(
    shell: None, redis: Redis, keys: Keys, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO(SECRET + "\n"))
    assert (
        main(["users", "add", "--brand", "kopiku", "--role", "admin", "--name", "boss", "--teams", "vip,billing"]) == 0
    )
    out = capsys.readouterr()
    assert SECRET not in out.out + out.err and "created admin boss" in out.out
    account = AccountStore(redis, keys).authenticate("kopiku", "boss", SECRET)
    assert account.role is Role.ADMIN and account.teams == ["billing", "vip"]
    with pytest.raises(SystemExit, match="already exists"):
        monkeypatch.setattr("sys.stdin", io.StringIO(SECRET + "\n"))
        main(["users", "add", "--brand", "kopiku", "--name", "boss"])
    main(["users", "list", "--brand", "kopiku"])
    assert capsys.readouterr().out.startswith("boss\tadmin\tbilling,vip")


def test_users_passwd_from_the_environment_and_short_passwords_refused(
    shell: None, redis: Redis, keys: Keys, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DMDESK_NEW_PASSWORD", SECRET)
    main(["users", "add", "--brand", "kopiku", "--name", "sari"])
    monkeypatch.setenv("DMDESK_NEW_PASSWORD", "short")
    with pytest.raises(SystemExit) as refused:
        main(["users", "passwd", "--brand", "kopiku", "--name", "sari"])
    assert "short" not in str(refused.value) and "password" in str(refused.value)
    monkeypatch.setenv("DMDESK_NEW_PASSWORD", "a brand new passphrase")
    assert main(["users", "passwd", "--brand", "kopiku", "--name", "sari"]) == 0
    assert AccountStore(redis, keys).authenticate("kopiku", "sari", "a brand new passphrase")
    with pytest.raises(SystemExit, match="not found"):
        main(["users", "passwd", "--brand", "kopiku", "--name", "ghost"])
    assert "a brand new passphrase" not in capsys.readouterr().out
