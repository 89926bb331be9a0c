"""Benchmarks (README, "Performance"). Importing this package pins BLAS to one thread, as the stack does."""

import os

from bot.stack import BLAS_THREAD_VARS

for _var in BLAS_THREAD_VARS:
    os.environ.setdefault(_var, "1")


def write_result(result: dict[str, object], out: str) -> None:
    """Write a benchmark result as JSON to ``out`` and print it."""
    import json
    from pathlib import Path

    path = Path(out)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))
