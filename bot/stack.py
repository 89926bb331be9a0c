"""Start and stop the whole dmdesk stack: NLU supervisor (Rasa server), action server, consumers, bot service.

Used by ``dmdesk run`` (``make run``), by the test suite and by the eval tool,
so every one of them runs the same processes the same way.
"""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

import httpx
from redis import Redis

from bot.processes import blas_env, renice

ROOT = Path(__file__).resolve().parent.parent
RASA_BIN = ROOT / ".venv-rasa" / "bin" / "rasa"
RASA_PYTHON = ROOT / ".venv-rasa" / "bin" / "python"
MODEL = ROOT / "models" / "dmdesk.tar.gz"
TOKEN_FILE = ROOT / ".cache" / "dev-token"
#: glibc malloc arenas of the bot service (StackConfig.bot_env)
BOT_MALLOC_ARENA_MAX = "2"


def actions_argv(port: int) -> list[str]:
    """The action server (one process, actions/serve.py)."""
    return [sys.executable, "-m", "actions.serve", "--port", str(port)]


def rasa_argv(model: Path, endpoints: Path, credentials: str | Path, port: int, api: bool = False) -> list[str]:
    """``rasa run`` on loopback (``api``: with its HTTP API), through ``bot.nlu.launch`` (a faster start)."""
    return [
        str(RASA_PYTHON),
        "-m",
        "bot.nlu.launch",
        "run",
        *(["--enable-api"] if api else []),
        "-m",
        str(model),
        "--endpoints",
        str(endpoints),
        "--credentials",
        str(credentials),
        "--port",
        str(port),
        "-i",
        "127.0.0.1",
    ]


def consumers_argv() -> list[str]:
    """A ``dmdesk consume`` replica (DMDESK_CONSUMERS consumers)."""
    return [sys.executable, "-m", "bot.cli", "consume"]


def bot_argv(port: int) -> list[str]:
    """The bot service (FastAPI under uvicorn) on loopback."""
    return [
        sys.executable,
        "-m",
        "uvicorn",
        "bot.api.app:create_app",
        "--factory",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--no-access-log",
    ]


def wait_http(
    http: httpx.Client, url: str, alive: Callable[[], bool], timeout_s: float, ok: int = 200, poll_s: float = 0.2
) -> bool | None:
    """Poll ``url`` until it answers ``ok``: True; None if the process stopped (``alive`` false) first;
    False after ``timeout_s``. Pass one client for all polls: each ``httpx.get()`` builds an SSL
    context, 80 ms of CPU on this machine, taken from the processes starting."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if not alive():
            return None
        try:
            if http.get(url).status_code == ok:
                return True
        except httpx.HTTPError:
            pass
        time.sleep(poll_s)
    return False


class StackError(RuntimeError):
    """A process of the stack did not start."""


def dev_token() -> str:
    """DMDESK_API_TOKEN, or a local dev token kept in .cache/dev-token (mode 600)."""
    token = os.environ.get("DMDESK_API_TOKEN")
    if token:
        return token
    if TOKEN_FILE.exists():
        return TOKEN_FILE.read_text().strip()
    TOKEN_FILE.parent.mkdir(parents=True, exist_ok=True)
    token = secrets.token_urlsafe(32)
    TOKEN_FILE.write_text(token)
    TOKEN_FILE.chmod(0o600)
    return token


def free_port() -> int:
    """An unused TCP port on 127.0.0.1."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class StackConfig:
    """Ports, Redis and logs of one stack."""

    redis_url: str = "redis://127.0.0.1:6379/0"
    redis_prefix: str = "dmdesk"  # alphanumeric: Rasa's stores reject anything else
    rasa_port: int = 5005
    #: the second Rasa server's port while the NLU supervisor swaps in a new model (bot/retrain)
    rasa_alt_port: int = 5006
    action_port: int = 5055
    bot_port: int = 8000
    log_dir: Path = ROOT / ".cache" / "logs"
    api_token: str = field(default_factory=dev_token)
    channel_token: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    #: Rasa's HTTP API (trackers, models): off unless asked for (calibration uses /model/parse)
    rasa_api: bool = field(default_factory=lambda: os.environ.get("DMDESK_RASA_API", "").lower() in ("1", "true"))
    extra_env: dict[str, str] = field(default_factory=dict)
    #: Rasa input channels (the benchmark adds Rasa's REST channel for comparison)
    credentials: str = "credentials.yml"
    #: scheduling niceness of the Rasa server and the action server (NLU is throughput work): on a
    #: saturated machine the bot service, which acknowledges webhooks, gets the CPU first
    nlu_nice: int = field(default_factory=lambda: int(os.environ.get("DMDESK_NLU_NICE", "5")))
    #: their niceness until the stack is ready: starting is the critical path (nothing to acknowledge
    #: yet), so they start at full priority and are lowered to ``nlu_nice`` once the stack answers
    start_nice: int = field(default_factory=lambda: int(os.environ.get("DMDESK_NLU_START_NICE", "0")))

    @property
    def bot_url(self) -> str:
        """Base URL of the bot service."""
        return f"http://127.0.0.1:{self.bot_port}"

    @property
    def endpoints_file(self) -> Path:
        """Where the Rasa endpoints of this stack are written."""
        return self.log_dir.parent / f"endpoints-{self.rasa_port}.yml"

    def endpoints_yaml(self) -> str:
        """Rasa endpoints for this stack (Rasa does not expand env vars in store settings)."""
        url = urlparse(self.redis_url)
        db = int((url.path or "/0").strip("/") or 0)
        store = (
            f"  type: redis\n  url: {url.hostname or '127.0.0.1'}\n  port: {url.port or 6379}\n"
            f"  db: {db}\n  key_prefix: {self.redis_prefix}\n"
        )
        if url.password:
            store += f"  password: {url.password}\n"
        # the tracker store loads a bounded window of recent events per message (connectors/tracker_store.py)
        tracker = store.replace("type: redis", "type: connectors.tracker_store.WindowedRedisTrackerStore", 1)
        # Rasa's ticket lock, taken and released by Lua scripts without blocking (connectors/lock_store.py)
        lock = store.replace("type: redis", "type: connectors.lock_store.AsyncRedisLockStore", 1)
        return (
            f'action_endpoint:\n  url: "http://127.0.0.1:{self.action_port}/webhook"\n'
            f"tracker_store:\n{tracker}lock_store:\n{lock}"
        )

    def bot_env(self) -> dict[str, str]:
        """What a bot service process gets on top of :meth:`env`: two glibc malloc arenas.

        Its staff tools load models (the encoder's weights, the language detector's) in request
        threads and drop them when idle (bot/api/app.py); with an arena per thread (glibc's default,
        up to 8 per core) a reload lands in another arena than the one freed: in a private stack,
        three drop-and-reload cycles peaked at 481 / 448 / 449 MiB with the default and at
        412 / 403 / 415 MiB with two arenas (README, "Memory"). ``MALLOC_ARENA_MAX`` set in the
        environment (or ``extra_env``) wins. The other processes keep glibc's default: two arenas
        gave them no less memory under load.
        """
        return {"MALLOC_ARENA_MAX": self.env().get("MALLOC_ARENA_MAX", BOT_MALLOC_ARENA_MAX)}

    def env(self) -> dict[str, str]:
        """Environment shared by the three processes."""
        return {
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "RASA_TELEMETRY_ENABLED": "false",
            "TF_CPP_MIN_LOG_LEVEL": "2",
            "HF_HUB_OFFLINE": "1",
            "REDIS_URL": self.redis_url,
            "DMDESK_REDIS_PREFIX": self.redis_prefix,
            "DMDESK_RASA_URL": f"http://127.0.0.1:{self.rasa_port}",
            "DMDESK_API_TOKEN": self.api_token,
            "DMDESK_CHANNEL_TOKEN": self.channel_token,
            "DMDESK_PORT": str(self.bot_port),
            # rasa-sdk's action server listens on SANIC_HOST (default 0.0.0.0): keep it on loopback
            "SANIC_HOST": "127.0.0.1",
            # the NLU supervisor (`dmdesk nlu`) starts Rasa with these
            "DMDESK_RASA_PORT": str(self.rasa_port),
            "DMDESK_RASA_ALT_PORT": str(self.rasa_alt_port),
            "DMDESK_RASA_ENDPOINTS_FILE": str(self.endpoints_file),
            "DMDESK_RASA_CREDENTIALS": self.credentials,
            "DMDESK_RASA_API": "true" if self.rasa_api else "false",
            "DMDESK_NLU_NICE": str(self.nlu_nice),
            "DMDESK_NLU_START_NICE": str(self.start_nice),
            "DMDESK_LOG_DIR": str(self.log_dir),
            # one BLAS/OpenMP thread per process: the stack's concurrency is its processes. Multi-threaded
            # BLAS spins on a busy 2-core machine: a 2,761 x 512 FAQ search took 8 ms instead of 0.13 ms.
            # And the OpenBLAS kernels for this CPU in both Python environments (openblas_coretype)
            **blas_env(),
            **self.extra_env,
        }


class Stack:
    """The running processes; a context manager that stops them all."""

    def __init__(self, config: StackConfig) -> None:
        self.config = config
        self.procs: dict[str, subprocess.Popen[bytes]] = {}

    def spawn(self, name: str, argv: list[str], nice: int = 0, env: dict[str, str] | None = None) -> None:
        """Start one process of the stack (its log in ``log_dir``; stopped with the others)."""
        self.config.log_dir.mkdir(parents=True, exist_ok=True)
        log = open(self.config.log_dir / f"{name}.log", "ab")  # noqa: SIM115 (closed with the process)
        self.procs[name] = subprocess.Popen(
            argv,
            cwd=ROOT,
            env={**self.config.env(), **(env or {})},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=(lambda: os.nice(nice)) if nice else None,  # noqa: PLW1509 (no threads started yet)
        )

    def _wait(self, http: httpx.Client, name: str, url: str, timeout_s: float, ok: int = 200) -> None:
        proc = self.procs[name]
        ready = wait_http(http, url, lambda: proc.poll() is None, timeout_s, ok)
        if ready is None:
            raise StackError(f"{name} exited with {proc.returncode}; see {self.config.log_dir / (name + '.log')}")
        if not ready:
            raise StackError(f"{name} not ready after {timeout_s:.0f}s; see {self.config.log_dir / (name + '.log')}")

    def start(self, model: Path = MODEL, timeout_s: float = 240) -> Stack:
        """Start the action server, the NLU supervisor (Rasa on ``model``), the bot service; wait for all."""
        if not model.exists():
            raise StackError(f"no trained model at {model}: run `make train`")
        c = self.config
        endpoints = c.endpoints_file
        endpoints.parent.mkdir(parents=True, exist_ok=True)
        endpoints.write_text(c.endpoints_yaml())
        endpoints.chmod(0o600)
        # everything starts at once (no process waits for another to start); the NLU side at
        # ``start_nice`` and lowered to ``nlu_nice`` once the stack answers (the supervisor does
        # the same for its Rasa server once that serves)
        self.spawn("actions", actions_argv(c.action_port), nice=c.start_nice)
        # The NLU supervisor starts the Rasa server (at DMDESK_NLU_NICE) on `model`, runs the
        # trainings asked for in the training data editor and swaps in new models (bot/retrain).
        self.spawn("nlu", [sys.executable, "-m", "bot.cli", "nlu"], env={"DMDESK_BASE_MODEL": str(model)})
        # Webhook consumers run in a process of their own (`dmdesk consume`, at the NLU's lower
        # priority), so that the bot service's event loop only acknowledges webhooks and serves
        # the APIs: under saturation this keeps the acknowledgement p99 low (README, "Performance").
        # DMDESK_CONSUMER_PROCESS=false keeps them inside the bot service; DMDESK_CONSUMERS=0
        # runs none here (replicas elsewhere).
        env = c.env()
        separate = env.get("DMDESK_CONSUMER_PROCESS", "true").lower() in ("1", "true", "yes")
        if separate and env.get("DMDESK_CONSUMERS", "") != "0":
            self.spawn("consumers", consumers_argv(), nice=c.start_nice)
        self.spawn(
            "bot",
            bot_argv(c.bot_port),
            env={**c.bot_env(), **({"DMDESK_CONSUMERS": "0"} if "consumers" in self.procs else {})},
        )
        # the processes start at once, so waiting for them in turn costs nothing
        try:
            with httpx.Client(timeout=2) as http:
                self._wait(http, "actions", f"http://127.0.0.1:{c.action_port}/health", timeout_s)
                self._wait(http, "nlu", f"http://127.0.0.1:{c.rasa_port}/webhooks/dmdesk/", timeout_s)
                self._wait(http, "bot", f"{c.bot_url}/healthz", timeout_s)
            consumers = self.procs.get("consumers")
            if consumers is not None and consumers.poll() is not None:
                raise StackError(f"consumers exited with {consumers.returncode}; see {c.log_dir / 'consumers.log'}")
        except BaseException:
            self.stop()
            raise
        if c.nlu_nice != c.start_nice:
            for name in ("actions", "consumers"):
                if name in self.procs:
                    renice(self.procs[name].pid, c.nlu_nice)
        return self

    def stop(self) -> None:
        """Stop every process (SIGTERM, then SIGKILL after 10 s); remove the stack's Rasa endpoints file."""
        for proc in self.procs.values():
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + 10
        for proc in self.procs.values():
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
        self.procs.clear()
        # written at start for this stack's Rasa servers (its Redis URL inside): nothing reads it any more
        self.config.endpoints_file.unlink(missing_ok=True)

    def __enter__(self) -> Stack:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def delete_prefix(redis_url: str, prefix: str) -> None:
    """Delete every key under ``prefix:`` (a private stack's or a test's)."""
    redis = Redis.from_url(redis_url)
    try:
        keys = list(redis.scan_iter(match=f"{prefix}:*", count=1000))
        for start in range(0, len(keys), 500):
            redis.delete(*keys[start : start + 500])
    finally:
        redis.close()


@contextmanager
def private_stack_config(
    name: str, redis_url: str, extra_env: dict[str, str] | None = None, credentials: str = "credentials.yml"
) -> Iterator[StackConfig]:
    """The configuration of a private stack: free ports, its own key prefix and API token; keys removed after."""
    prefix = f"dmdesk{name}{uuid.uuid4().hex[:8]}"
    config = StackConfig(
        redis_url=redis_url,
        redis_prefix=prefix,
        rasa_port=free_port(),
        rasa_alt_port=free_port(),
        action_port=free_port(),
        bot_port=free_port(),
        log_dir=ROOT / ".cache" / f"logs-{name}",
        api_token=secrets.token_urlsafe(24),
        extra_env=extra_env or {},
        credentials=credentials,
    )
    try:
        yield config
    finally:
        delete_prefix(redis_url, prefix)


@contextmanager
def private_stack(
    name: str, redis_url: str, extra_env: dict[str, str] | None = None, credentials: str = "credentials.yml"
) -> Iterator[Stack]:
    """A running stack on free ports with its own key prefix and API token, removed afterwards."""
    with private_stack_config(name, redis_url, extra_env, credentials) as config, Stack(config) as stack:
        stack.start()
        yield stack
