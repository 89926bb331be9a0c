"""Meta webhook benchmark: acknowledgement under saturation, end-to-end throughput vs Rasa's REST channel.

    .venv-app/bin/python -m bench.meta [--overload-rate 40] [--overload-s 15] [--n 300] [--concurrency 8]

One private stack (own ports and Redis prefix) whose Rasa server also has
Rasa 3.6's own REST channel on, and a fake Graph API in its own process.

1. Saturation: signed webhooks posted open-loop faster than the stack can
   answer (``--overload-rate`` per second for ``--overload-s`` seconds), each
   a new conversation; the acknowledgement latency of every POST is measured
   while the consumers are saturated; then the time until every reply reached
   the fake Graph API.
2. End to end, closed loop, ``--concurrency`` customers at a time: signed
   webhook in -> reply recorded by the fake Graph API (long poll), ``--n`` messages.
3. The same messages and concurrency through Rasa's REST channel
   (``POST /webhooks/rest/webhook``, replies in the response).

1 and 2 run twice: with the consumers inside the bot service
(DMDESK_CONSUMER_PROCESS=false), then with the bot service only answering
webhooks (DMDESK_CONSUMERS=0) and the same 4 consumers in one ``dmdesk
consume`` process at the NLU's lower priority: the layout ``make run`` uses.

Queries are the dev and test sets' texts, each the first message of a new conversation.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import time
import uuid

import httpx

from bench import write_result
from bot import simulate as sim
from bot.cli import ensure_redis, redis_url
from bot.evaluation import load_queries, percentile
from bot.processes import stop_on_signals
from bot.stack import ROOT, free_port, private_stack

SECRET = "bench-secret"


def _stats(values: list[float]) -> dict[str, float]:
    return {
        "n": len(values),
        "p50": round(percentile(values, 50), 2),
        "p99": round(percentile(values, 99), 2),
        "max": round(max(values), 2),
    }


def _customer() -> str:
    return str(uuid.uuid4().int % 10**16)


async def overload(bot_url: str, fake_url: str, texts: list[str], rate: float, seconds: float) -> dict[str, object]:
    """Open-loop webhooks at ``rate``/s; ack latency while saturated; time to drain."""
    acks: list[float] = []
    customers: list[str] = []
    limits = httpx.Limits(max_connections=200, max_keepalive_connections=100)
    async with httpx.AsyncClient(base_url=bot_url, timeout=30, limits=limits) as http:

        async def one(i: int) -> None:
            customer = _customer()
            customers.append(customer)
            body = sim.delivery("page", sim.DEMO_PAGE, [sim.text(customer, sim.DEMO_PAGE, texts[i % len(texts)])])
            raw, headers = sim.signed(body, SECRET)
            t0 = time.perf_counter()
            response = await http.post("/webhooks/messenger", content=raw, headers=headers)
            acks.append((time.perf_counter() - t0) * 1000)
            response.raise_for_status()

        started = time.perf_counter()
        tasks = []
        total = int(rate * seconds)
        for i in range(total):
            await asyncio.sleep(max(0.0, started + i / rate - time.perf_counter()))
            tasks.append(asyncio.create_task(one(i)))
        await asyncio.gather(*tasks)
        posted_s = time.perf_counter() - started
    async with httpx.AsyncClient(base_url=fake_url, timeout=600) as fake:
        for customer in customers:
            (await fake.get("/_fake/wait", params={"recipient": customer, "timeout": 600})).raise_for_status()
        drained_s = time.perf_counter() - started
    return {
        "posted": total,
        "offered_rate_per_s": rate,
        "post_duration_s": round(posted_s, 1),
        "ack_ms": _stats(acks),
        "all_replied_after_s": round(drained_s, 1),
        "drain_throughput_per_s": round(total / drained_s, 1),
    }


async def closed_loop(texts: list[str], n: int, concurrency: int, send_one) -> dict[str, object]:  # type: ignore[no-untyped-def]
    """``n`` messages, ``concurrency`` at a time; latency of each, overall throughput."""
    latencies: list[float] = []
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(n):
        queue.put_nowait(i)

    async def worker() -> None:
        while not queue.empty():
            i = queue.get_nowait()
            t0 = time.perf_counter()
            await send_one(texts[i % len(texts)])
            latencies.append((time.perf_counter() - t0) * 1000)

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.perf_counter() - started
    return {"throughput_per_s": round(n / elapsed, 1), "latency_ms": _stats(latencies), "concurrency": concurrency}


async def run(args: argparse.Namespace, bot_url: str, rasa_url: str, fake_url: str, rest: bool) -> dict[str, object]:
    queries = load_queries(ROOT / "eval" / "dev.yml") + load_queries(ROOT / "eval" / "test.yml")
    texts = [q["text"] for q in queries]
    limits = httpx.Limits(max_connections=100, max_keepalive_connections=100)
    async with (
        httpx.AsyncClient(base_url=bot_url, timeout=120, limits=limits) as bot,
        httpx.AsyncClient(base_url=fake_url, timeout=120, limits=limits) as fake,
        httpx.AsyncClient(base_url=rasa_url, timeout=120, limits=limits) as rasa,
    ):

        async def via_webhook(text: str) -> None:
            customer = _customer()
            body = sim.delivery("page", sim.DEMO_PAGE, [sim.text(customer, sim.DEMO_PAGE, text)])
            raw, headers = sim.signed(body, SECRET)
            (await bot.post("/webhooks/messenger", content=raw, headers=headers)).raise_for_status()
            replies = (await fake.get("/_fake/wait", params={"recipient": customer, "timeout": 120})).json()
            assert replies, "no reply"

        async def via_rest(text: str) -> None:
            response = await rasa.post("/webhooks/rest/webhook", json={"sender": f"rest{_customer()}", "message": text})
            response.raise_for_status()
            assert response.json(), "no reply"

        # warm up both paths (model caches, connections)
        await closed_loop(texts, 10, 2, via_webhook)
        await closed_loop(texts, 10, 2, via_rest)
        result: dict[str, object] = {}
        result["saturation"] = await overload(bot_url, fake_url, texts, args.overload_rate, args.overload_s)
        result["end_to_end_webhook"] = await closed_loop(texts, args.n, args.concurrency, via_webhook)
        if rest:
            result["rasa_rest_channel"] = await closed_loop(texts, args.n, args.concurrency, via_rest)
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--overload-rate", type=float, default=40.0)
    parser.add_argument("--overload-s", type=float, default=15.0)
    parser.add_argument("--n", type=int, default=300)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "meta.json"))
    args = parser.parse_args()
    ensure_redis(redis_url())
    fake_port = free_port()
    fake_url = f"http://127.0.0.1:{fake_port}"
    fake = subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "fake-graph", "--port", str(fake_port)],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    credentials = ROOT / ".cache" / "credentials-bench.yml"
    credentials.parent.mkdir(parents=True, exist_ok=True)
    credentials.write_text((ROOT / "credentials.yml").read_text() + "\nrest:\n")
    env = {
        "META_APP_SECRET": SECRET,
        "META_VERIFY_TOKEN": "bench",
        "META_GRAPH_URL": fake_url,
        "DMDESK_SUPPORT_HOURS": "mon-sun 00:00-23:59",
        "DMDESK_SEND_RATE_PER_S": "1000",
    }
    result: dict[str, object] = {}
    try:
        # 1. consumers inside the bot service; 2. (make run's layout) the bot service only answers webhooks
        #    (DMDESK_CONSUMERS=0) and one `dmdesk consume` replica runs the same 4 consumers.
        for topology in ("in_process_consumers", "consumer_replica"):
            # the benchmark places the consumers itself: not the stack's own consumer process
            topo_env = {**env, "DMDESK_CONSUMER_PROCESS": "false"}
            if topology == "consumer_replica":
                topo_env["DMDESK_CONSUMERS"] = "0"
            with private_stack("bench", redis_url(), topo_env, credentials=str(credentials)) as stack:
                replica = None
                if topology == "consumer_replica":
                    replica = subprocess.Popen(
                        [sys.executable, "-m", "bot.cli", "consume", "--n", "4"],
                        cwd=ROOT,
                        env=stack.config.env(),
                        stdout=subprocess.DEVNULL,
                        stderr=subprocess.DEVNULL,
                        preexec_fn=lambda: os.nice(stack.config.nlu_nice),  # throughput work, like NLU
                    )
                try:
                    rasa_url = f"http://127.0.0.1:{stack.config.rasa_port}"
                    rest = topology == "in_process_consumers"
                    result[topology] = asyncio.run(run(args, stack.config.bot_url, rasa_url, fake_url, rest))
                finally:
                    if replica is not None:
                        replica.terminate()
                        replica.wait(timeout=15)
    finally:
        fake.terminate()
        fake.wait(timeout=10)
    result["machine"] = {"cpus": os.cpu_count(), "consumers": 4, "concurrency": args.concurrency}
    write_result(result, args.out)


if __name__ == "__main__":
    stop_on_signals()
    main()
