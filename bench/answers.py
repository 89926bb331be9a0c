"""Snapshot of the bot's full replies to a fixed set of queries, to check a speed change changed none.

    .venv-app/bin/python -m bench.answers OUT.json [--files eval/dev.yml eval/test.yml]
    .venv-app/bin/python -m bench.answers --compare A.json B.json

Starts a private stack and sends every query, each as the first message of a
new conversation, through the dev endpoint; records every reply part (text,
buttons, custom data with the FAQ scores and confidence) minus what differs
per run (ticket ids, timestamps). ``--compare`` lists the queries whose
replies differ (exit status 1 if any).
"""

from __future__ import annotations

import argparse
import json
import sys
import uuid
from pathlib import Path
from typing import Any

import httpx

from bot.cli import ensure_redis, redis_url
from bot.evaluation import load_queries
from bot.stack import ROOT, private_stack

#: per-run values in a reply's custom data
VOLATILE = ("ticket_id", "new_ticket", "timestamp")


def _scrub(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _scrub(v) for k, v in value.items() if k not in VOLATILE}
    if isinstance(value, list):
        return [_scrub(v) for v in value]
    return value


def snapshot(files: list[Path]) -> list[dict[str, Any]]:
    """Every query of ``files`` through a private stack: the text and its scrubbed replies."""
    queries = [q for f in files for q in load_queries(f)]
    out = []
    run = uuid.uuid4().hex[:8]
    with private_stack("answers", redis_url()) as stack:
        headers = {"Authorization": f"Bearer {stack.config.api_token}"}
        with httpx.Client(base_url=stack.config.bot_url, headers=headers, timeout=120) as http:
            for i, q in enumerate(queries):
                body = {"channel": "dev", "sender": f"answers-{run}-{i}", "text": q["text"]}
                response = http.post("/api/dev/messages", json=body)
                result = response.json() if response.status_code == 200 else {"error": response.status_code}
                out.append(
                    {
                        "text": q["text"],
                        "status": result.get("status"),
                        "replies": _scrub(result.get("replies")),
                        "error": result.get("error"),
                    }
                )
    return out


def compare(a: list[dict[str, Any]], b: list[dict[str, Any]]) -> list[str]:
    """Texts whose replies differ between two snapshots (or a length mismatch)."""
    if [x["text"] for x in a] != [x["text"] for x in b]:
        return ["<different query lists>"]
    return [x["text"] for x, y in zip(a, b, strict=True) if x != y]


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("out", nargs="?", type=Path)
    parser.add_argument(
        "--files", nargs="+", type=Path, default=[ROOT / "eval" / "dev.yml", ROOT / "eval" / "test.yml"]
    )
    parser.add_argument("--compare", nargs=2, type=Path, metavar=("A", "B"))
    args = parser.parse_args()
    if args.compare:
        a, b = (json.loads(p.read_text(encoding="utf-8")) for p in args.compare)
        diff = compare(a, b)
        print(f"{len(a)} queries, {len(diff)} differ")
        for text in diff:
            print(f"  {text}")
        return 1 if diff else 0
    if args.out is None:
        parser.error("OUT or --compare A B")
    ensure_redis(redis_url())
    result = snapshot(args.files)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, ensure_ascii=False, indent=1), encoding="utf-8")
    errors = sum(1 for r in result if r["error"])
    print(f"{len(result)} queries, {errors} errors -> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
