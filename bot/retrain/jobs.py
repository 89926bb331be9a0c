"""Training jobs, the model registry, the active model and the Rasa endpoint in Redis.

Used by the API (request a training or a restore, read progress) and by the
NLU supervisor (run jobs one at a time across replicas under a Redis lock,
record models, switch the endpoint).
"""

from __future__ import annotations

import time
import uuid
from typing import Any

from redis import Redis
from redis.client import Pipeline

from bot.agents.errors import ConflictError
from bot.errors import NotFoundError
from bot.keys import Keys
from bot.redistx import transact
from bot.retrain.models import (
    ActiveModel,
    ClientReport,
    JobKind,
    JobState,
    ModelRecord,
    RasaEndpoint,
    StateChange,
    TrainingJob,
)

LOCK_TTL_MS = 30_000
JOBS_KEPT = 200
_RELEASE = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end return 0"
_RENEW = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) end return 0"


class JobStore:
    """Jobs, models, the active model and the endpoint of one deployment prefix."""

    def __init__(self, redis: Redis, keys: Keys) -> None:
        self._redis = redis
        self._keys = keys

    # -------------------------------------------------------------------- jobs
    def get(self, job_id: str) -> TrainingJob:
        """One job.

        Raises:
            NotFoundError: No such job.
        """
        raw = self._redis.hget(self._keys.train_jobs, job_id)
        if raw is None:
            raise NotFoundError("training job not found", job_id=job_id)
        return TrainingJob.model_validate_json(raw)  # type: ignore[arg-type]

    def recent(self, brand: str | None = None, limit: int = 20) -> list[TrainingJob]:
        """Newest jobs first."""
        ids = self._redis.zrevrange(self._keys.train_job_order, 0, JOBS_KEPT - 1)
        raw = self._redis.hmget(self._keys.train_jobs, ids) if ids else []  # type: ignore[arg-type]
        jobs = [TrainingJob.model_validate_json(r) for r in raw if r]  # type: ignore[union-attr]
        return [j for j in jobs if brand is None or j.brand == brand][:limit]

    def unfinished(self) -> TrainingJob | None:
        """A job that is queued or running, if any."""
        return next((j for j in self.recent(limit=JOBS_KEPT) if not j.state.final), None)

    def create(self, kind: JobKind, brand: str, by: str, model_version: str | None = None) -> TrainingJob:
        """Queue a job; refused while another one is queued or running.

        Raises:
            ConflictError: A job is queued or running.
        """
        now = time.time()
        job = TrainingJob(
            id=uuid.uuid4().hex[:12],
            kind=kind,
            brand=brand,
            state=JobState.QUEUED,
            history=[StateChange(state=JobState.QUEUED, at=now)],
            requested_by=by,
            requested_at=now,
            model_version=model_version,
        )

        def txn(pipe: Pipeline) -> None:
            busy = self.unfinished()
            if busy is not None:
                raise ConflictError(f"job {busy.id} ({busy.kind.value}) is {busy.state.value}", job_id=busy.id)
            pipe.multi()
            pipe.hset(self._keys.train_jobs, job.id, job.model_dump_json())
            pipe.zadd(self._keys.train_job_order, {job.id: now})
            pipe.lpush(self._keys.train_queue, job.id)

        transact(self._redis, txn, self._keys.train_jobs)
        self._trim()
        return job

    def _trim(self) -> None:
        old = self._redis.zrange(self._keys.train_job_order, 0, -JOBS_KEPT - 1)
        if old:
            pipe = self._redis.pipeline(transaction=True)
            pipe.hdel(self._keys.train_jobs, *old)  # type: ignore[arg-type, misc]
            pipe.zrem(self._keys.train_job_order, *old)  # type: ignore[arg-type, misc]
            pipe.execute()

    def save(self, job: TrainingJob) -> None:
        """Store a job's current record."""
        self._redis.hset(self._keys.train_jobs, job.id, job.model_dump_json())

    def advance(self, job: TrainingJob, state: JobState, **changes: Any) -> TrainingJob:
        """Move a job to ``state`` (timestamped) with other field changes, and store it."""
        history = [*job.history, StateChange(state=state, at=time.time())]
        updated = job.model_copy(update={"state": state, "history": history, **changes})
        self.save(updated)
        return updated

    def next_job(self, timeout_s: float) -> str | None:
        """Block up to ``timeout_s`` for a queued job id."""
        item = self._redis.brpop([self._keys.train_queue], timeout=max(1, int(timeout_s)))
        if item is None:
            return None
        _, job_id = item  # type: ignore[misc]
        return job_id.decode() if isinstance(job_id, bytes) else str(job_id)

    # -------------------------------------------------------------------- lock
    def acquire(self, worker: str, wait_s: float = 0) -> bool:
        """Take the one-training-at-a-time lock (waiting up to ``wait_s``)."""
        deadline = time.monotonic() + wait_s
        while True:
            if self._redis.set(self._keys.train_lock, worker, nx=True, px=LOCK_TTL_MS):
                return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.2)

    def renew(self, worker: str) -> bool:
        """Extend the lock; False if it was lost."""
        return bool(self._redis.eval(_RENEW, 1, self._keys.train_lock, worker, LOCK_TTL_MS))

    def release(self, worker: str) -> None:
        """Give the lock back (only if still ours)."""
        self._redis.eval(_RELEASE, 1, self._keys.train_lock, worker)

    # ------------------------------------------------------------------ models
    def add_model(self, record: ModelRecord) -> None:
        """Register a stored model file."""
        self._redis.hset(self._keys.nlu_models, record.version, record.model_dump_json())

    def model(self, version: str) -> ModelRecord:
        """One stored model.

        Raises:
            NotFoundError: Unknown version.
        """
        raw = self._redis.hget(self._keys.nlu_models, version)
        if raw is None:
            raise NotFoundError("model not found", version=version)
        return ModelRecord.model_validate_json(raw)  # type: ignore[arg-type]

    def models(self) -> list[ModelRecord]:
        """Stored models, newest first."""
        raw = self._redis.hvals(self._keys.nlu_models)
        items = [ModelRecord.model_validate_json(r) for r in raw]  # type: ignore[union-attr]
        return sorted(items, key=lambda m: m.created_at, reverse=True)

    def active(self) -> ActiveModel | None:
        """The model being served, if the supervisor recorded one."""
        raw = self._redis.get(self._keys.nlu_active)
        return ActiveModel.model_validate_json(raw) if raw else None  # type: ignore[arg-type]

    def endpoint(self) -> RasaEndpoint | None:
        """The Rasa URL clients use now."""
        raw = self._redis.get(self._keys.rasa_endpoint)
        return RasaEndpoint.model_validate_json(raw) if raw else None  # type: ignore[arg-type]

    def switch(self, url: str, version: str) -> RasaEndpoint:
        """Point every client at ``url`` (serving ``version``) in one transaction; returns the new endpoint."""

        def txn(pipe: Pipeline) -> RasaEndpoint:
            raw_endpoint, raw_active = pipe.get(self._keys.rasa_endpoint), pipe.get(self._keys.nlu_active)
            old = RasaEndpoint.model_validate_json(raw_endpoint) if raw_endpoint else None  # type: ignore[arg-type]
            was = ActiveModel.model_validate_json(raw_active) if raw_active else None  # type: ignore[arg-type]
            now = time.time()
            endpoint = RasaEndpoint(
                url=url, model_version=version, generation=(old.generation if old else 0) + 1, since=now
            )
            previous = was.previous if was is not None and was.version == version else (was.version if was else None)
            active = ActiveModel(version=version, previous=previous, since=now)
            pipe.multi()
            pipe.set(self._keys.rasa_endpoint, endpoint.model_dump_json())
            pipe.set(self._keys.nlu_active, active.model_dump_json())
            return endpoint

        return transact(self._redis, txn, self._keys.rasa_endpoint, self._keys.nlu_active)

    def reports(self, live_s: float = 3.0) -> dict[str, ClientReport]:
        """Reports of the Rasa clients seen within ``live_s``."""
        now = time.time()
        out = {}
        for name, raw in self._redis.hgetall(self._keys.rasa_clients).items():  # type: ignore[union-attr]
            report = ClientReport.model_validate_json(raw)
            if now - report.at <= live_s:
                out[name.decode() if isinstance(name, bytes) else str(name)] = report
        return out
