"""Wire formats of training jobs, models and the Rasa endpoint, declared once."""

from __future__ import annotations

from enum import Enum

from pydantic import BaseModel, Field

JOB_ID_PATTERN = r"^[a-f0-9]{12}$"
VERSION_PATTERN = r"^[a-z0-9][a-z0-9-]{0,63}$"
#: the model ``make train`` writes (models/dmdesk.tar.gz)
BASE_VERSION = "base"


class JobKind(str, Enum):
    """Train a new model, or swap back to a stored one."""

    TRAIN = "train"
    RESTORE = "restore"


class JobState(str, Enum):
    """A job's progress; ``done`` and ``failed`` are final."""

    QUEUED = "queued"
    TRAINING = "training"
    VALIDATING = "validating"
    SWAPPING = "swapping"
    DONE = "done"
    FAILED = "failed"

    @property
    def final(self) -> bool:
        """True for done and failed."""
        return self in (JobState.DONE, JobState.FAILED)


class StateChange(BaseModel):
    """When a job entered a state."""

    state: JobState
    at: float


class TrainingJob(BaseModel):
    """A training or restore job, as stored and as the API shows it."""

    id: str = Field(pattern=JOB_ID_PATTERN)
    kind: JobKind
    brand: str
    state: JobState
    history: list[StateChange]
    requested_by: str
    requested_at: float
    data_version: int | None = Field(default=None, description="Training data version trained on.")
    model_version: str | None = Field(default=None, description="Model trained (train) or restored (restore).")
    previous_model: str | None = Field(default=None, description="Model served before the swap.")
    error: str | None = None
    log_tail: list[str] = Field(default_factory=list, description="Last lines of the training output.")
    worker: str | None = None


class TrainingJobCreate(BaseModel):
    """A training request (the data is the brand's current training data)."""


class RestoreCreate(BaseModel):
    """A restore request: ``version`` defaults to the model served before the current one."""

    version: str | None = Field(default=None, pattern=VERSION_PATTERN)


class ModelRecord(BaseModel):
    """A stored model file."""

    version: str = Field(pattern=VERSION_PATTERN)
    path: str
    created_at: float
    job_id: str | None = None
    data_version: int | None = None
    size_bytes: int = 0


class ActiveModel(BaseModel):
    """The model the deployment serves and the one it served before."""

    version: str
    previous: str | None = None
    since: float


class RasaEndpoint(BaseModel):
    """Where every Rasa client sends; a new generation on every swap."""

    url: str
    model_version: str
    generation: int
    since: float


class ClientReport(BaseModel):
    """A Rasa client's last report: the generation it uses and requests still running on older URLs."""

    generation: int
    inflight_old: int
    at: float


class ModelsPublic(BaseModel):
    """Stored models and the one being served."""

    active: ActiveModel | None
    endpoint: RasaEndpoint | None
    models: list[ModelRecord]
