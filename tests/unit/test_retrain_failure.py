"""A failed training leaves the served model untouched and says why (real `rasa train`, real Redis)."""

from __future__ import annotations

from pathlib import Path

import pytest
from redis import Redis

from bot.keys import Keys
from bot.retrain.jobs import JobStore
from bot.retrain.models import JobKind, JobState
from bot.retrain.supervisor import Supervisor
from bot.settings import NluSettings
from bot.stack import ROOT

BRAND = "kopiku"


def supervisor(redis_url: str, redis: Redis, keys: Keys, tmp_path: Path, **settings: object) -> Supervisor:
    cfg = NluSettings(redis_url=redis_url, redis_prefix=keys.prefix, models_dir=tmp_path / "models", **settings)
    return Supervisor(cfg, redis)


def served(jobs: JobStore) -> tuple[str | None, int | None]:
    endpoint = jobs.endpoint()
    return (endpoint.model_version, endpoint.generation) if endpoint else (None, None)


def test_a_broken_config_fails_the_job_with_rasas_reason(
    redis_url: str, redis: Redis, keys: Keys, tmp_path: Path
) -> None:
    broken = tmp_path / "config.yml"
    classifier = "bot.nlu.components.IntentLogisticRegression"
    broken.write_text((ROOT / "config.yml").read_text().replace(classifier, "NoSuchClassifier"))
    sup = supervisor(redis_url, redis, keys, tmp_path, rasa_config=broken)
    sup.jobs.switch("http://127.0.0.1:5005", "base")  # what a running supervisor publishes
    before = served(sup.jobs)
    job = sup.jobs.create(JobKind.TRAIN, BRAND, "rina")
    assert sup.jobs.next_job(1) == job.id
    done = sup.run_job(job.id)
    assert done.state is JobState.FAILED
    assert [h.state for h in done.history] == [JobState.QUEUED, JobState.QUEUED, JobState.TRAINING, JobState.FAILED]
    assert done.error and "rasa train exited" in done.error
    assert any("NoSuchClassifier" in line for line in done.log_tail), done.log_tail
    assert served(sup.jobs) == before and sup.jobs.active().version == "base"  # type: ignore[union-attr]
    assert not list((tmp_path / "models").glob("*.tar.gz"))
    assert not redis.exists(keys.train_lock)  # released
    assert sup.jobs.create(JobKind.TRAIN, BRAND, "rina").state is JobState.QUEUED  # the next one may run


def test_a_training_over_its_time_limit_is_stopped(redis_url: str, redis: Redis, keys: Keys, tmp_path: Path) -> None:
    sup = supervisor(redis_url, redis, keys, tmp_path, train_timeout_s=3)
    sup.jobs.switch("http://127.0.0.1:5005", "base")
    job = sup.jobs.create(JobKind.TRAIN, BRAND, "rina")
    done = sup.run_job(job.id)
    assert done.state is JobState.FAILED and "longer than 3 s" in (done.error or "")
    assert served(sup.jobs) == ("base", 1)
    assert not list((tmp_path / "models").glob("*"))


def test_restore_without_an_earlier_model_fails_cleanly(
    redis_url: str, redis: Redis, keys: Keys, tmp_path: Path
) -> None:
    sup = supervisor(redis_url, redis, keys, tmp_path)
    sup.jobs.switch("http://127.0.0.1:5005", "base")
    done = sup.run_job(sup.jobs.create(JobKind.RESTORE, BRAND, "rina").id)
    assert done.state is JobState.FAILED and "no earlier model" in (done.error or "")
    assert served(sup.jobs) == ("base", 1)


@pytest.mark.parametrize("lock_holder", ["nlu-other"])
def test_one_training_at_a_time_across_replicas(
    redis_url: str, redis: Redis, keys: Keys, tmp_path: Path, lock_holder: str
) -> None:
    sup = supervisor(redis_url, redis, keys, tmp_path)
    assert sup.jobs.acquire(lock_holder)
    assert not sup.jobs.acquire(sup.name)
    sup.jobs.release(sup.name)  # not ours: nothing happens
    assert redis.get(keys.train_lock) == lock_holder.encode()
    sup.jobs.release(lock_holder)
    assert sup.jobs.acquire(sup.name)


def test_a_snapshot_before_any_faq_import_takes_the_file_and_imports_nothing(
    redis_url: str, redis: Redis, keys: Keys, tmp_path: Path
) -> None:
    from bot import runtime
    from bot.faq import store as faq_store

    sup = supervisor(redis_url, redis, keys, tmp_path)
    calls = runtime.knowledge_base.cache_info()
    _, _, book = sup._snapshot(BRAND)
    assert [e.id for e in book.entries] == [e.id for e in faq_store.load(sup.settings.faq_file).entries]
    assert not redis.exists(keys.faq_meta)  # nothing imported here
    after = runtime.knowledge_base.cache_info()
    assert after.hits + after.misses == calls.hits + calls.misses  # nor anywhere by the process's own KB


class _LateActions:
    """A Rasa webhook whose turns get no reply until the action server is up (after ``silent`` turns)."""

    def __init__(self, silent: int) -> None:
        import json
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        self.turns: list[str] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's name)
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                outer.turns.append(body["sender"])
                messages = [] if len(outer.turns) <= silent else [{"recipient_id": body["sender"], "text": "hi"}]
                data = json.dumps({"messages": messages}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_the_first_probe_waits_for_the_action_server(redis: Redis, keys: Keys) -> None:
    from bot.errors import UpstreamError
    from bot.retrain.servers import RasaServer

    late = _LateActions(silent=3)
    try:
        server = RasaServer("base", Path("unused.tar.gz"), late.server.server_address[1])
        with pytest.raises(UpstreamError):  # no waiting: the first turn's silence fails the probe
            server.probe("", redis, keys)
        server.probe("", redis, keys, wait_s=10)  # turns 2 and 3 silent, turn 4 answered
        assert len(late.turns) == 4 and len(set(late.turns)) == 4  # a new conversation each turn
        assert not [k for k in redis.scan_iter(f"{keys.prefix}*") if b"probe" in k]  # every probe forgotten
    finally:
        late.close()
    silent = _LateActions(silent=10**6)
    try:
        never = RasaServer("base", Path("unused.tar.gz"), silent.server.server_address[1])
        with pytest.raises(UpstreamError):  # a reply that never comes still fails, once the wait is over
            never.probe("", redis, keys, wait_s=1.0)
        assert len(silent.turns) >= 2
        import subprocess

        dead = RasaServer("base", Path("unused.tar.gz"), silent.server.server_address[1])
        dead.proc = subprocess.Popen(["true"])
        dead.proc.wait()
        turns = len(silent.turns)
        with pytest.raises(UpstreamError):  # a server process that exited gets no second turn
            dead.probe("", redis, keys, wait_s=30)
        assert len(silent.turns) == turns + 1
    finally:
        silent.close()
