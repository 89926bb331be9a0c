"""Optimistic Redis transactions that return a value (redis-py's ``transaction`` is typed as returning nothing)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from redis import Redis
from redis.client import Pipeline

T = TypeVar("T")


def transact(redis: Redis, body: Callable[[Pipeline], T], *watched: str) -> T:
    """Run ``body`` under WATCH on ``watched`` and MULTI/EXEC, retrying on a concurrent change.

    ``body`` reads with the pipeline (immediate mode), calls ``pipe.multi()``
    and queues its writes; what it returns on the run that committed is returned.
    """
    results: list[T] = []

    def run(pipe: Pipeline) -> None:
        results.append(body(pipe))

    redis.transaction(run, *watched)
    return results[-1]
