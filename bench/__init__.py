"""Benchmarks (README, "Performance"). Importing this package sets BLAS as the stack does (threads, kernels)."""

import os

from bot.processes import blas_env

for _var, _value in blas_env().items():
    os.environ.setdefault(_var, _value)


def write_result(result: dict[str, object], out: str) -> None:
    """Write a benchmark result as JSON to ``out`` and print it."""
    import json
    from pathlib import Path

    path = Path(out)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))
