"""One ``rasa train`` run on a snapshot of the live training data, in the Rasa environment.

The snapshot is written to a temporary directory in the layout of the
repository (``nlu/<intent>.yml``, ``rules.yml``, and the FAQ's generated
``nlu_faq.yml``), and Rasa runs with the Makefile's flags (``--data ...
--domain domain.yml -c config.yml``) at the NLU's niceness. The model lands
in ``models/dmdesk-<version>.tar.gz``; nothing under ``models/`` changes
when training fails.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bot.encoders.base import return_freed_memory
from bot.errors import DmdeskError
from bot.faq.models import FaqBook
from bot.language import release_detector_if_idle
from bot.stack import RASA_BIN, ROOT
from bot.training import faq_nlu_text
from bot.trainingdata import nlufile
from bot.trainingdata.store import write_export

LOG_TAIL = 40


class TrainingFailed(DmdeskError):
    """``rasa train`` failed or timed out; ``tail`` holds its last output lines."""

    def __init__(self, message: str, tail: list[str]) -> None:
        super().__init__(message)
        self.tail = tail


@dataclass(frozen=True)
class TrainSpec:
    """What a training needs besides the data."""

    models_dir: Path
    config: Path = ROOT / "config.yml"
    domain: Path = ROOT / "domain.yml"
    rules: Path = ROOT / "data" / "rules.yml"
    nice: int = 5
    timeout_s: float = 1800
    rasa_bin: Path = RASA_BIN


def rasa_env() -> dict[str, str]:
    """Environment of Rasa processes (the Makefile's RASA_ENV)."""
    return {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "RASA_TELEMETRY_ENABLED": "false",
        "TF_CPP_MIN_LOG_LEVEL": "2",
        "SQLALCHEMY_SILENCE_UBER_WARNING": "1",
        "HF_HUB_OFFLINE": "1",
    }


def write_snapshot(files: dict[str, str], book: FaqBook, spec: TrainSpec, into: Path) -> list[str]:
    """Write the data a training reads into ``into``; returns the ``--data`` paths."""
    write_export(files, into)
    shutil.copyfile(spec.rules, into / "rules.yml")
    seen = {
        text.lower()
        for name, body in files.items()
        if name.startswith("nlu/")
        for _, texts in nlufile.parse_file(body)
        for text in texts
    }
    (into / "nlu_faq.yml").write_text(faq_nlu_text(book, seen, "the live FAQ"), encoding="utf-8")
    # the per-language cap detected the FAQ texts' languages; the supervisor detects nothing else, so
    # the detector's models (about 95 MiB of its RSS) are dropped until the next training
    if release_detector_if_idle(0.0):
        return_freed_memory()
    return [str(into / "nlu"), str(into / "rules.yml"), str(into / "nlu_faq.yml")]


def train(
    files: dict[str, str], book: FaqBook, version: str, spec: TrainSpec, on_output: Callable[[list[str]], None]
) -> Path:
    """Train a model on ``files`` (a training data export) and ``book``; returns the stored model's path.

    ``on_output`` is called with the output tail about once a second.

    Raises:
        TrainingFailed: Rasa exited with an error, produced no model, or ran longer than ``spec.timeout_s``.
    """
    spec.models_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="dmdesk-train-") as tmp:
        work = Path(tmp)
        data = write_snapshot(files, book, spec, work / "data")
        argv = [
            str(spec.rasa_bin),
            "train",
            "--data",
            *data,
            "--domain",
            str(spec.domain),
            "-c",
            str(spec.config),
            "--out",
            str(work / "out"),
            "--fixed-model-name",
            version,
        ]
        tail: deque[str] = deque(maxlen=LOG_TAIL)
        nice = spec.nice
        proc = subprocess.Popen(
            argv,
            cwd=ROOT,
            env=rasa_env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            # same process group as the supervisor: stopping the stack stops a training too
            preexec_fn=(lambda: os.nice(nice)) if nice else None,  # noqa: PLW1509 (fork of a supervisor thread)
        )
        assert proc.stdout is not None
        stream = proc.stdout

        def read() -> None:
            for raw in stream:
                line = raw.decode("utf-8", "replace").rstrip()
                if line:
                    tail.append(line[:300])

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        deadline = time.monotonic() + spec.timeout_s
        while proc.poll() is None:
            if time.monotonic() > deadline:
                proc.kill()
                proc.wait()
                reader.join(timeout=5)
                raise TrainingFailed(f"training took longer than {spec.timeout_s:.0f} s and was stopped", list(tail))
            on_output(list(tail))
            time.sleep(1)
        reader.join(timeout=5)
        on_output(list(tail))
        produced = work / "out" / f"{version}.tar.gz"
        if proc.returncode != 0 or not produced.exists():
            raise TrainingFailed(f"rasa train exited with {proc.returncode}", list(tail))
        target = spec.models_dir / f"dmdesk-{version}.tar.gz"
        tmp_target = target.with_suffix(".part")
        shutil.copyfile(produced, tmp_target)
        tmp_target.replace(target)
        return target
