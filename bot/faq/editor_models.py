"""Wire formats of the FAQ editor (bot/faq/editor.py), declared once.

``EntryCreate`` / ``EntryUpdate`` / ``EntryPublic`` are the entry's schema
family; the rest are the editor's results (checks, history, completeness,
try-it, import reports).
"""

from __future__ import annotations

from enum import Enum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from bot.faq.models import ID_PATTERN, LANG_PATTERN, FaqEntry

Text = Annotated[str, StringConstraints(min_length=1, max_length=500, pattern=r"\S")]
Topic = Annotated[str, StringConstraints(min_length=1, max_length=40, pattern=r"\S")]
MAX_ALTERNATIVES = 200
MAX_ANSWER_CHARS = 8000


def _clean_texts(value: list[str]) -> list[str]:
    return [" ".join(v.split()) for v in value]


def _clean_answers(value: dict[str, str]) -> dict[str, str]:
    for lang, text in value.items():
        if len(lang) != 2 or not lang.isalpha() or not lang.islower():
            raise ValueError(f"bad language code {lang!r}")
        if len(text) > MAX_ANSWER_CHARS:
            raise ValueError(f"answer in {lang} is longer than {MAX_ANSWER_CHARS} characters")
    return {lang: text.strip() for lang, text in value.items()}


def _clean_titles(value: dict[str, str]) -> dict[str, str]:
    for lang in value:
        if len(lang) != 2 or not lang.isalpha() or not lang.islower():
            raise ValueError(f"bad language code {lang!r}")
    return {lang: " ".join(t.split()) for lang, t in value.items() if t.strip()}


class EntryFields(BaseModel):
    """The editable content of an entry."""

    model_config = ConfigDict(extra="forbid")

    topic: Topic
    question: Text
    alternatives: list[Text] = Field(default_factory=list, max_length=MAX_ALTERNATIVES)
    answers: dict[str, str] = Field(description="Answer per language code; at least one, none empty.")
    titles: dict[str, Annotated[str, StringConstraints(max_length=80)]] = Field(
        default_factory=dict, description="Short button label per language (20 characters fit every channel)."
    )
    enabled: bool = True

    _texts = field_validator("alternatives")(_clean_texts)
    _answers = field_validator("answers")(_clean_answers)
    _titles = field_validator("titles")(_clean_titles)


class EntryCreate(EntryFields):
    """A new entry."""

    id: str = Field(pattern=ID_PATTERN, description="Stable identifier: lowercase letters, digits, underscores.")


class EntryPatch(BaseModel):
    """A change to an entry: only the fields given change."""

    model_config = ConfigDict(extra="forbid")

    topic: Topic | None = None
    question: Text | None = None
    alternatives: list[Text] | None = Field(default=None, max_length=MAX_ALTERNATIVES)
    answers: dict[str, str] | None = None
    titles: dict[str, Annotated[str, StringConstraints(max_length=80)]] | None = None
    enabled: bool | None = None

    @field_validator("alternatives")
    @classmethod
    def _alternatives(cls, value: list[str] | None) -> list[str] | None:
        return None if value is None else _clean_texts(value)

    @field_validator("answers")
    @classmethod
    def _answers(cls, value: dict[str, str] | None) -> dict[str, str] | None:
        return None if value is None else _clean_answers(value)

    @field_validator("titles")
    @classmethod
    def _titles(cls, value: dict[str, str] | None) -> dict[str, str] | None:
        return None if value is None else _clean_titles(value)


class EntryUpdate(EntryPatch):
    """The HTTP body of an edit: the change and the version it was made on."""

    expected_version: int = Field(ge=0, description="The version the editor started from; a stale one gives 409.")


class EntryPublic(FaqEntry):
    """An entry with its version and last change."""

    model_config = ConfigDict(extra="forbid")

    version: int = Field(description="Incremented by every change of this entry.")
    updated_by: str | None = Field(description="Who made the last change (None: imported from the FAQ file).")
    updated_at: float | None
    missing_languages: list[str] = Field(description="Brand languages without an answer (the default one is used).")


class CheckLevel(str, Enum):
    """Errors block a save; warnings are shown and saved through."""

    ERROR = "error"
    WARNING = "warning"


class CheckCode(str, Enum):
    """What a check found (README, "FAQ editor": checks on save)."""

    EMPTY_ANSWER = "empty_answer"
    DUPLICATE = "duplicate"
    NEAR_DUPLICATE = "near_duplicate"
    CLOSER_TO_OTHER = "closer_to_other_entry"
    ANSWER_TOO_LONG = "answer_too_long"
    TITLE_TOO_LONG = "title_too_long"
    MISSING_LANGUAGE = "missing_language"
    UNKNOWN_LANGUAGE = "unknown_language"


class Check(BaseModel):
    """One finding about an entry."""

    level: CheckLevel
    code: CheckCode
    field: str = Field(description="e.g. 'alternatives[2]', 'answers.fr', 'titles.en'")
    message: str
    other_entry: str | None = Field(default=None, description="The entry it collides with or sits closer to.")
    other_text: str | None = None
    similarity: float | None = None


class SaveResult(BaseModel):
    """A saved entry and the warnings found on it."""

    entry: EntryPublic
    warnings: list[Check]


class ChangeAction(str, Enum):
    """Kinds of recorded change."""

    CREATED = "created"
    UPDATED = "updated"
    ENABLED = "enabled"
    DISABLED = "disabled"
    DELETED = "deleted"
    ROLLED_BACK = "rolled_back"
    IMPORTED = "imported"


class HistoryRecord(BaseModel):
    """One change of one entry: who, when, before and after."""

    entry_id: str
    version: int = Field(description="The entry's version after this change.")
    action: ChangeAction
    by: str
    at: float
    before: FaqEntry | None = Field(description="None when created.")
    after: FaqEntry | None = Field(description="None when deleted.")
    rollback_of: int | None = Field(default=None, description="The version restored (rollbacks).")


class EntryList(BaseModel):
    """A page of entries."""

    total: int = Field(description="Entries matching the filters.")
    entries: list[EntryPublic]


class LanguageGap(BaseModel):
    """Entries that lack an answer in one language."""

    language: str
    answered: int
    missing: list[str] = Field(description="Entry ids without an answer in this language.")


class Completeness(BaseModel):
    """Per brand language, which entries lack an answer."""

    languages: list[str]
    default_language: str
    entries: int
    by_language: list[LanguageGap]


class TryRequest(BaseModel):
    """A customer message to try."""

    text: Text
    language: str | None = Field(default=None, pattern=LANG_PATTERN, description="Reply language (default: the FAQ's).")
    strict: bool = Field(default=False, description="As if NLU had said out_of_scope: answer only when very sure.")


class TryCandidate(BaseModel):
    """One ranked entry."""

    entry_id: str
    question: str
    score: float = Field(description="combined z-score")
    matched: str = Field(description="the entry's text closest to the message")
    components: dict[str, float]
    evidence: dict[str, float] = Field(
        default_factory=dict, description="term coverage and the not-covered lead (README, 'FAQ retrieval')"
    )


class TryResult(BaseModel):
    """What the bot would do with the message."""

    decision: str = Field(description="answer, clarify or none")
    reason: str = Field(
        description="why: confident, close_call, low_confidence, strict (searched as out of scope, not sure "
        "enough), not_covered (closer to a not-covered question than to the top entry) or empty (no entry)"
    )
    outcome: str = Field(description="the reply kind: faq, clarify, none or out_of_scope")
    entry_id: str | None = Field(description="the entry answered with (answer)")
    reply: str | None = Field(description="the answer text sent (answer)")
    language: str = Field(description="the language replied in (given, detected, or the default)")
    choices: list[str] = Field(description="entries offered as buttons (clarify)")
    probability: float = Field(description="verifier probability that the top entry answers it")
    candidates: list[TryCandidate] = Field(description="the top entry and the runners-up")
    not_covered: str | None = Field(
        default=None, description="the FAQ's not-covered question closest to the message (none when the list is empty)"
    )
    not_covered_lead: float | None = Field(
        default=None,
        description="how much closer (cosine) the message is to that question than to the top entry's best text; "
        "above the margin (DMDESK_NOT_COVERED_MARGIN) the bot gives no answer",
    )
    faq_version: int


class RowError(BaseModel):
    """A problem in one row (CSV: 1 is the header, data from 2) or entry (YAML: entry index from 1)."""

    row: int
    column: str | None
    message: str


class ImportReport(BaseModel):
    """What an import did (or, as a dry run, would do)."""

    applied: bool
    errors: list[RowError]
    created: list[str]
    updated: list[str]
    deleted: list[str]
    unchanged: int
    not_covered_added: list[str] = Field(
        default_factory=list, description="Not-covered questions the file adds (a YAML file with a not_covered key)."
    )
    not_covered_removed: list[str] = Field(
        default_factory=list, description="Not-covered questions the file leaves out (a YAML file with the key)."
    )
    faq_version: int | None = None


NotCoveredText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]


class NotCoveredList(BaseModel):
    """Customer questions the brand knows no entry answers (README, "Questions the FAQ does not cover")."""

    questions: list[str]
    faq_version: int = Field(description="The FAQ version this list was read at.")


class NotCoveredChange(BaseModel):
    """Questions to add to and remove from the not-covered list (exact texts; adding one twice keeps one)."""

    model_config = ConfigDict(extra="forbid")

    add: list[NotCoveredText] = Field(default_factory=list, max_length=500)
    remove: list[NotCoveredText] = Field(default_factory=list, max_length=500)
