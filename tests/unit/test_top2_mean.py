"""Per-entry top-2 mean of row similarities (bot/faq/index.py)."""

import numpy as np

from bot.faq.index import top2_mean


def test_the_mean_of_each_entrys_two_best_rows() -> None:
    sims = np.asarray([0.9, 0.5, 0.7, 0.2, 0.4, 0.8], dtype=np.float32)
    owner = np.asarray([0, 0, 0, 1, 1, 2])
    assert np.allclose(top2_mean(sims, owner, 4)[:3], [0.8, 0.3, 0.8])  # one row: it counts twice
    assert top2_mean(sims, owner, 4)[3] == -np.inf  # an entry without rows


def test_two_rows_that_share_the_best_similarity_are_the_two_best() -> None:
    # before: both were left out as "the best", and the third row taken as second (lexical scores tie often)
    sims = np.asarray([0.6, 0.6, 0.1, 0.3], dtype=np.float32)
    owner = np.asarray([0, 0, 0, 1])
    assert np.allclose(top2_mean(sims, owner, 2), [0.6, 0.3])
