"""``dmdesk`` command line: run the stack, chat with the bot, evaluate it.

dmdesk run                      start Redis (if needed), Rasa, actions, bot service
dmdesk chat [--url URL]         chat with the running bot in the terminal
dmdesk eval FILE --out OUT      evaluate against the stack (starts one if none runs)
dmdesk ensure-redis             make sure Redis answers at REDIS_URL
dmdesk users add --brand B --name N --role admin   create an agent account (password: stdin or env)
dmdesk consume [--n N]          ingest consumers as a separate replica
dmdesk nlu                      NLU supervisor: the Rasa server, retraining, model swaps (started by run)
dmdesk training export [--out data]   write the live training data to data/nlu (Rasa format) for a commit
dmdesk fake-graph [--port P]    local fake of Meta's Graph API (records sends, injects failures)
dmdesk simulate [--url URL]     post signed webhook events of every kind to the running stack
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path
from urllib.parse import urlparse

import httpx
from redis import Redis
from redis.exceptions import RedisError

from bot.agents import cli as users_cli
from bot.keys import Keys
from bot.processes import stop_on_signals
from bot.stack import ROOT, Stack, StackConfig, dev_token, private_stack

DEFAULT_REDIS = "redis://127.0.0.1:6379/0"


def redis_url() -> str:
    """REDIS_URL from the environment, or the local default."""
    return os.environ.get("REDIS_URL", DEFAULT_REDIS)


def _ping(url: str) -> bool:
    try:
        return bool(Redis.from_url(url, socket_connect_timeout=1).ping())
    except RedisError:
        return False


def ensure_redis(url: str) -> None:
    """Start a local Redis if none answers at ``url`` (installing it with apt if missing)."""
    if _ping(url):
        return
    parsed = urlparse(url)
    if parsed.hostname not in ("127.0.0.1", "localhost", "::1"):
        raise SystemExit(f"Redis does not answer at {parsed.hostname}:{parsed.port}; start it or fix REDIS_URL")
    server = shutil.which("redis-server")
    if server is None:
        if os.geteuid() != 0:
            raise SystemExit("redis-server is not installed; install it (e.g. apt-get install redis-server)")
        print("installing redis-server (apt-get)…", flush=True)
        subprocess.run(["apt-get", "update", "-qq"], check=True)
        subprocess.run(
            ["apt-get", "install", "-y", "-qq", "redis-server"],
            check=True,
            env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
        )
        server = shutil.which("redis-server") or "/usr/bin/redis-server"
    port = str(parsed.port or 6379)
    subprocess.run(
        [server, "--port", port, "--bind", "127.0.0.1", "--daemonize", "yes", "--save", "", "--appendonly", "no"],
        check=True,
    )
    for _ in range(50):
        if _ping(url):
            print(f"started redis-server on 127.0.0.1:{port}", flush=True)
            return
        time.sleep(0.1)
    raise SystemExit("redis-server did not start")


def cmd_run(args: argparse.Namespace) -> int:
    """Start the whole stack and wait for Ctrl-C (SIGINT) or SIGTERM."""
    stop_on_signals()
    ensure_redis(redis_url())
    config = StackConfig(
        redis_url=redis_url(),
        redis_prefix=os.environ.get("DMDESK_REDIS_PREFIX", "dmdesk"),
        bot_port=int(os.environ.get("DMDESK_PORT", "8000")),
    )
    started = time.monotonic()
    print("starting NLU supervisor (Rasa server), action server, webhook consumers and bot service…", flush=True)
    with Stack(config) as stack:
        stack.start()
        print(f"\ndmdesk is up in {time.monotonic() - started:.1f}s", flush=True)
        print(f"  bot service   {config.bot_url}   (OpenAPI docs: {config.bot_url}/docs)")
        api = " (HTTP API on)" if config.rasa_api else ""
        print(f"  rasa server   http://127.0.0.1:{config.rasa_port}{api}  (:{config.rasa_alt_port} after a model swap)")
        print(f"  API token     in {ROOT / '.cache' / 'dev-token'} (or DMDESK_API_TOKEN)")
        print("  chat with it  .venv-app/bin/dmdesk chat     (another terminal)")
        print("  logs          .cache/logs/   — Ctrl-C stops everything\n", flush=True)
        try:
            while all(p.poll() is None for p in stack.procs.values()):
                time.sleep(1)
            dead = [name for name, p in stack.procs.items() if p.poll() is not None]
            print(f"stopped: {', '.join(dead)} exited; see .cache/logs/", file=sys.stderr)
            return 1
        except KeyboardInterrupt:
            print("\nstopping…", flush=True)
            return 0


def cmd_chat(args: argparse.Namespace) -> int:
    """Terminal chat through the dev endpoint."""
    sender = args.sender or f"cli-{uuid.uuid4().hex[:8]}"
    headers = {"Authorization": f"Bearer {dev_token()}"}
    print(f"chatting as {args.channel}:{sender} — type /quit to leave; buttons: type their number")
    buttons: list[dict[str, str]] = []
    with httpx.Client(base_url=args.url, headers=headers, timeout=60) as http:
        while True:
            try:
                text = input("you> ").strip()
            except (EOFError, KeyboardInterrupt):
                print()
                return 0
            if text in ("/quit", "/exit"):
                return 0
            if text.isdigit() and 0 < int(text) <= len(buttons):
                text = buttons[int(text) - 1]["payload"]
            if not text:
                continue
            response = http.post("/api/dev/messages", json={"channel": args.channel, "sender": sender, "text": text})
            if response.status_code != 200:
                print(f"  [{response.status_code}] {response.json().get('detail')}")
                continue
            result = response.json()
            if result["status"] == "human":
                print(f"  (a person owns this chat: ticket {result['ticket_id']}; the bot stays silent)")
            buttons = []
            for reply in result["replies"]:
                if reply.get("text"):
                    print(f"bot> {reply['text']}")
                for button in reply.get("buttons") or []:
                    buttons.append(button)
                    print(f"     [{len(buttons)}] {button['title']}")


def cmd_eval(args: argparse.Namespace) -> int:
    """Evaluate a query file against the stack."""
    from bot.evaluation import evaluate_file

    url = args.url
    if url:
        evaluate_file(Path(args.file), Path(args.out), url, dev_token())
        return 0
    stop_on_signals()
    ensure_redis(redis_url())
    with private_stack("eval", redis_url()) as stack:
        evaluate_file(Path(args.file), Path(args.out), stack.config.bot_url, stack.config.api_token)
    return 0


def cmd_consume(args: argparse.Namespace) -> int:
    """Consumers without the HTTP server."""
    from bot.consume import run_process

    run_process(args.n)
    return 0


def cmd_fake_graph(args: argparse.Namespace) -> int:
    """Serve the fake Graph API in the foreground."""
    from bot.fakegraph import FakeConfig, serve

    print(f"fake Graph API on http://127.0.0.1:{args.port}  (META_GRAPH_URL); GET /_fake/sends lists sends", flush=True)
    serve(args.port, FakeConfig(fail_rate=args.fail_rate, rate_limit_rate=args.rate_limit_rate))
    return 0


def cmd_simulate(args: argparse.Namespace) -> int:
    """Post one signed delivery of every kind and show what the fake Graph API received."""
    from bot import simulate

    secret = os.environ.get("META_APP_SECRET", "")
    if not secret:
        print("META_APP_SECRET is not set (the stack must run with the same one)", file=sys.stderr)
        return 2
    customer = args.sender or f"9{uuid.uuid4().int % 10**15:015d}"
    with httpx.Client(base_url=args.url, timeout=30) as http:
        for label, channel, body in simulate.tour(customer, f"{customer}1", os.environ.get("META_APP_ID", "")):
            response = simulate.post(http, channel, body, secret)
            print(f"{response.status_code} {response.elapsed.total_seconds() * 1000:6.1f} ms  {channel:9}  {label}")
            time.sleep(args.pause)
    graph = os.environ.get("META_GRAPH_URL", "")
    if graph.startswith("http://127.0.0.1") or graph.startswith("http://localhost"):
        time.sleep(2)
        base = graph.split("/v", 1)[0]
        try:
            sends = httpx.get(f"{base}/_fake/sends", timeout=5).json()
        except (httpx.HTTPError, ValueError):
            return 0
        for send in sends:
            if send["recipient"].startswith(customer):
                message = send["message"] or {}
                shown = message.get("text") or (message.get("attachment") or {}).get("payload", {}).get("text")
                print(f"  -> {send['recipient']}: {str(shown)[:100]!r}")
    return 0


def cmd_training(args: argparse.Namespace) -> int:
    """Export the live training data (Redis) into data/ in Rasa's format, for a commit."""
    from bot.settings import CoreSettings
    from bot.trainingdata import nlufile
    from bot.trainingdata.store import TrainingDataStore, write_export
    from bot.trainingdata.validate import Domain

    settings = CoreSettings()
    redis = Redis.from_url(settings.redis_url)
    intents, entities = nlufile.read_domain(ROOT / "domain.yml")
    data = TrainingDataStore(redis, Keys(settings.redis_prefix), Domain(tuple(intents), tuple(entities)))
    if not data.is_seeded(settings.brand):
        print(f"no live training data for {settings.brand}: data/nlu is the current data", file=sys.stderr)
        return 1
    for path in write_export(data.export(settings.brand), Path(args.out)):
        print(path)
    print(f"data version {data.data_version(settings.brand)}; review with `git diff {args.out}`", file=sys.stderr)
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``dmdesk`` command."""
    parser = argparse.ArgumentParser(
        prog="dmdesk", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("run", help="start the whole stack")
    chat = sub.add_parser("chat", help="chat with the running bot")
    chat.add_argument("--url", default=f"http://127.0.0.1:{os.environ.get('DMDESK_PORT', '8000')}")
    chat.add_argument("--channel", default="dev", choices=["dev", "messenger", "instagram"])
    chat.add_argument("--sender", default=None)
    ev = sub.add_parser("eval", help="evaluate a query file")
    ev.add_argument("file")
    ev.add_argument("--out", required=True)
    ev.add_argument("--url", default=None, help="use a running bot service instead of starting a stack")
    sub.add_parser("ensure-redis", help="start Redis locally if none answers at REDIS_URL")
    users_cli.add_parser(sub)
    sub.add_parser("nlu", help="the NLU supervisor: Rasa server, retraining, model swaps")
    training = sub.add_parser("training", help="training data: export the live data (Redis) to data/")
    training.add_argument("action", choices=["export"])
    training.add_argument("--out", default=str(ROOT / "data"), help="data directory (nlu/ is replaced)")
    consume = sub.add_parser("consume", help="run ingest consumers as a separate replica")
    consume.add_argument("--n", type=int, default=None, help="consumers (default DMDESK_CONSUMERS)")
    fake = sub.add_parser("fake-graph", help="local fake of Meta's Graph API")
    fake.add_argument("--port", type=int, default=8009)
    fake.add_argument("--fail-rate", type=float, default=0.0, help="share of sends answered 500")
    fake.add_argument("--rate-limit-rate", type=float, default=0.0, help="share of sends answered 429")
    sim = sub.add_parser("simulate", help="post signed webhook events of every kind to the running stack")
    sim.add_argument("--url", default=f"http://127.0.0.1:{os.environ.get('DMDESK_PORT', '8000')}")
    sim.add_argument("--sender", default=None, help="customer id (default: a new one)")
    sim.add_argument("--pause", type=float, default=0.3, help="seconds between deliveries")
    args = parser.parse_args(argv)
    if args.command == "users":
        return users_cli.run(args, redis_url())
    if args.command == "nlu":
        from bot.retrain.supervisor import main as nlu_main

        return nlu_main()
    if args.command == "ensure-redis":
        ensure_redis(redis_url())
        return 0
    commands = {
        "run": cmd_run,
        "chat": cmd_chat,
        "eval": cmd_eval,
        "consume": cmd_consume,
        "fake-graph": cmd_fake_graph,
        "simulate": cmd_simulate,
        "training": cmd_training,
    }
    return commands[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
