"""connectors/lock_store.py against a real Redis: checked inside Rasa's environment (tests/rasa_env)."""

from __future__ import annotations

import os
import subprocess
from urllib.parse import urlparse

from bot.cli import redis_url
from bot.stack import ROOT

RASA_PYTHON = ROOT / ".venv-rasa" / "bin" / "python"


def test_lock_store_keeps_rasas_ticket_lock() -> None:
    url = urlparse(redis_url())
    env = {**os.environ, "PYTHONPATH": str(ROOT), "RASA_TELEMETRY_ENABLED": "false", "TF_CPP_MIN_LOG_LEVEL": "2"}
    host, port = url.hostname or "127.0.0.1", str(url.port or 6379)
    argv = [str(RASA_PYTHON), "-m", "tests.rasa_env.check_lock_store", host, port]
    done = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-4000:]
    assert done.stdout.strip().endswith("ok")
