"""The NLU featurizer puts each message's vector where the FAQ search looks (bot/faq/query_vectors.py).

Run inside Rasa's environment by tests/unit/test_query_vectors.py, with
``REDIS_URL`` and ``DMDESK_REDIS_PREFIX`` of the test:

    .venv-rasa/bin/python -m tests.rasa_env.check_featurizer_shares TEXT

Featurizes ``TEXT`` as the Rasa server does (``process``) and prints ``ok``
if Redis holds the message's vector, bit for bit the dense feature it added.
"""

from __future__ import annotations

import os
import sys

import numpy as np
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.message import Message
from redis import Redis

from bot.faq.query_vectors import text_digest
from bot.keys import Keys
from bot.nlu.components import SentenceEncoderFeaturizer


def main(text: str) -> int:
    """Featurize ``text``, compare the stored vector with the feature."""
    config = {**SentenceEncoderFeaturizer.get_default_config(), "encoder": "use-multilingual", "alias": "use"}
    featurizer = SentenceEncoderFeaturizer("use", config)
    message = Message(data={TEXT: text})
    featurizer.process([message])
    feature = message.get_dense_features(TEXT)[1]
    assert feature is not None
    key = Keys(os.environ["DMDESK_REDIS_PREFIX"]).query_embedding("use-multilingual", text_digest(text))
    raw = Redis.from_url(os.environ["REDIS_URL"]).get(key)
    assert raw is not None, key
    assert np.array_equal(np.frombuffer(raw, dtype=np.float32), feature.features[0])
    print("ok")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
