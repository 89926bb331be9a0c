"""The clients' side of a swap: follow the Rasa URL in Redis, report requests still on the old server."""

from __future__ import annotations

import asyncio

from redis import Redis
from redis.asyncio import Redis as AsyncRedis

from bot.keys import Keys
from bot.retrain.endpoint import RasaEndpoints
from bot.retrain.jobs import JobStore


async def test_a_client_switches_and_reports_its_old_requests_until_they_end(
    redis: Redis, redis_url: str, keys: Keys
) -> None:
    jobs = JobStore(redis, keys)
    aredis = AsyncRedis.from_url(redis_url)
    client = RasaEndpoints(aredis, keys, "http://127.0.0.1:1/", refresh_s=0.05)
    try:
        async with client.use() as url:
            assert url == "http://127.0.0.1:1"  # nothing published yet: the configured URL
        jobs.switch("http://127.0.0.1:5005", "base")
        await client.refresh()
        assert (client.url, client.generation) == ("http://127.0.0.1:5005", 1)
        release = asyncio.Event()

        async def old_request() -> str:
            async with client.use() as url:
                await release.wait()
                return url

        running = asyncio.create_task(old_request())
        await asyncio.sleep(0.01)
        swapped = jobs.switch("http://127.0.0.1:5006", "v2")
        await asyncio.sleep(0.06)
        async with client.use() as url:
            assert url == "http://127.0.0.1:5006"  # new requests go to the new server at once
        report = jobs.reports()[client.name]
        assert report.generation == swapped.generation == 2 and report.inflight_old == 1  # the old one still runs
        release.set()
        assert await running == "http://127.0.0.1:5005"
        await client.refresh()
        assert jobs.reports()[client.name].inflight_old == 0  # the supervisor may stop the old server now
        assert jobs.active() is not None and jobs.active().previous == "base"  # type: ignore[union-attr]
        stop = asyncio.Event()
        watcher = asyncio.create_task(client.run(stop))
        await asyncio.sleep(0.1)
        stop.set()
        await watcher
        assert client.name not in jobs.reports()  # a stopped client withdraws its report
    finally:
        await aredis.aclose()
