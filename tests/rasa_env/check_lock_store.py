"""Checks of connectors/lock_store.py against a real Redis (db 14, a unique prefix), in Rasa's environment.

    .venv-rasa/bin/python -m tests.rasa_env.check_lock_store REDIS_HOST REDIS_PORT

Run by tests/unit/test_lock_store.py. Prints ``ok`` and exits 0, or raises AssertionError.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
import time
import uuid
from typing import Any

DB = 14


def check_sources() -> None:
    """The Rasa lock code the store reproduces is the code it was written against."""
    from connectors import lock_store
    from connectors.rasa_runtime import source_digest

    current = {name: source_digest(fn) for name, fn in lock_store.current_sources().items()}
    changed = [name for name, digest in lock_store.RASA_SOURCES.items() if current.get(name) != digest]
    assert not changed, f"Rasa's lock code changed: {changed}"


def stores(host: str, port: int, prefix: str) -> tuple[Any, Any]:
    """(ours, Rasa's RedisLockStore) on the same Redis and prefix."""
    from rasa.core.lock_store import LockStore, RedisLockStore
    from rasa.utils.endpoints import EndpointConfig

    endpoint = EndpointConfig(
        url=host, type="connectors.lock_store.AsyncRedisLockStore", port=port, db=DB, key_prefix=prefix
    )
    ours = LockStore.create(endpoint)
    assert type(ours).__name__ == "AsyncRedisLockStore", type(ours)
    return ours, RedisLockStore(host=host, port=port, db=DB, key_prefix=prefix)


async def check_order_and_format(ours: Any, rasa: Any) -> None:
    """Tickets served in order, one holder at a time; the key in Rasa's format while held, gone after."""
    from rasa.core.lock import TicketLock

    cid = "conv-" + uuid.uuid4().hex
    holding: list[int] = []
    served: list[int] = []

    async def worker(i: int) -> None:
        async with ours.lock(cid, wait_time_in_seconds=0.02):
            holding.append(i)
            assert len(holding) == 1, holding
            raw = rasa.red.get(rasa.key_prefix + cid)
            lock = TicketLock.from_dict(json.loads(raw))  # Rasa reads what the scripts wrote
            assert lock.conversation_id == cid and lock.now_serving == served.__len__(), (lock.dumps(), served)
            await asyncio.sleep(0.01)
            served.append(i)
            holding.remove(i)

    tasks = []
    for i in range(6):
        tasks.append(asyncio.ensure_future(worker(i)))
        await asyncio.sleep(0.005)  # tickets drawn in this order
    await asyncio.gather(*tasks)
    assert served == list(range(6)), served
    assert rasa.red.get(rasa.key_prefix + cid) is None


async def check_with_rasa_store(ours: Any, rasa: Any) -> None:
    """A ticket Rasa's store issued is served first; Rasa's store sees ours; numbers continue."""
    cid = "conv-" + uuid.uuid4().hex
    theirs = rasa.issue_ticket(cid, 30)
    assert theirs == 0
    entered = asyncio.Event()

    async def ours_waits() -> None:
        async with ours.lock(cid, wait_time_in_seconds=0.02):
            entered.set()
            lock = rasa.get_lock(cid)
            assert [t.number for t in lock.tickets] == [1], lock.dumps()

    task = asyncio.ensure_future(ours_waits())
    await asyncio.sleep(0.15)
    assert not entered.is_set(), "entered while Rasa's ticket was served"
    assert [t.number for t in rasa.get_lock(cid).tickets] == [0, 1]
    rasa.cleanup(cid, theirs)
    await asyncio.wait_for(task, 5)
    assert rasa.get_lock(cid) is None


async def check_expiry_and_atomicity(ours: Any, rasa: Any, host: str, port: int, prefix: str) -> None:
    """An expired ticket is skipped (its number reused as Rasa does); concurrent issues never collide."""
    from rasa.utils.endpoints import EndpointConfig

    from connectors.lock_store import AsyncRedisLockStore

    cid = "conv-" + uuid.uuid4().hex
    stale, served_now = await ours.issue_ticket_async(cid, 0.2)
    assert (stale, served_now) == (0, True)
    started = time.monotonic()
    async with ours.lock(cid, lock_lifetime=30, wait_time_in_seconds=0.05):
        waited = time.monotonic() - started
        lock = rasa.get_lock(cid)  # the stale ticket expired while ticket 1 waited: dropped
        assert [t.number for t in lock.tickets] == [1] and 0.1 < waited < 2, (lock.dumps(), waited)
        assert 29 < lock.tickets[0].expires - time.time() <= 30, lock.dumps()
    assert rasa.get_lock(cid) is None
    stale, _ = await ours.issue_ticket_async(cid, 0.05)
    await asyncio.sleep(0.1)
    fresh, served_now = await ours.issue_ticket_async(cid, 30)  # all expired: numbering restarts, as Rasa's
    assert (fresh, served_now) == (0, True), (fresh, served_now)
    await ours.release_async(cid, fresh)
    assert rasa.get_lock(cid) is None

    other = AsyncRedisLockStore(EndpointConfig(url=host, port=port, db=DB, key_prefix=prefix))
    cid = "conv-" + uuid.uuid4().hex
    issued = await asyncio.gather(*[s.issue_ticket_async(cid, 30) for s in [ours, other] * 20])
    numbers = sorted(n for n, _ in issued)
    assert numbers == list(range(40)), numbers
    assert sum(1 for _, now in issued if now) == 1
    for n in numbers:
        await (ours if n % 2 else other).release_async(cid, n)
    assert rasa.get_lock(cid) is None
    await other.close()


async def check_cancel_and_gone(ours: Any, rasa: Any) -> None:
    """A cancelled waiter gives its ticket back; a lock deleted under a waiter is a LockError."""
    from rasa.core.lock_store import LockError

    cid = "conv-" + uuid.uuid4().hex
    first = rasa.issue_ticket(cid, 30)

    async def wait() -> None:
        async with ours.lock(cid, wait_time_in_seconds=0.02):
            raise AssertionError("acquired while held")

    task = asyncio.ensure_future(wait())
    await asyncio.sleep(0.1)
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    await asyncio.sleep(0.05)
    assert [t.number for t in rasa.get_lock(cid).tickets] == [first], rasa.get_lock(cid).dumps()

    task = asyncio.ensure_future(wait())
    await asyncio.sleep(0.1)
    rasa.delete_lock(cid)
    try:
        await asyncio.wait_for(task, 5)
    except LockError:
        pass
    else:
        raise AssertionError("no LockError when the lock vanished")
    assert rasa.get_lock(cid) is None


async def run(host: str, port: int) -> None:
    """All checks, on keys of a fresh prefix that are deleted afterwards."""
    prefix = "lockcheck" + uuid.uuid4().hex[:12]
    ours, rasa = stores(host, port, prefix)
    try:
        await check_order_and_format(ours, rasa)
        await check_with_rasa_store(ours, rasa)
        await check_expiry_and_atomicity(ours, rasa, host, port, prefix)
        await check_cancel_and_gone(ours, rasa)
    finally:
        for key in rasa.red.scan_iter(match=f"{prefix}:*"):
            rasa.red.delete(key)
        await ours.close()


def main(argv: list[str]) -> int:
    """Run the checks against the Redis at ``argv[0]:argv[1]``."""
    check_sources()
    asyncio.run(run(argv[0], int(argv[1])))
    print("ok")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
