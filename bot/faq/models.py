"""FAQ wire formats, declared once."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator

ID_PATTERN = r"^[a-z0-9][a-z0-9_]{1,79}$"
LANG_PATTERN = r"^[a-z]{2}$"
#: FAQ entries whose phrasings are left out of the ``faq`` intent's training examples
HANDOFF_ENTRIES = frozenset({"contact_human"})
#: at most this many not-covered questions per FAQ
MAX_NOT_COVERED = 5000


def tidy_not_covered(texts: list[str]) -> list[str]:
    """Not-covered questions with runs of white space folded, each once, in order.

    Raises:
        ValueError: One is empty or longer than 500 characters, or there are more than :data:`MAX_NOT_COVERED`.
    """
    out = list(dict.fromkeys(" ".join(text.split()) for text in texts))
    if any(not text or len(text) > 500 for text in out):
        raise ValueError("a not-covered question must have 1 to 500 characters")
    if len(out) > MAX_NOT_COVERED:
        raise ValueError(f"at most {MAX_NOT_COVERED} not-covered questions")
    return out


class FaqEntry(BaseModel):
    """One FAQ entry: a question, alternative phrasings and answers per language."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(pattern=ID_PATTERN, description="Stable identifier, snake_case.")
    topic: str = Field(min_length=1, max_length=40)
    question: str = Field(min_length=1, max_length=500)
    alternatives: list[str] = Field(default_factory=list, description="Other phrasings, any language.")
    answers: dict[str, str] = Field(description="Answer text per language code.")
    titles: dict[str, str] = Field(default_factory=dict, description="Short label per language, for choice buttons.")
    enabled: bool = True

    @field_validator("answers")
    @classmethod
    def _answers_valid(cls, value: dict[str, str]) -> dict[str, str]:
        if not value:
            raise ValueError("an entry needs at least one answer")
        for lang, text in value.items():
            if len(lang) != 2 or not lang.isalpha() or not lang.islower():
                raise ValueError(f"bad language code {lang!r}")
            if not text.strip():
                raise ValueError(f"empty answer for {lang}")
        return value

    @field_validator("alternatives")
    @classmethod
    def _alternatives_valid(cls, value: list[str]) -> list[str]:
        if any(not alt.strip() for alt in value):
            raise ValueError("empty alternative")
        return value

    def answer_in(self, lang: str | None, default_language: str) -> tuple[str, str]:
        """Return ``(language, text)``: the answer in ``lang``, else the default language."""
        if lang and lang in self.answers:
            return lang, self.answers[lang]
        if default_language in self.answers:
            return default_language, self.answers[default_language]
        first = next(iter(self.answers))
        return first, self.answers[first]

    def texts(self) -> list[str]:
        """The texts that are embedded for retrieval: question, then alternatives."""
        return [self.question, *self.alternatives]


class FaqBook(BaseModel):
    """A brand's whole FAQ, as stored in ``data/faq.yml``."""

    model_config = ConfigDict(extra="forbid")

    version: int = 1
    brand: str
    default_language: str = Field(pattern=LANG_PATTERN)
    languages: list[str]
    entries: list[FaqEntry]
    not_covered: list[str] = Field(
        default_factory=list,
        description="Customer questions the brand knows no entry answers (any language): a message closer to "
        "one of them than to the best entry's texts gets no FAQ answer (README, 'Questions the FAQ does not "
        "cover').",
    )

    @field_validator("not_covered")
    @classmethod
    def _not_covered_valid(cls, value: list[str]) -> list[str]:
        return tidy_not_covered(value)

    @field_validator("entries")
    @classmethod
    def _unique_ids(cls, value: list[FaqEntry]) -> list[FaqEntry]:
        seen: set[str] = set()
        for entry in value:
            if entry.id in seen:
                raise ValueError(f"duplicate entry id {entry.id!r}")
            seen.add(entry.id)
        return value

    def get(self, entry_id: str) -> FaqEntry | None:
        """Return the entry with ``entry_id``, or None."""
        return next((e for e in self.entries if e.id == entry_id), None)
