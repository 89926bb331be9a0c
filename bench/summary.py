"""The top-level figures of an end-to-end benchmark run, its goals (issue 6) and its ratios."""

from __future__ import annotations

import os
from typing import Any


def _goal(target: str, measured: Any, holds: bool) -> dict[str, Any]:
    return {"target": target, "measured": measured, "holds": bool(holds)}


def summarise(
    dm: dict[str, Any], base: dict[str, Any], micro: dict[str, Any], long_n: int, quick: bool
) -> dict[str, Any]:
    """The top-level figures, the goals and the ratios."""
    load, bload = dm["load"], base.get("load") or {}
    max_tp = max(p["throughput_msg_s"] for p in load.values())
    base_max = max((p["throughput_msg_s"] for p in bload.values()), default=0.0)
    at80 = load["open_80pct"]["latency_ms"]["p99"]
    sat = [p for p in load.values() if p["mode"] == "open" and p["fraction_of_closed_max"] >= 1.0]
    ack_max = max(p["ack_ms"]["p99"] for p in sat)
    long_ratio = dm["long_conversation"]["ratio_last_vs_5"]
    rss_load = max(
        p["rss_mib_total"] - p["processes"].get("fake_graph", {}).get("rss_mib_peak", 0) for p in load.values()
    )
    ratio = round(max_tp / base_max, 2) if base_max else 0.0
    ratios = {
        name: round(p["throughput_msg_s"] / max(1e-6, bload[name]["throughput_msg_s"]), 2)
        for name, p in load.items()
        if name.startswith("closed") and name in bload
    }
    result = {
        "throughput_ratio_vs_baseline": ratio,
        "max_throughput_msg_s": max_tp,
        "baseline_max_throughput_msg_s": base_max,
        "p99_ms_at_80pct": at80,
        "ack_p99_ms_at_max": ack_max,
        "long_conversation_ratio_1000_vs_5": long_ratio,
        "rss_mib_total_under_load": round(rss_load, 1),
        "first_answer_s": dm["first_answer_s"],
        "closed_loop_throughput_ratios": ratios,
        "scale_out_throughput_msg_s": max(p["throughput_msg_s"] for p in dm["scale_out"]["load"].values()),
        "scale_out_exactly_once_in_order": dm["scale_out"]["exactly_once_in_order"]["ok"],
        "scale_out_rasa_cpu_pct": dm["scale_out"].get("rasa_cpu_pct"),
        "baseline_long_conversation_ratio": (base.get("long_conversation") or {}).get("ratio_last_vs_5"),
    }
    result["goals"] = {
        "throughput vs baseline": _goal(">= 4x", f"{ratio}x", ratio >= 4),
        "p99 at 80 % of max": _goal("< 250 ms", f"{at80} ms", at80 < 250),
        "ack p99 at max": _goal("< 20 ms", f"{ack_max} ms", ack_max < 20),
        f"message {long_n} vs 5": _goal("<= 1.5x", f"{long_ratio}x", long_ratio is not None and long_ratio <= 1.5),
        "stack RSS under load": _goal("< 1536 MiB", f"{rss_load:.0f} MiB", rss_load < 1536),
        "first answer": _goal("< 30 s", f"{dm['first_answer_s']} s", dm["first_answer_s"] < 30),
        "scale-out exactly once, in order": _goal(
            "all", str(result["scale_out_exactly_once_in_order"]), result["scale_out_exactly_once_in_order"]
        ),
    }
    result["machine"] = {"cpus": os.cpu_count(), "load_avg_at_end": os.getloadavg(), "quick": quick}
    result["dmdesk"] = dm
    result["baseline"] = base
    result["scale_out"] = dm.pop("scale_out")
    result["retrieval"] = micro
    return result
