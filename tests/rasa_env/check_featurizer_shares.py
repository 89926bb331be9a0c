"""The NLU featurizer and the message vectors (bot/faq/query_vectors.py, bot/nlu/vectors.py).

Run inside Rasa's environment by tests/unit/test_query_vectors.py and
test_message_vectors.py, with ``REDIS_URL`` and ``DMDESK_REDIS_PREFIX`` of the test:

    .venv-rasa/bin/python -m tests.rasa_env.check_featurizer_shares [--offered] TEXT

Featurizes ``TEXT`` as the Rasa server does (``process``) and prints ``ok`` if:

* without ``--offered``: Redis holds the message's vector, bit for bit the
  dense feature it added (the featurizer encoded it and shared it);
* with ``--offered``: the text's vector was offered as the ``dmdesk`` channel
  offers the one a consumer sent (a vector that is not the encoder's, so that
  using it shows), and the feature is that vector, the encoder's weights were
  never loaded, and nothing was put in Redis. A text of more than one sentence
  is offered with its sentences' vectors (``unpack_clauses``, as the channel
  does), and the sentence features are those.
"""

from __future__ import annotations

import os
import sys
from contextlib import ExitStack

import numpy as np
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.message import Message
from redis import Redis

from bot.encoders import get_encoder
from bot.faq.query_vectors import text_digest
from bot.keys import Keys
from bot.nlu.clauses import CLAUSE_DENSE
from bot.nlu.components import SentenceEncoderFeaturizer
from bot.nlu.handoff import clause_spans
from bot.nlu.vectors import CLAUSE_VECTORS, OFFERED, pack, unpack, unpack_clauses


def main(text: str, offered: bool) -> int:
    """Featurize ``text``, compare the feature with what was offered or stored."""
    config = {**SentenceEncoderFeaturizer.get_default_config(), "encoder": "use-multilingual", "alias": "use"}
    featurizer = SentenceEncoderFeaturizer("use", config)
    message = Message(data={TEXT: text})
    key = Keys(os.environ["DMDESK_REDIS_PREFIX"]).query_embedding("use-multilingual", text_digest(text))
    redis = Redis.from_url(os.environ["REDIS_URL"])
    if offered:
        sent = np.linspace(-1, 1, 512, dtype=np.float32)
        clauses = [text[a:b] for a, b in clause_spans(text)]
        parts = [np.full(512, i / 10, dtype=np.float32) for i in range(len(clauses))]
        payload = {
            **pack("use-multilingual", text, sent),
            CLAUSE_VECTORS: [pack("use-multilingual", c, v) for c, v in zip(clauses, parts, strict=True)],
        }
        name, vector = unpack(payload, text)  # type: ignore[misc]
        with ExitStack() as offers:
            offers.enter_context(OFFERED.during(name, text, vector))
            for encoder, clause, part in unpack_clauses(payload, text):
                offers.enter_context(OFFERED.during(encoder, clause, part))
            featurizer.process([message])
        feature = message.get_dense_features(TEXT)[1]
        assert feature is not None and np.array_equal(feature.features[0], sent)
        if clauses:
            assert np.array_equal(message.get(CLAUSE_DENSE), np.stack(parts))
        assert not get_encoder("use-multilingual").loaded  # type: ignore[attr-defined]
        taken = 1 + len(clauses)
        assert OFFERED.counts() == {"taken": taken, "encoded": 0, "in_flight": 0}, OFFERED.counts()
        assert redis.get(key) is None
        print("ok")
        return 0
    featurizer.process([message])
    feature = message.get_dense_features(TEXT)[1]
    assert feature is not None
    raw = redis.get(key)
    assert raw is not None, key
    assert np.array_equal(np.frombuffer(raw, dtype=np.float32), feature.features[0])
    assert OFFERED.counts()["encoded"] == 1
    print("ok")
    return 0


if __name__ == "__main__":
    args = sys.argv[1:]
    sys.exit(main(args[-1], "--offered" in args))
