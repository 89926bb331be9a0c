"""Rasa speedups and the sentence-only count vectors change no result, and the intent classifier's class
weights are what they say: checked in Rasa's environment."""

from __future__ import annotations

import os
import subprocess

import pytest

from bot.stack import MODEL, ROOT

RASA_PYTHON = ROOT / ".venv-rasa" / "bin" / "python"


def check_in_rasa_env(module: str, *args: str) -> None:
    """Run ``tests.rasa_env.<module>`` in Rasa's environment; it must exit 0 and print ``ok``."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "RASA_TELEMETRY_ENABLED": "false", "TF_CPP_MIN_LOG_LEVEL": "2"}
    argv = [str(RASA_PYTHON), "-m", f"tests.rasa_env.{module}", *args]
    done = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-4000:]
    assert done.stdout.strip().endswith("ok")


DEV = str(ROOT / "eval" / "dev.yml")


@pytest.mark.skipif(not MODEL.exists(), reason="no trained model (make train)")
def test_speedups_keep_parses_matrices_and_validation_errors() -> None:
    check_in_rasa_env("check_speedups", str(MODEL), DEV)


@pytest.mark.skipif(not MODEL.exists(), reason="no trained model (make train)")
def test_runtime_patches_keep_parses_predictions_and_states() -> None:
    check_in_rasa_env("check_runtime", str(MODEL), DEV)


def test_sentence_count_vectors_match_rasas_featurizer() -> None:
    check_in_rasa_env("check_count_vectors", DEV)


def test_intent_classifier_weights_are_rasas_at_power_one_and_softer_below() -> None:
    check_in_rasa_env("check_intent_weights", DEV)
