"""Wire formats of the agent workspace (accounts, sessions, notes, canned replies, views)."""

from __future__ import annotations

import re
from enum import Enum
from typing import Annotated

from pydantic import BaseModel, Field, StringConstraints, field_validator

from bot.handoff.models import Ticket, TicketSummary

BRAND_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,39}$"
USERNAME_PATTERN = r"^[a-z0-9][a-z0-9_.-]{1,39}$"
TEAM_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,39}$"
LANG_PATTERN = r"^[a-z]{2}$"
MIN_PASSWORD = 10
#: at least one character that is not white space (JSON Schema patterns search)
NON_BLANK = r"\S"

Team = Annotated[str, StringConstraints(pattern=TEAM_PATTERN)]
Language = Annotated[str, StringConstraints(pattern=LANG_PATTERN)]
QuickReply = Annotated[str, StringConstraints(min_length=1, max_length=20, pattern=NON_BLANK)]
Tag = Annotated[str, StringConstraints(min_length=1, max_length=40, pattern=NON_BLANK)]


class Role(str, Enum):
    """Roles, each including the ones before it: agent < editor < admin."""

    AGENT = "agent"
    EDITOR = "editor"
    ADMIN = "admin"

    @property
    def rank(self) -> int:
        """0 for agent, 1 for editor, 2 for admin."""
        return [Role.AGENT, Role.EDITOR, Role.ADMIN].index(self)

    def allows(self, needed: Role) -> bool:
        """True if this role has at least the rights of ``needed``."""
        return self.rank >= needed.rank


def _nonblank(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be blank")
    return value.strip()


def _check_teams(value: list[str]) -> list[str]:
    for team in value:
        if not re.match(TEAM_PATTERN, team):
            raise ValueError(f"bad team name {team!r}")
    return sorted(set(value))


def _check_languages(value: list[str] | None) -> list[str] | None:
    if value is not None and any(not re.match(LANG_PATTERN, lang) for lang in value):
        raise ValueError("languages are two-letter lowercase codes")
    return value


class Account(BaseModel):
    """A stored account (never returned over HTTP: it holds the password hash)."""

    username: str = Field(pattern=USERNAME_PATTERN)
    brand: str = Field(pattern=BRAND_PATTERN)
    role: Role
    display_name: str
    teams: list[str] = Field(default_factory=list)
    languages: list[str] = Field(default_factory=list)
    active: bool = True
    password_hash: str
    created_at: float
    updated_at: float


class AccountPublic(BaseModel):
    """An account as the API shows it."""

    username: str
    brand: str
    role: Role
    display_name: str
    teams: list[str]
    languages: list[str]
    active: bool
    created_at: float

    @classmethod
    def of(cls, account: Account) -> AccountPublic:
        """The public view of ``account``."""
        return cls.model_validate(account.model_dump(exclude={"password_hash", "updated_at"}))


class AccountCreate(BaseModel):
    """A new account in the admin's brand."""

    username: str = Field(pattern=USERNAME_PATTERN, description="lowercase, 2-40 characters")
    password: str = Field(min_length=MIN_PASSWORD, max_length=256)
    role: Role = Role.AGENT
    display_name: str | None = Field(default=None, max_length=80)
    teams: list[Team] = Field(default_factory=list, max_length=20)
    languages: list[Language] = Field(default_factory=list, max_length=20)

    @field_validator("teams")
    @classmethod
    def _teams(cls, value: list[str]) -> list[str]:
        return _check_teams(value)

    _languages = field_validator("languages")(_check_languages)


class AccountUpdate(BaseModel):
    """Fields to change (all optional)."""

    password: str | None = Field(default=None, min_length=MIN_PASSWORD, max_length=256)
    role: Role | None = None
    display_name: str | None = Field(default=None, min_length=1, pattern=NON_BLANK, max_length=80)
    teams: list[Team] | None = Field(default=None, max_length=20)
    languages: list[Language] | None = Field(default=None, max_length=20)
    active: bool | None = None

    @field_validator("teams")
    @classmethod
    def _teams(cls, value: list[str] | None) -> list[str] | None:
        return None if value is None else _check_teams(value)

    _languages = field_validator("languages")(_check_languages)


class LoginRequest(BaseModel):
    """Credentials."""

    brand: str = Field(pattern=BRAND_PATTERN)
    username: str = Field(min_length=1, max_length=40)
    password: str = Field(min_length=1, max_length=256)


class Session(BaseModel):
    """A logged-in agent (stored under the token's digest)."""

    username: str
    brand: str
    role: Role
    created_at: float
    expires_at: float


class SessionPublic(BaseModel):
    """Login result: the opaque token (shown once) and who it belongs to."""

    token: str = Field(description="send as 'Authorization: Bearer <token>'")
    expires_at: float
    account: AccountPublic


class Note(BaseModel):
    """An internal note on a ticket (never sent to the customer)."""

    id: str
    ticket_id: str
    author: str
    text: str
    created_at: float


class NoteCreate(BaseModel):
    """A new note."""

    text: str = Field(min_length=1, pattern=NON_BLANK, max_length=4000)

    _blank = field_validator("text")(_nonblank)


class CannedReply(BaseModel):
    """A prepared answer agents can insert."""

    id: str
    brand: str
    language: str
    title: str
    text: str
    tags: list[str] = Field(default_factory=list)
    updated_by: str
    updated_at: float


class CannedReplyCreate(BaseModel):
    """A new canned reply."""

    language: str = Field(pattern=LANG_PATTERN)
    title: str = Field(min_length=1, pattern=NON_BLANK, max_length=80)
    text: str = Field(min_length=1, pattern=NON_BLANK, max_length=2000)
    tags: list[Tag] = Field(default_factory=list, max_length=20)

    _blank = field_validator("title", "text")(_nonblank)


class CannedReplyUpdate(BaseModel):
    """Fields to change."""

    language: str | None = Field(default=None, pattern=LANG_PATTERN)
    title: str | None = Field(default=None, min_length=1, pattern=NON_BLANK, max_length=80)
    text: str | None = Field(default=None, min_length=1, pattern=NON_BLANK, max_length=2000)
    tags: list[Tag] | None = Field(default=None, max_length=20)


class QueueItem(TicketSummary):
    """A queue row with its service-level state."""

    team: str | None
    assignee: str | None
    waiting_since: float = Field(description="created, or back in the queue at (release, transfer, reopen)")
    waiting_s: float = Field(description="seconds since created (first response not given yet)")
    first_response_due_at: float
    first_response_breached: bool = Field(description="no agent reply and the target is past")


class TicketView(BaseModel):
    """One ticket with everything an agent needs."""

    ticket: Ticket
    notes: list[Note]
    earlier_tickets: list[QueueItem] = Field(description="the same customer's other tickets, newest first")
    first_response_due_at: float
    first_response_breached: bool


class TransferRequest(BaseModel):
    """Transfer to an agent of the same brand, or back to the queue of a team (exactly one)."""

    to_agent: str | None = Field(default=None, pattern=USERNAME_PATTERN)
    to_team: str | None = Field(default=None, pattern=TEAM_PATTERN)
    note: str | None = Field(default=None, max_length=4000)


class ReplyCreate(BaseModel):
    """An agent's message to the customer."""

    text: str = Field(min_length=1, pattern=NON_BLANK, max_length=2000)
    quick_replies: list[QuickReply] = Field(default_factory=list, max_length=13, description="up to 13 short choices")

    _blank = field_validator("text")(_nonblank)

    @field_validator("quick_replies")
    @classmethod
    def _quick(cls, value: list[str]) -> list[str]:
        if any(not q.strip() or len(q) > 20 for q in value):
            raise ValueError("quick replies are 1 to 20 characters")
        return [q.strip() for q in value]


class Suggestion(BaseModel):
    """An FAQ answer that may fit the customer's latest message."""

    entry_id: str
    question: str
    answer: str
    language: str
    score: float = Field(description="combined z-score of the retrieval")


class Suggestions(BaseModel):
    """Suggested answers for a ticket."""

    ticket_id: str
    query: str | None = Field(description="the customer's latest message")
    language: str
    confidence: float | None = Field(description="verifier probability that the top entry answers it")
    suggestions: list[Suggestion]
