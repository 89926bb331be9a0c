"""Which Pages and Instagram accounts a deployment answers, with their tokens and brands."""

from __future__ import annotations

import os
from pathlib import Path

import yaml
from pydantic import BaseModel, Field, SecretStr

from bot.errors import DmdeskError
from bot.messages import Channel


class PageConfigError(DmdeskError):
    """The page configuration file is unusable."""


class UnknownAccountError(DmdeskError):
    """An event or a send names a page or account this deployment does not serve."""


class AccountSpec(BaseModel):
    """One line of the configuration file."""

    id: str = Field(pattern=r"^[0-9]{1,32}$")
    channel: Channel
    brand: str = ""
    token_env: str | None = None
    token_file: Path | None = None
    token: str | None = Field(default=None, description="Literal token, for demos only.")


class Account(BaseModel):
    """A Page or Instagram account with its resolved token (a secret, never logged)."""

    id: str
    channel: Channel
    brand: str
    token: SecretStr


def _resolve(spec: AccountSpec, base: Path) -> SecretStr:
    if spec.token_env and os.environ.get(spec.token_env):
        return SecretStr(os.environ[spec.token_env])
    if spec.token_file:
        path = spec.token_file if spec.token_file.is_absolute() else base / spec.token_file
        try:
            return SecretStr(path.read_text().strip())
        except OSError as exc:
            raise PageConfigError("token file unreadable", account=spec.id, path=str(path)) from exc
    if spec.token:
        return SecretStr(spec.token)
    raise PageConfigError("no access token", account=spec.id, token_env=spec.token_env)


class Pages:
    """Account id -> account, for every channel."""

    def __init__(self, accounts: list[Account]) -> None:
        self._by_id = {a.id: a for a in accounts}

    @classmethod
    def load(cls, path: Path) -> Pages:
        """Read the YAML file; a missing file means no account.

        Raises:
            PageConfigError: The file is not valid or a token cannot be resolved.
        """
        if not path.exists():
            return cls([])
        try:
            data = yaml.safe_load(path.read_text()) or {}
            specs = [AccountSpec.model_validate(item) for item in data.get("accounts") or []]
        except (yaml.YAMLError, ValueError, AttributeError) as exc:
            raise PageConfigError("invalid page configuration", path=str(path)) from exc
        return cls([Account(id=s.id, channel=s.channel, brand=s.brand, token=_resolve(s, path.parent)) for s in specs])

    def get(self, account_id: str) -> Account:
        """The account.

        Raises:
            UnknownAccountError: Not configured.
        """
        try:
            return self._by_id[account_id]
        except KeyError:
            raise UnknownAccountError("account not configured", account=account_id) from None

    def find(self, account_id: str) -> Account | None:
        """The account or None."""
        return self._by_id.get(account_id)

    @property
    def accounts(self) -> list[Account]:
        """Every configured account."""
        return list(self._by_id.values())

    def __len__(self) -> int:
        return len(self._by_id)
