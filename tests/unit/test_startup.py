"""Start-up of the stack: the Rasa launcher's import order, lowering a process tree's priority, consumers
that wait for Rasa (real processes, real Redis)."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from redis import Redis

from bot.api.app import create_app
from bot.consume import wait_for_rasa
from bot.keys import Keys
from bot.processes import process_threads, renice
from bot.rasa_client import RasaClient
from bot.retrain.jobs import JobStore
from bot.settings import ServiceSettings
from bot.stack import RASA_PYTHON, ROOT, StackConfig, free_port, rasa_argv


def _nice_of(tid: int) -> int:
    stat = Path(f"/proc/{tid}/stat").read_text()
    return int(stat[stat.rindex(")") + 2 :].split()[16])  # field 19: nice


def test_the_rasa_launcher_imports_skops_before_rasa_runs_and_runs_rasa() -> None:
    # what rasa would find when it starts: skops.io loaded, TensorFlow not yet (TF comes with `rasa run`)
    probe = textwrap.dedent(
        """
        import sys
        import rasa.__main__
        seen = {}
        rasa.__main__.main = lambda: seen.update(
            skops="skops.io" in sys.modules, tf="tensorflow" in sys.modules, argv0=sys.argv[0]
        )
        from bot.nlu import launch
        launch.main()
        print("SEEN", seen)
        """
    )
    run = {"cwd": ROOT, "capture_output": True, "text": True, "timeout": 300, "check": True}
    seen = subprocess.run([str(RASA_PYTHON), "-c", probe], **run).stdout  # type: ignore[call-overload]
    assert "SEEN {'skops': True, 'tf': False, 'argv0': 'rasa'}" in seen
    version = subprocess.run([str(RASA_PYTHON), "-m", "bot.nlu.launch", "--version"], **run).stdout  # type: ignore[call-overload]
    assert "Rasa Version" in version and "3.6." in version
    assert rasa_argv(Path("m.tar.gz"), Path("e.yml"), "c.yml", 5005)[:4] == [
        str(RASA_PYTHON),
        "-m",
        "bot.nlu.launch",
        "run",
    ]


def test_the_rasa_launcher_keeps_jax_out_of_tensorflow() -> None:
    # TensorFlow imports JAX (64 MiB) if it can, for TFLite's JAX converter only; under the launcher it cannot
    probe = textwrap.dedent(
        """
        import sys
        import rasa.__main__
        def run():
            import tensorflow as tf
            from tensorflow.lite.python import util
            print("SEEN", sys.modules.get("jax"), sys.modules.get("jaxlib"), util._xla_computation, tf.constant(2) * 3)
        rasa.__main__.main = run
        from bot.nlu import launch
        launch.main()
        """
    )
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONPATH": str(ROOT)}
    run = {"cwd": ROOT, "capture_output": True, "text": True, "timeout": 300, "check": True, "env": env}
    seen = subprocess.run([str(RASA_PYTHON), "-c", probe], **run).stdout  # type: ignore[call-overload]
    assert "SEEN None None None tf.Tensor(6, shape=(), dtype=int32)" in seen


def test_renice_lowers_every_thread_of_a_process_and_its_children() -> None:
    code = textwrap.dedent(
        """
        import subprocess, sys, threading, time
        child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
        for _ in range(3):
            threading.Thread(target=time.sleep, args=(60,), daemon=True).start()
        print(child.pid, flush=True)
        time.sleep(60)
        """
    )
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    child = 0
    try:
        assert proc.stdout is not None
        child = int(proc.stdout.readline())
        tids = process_threads(proc.pid)
        assert len(tids) >= 5 and child in tids  # 4 threads of the parent, the child's main thread
        assert all(_nice_of(t) == _nice_of(proc.pid) for t in tids)
        renice(proc.pid, 7)
        assert {_nice_of(t) for t in process_threads(proc.pid)} == {7}
    finally:
        if child:
            os.kill(child, signal.SIGKILL)
        proc.kill()
        proc.wait()


def test_consumers_wait_while_no_rasa_answers_and_stop_when_told() -> None:
    async def go() -> tuple[bool, bool]:
        rasa = RasaClient(f"http://127.0.0.1:{free_port()}", timeout_s=1)  # nothing listens there
        stop = asyncio.Event()
        waiting = asyncio.create_task(wait_for_rasa(rasa, stop, period_s=0.05))
        await asyncio.sleep(0.5)
        still_waiting = not waiting.done()
        stop.set()
        result = await asyncio.wait_for(waiting, timeout=5)
        await rasa.close()
        return still_waiting, result

    still_waiting, result = asyncio.run(go())
    assert still_waiting
    assert result is False


def _client_reports(redis: Redis, keys: Keys, app_settings: ServiceSettings) -> tuple[object, dict[bytes, bytes]]:
    with TestClient(create_app(app_settings)) as client:
        rasa = client.app.state.services.rasa  # type: ignore[attr-defined]
        time.sleep(0.3)  # a following client reports within one refresh (0.05 s)
        return rasa.endpoints, redis.hgetall(keys.rasa_clients)  # type: ignore[return-value]


def test_a_pinned_service_keeps_its_own_rasa_and_a_following_one_reports_to_the_supervisor(
    redis: Redis, redis_url: str, keys: Keys
) -> None:
    JobStore(redis, keys).switch("http://127.0.0.1:5999", "base")  # what a supervisor publishes
    common = {"redis_url": redis_url, "redis_prefix": keys.prefix, "api_token": "t", "consumers": 0}
    own = f"http://127.0.0.1:{free_port()}"
    following = ServiceSettings(rasa_url=own, rasa_endpoint_refresh_s=0.05, **common)  # type: ignore[arg-type]
    endpoints, reports = _client_reports(redis, keys, following)
    assert endpoints is not None and endpoints.url == "http://127.0.0.1:5999"  # type: ignore[attr-defined]
    assert len(reports) == 1  # the supervisor waits for this client when it swaps
    redis.delete(keys.rasa_clients)
    pinned = ServiceSettings(rasa_url=own, rasa_pinned=True, **common)  # type: ignore[arg-type]
    endpoints, reports = _client_reports(redis, keys, pinned)
    assert endpoints is None  # every request goes to DMDESK_RASA_URL
    assert reports == {}  # and a swap does not wait for it


def test_the_bot_service_gets_two_malloc_arenas_unless_the_environment_says_otherwise(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("MALLOC_ARENA_MAX", raising=False)
    assert StackConfig(api_token="t").bot_env() == {"MALLOC_ARENA_MAX": "2"}
    assert "MALLOC_ARENA_MAX" not in StackConfig(api_token="t").env()  # the other processes: glibc's default
    assert StackConfig(api_token="t", extra_env={"MALLOC_ARENA_MAX": "4"}).bot_env() == {"MALLOC_ARENA_MAX": "4"}
    monkeypatch.setenv("MALLOC_ARENA_MAX", "8")
    assert StackConfig(api_token="t").bot_env() == {"MALLOC_ARENA_MAX": "8"}
