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


class _FakeServers:
    """Rasa's webhook and an action server's ``/health`` on one port.

    A turn gets a reply from the ``silent + 1``-th on; ``/health`` answers 200 from the ``sick + 1``-th
    request on (503 before).
    """

    def __init__(self, silent: int = 0, sick: int = 0) -> None:
        import json
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        self.turns: list[str] = []
        self.health_checks = 0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def _send(self, status: int, payload: object) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:  # noqa: N802 (http.server's name)
                outer.health_checks += 1
                self._send(200 if outer.health_checks > sick else 503, {"status": "ok"})

            def do_POST(self) -> None:  # noqa: N802
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                outer.turns.append(body["sender"])
                messages = [] if len(outer.turns) <= silent else [{"recipient_id": body["sender"], "text": "hi"}]
                self._send(200, {"messages": messages})

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def endpoints(self, tmp_path: Path) -> Path:
        path = tmp_path / f"endpoints-{self.port}.yml"
        path.write_text(f'action_endpoint:\n  url: "http://127.0.0.1:{self.port}/webhook"\n')
        return path

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_the_first_probe_waits_for_the_action_servers_health(tmp_path: Path) -> None:
    import subprocess

    from bot.errors import UpstreamError
    from bot.retrain.servers import RasaServer, action_health_url

    rasa = subprocess.Popen(["sleep", "60"])  # a Rasa server process that runs
    late, never = _FakeServers(sick=3), _FakeServers(sick=10**6)
    try:
        server = RasaServer("base", Path("unused.tar.gz"), 5005, proc=rasa)
        assert action_health_url(late.endpoints(tmp_path)) == f"http://127.0.0.1:{late.port}/health"
        server.wait_for_actions(late.endpoints(tmp_path), timeout_s=30)
        assert late.health_checks == 4  # three 503s, then the 200 it waited for
        with pytest.raises(UpstreamError, match="not ready"):  # an action server that never answers
            server.wait_for_actions(never.endpoints(tmp_path), timeout_s=1.0)
        assert never.health_checks >= 2
        without = tmp_path / "no-actions.yml"
        without.write_text("tracker_store:\n  type: redis\n")
        server.wait_for_actions(without, timeout_s=30)  # no action server named: nothing to wait for
        rasa.kill()
        rasa.wait()
        checks = never.health_checks
        with pytest.raises(UpstreamError, match="exited"):  # a Rasa server that died stops the wait at once
            server.wait_for_actions(never.endpoints(tmp_path), timeout_s=30)
        assert never.health_checks == checks
    finally:
        rasa.kill()
        late.close()
        never.close()


def test_a_probe_turn_without_a_reply_fails(redis: Redis, keys: Keys) -> None:
    from bot.errors import UpstreamError
    from bot.retrain.servers import RasaServer

    fake = _FakeServers(silent=1)
    try:
        server = RasaServer("base", Path("unused.tar.gz"), fake.port)
        with pytest.raises(UpstreamError, match="without a reply"):
            server.probe("", redis, keys)
        server.probe("", redis, keys)  # the second turn is answered
        assert len(fake.turns) == 2 and len(set(fake.turns)) == 2  # a new conversation each turn
        assert not [k for k in redis.scan_iter(f"{keys.prefix}*") if b"probe" in k]  # every probe forgotten
    finally:
        fake.close()
