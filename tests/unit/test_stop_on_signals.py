"""A command that started a stack cleans up when it is sent SIGTERM (bench runs, make run, make eval)."""

import signal
import subprocess
import sys
from pathlib import Path

from bot.stack import ROOT

SCRIPT = """
import sys, time
from bot.processes import stop_on_signals
stop_on_signals()
try:
    print("ready", flush=True)
    time.sleep(60)
finally:
    open(sys.argv[1], "w").write("stopped")
"""


def test_sigterm_runs_the_finally_blocks(tmp_path: Path) -> None:
    marker = tmp_path / "marker"
    proc = subprocess.Popen([sys.executable, "-c", SCRIPT, str(marker)], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=20)
    finally:
        proc.kill()
    assert marker.read_text() == "stopped"
    assert proc.returncode != 0  # interrupted, not a normal end
