"""Encode texts with the multilingual encoder and save the vectors (run in either Python environment).

    python -m tests.rasa_env.encode TEXTS.txt OUT.npy

One text per line of ``TEXTS.txt``; each text encoded alone, as the Rasa server
and the action server encode a message. Prints the BLAS kernels in use, then ``ok``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import threadpoolctl

from bot.encoders.base import get_encoder


def main(texts_file: str, out: str) -> int:
    """Encode every line of ``texts_file`` into ``out``."""
    texts = Path(texts_file).read_text(encoding="utf-8").splitlines()
    encoder = get_encoder("use-multilingual")
    vectors = np.concatenate([encoder.encode([text]) for text in texts])
    np.save(out, vectors)
    blas = [info for info in threadpoolctl.threadpool_info() if info.get("internal_api") == "openblas"]
    print([info.get("architecture") for info in blas])
    print("ok")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
