"""Longer messages are also classified sentence by sentence, and a sentence that asks for a person hands off
(bot/nlu/clauses.py, bot/nlu/handoff.py): checked with the trained model in Rasa's environment."""

from __future__ import annotations

import pytest

from bot.stack import MODEL, ROOT
from tests.unit.test_rasa_speedups import check_in_rasa_env


@pytest.mark.skipif(not MODEL.exists(), reason="no trained model (make train)")
def test_each_sentence_is_classified_as_if_sent_alone_and_a_request_for_a_person_is_read() -> None:
    check_in_rasa_env("check_clauses", str(MODEL), str(ROOT / "eval" / "dev.yml"))
