"""Pieces of the end-to-end benchmark that need no running stack.

Statistics, the message mix, per-process CPU and memory sampling from /proc,
the exactly-once / in-order check over replies, and the report writers
(JSON, markdown table, PNG plot). ``tests/bench/test_harness.py`` runs them
on tiny inputs.
"""

from __future__ import annotations

import json
import os
import random
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from bot.evaluation import load_queries, percentile

#: top-level keys the JSON result always has (issue 6)
SUMMARY_KEYS = (
    "throughput_ratio_vs_baseline",
    "max_throughput_msg_s",
    "baseline_max_throughput_msg_s",
    "p99_ms_at_80pct",
    "ack_p99_ms_at_max",
    "long_conversation_ratio_1000_vs_5",
    "rss_mib_total_under_load",
    "first_answer_s",
)


def stats(values: Sequence[float]) -> dict[str, float]:
    """n, p50, p95, p99 and max of latencies (ms); zeros when empty."""
    if not values:
        return {"n": 0, "p50": 0.0, "p95": 0.0, "p99": 0.0, "max": 0.0}
    vals = list(values)
    return {
        "n": len(vals),
        "p50": round(percentile(vals, 50), 1),
        "p95": round(percentile(vals, 95), 1),
        "p99": round(percentile(vals, 99), 1),
        "max": round(max(vals), 1),
    }


# --- the message mix
@dataclass(frozen=True)
class Dm:
    """One customer message of the load, with what it is (faq, smalltalk, handoff, none)."""

    text: str
    kind: str
    lang: str


def _nlu_examples(path: Path) -> list[str]:
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    out: list[str] = []
    for block in data.get("nlu") or []:
        for line in str(block.get("examples") or "").splitlines():
            line = line.strip()
            if line.startswith("- "):
                out.append(line[2:].strip())
    return out


MIX_FILE = Path("bench") / "messages.yml"


def build_mix(root: Path, seed: int = 6) -> list[Dm]:
    """Realistic multilingual DMs, shuffled: eval/dev.yml's FAQ questions, handoff requests and
    out-of-scope messages, plus small talk (greetings, thanks, chit-chat) from the training data.

    About 60 % FAQ, 20 % small talk, 10 % handoff, 10 % out of scope. Frozen into ``bench/messages.yml``
    (``python -m bench.harness``), so that a benchmark's load does not change when the dev set grows.
    """
    queries = load_queries(root / "eval" / "dev.yml")
    by_kind: dict[str, list[Dm]] = {"faq": [], "handoff": [], "none": []}
    for q in queries:
        kind = q["expect"] if q["expect"] in ("handoff", "none") else "faq"
        by_kind[kind].append(Dm(q["text"], kind, q["lang"]))
    small = [
        Dm(t, "smalltalk", "xx")
        for name in ("greet", "thank", "chitchat")
        for t in _nlu_examples(root / "data" / "nlu" / f"{name}.yml")
    ]
    rng = random.Random(seed)
    faq = by_kind["faq"]
    mix = faq + rng.sample(small, min(len(small), len(faq) // 3))
    mix += rng.sample(by_kind["handoff"], min(len(by_kind["handoff"]), len(faq) // 6))
    mix += rng.sample(by_kind["none"], min(len(by_kind["none"]), len(faq) // 6))
    rng.shuffle(mix)
    return mix


def message_mix(root: Path) -> list[Dm]:
    """The benchmark's load: the frozen mix of ``bench/messages.yml`` (see ``build_mix``), in its order."""
    data = yaml.safe_load((root / MIX_FILE).read_text(encoding="utf-8"))
    return [Dm(m["text"], m["kind"], m["lang"]) for m in data["messages"]]


def write_mix(root: Path) -> Path:
    """Write ``build_mix``'s messages to ``bench/messages.yml``; its path."""
    path = root / MIX_FILE
    rows = [{"text": m.text, "kind": m.kind, "lang": m.lang} for m in build_mix(root)]
    header = "# The benchmark's message mix (bench.harness.build_mix, frozen): python -m bench.harness rewrites it.\n"
    path.write_text(header + yaml.safe_dump({"messages": rows}, allow_unicode=True, sort_keys=False, width=200))
    return path


# --- CPU and memory of processes
_TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def process_tree(pid: int) -> list[int]:
    """A process and all its descendants (Linux /proc)."""
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        for task in Path(f"/proc/{p}/task").glob("*/children") if Path(f"/proc/{p}/task").exists() else []:
            try:
                todo += [int(c) for c in task.read_text().split()]
            except OSError:
                continue
    return out


def _cpu_ticks_rss_kib(pid: int) -> tuple[int, int]:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        fields = stat[stat.rindex(")") + 2 :].split()
        ticks = int(fields[11]) + int(fields[12])  # utime + stime
        rss = 0
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1])
        return ticks, rss
    except (OSError, ValueError, IndexError):
        return 0, 0


def sample_processes(pids: Mapping[str, int]) -> dict[str, tuple[int, float]]:
    """name -> (CPU ticks so far, RSS MiB) of each process tree."""
    out = {}
    for name, pid in pids.items():
        ticks, rss = 0, 0
        for p in process_tree(pid):
            t, r = _cpu_ticks_rss_kib(p)
            ticks, rss = ticks + t, rss + r
        out[name] = (ticks, rss / 1024)
    return out


@dataclass
class ProcSampler:
    """Samples CPU and RSS of named processes in a thread while a phase runs (a context manager).

    Result per process: mean CPU % of one core over the phase and the peak RSS (MiB).
    """

    pids: Mapping[str, int]
    interval_s: float = 0.5
    result: dict[str, dict[str, float]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._stop = threading.Event()
        self._peak: dict[str, float] = {}
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def _loop(self) -> None:
        while not self._stop.wait(self.interval_s):
            for name, (_, rss) in sample_processes(self.pids).items():
                self._peak[name] = max(self._peak.get(name, 0.0), rss)

    def __enter__(self) -> ProcSampler:
        self._start = sample_processes(self.pids)
        self._t0 = time.monotonic()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        end = sample_processes(self.pids)
        elapsed = max(1e-6, time.monotonic() - self._t0)
        for name, (ticks, rss) in end.items():
            cpu = (ticks - self._start.get(name, (0, 0.0))[0]) / _TICK / elapsed * 100
            self.result[name] = {"cpu_pct": round(cpu, 1), "rss_mib_peak": round(max(rss, self._peak.get(name, 0)), 1)}

    @property
    def total_rss_mib(self) -> float:
        """Sum of the peak RSS of every process."""
        return round(sum(r["rss_mib_peak"] for r in self.result.values()), 1)


# --- exactly once, in order
def check_replies(
    sent: Mapping[str, Sequence[str]],
    expected_parts: Mapping[str, Sequence[Any]],
    received: Mapping[str, Sequence[Any]],
) -> dict[str, Any]:
    """Check that every message was answered exactly once and in order, per conversation.

    Args:
        sent: conversation (recipient) -> message ids, in the order the customer sent them.
        expected_parts: message id -> the reply parts the bot decided on (its outbox; absent or
            empty: the bot answered nothing, e.g. a human owns the chat).
        received: conversation -> the parts the Send API received for it, in arrival order.

    Returns:
        Counts and the conversations that broke the rule (``ok``: none did).
    """
    missing, duplicated, disordered, unanswered = [], [], [], []
    answered = 0
    for conversation, mids in sent.items():
        want = [part for mid in mids for part in expected_parts.get(mid) or []]
        got = list(received.get(conversation) or [])
        unanswered += [mid for mid in mids if mid not in expected_parts]
        answered += sum(1 for mid in mids if expected_parts.get(mid))
        if got == want:
            continue
        if len(got) > len(want) or any(got.count(p) > want.count(p) for p in got):
            duplicated.append(conversation)
        elif len(got) < len(want):
            missing.append(conversation)
        else:
            disordered.append(conversation)
    return {
        "conversations": len(sent),
        "messages": sum(len(m) for m in sent.values()),
        "answered": answered,
        "unprocessed": len(unanswered),
        "missing": missing,
        "duplicated": duplicated,
        "out_of_order": disordered,
        "ok": not (missing or duplicated or disordered or unanswered),
    }


# --- reports
def summary_row(name: str, phase: Mapping[str, Any]) -> list[str]:
    """A markdown row for one load phase."""
    lat = phase.get("latency_ms") or {}
    ack = phase.get("ack_ms") or {}
    return [
        name,
        str(phase.get("offered", "")),
        f"{phase.get('throughput_msg_s', 0):.1f}",
        f"{lat.get('p50', 0):.0f}",
        f"{lat.get('p95', 0):.0f}",
        f"{lat.get('p99', 0):.0f}",
        f"{ack.get('p99', 0):.1f}" if ack else "",
        str(phase.get("errors", 0)),
    ]


def markdown(result: Mapping[str, Any]) -> str:
    """The results as markdown: the goals, then one row per load phase."""
    goals = result.get("goals") or {}
    lines = ["| goal | target | measured | holds |", "|---|---|---|---|"]
    for name, g in goals.items():
        lines.append(f"| {name} | {g['target']} | {g['measured']} | {'yes' if g['holds'] else 'no'} |")
    lines += [
        "",
        "| system / load | offered | msg/s | p50 ms | p95 ms | p99 ms | ack p99 ms | errors |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for system in ("dmdesk", "baseline", "scale_out"):
        for phase_name, phase in (result.get(system) or {}).get("load", {}).items():
            lines.append("| " + " | ".join(summary_row(f"{system} {phase_name}", phase)) + " |")
    return "\n".join(lines) + "\n"


def plot(result: Mapping[str, Any], out: Path) -> None:
    """Reply latency (p50 and p99) against offered load (open loop), dmdesk next to the baseline."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 5))
    for system, colour in (("dmdesk", "tab:blue"), ("baseline", "tab:red")):
        phases = [p for p in ((result.get(system) or {}).get("load") or {}).values() if p.get("mode") == "open"]
        phases.sort(key=lambda p: p["offered"])
        if not phases:
            continue
        x = [p["offered"] for p in phases]
        label = "dmdesk (webhook -> Send API)" if system == "dmdesk" else "Rasa 3.6 rasa-init defaults (REST)"
        ax.plot(x, [p["latency_ms"]["p50"] for p in phases], "o-", color=colour, label=f"{label} p50")
        ax.plot(x, [p["latency_ms"]["p99"] for p in phases], "s--", color=colour, label=f"{label} p99")
    ax.set_xlabel("offered load (messages/s, open loop)")
    ax.set_ylabel("reply latency (ms)")
    ax.set_yscale("log")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    ax.set_title("Reply latency against offered load (same run, same machine)")
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    plt.close(fig)


def write_reports(result: dict[str, Any], out_dir: Path, name: str = "e2e") -> dict[str, Path]:
    """Write ``<name>.json``, ``<name>.md`` and ``<name>.png`` under ``out_dir``; their paths."""
    missing = [k for k in SUMMARY_KEYS if k not in result]
    if missing:
        raise ValueError(f"result lacks {missing}")
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {"json": out_dir / f"{name}.json", "md": out_dir / f"{name}.md", "png": out_dir / f"{name}.png"}
    paths["json"].write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
    paths["md"].write_text(markdown(result))
    plot(result, paths["png"])
    return paths


if __name__ == "__main__":
    print(write_mix(Path(__file__).resolve().parent.parent))
