"""The end-to-end benchmark's pieces on tiny inputs (bench/harness.py), so that `make bench` cannot rot unseen.

No timing is asserted: only that the pieces compute and write what they claim.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from bench.harness import (
    SUMMARY_KEYS,
    ProcSampler,
    build_mix,
    check_replies,
    markdown,
    message_mix,
    sample_processes,
    stats,
    write_mix,
    write_reports,
)
from bot.stack import ROOT


def test_stats_of_latencies() -> None:
    s = stats([float(v) for v in range(1, 101)])
    assert s["n"] == 100
    assert s["p50"] <= s["p95"] <= s["p99"] <= s["max"] == 100
    assert stats([]) == {"n": 0, "p50": 0.0, "p95": 0.0, "p99": 0.0, "max": 0.0}


def test_every_message_answered_once_in_order_passes() -> None:
    sent = {"c1": ["m1", "m2"], "c2": ["m3"]}
    parts = {"m1": ["a", "b"], "m2": ["c"], "m3": ["d"]}
    result = check_replies(sent, parts, {"c1": ["a", "b", "c"], "c2": ["d"]})
    assert result["ok"]
    assert (result["conversations"], result["messages"], result["answered"]) == (2, 3, 3)


@pytest.mark.parametrize(
    ("received", "failure"),
    [
        ({"c1": ["a", "b", "c", "c"]}, "duplicated"),
        ({"c1": ["a", "b", "a", "b"]}, "duplicated"),
        ({"c1": ["a", "b"]}, "missing"),
        ({"c1": ["c", "a", "b"]}, "out_of_order"),
    ],
)
def test_a_broken_conversation_is_named(received: dict[str, list[str]], failure: str) -> None:
    result = check_replies({"c1": ["m1", "m2"]}, {"m1": ["a", "b"], "m2": ["c"]}, received)
    assert not result["ok"]
    assert result[failure] == ["c1"]


def test_a_message_processed_without_reply_counts_but_an_unprocessed_one_fails() -> None:
    # m2 was processed with nothing to send (a person owns the chat); m3 was never processed
    ok = check_replies({"c1": ["m1", "m2"]}, {"m1": ["a"], "m2": []}, {"c1": ["a"]})
    assert ok["ok"] and ok["answered"] == 1
    lost = check_replies({"c1": ["m1", "m3"]}, {"m1": ["a"]}, {"c1": ["a"]})
    assert not lost["ok"] and lost["unprocessed"] == 1


def test_the_message_mix_is_multilingual_and_has_every_kind() -> None:
    mix = message_mix(ROOT)
    kinds = {m.kind for m in mix}
    assert kinds == {"faq", "smalltalk", "handoff", "none"}
    assert {m.lang for m in mix} >= {"en", "id", "fr", "ru"}
    assert sum(m.kind == "faq" for m in mix) > len(mix) / 2
    assert message_mix(ROOT) == mix  # deterministic


def test_the_frozen_mix_is_what_build_mix_made_from_its_sources(tmp_path: Path) -> None:
    """bench/messages.yml round-trips: written from build_mix, read back as the same messages in order."""
    for sub in ("eval", "data/nlu", "bench"):
        (tmp_path / sub).mkdir(parents=True)
    for rel in ("eval/dev.yml", "data/nlu/greet.yml", "data/nlu/thank.yml", "data/nlu/chitchat.yml"):
        (tmp_path / rel).write_text((ROOT / rel).read_text(encoding="utf-8"), encoding="utf-8")
    write_mix(tmp_path)
    assert message_mix(tmp_path) == build_mix(tmp_path)


def test_process_sampling_reads_cpu_and_memory_of_a_process_tree() -> None:
    ((ticks, rss),) = sample_processes({"me": os.getpid()}).values()
    assert ticks > 0 and rss > 10
    with ProcSampler({"me": os.getpid()}, interval_s=0.01) as sampler:
        sum(i * i for i in range(200_000))
    assert set(sampler.result["me"]) == {"cpu_pct", "rss_mib_peak"}
    assert sampler.total_rss_mib >= rss * 0.5


def _result() -> dict[str, object]:
    phase = {
        "mode": "open",
        "offered": 10.0,
        "throughput_msg_s": 9.5,
        "latency_ms": stats([10.0, 20.0]),
        "ack_ms": stats([1.0]),
        "errors": 0,
    }
    base = {**phase, "latency_ms": stats([100.0, 400.0]), "ack_ms": None}
    result: dict[str, object] = dict.fromkeys(SUMMARY_KEYS, 1.0)
    result["goals"] = {"throughput vs baseline": {"target": ">= 4x", "measured": "5x", "holds": True}}
    result["dmdesk"] = {"load": {"open_100pct": phase, "closed_c1": {**phase, "mode": "closed", "offered": "c=1"}}}
    result["baseline"] = {"load": {"open_100pct": base}}
    return result


def test_reports_are_written_as_json_markdown_and_png(tmp_path: Path) -> None:
    paths = write_reports(_result(), tmp_path)
    data = json.loads(paths["json"].read_text())
    assert set(SUMMARY_KEYS) <= set(data)
    table = paths["md"].read_text()
    assert "| throughput vs baseline | >= 4x | 5x | yes |" in table
    assert "| dmdesk open_100pct | 10.0 | 9.5 |" in table and "| baseline open_100pct |" in table
    assert paths["png"].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert markdown(_result()) == table


def test_a_result_without_the_summary_keys_is_refused(tmp_path: Path) -> None:
    result = _result()
    del result["first_answer_s"]
    with pytest.raises(ValueError, match="first_answer_s"):
        write_reports(result, tmp_path)
    assert not list(tmp_path.iterdir())
