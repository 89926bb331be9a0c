"""CPU time per message, per process, under a fixed closed-loop load (robust on a busy machine).

    .venv-app/bin/python -m bench.cpu [--n 200] [--concurrency 16] [--out bench/results/cpu.json]
                                      [--py-spy PATH --profile-dir DIR]

Starts a private stack and the fake Graph API (as ``bench.run`` does), warms
it up, then sends ``n`` signed webhooks, ``concurrency`` customers at a time,
each the first message of a new conversation (``bench.harness.message_mix``),
and reads the CPU time (user + system, ``/proc``) of every process before and
after: CPU milliseconds per message per process, which depend little on what
else runs on the machine, unlike latencies and msg/s (also reported). The NLU
supervisor (``dmdesk nlu``) and the Rasa server it starts are counted apart.
RSS of every process tree is reported too: idle (3 s after the first answer,
as ``bench.run`` does) and the peak of each measured phase (sampled every
0.5 s, ``bench.harness.ProcSampler``), with their sums over the stack
(the fake Graph API left out, as ``bench.summary`` does).

With ``--py-spy``, a second pass of the same load runs with py-spy recording
every process (``--native``, collapsed stacks, one file each in
``--profile-dir``); its CPU figures are not reported (py-spy's sampling
costs the processes time).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import subprocess
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import httpx
from redis.asyncio import Redis as AsyncRedis

from bench import write_result
from bench.harness import _TICK, ProcSampler, _cpu_ticks_rss_kib, message_mix, process_tree, sample_processes
from bench.load import WebhookTarget, closed_loop
from bench.run import SECRET, _env, _first_answer, fake_graph, stack_pids
from bot.cli import ensure_redis, redis_url
from bot.keys import Keys
from bot.processes import stop_on_signals
from bot.stack import ROOT, Stack, private_stack


def stack_processes(stack: Stack, fake_pid: int) -> dict[str, list[int]]:
    """Name -> pids: each process of the stack with its children; Rasa apart from its supervisor."""
    out: dict[str, list[int]] = {}
    for name, proc in stack.procs.items():
        tree = process_tree(proc.pid)
        if name == "nlu":
            out["nlu_supervisor"] = [proc.pid]
            out["rasa"] = [p for p in tree if p != proc.pid]
        else:
            out[name] = tree
    out["fake_graph"] = [fake_pid]
    return out


def cpu_ticks(processes: Mapping[str, list[int]]) -> dict[str, int]:
    """Name -> CPU ticks (user + system) so far, summed over its pids."""
    return {name: sum(_cpu_ticks_rss_kib(p)[0] for p in pids) for name, pids in processes.items()}


@contextlib.contextmanager
def py_spy(py_spy_bin: str, processes: Mapping[str, list[int]], out_dir: Path, seconds: int) -> Iterator[None]:
    """py-spy recording each process (its first pid) for at most ``seconds`` while the block runs."""
    out_dir.mkdir(parents=True, exist_ok=True)
    procs = []
    for name, pids in processes.items():
        if name in ("fake_graph", "nlu_supervisor") or not pids:
            continue
        # one tracer per process (ptrace): collapsed stacks only, which flamegraph tools turn into SVGs
        argv = [py_spy_bin, "record", "--native", "-r", "100", "-d", str(seconds), "-f", "raw"]
        argv += ["-o", str(out_dir / f"{name}.txt"), "--pid", str(pids[0])]
        log = open(out_dir / f"{name}.py-spy.log", "wb")  # noqa: SIM115 (closed when py-spy exits)
        procs.append(subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT))
    time.sleep(1.0)
    try:
        yield
    finally:
        for p in procs:
            p.send_signal(2)  # SIGINT: py-spy writes what it has
        for p in procs:
            try:
                p.wait(timeout=60)
            except subprocess.TimeoutExpired:
                p.kill()


def stack_rss(rss: Mapping[str, float]) -> float:
    """The sum of the stack's RSS (MiB), the fake Graph API left out."""
    return round(sum(v for k, v in rss.items() if k != "fake_graph"), 1)


async def measure(
    target: WebhookTarget, processes: Mapping[str, list[int]], pids: Mapping[str, int], n: int, c: int
) -> dict[str, Any]:
    """One closed-loop phase with the CPU of every process read before and after, and their peak RSS."""
    mix = message_mix(ROOT)
    before = cpu_ticks(processes)
    own = time.process_time()
    t0 = time.monotonic()
    with ProcSampler(pids) as sampler:
        phase = await closed_loop(target, mix, n, c)
    elapsed = time.monotonic() - t0
    own = time.process_time() - own
    after = cpu_ticks(processes)
    answered = max(1, phase["latency_ms"]["n"])
    per_msg = {name: round((after[name] - before[name]) / _TICK * 1000 / answered, 2) for name in processes}
    # this process: the load generator (it shares the cores with the stack; not counted in the stack's sum)
    per_msg["load_generator"] = round(own * 1000 / answered, 2)
    return {
        **phase,
        "elapsed_s": round(elapsed, 1),
        "cpu_ms_per_message": per_msg,
        "cpu_ms_per_message_stack": round(
            sum(v for k, v in per_msg.items() if k not in ("fake_graph", "load_generator")), 2
        ),
        "rss_mib_peak": (peak := {name: r["rss_mib_peak"] for name, r in sampler.result.items()}),
        "rss_mib_peak_stack": stack_rss(peak),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--repeat", type=int, default=1, help="measured phases (each n messages)")
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "cpu.json"))
    parser.add_argument("--py-spy", dest="py_spy", help="path of a py-spy binary: profile a second pass")
    parser.add_argument("--profile-dir", type=Path, default=ROOT / ".cache" / "profiles")
    parser.add_argument("--env", action="append", default=[], metavar="NAME=VALUE", help="for the stack (A/B runs)")
    args = parser.parse_args()
    ensure_redis(redis_url())
    extra = dict(item.split("=", 1) for item in args.env)
    result: dict[str, Any] = {"n": args.n, "concurrency": args.concurrency, "env": extra}
    with fake_graph() as (fake_url, fake_proc), private_stack("cpu", redis_url(), {**_env(fake_url), **extra}) as stack:
        keys = Keys(stack.config.redis_prefix)

        async def go() -> None:
            redis = AsyncRedis.from_url(redis_url())
            target = WebhookTarget([stack.config.bot_url], fake_url, SECRET, redis, keys)
            try:
                await _first_answer(target, time.monotonic())
                processes = stack_processes(stack, fake_proc.pid)
                pids = {**stack_pids(stack), "fake_graph": fake_proc.pid}
                await asyncio.sleep(3)
                idle = {name: round(r, 1) for name, (_, r) in sample_processes(pids).items()}
                result["rss_mib_idle"], result["rss_mib_idle_stack"] = idle, stack_rss(idle)
                await closed_loop(target, message_mix(ROOT), 40, 4)  # warm-up: caches, connections
                result["phases"] = [
                    await measure(target, processes, pids, args.n, args.concurrency) for _ in range(args.repeat)
                ]
                async with httpx.AsyncClient() as http:  # the Rasa server's vectors: taken, or encoded itself
                    health = await http.get(f"http://127.0.0.1:{stack.config.rasa_port}/webhooks/dmdesk/")
                result["rasa_vectors"] = health.json().get("vectors")
                if args.py_spy:
                    with py_spy(args.py_spy, processes, args.profile_dir, 600):
                        await closed_loop(target, message_mix(ROOT), args.n, args.concurrency)
            finally:
                await target.close()
                await redis.aclose()

        asyncio.run(go())
    result["load_avg_at_end"] = list(__import__("os").getloadavg())
    write_result(result, args.out)
    print(f"RSS MiB idle {result['rss_mib_idle']} (stack {result['rss_mib_idle_stack']})")
    print(f"Rasa server's message vectors: {result.get('rasa_vectors')}")
    for phase in result["phases"]:
        print(
            f"c={args.concurrency} n={args.n}: {phase['throughput_msg_s']} msg/s, p50 {phase['latency_ms']['p50']} ms; "
            f"CPU ms/message {phase['cpu_ms_per_message']} (stack {phase['cpu_ms_per_message_stack']}); "
            f"RSS MiB peak {phase['rss_mib_peak']} (stack {phase['rss_mib_peak_stack']})"
        )


if __name__ == "__main__":
    stop_on_signals()
    main()
