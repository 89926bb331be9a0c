"""Wire formats of the training data editor, declared once."""

from __future__ import annotations

from enum import Enum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

INTENT_PATTERN = r"^[a-z][a-z0-9_]{0,63}$"
LANG_PATTERN = r"^[a-z]{2}$"
EXAMPLE_ID_PATTERN = r"^[a-f0-9]{12}$"
#: longest example accepted (Rasa has no limit; a DM of this length is no single intent's example)
MAX_EXAMPLE_CHARS = 500

Intent = Annotated[str, StringConstraints(pattern=INTENT_PATTERN)]
Language = Annotated[str, StringConstraints(pattern=LANG_PATTERN)]


class TrainingExample(BaseModel):
    """One stored example of an intent."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(pattern=EXAMPLE_ID_PATTERN)
    intent: str = Field(pattern=INTENT_PATTERN)
    text: str = Field(description="As written in the file, entity annotations included.")
    language: str | None = Field(default=None, description="Language tag; None: no signal (emoji, 'ok').")
    language_given: bool = Field(default=False, description="Set by an editor (kept on export), not detected.")
    position: int = Field(description="Order inside the intent's file.")
    version: int = 1
    updated_by: str = ""
    updated_at: float = 0.0


class ExampleCreate(BaseModel):
    """A new example."""

    text: str = Field(min_length=1, max_length=4 * MAX_EXAMPLE_CHARS, description="Rasa annotation syntax allowed.")
    language: Language | None = Field(default=None, description="Detected when not given.")


class ExampleUpdate(BaseModel):
    """A change of an example; ``version`` is the one the editor saw (409 when stale)."""

    version: int = Field(ge=1)
    text: str | None = Field(default=None, min_length=1, max_length=4 * MAX_EXAMPLE_CHARS)
    intent: Intent | None = Field(default=None, description="Move the example to another intent.")
    language: Language | None = None


class ExamplePublic(BaseModel):
    """An example as the API shows it."""

    id: str
    intent: str
    text: str
    language: str | None
    language_given: bool
    version: int
    updated_by: str
    updated_at: float

    @classmethod
    def of(cls, example: TrainingExample) -> ExamplePublic:
        """The public view."""
        return cls.model_validate(example.model_dump(exclude={"position"}))


class ChangeAction(str, Enum):
    """What a history record did."""

    ADD = "add"
    EDIT = "edit"
    REMOVE = "remove"


class ChangeRecord(BaseModel):
    """One change: who, when, before and after."""

    data_version: int
    intent: str
    example_id: str
    action: ChangeAction
    by: str
    at: float
    before: ExamplePublic | None = None
    after: ExamplePublic | None = None


class IssueCode(str, Enum):
    """Validation rules (README, 'Training data editor')."""

    EMPTY = "empty"
    TOO_LONG = "too_long"
    MULTILINE = "multiline"
    UNKNOWN_INTENT = "unknown_intent"
    ENTITY_SYNTAX = "entity_syntax"
    UNKNOWN_ENTITY = "unknown_entity"
    CONFLICT = "conflicting_intents"
    DUPLICATE = "duplicate"
    TOO_FEW = "too_few_examples"
    NO_EXAMPLES = "intent_without_examples"


class Severity(str, Enum):
    """Errors stop a save (and a training); warnings are shown."""

    ERROR = "error"
    WARNING = "warning"


class Issue(BaseModel):
    """One validation problem."""

    code: IssueCode
    severity: Severity = Severity.ERROR
    message: str
    intent: str | None = None
    example_id: str | None = None
    other_intent: str | None = None


class IntentSummary(BaseModel):
    """An intent in the list."""

    intent: str
    examples: int
    languages: dict[str, int] = Field(description="Examples per language tag ('none': no signal).")


class DataStatus(BaseModel):
    """The whole data set: intents, version, what the served model was trained on."""

    brand: str
    data_version: int
    intents: list[IntentSummary]
    issues: list[Issue] = Field(description="Problems in the whole set (rasa data validate's NLU rules).")
