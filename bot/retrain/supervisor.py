"""``dmdesk nlu``: the NLU supervisor. It runs the Rasa server, retrains, and swaps models.

* Start: serve the active model (Redis) or ``models/dmdesk.tar.gz`` on
  ``DMDESK_RASA_PORT`` and publish that URL as the Rasa endpoint.
* Jobs (``bot.retrain.jobs``), one at a time across replicas under a Redis
  lock: a training exports the live training data and the live FAQ, runs
  ``rasa train`` and stores the model; a restore picks a stored model.
* Swap (both): start a second Rasa server on the new model on the other
  port, wait until it answers and a probe turn succeeds (``validating``),
  switch the endpoint in one transaction, wait until every live client
  reports no request left on the old server (``swapping``), stop the old
  server. A failure at any step stops only the new server: the running model
  is untouched. Trackers stay in Redis and the domain is unchanged, so
  conversations continue across the swap.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
import uuid
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, NoReturn

from redis import Redis

from bot.errors import DmdeskError, NotFoundError
from bot.keys import Keys
from bot.nlu.vectors import featurizer_encoder
from bot.retrain.jobs import JobStore
from bot.retrain.models import BASE_VERSION, JobKind, JobState, ModelRecord, TrainingJob
from bot.retrain.servers import RasaServer
from bot.retrain.trainer import TrainingFailed, TrainSpec, train
from bot.settings import ROOT, NluSettings
from bot.trainingdata import nlufile
from bot.trainingdata.store import LANGUAGES_FILE, TrainingDataStore
from bot.trainingdata.validate import Domain

if TYPE_CHECKING:
    from bot.faq.models import FaqBook

log = logging.getLogger(__name__)

POLL_S = 1.0
MIN_GRACE_S = 1.0


def _no_knowledge_base() -> NoReturn:
    """The FAQ editor's knowledge base for a training snapshot: none. A training only reads the FAQ; when
    none was imported into this deployment's Redis yet, it trains on the FAQ file, without importing it or
    loading an encoder (the process's own knowledge base would follow the environment's Redis settings,
    not this supervisor's)."""
    raise NotFoundError("the FAQ was not imported here yet")


class Supervisor:
    """Owns this deployment's Rasa server and runs training and restore jobs."""

    def __init__(self, settings: NluSettings, redis: Redis) -> None:
        self.settings = settings
        self.redis = redis
        self.keys = Keys(settings.redis_prefix, settings.embedding_cache_prefix)
        self.jobs = JobStore(redis, self.keys)
        intents, entities = nlufile.read_domain(ROOT / "domain.yml")
        self.data = TrainingDataStore(
            redis, self.keys, Domain(tuple(intents), tuple(entities), settings.nlu_min_examples)
        )
        self.name = f"nlu-{os.getpid()}-{uuid.uuid4().hex[:6]}"
        self.server: RasaServer | None = None

    # ----------------------------------------------------------------- servers
    def _base_model(self) -> ModelRecord:
        path = self.settings.base_model
        record = ModelRecord(
            version=BASE_VERSION,
            path=str(path),
            created_at=path.stat().st_mtime if path.exists() else time.time(),
            size_bytes=path.stat().st_size if path.exists() else 0,
        )
        self.jobs.add_model(record)
        return record

    def _initial_model(self) -> ModelRecord:
        base = self._base_model()
        active = self.jobs.active()
        if active is not None and active.version != BASE_VERSION:
            try:
                record = self.jobs.model(active.version)
            except DmdeskError:
                return base
            if Path(record.path).exists():
                return record
            log.warning("active model file missing; serving the base model", extra={"version": active.version})
        return base

    def _launch(self, record: ModelRecord, port: int, nice: int | None = None) -> RasaServer:
        s = self.settings
        server = RasaServer(record.version, Path(record.path), port)
        server.start(
            s.rasa_endpoints_file, s.rasa_credentials, s.rasa_api, s.nlu_nice if nice is None else nice, s.log_dir
        )
        return server

    def start(self) -> None:
        """Serve the active model on the first port and publish the endpoint.

        A retrained model that no longer starts falls back to the base model.
        """
        self._fail_orphans()
        record = self._initial_model()
        try:
            server = self._serve_first(record)
        except DmdeskError:
            if record.version == BASE_VERSION:
                raise
            log.error("the active model does not start; serving the base model", extra={"version": record.version})
            record = self._base_model()
            server = self._serve_first(record)
        self.server = server
        self.jobs.switch(server.url, record.version)
        log.info("serving", extra={"version": record.version, "url": server.url})

    def _serve_first(self, record: ModelRecord) -> RasaServer:
        # Nothing is served before this server: its start is the stack's critical path, so it runs at
        # ``nlu_start_nice`` until it serves, then at ``nlu_nice`` like every NLU process (a swap's
        # candidate starts at ``nlu_nice``: the running server keeps answering meanwhile).
        s = self.settings
        server = self._launch(record, s.rasa_port, nice=s.nlu_start_nice)
        try:
            server.wait_ready(s.rasa_start_timeout_s)
            # The stack starts every process at once: the probe's turn calls the action server, which
            # answers /health only once its FAQ index is built; Rasa may serve before that.
            server.wait_for_actions(s.rasa_endpoints_file, s.rasa_start_timeout_s)
            # the first turn through a fresh server is slow (lazy loading): a probe takes it, not a customer
            server.probe(s.channel_token.get_secret_value(), self.redis, self.keys, featurizer_encoder(s.rasa_config))
        except DmdeskError:
            server.stop()
            raise
        if s.nlu_start_nice != s.nlu_nice:
            server.renice(s.nlu_nice)
        return server

    def _fail_orphans(self) -> None:
        """Jobs left running by a supervisor that died (no one holds the lock) are failed."""
        if self.redis.exists(self.keys.train_lock):
            return
        for job in self.jobs.recent(limit=50):
            if not job.state.final and job.state is not JobState.QUEUED:
                self.jobs.advance(job, JobState.FAILED, error="the NLU supervisor stopped during this job")

    def stop(self) -> None:
        """Stop the Rasa server."""
        if self.server is not None:
            self.server.stop()
            self.server = None

    # -------------------------------------------------------------------- jobs
    def run(self, stop: threading.Event) -> None:
        """Run queued jobs until ``stop`` is set (or the Rasa server dies)."""
        while not stop.is_set():
            if self.server is None or not self.server.alive():
                raise DmdeskError("the Rasa server exited")
            job_id = self.jobs.next_job(POLL_S)
            if job_id is not None:
                self.run_job(job_id)

    def run_job(self, job_id: str) -> TrainingJob:
        """Run one job under the training lock; its record says how it went."""
        job = self.jobs.get(job_id)
        if job.state.final:
            return job
        if not self.jobs.acquire(self.name, wait_s=60):
            return self.jobs.advance(job, JobState.FAILED, error="another training held the lock for too long")
        renewing = threading.Event()
        renewer = threading.Thread(target=self._renew, args=(renewing,), daemon=True)
        renewer.start()
        try:
            job = self.jobs.advance(job, job.state, worker=self.name)
            if job.kind is JobKind.TRAIN:
                return self._train(job)
            return self._restore(job)
        except (DmdeskError, OSError) as exc:  # OSError: the model or snapshot could not be written
            log.warning("job failed", extra={"job": job.id, "error": str(exc)})
            return self.jobs.advance(self.jobs.get(job.id), JobState.FAILED, error=str(exc))
        finally:
            renewing.set()
            renewer.join(timeout=5)
            self.jobs.release(self.name)

    def _renew(self, done: threading.Event) -> None:
        while not done.wait(10):
            self.jobs.renew(self.name)

    def _snapshot(self, brand: str) -> tuple[dict[str, str], int | None, FaqBook]:
        """The training data (live if imported, else the repository's) and the live FAQ."""
        nlu_dir = self.settings.nlu_dir
        if self.data.is_seeded(brand):
            issues = self.data.validate_all(brand)
            if issues:
                raise DmdeskError(f"the training data has {len(issues)} problems, first: {issues[0].message}")
            files, version = self.data.export(brand), self.data.data_version(brand)
        else:
            files = {f"nlu/{p.name}": p.read_text(encoding="utf-8") for p in sorted(nlu_dir.glob("*.yml"))}
            side = nlu_dir.parent / LANGUAGES_FILE
            if side.exists():
                files[LANGUAGES_FILE] = side.read_text(encoding="utf-8")
            version = None
        # imported here, not at start: the FAQ editor pulls in scikit-learn (seconds on a busy machine),
        # and the first Rasa server is spawned before anything heavy is imported
        from bot.faq import store as faq_store
        from bot.faq.editor import FaqEditor

        try:  # the live FAQ (the FAQ editor's), else the file a deployment starts from
            book = FaqEditor(self.redis, self.keys, brand, _no_knowledge_base).book(brand)
        except NotFoundError:
            book = faq_store.load(self.settings.faq_file)
        return files, version, book

    def _train(self, job: TrainingJob) -> TrainingJob:
        files, data_version, book = self._snapshot(job.brand)
        version = time.strftime("%Y%m%d-%H%M%S", time.gmtime()) + "-" + job.id[:6]
        job = self.jobs.advance(job, JobState.TRAINING, data_version=data_version, model_version=version)
        s = self.settings
        spec = TrainSpec(models_dir=s.models_dir, config=s.rasa_config, nice=s.nlu_nice, timeout_s=s.train_timeout_s)
        current = job

        def progress(tail: list[str]) -> None:
            nonlocal current
            if tail != current.log_tail:
                current = current.model_copy(update={"log_tail": tail})
                self.jobs.save(current)

        try:
            path = train(files, book, version, spec, progress)
        except TrainingFailed as exc:
            return self.jobs.advance(current, JobState.FAILED, error=str(exc), log_tail=exc.tail)
        record = ModelRecord(
            version=version,
            path=str(path),
            created_at=time.time(),
            job_id=job.id,
            data_version=data_version,
            size_bytes=path.stat().st_size,
        )
        self.jobs.add_model(record)
        return self._swap(current, record)

    def _restore(self, job: TrainingJob) -> TrainingJob:
        active = self.jobs.active()
        version = job.model_version or (active.previous if active else None)
        if not version:
            raise DmdeskError("there is no earlier model to restore")
        record = self.jobs.model(version)
        if not Path(record.path).exists():
            raise DmdeskError(f"the file of model {version} is gone")
        return self._swap(self.jobs.advance(job, job.state, model_version=version), record)

    # -------------------------------------------------------------------- swap
    def _swap(self, job: TrainingJob, record: ModelRecord) -> TrainingJob:
        old = self.server
        assert old is not None
        s = self.settings
        job = self.jobs.advance(job, JobState.VALIDATING, previous_model=old.version)
        port = s.rasa_alt_port if old.port == s.rasa_port else s.rasa_port
        candidate = self._launch(record, port)
        try:
            candidate.wait_ready(s.rasa_start_timeout_s)
            candidate.probe(
                s.channel_token.get_secret_value(), self.redis, self.keys, featurizer_encoder(s.rasa_config)
            )
            job = self.jobs.advance(job, JobState.SWAPPING)
            endpoint = self.jobs.switch(candidate.url, record.version)
        except BaseException:
            candidate.stop()  # the old server was never switched away from
            raise
        self.server = candidate
        self._drain(endpoint.generation)
        old.stop()
        log.info("model swapped", extra={"version": record.version, "url": candidate.url, "previous": old.version})
        return self.jobs.advance(job, JobState.DONE)

    def _drain(self, generation: int) -> None:
        """Wait until every live client uses ``generation`` and has nothing left on older servers."""
        started = time.monotonic()
        deadline = started + self.settings.swap_drain_timeout_s
        while time.monotonic() < deadline:
            reports = self.jobs.reports()
            settled = all(r.generation >= generation and r.inflight_old == 0 for r in reports.values())
            if settled and time.monotonic() - started >= MIN_GRACE_S:
                return
            time.sleep(0.1)
        log.warning("drain timed out; stopping the old server anyway", extra={"generation": generation})


def _terminate(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def main() -> int:
    """Entry point of ``dmdesk nlu``."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # readiness polls
    signal.signal(signal.SIGTERM, _terminate)
    signal.signal(signal.SIGINT, _terminate)
    settings = NluSettings()
    redis = Redis.from_url(settings.redis_url, health_check_interval=30)
    supervisor = Supervisor(settings, redis)
    stop = threading.Event()
    try:
        supervisor.start()
        print(f"dmdesk nlu: serving on {supervisor.server.url if supervisor.server else '?'}", flush=True)
        supervisor.run(stop)
    except KeyboardInterrupt:
        pass
    finally:
        supervisor.stop()
        redis.close()
    return 0
