"""Wire formats of the unanswered-questions inbox, declared once."""

from __future__ import annotations

from enum import Enum

from pydantic import BaseModel, Field

ITEM_ID_PATTERN = r"^[a-f0-9]{16}$"


class MissKind(str, Enum):
    """Why a message is in the inbox."""

    NONE = "none"  # no FAQ entry fitted
    CLARIFY = "clarify"  # the bot asked the customer to choose between entries
    HANDOFF = "handoff"  # failed answers in a row handed the chat to a person


class ItemStatus(str, Enum):
    """An item is open until the bot answers it, or an editor dismisses it."""

    OPEN = "open"
    ANSWERED = "answered"
    DISMISSED = "dismissed"


class UnansweredItem(BaseModel):
    """One customer message the bot did not answer directly."""

    id: str = Field(pattern=ITEM_ID_PATTERN)
    brand: str
    text: str
    language: str | None
    kind: MissKind
    strict: bool = Field(default=False, description="NLU said out of scope: searched strictly, as the bot did.")
    conversation_id: str
    at: float
    candidates: list[str] = Field(default_factory=list, description="Entry ids the search ranked first.")
    reason: str | None = Field(
        default=None,
        description="Why the bot did not answer at its last check: low_confidence, close_call, strict, "
        "not_covered (closer to one of the FAQ's not-covered questions) or empty.",
    )
    status: ItemStatus = ItemStatus.OPEN
    answered_by: str | None = Field(default=None, description="Entry that answers it now.")
    checked_faq_version: int = Field(default=0, description="FAQ version it was last re-checked against.")
    closed_at: float | None = None
    closed_by: str | None = None


class MemberPublic(BaseModel):
    """A message of a group."""

    id: str
    text: str
    kind: MissKind
    reason: str | None = None
    at: float
    conversation_id: str


class Group(BaseModel):
    """Similar open messages of one language."""

    id: str = Field(description="The id of the group's newest message.")
    language: str | None
    count: int
    newest_at: float
    text: str = Field(description="The newest message.")
    kinds: dict[str, int]
    reasons: dict[str, int] = Field(
        default_factory=dict, description="Why the bot did not answer (at the last check), with counts."
    )
    candidates: list[str] = Field(description="Entries the search ranked first, most frequent first.")
    members: list[MemberPublic]


class Inbox(BaseModel):
    """The open groups, newest first, with what they were checked against."""

    faq_version: int
    open_messages: int
    groups: list[Group]


class AddAlternative(BaseModel):
    """Add a message as an alternative phrasing of an entry."""

    entry_id: str = Field(pattern=r"^[a-z0-9][a-z0-9_]{1,79}$")
    text: str | None = Field(default=None, min_length=1, max_length=500, description="Default: the message itself.")
    expected_version: int | None = Field(default=None, ge=1, description="The entry version seen (409 if stale).")


class Dismiss(BaseModel):
    """Messages to take out of the inbox (not questions for the FAQ)."""

    ids: list[str] = Field(min_length=1, max_length=500)
    not_covered: bool = Field(
        default=False,
        description="Also add the messages to the FAQ's not-covered questions: shop questions no entry answers, "
        "so that similar messages get no FAQ answer.",
    )


class ActionResult(BaseModel):
    """What an inbox action did."""

    entry_id: str | None = None
    entry_version: int | None = None
    resolved: list[str] = Field(description="Message ids the bot now answers (left the inbox).")
    still_open: list[str] = Field(description="Messages of the group the bot still does not answer.")
