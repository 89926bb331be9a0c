"""A local fake of Meta's Graph API (Send API and profiles) for tests, demos and benchmarks.

Records every call; can fail a share of sends with 5xx, 429 (rate limit) or
a timeout (the call hangs, nothing is recorded). Control endpoints under
``/_fake/``: ``GET sends``, ``GET actions``, ``GET stats``, ``POST config``,
``POST reset``. Run it with ``dmdesk fake-graph --port 8009`` and set
``META_GRAPH_URL=http://127.0.0.1:8009``.
"""

from __future__ import annotations

import asyncio
import random
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route


@dataclass
class FakeConfig:
    """Failure injection and profile behaviour."""

    fail_rate: float = 0.0
    rate_limit_rate: float = 0.0
    timeout_rate: float = 0.0
    timeout_s: float = 15.0
    seed: int | None = None
    profile_forbidden: bool = False
    #: recipient id -> Graph error (code, subcode) returned for every send to it
    refuse: dict[str, list[int]] = field(default_factory=dict)


class FakeGraph:
    """State of the fake: what was sent, what was injected."""

    def __init__(self, config: FakeConfig | None = None) -> None:
        self.config = config or FakeConfig()
        self.sends: list[dict[str, Any]] = []
        self.actions: list[dict[str, Any]] = []
        self.stats: dict[str, int] = {"5xx": 0, "429": 0, "timeout": 0, "refused": 0, "ok": 0, "profile": 0}
        self._random = random.Random(self.config.seed)
        self._lock = threading.Lock()
        self._by_recipient: dict[str, list[dict[str, Any]]] = {}  # the same records, per recipient
        self._waiters: dict[str, asyncio.Event] = {}
        self.app = Starlette(
            routes=[
                Route("/_fake/sends", self._get_sends),
                Route("/_fake/wait", self._wait),
                Route("/_fake/actions", self._get_actions),
                Route("/_fake/stats", self._get_stats),
                Route("/_fake/config", self._set_config, methods=["POST"]),
                Route("/_fake/reset", self._reset, methods=["POST"]),
                Route("/{path:path}", self._graph, methods=["GET", "POST"]),
            ]
        )

    def reset(self, config: FakeConfig | None = None) -> None:
        """Forget every call; optionally new failure settings."""
        with self._lock:
            if config is not None:
                self.config = config
                self._random = random.Random(config.seed)
            self.sends.clear()
            self._by_recipient.clear()
            self.actions.clear()
            self.stats = dict.fromkeys(self.stats, 0)

    async def _get_sends(self, request: Request) -> JSONResponse:
        """Every send, in arrival order; ``?since=N``: those after the first ``N`` (a poller's increment)."""
        since = request.query_params.get("since", "0")
        if not since.isdigit():
            return JSONResponse({"error": "since: a count"}, status_code=400)
        return JSONResponse(self.sends[int(since) :])

    async def _wait(self, request: Request) -> JSONResponse:
        """Long poll: ``?recipient=ID&n=1&timeout=30`` -> that recipient's sends once there are ``n``."""
        recipient = request.query_params.get("recipient", "")
        n = int(request.query_params.get("n", "1"))
        deadline = time.monotonic() + float(request.query_params.get("timeout", "30"))
        while len(self._by_recipient.get(recipient, ())) < n and time.monotonic() < deadline:
            event = self._waiters.setdefault(recipient, asyncio.Event())
            try:
                await asyncio.wait_for(event.wait(), timeout=max(0.01, deadline - time.monotonic()))
            except asyncio.TimeoutError:
                break
            finally:
                self._waiters.pop(recipient, None)
        return JSONResponse(self._by_recipient.get(recipient, []))

    async def _get_actions(self, request: Request) -> JSONResponse:
        return JSONResponse(self.actions)

    async def _get_stats(self, request: Request) -> JSONResponse:
        return JSONResponse(self.stats)

    async def _set_config(self, request: Request) -> JSONResponse:
        self.reset(FakeConfig(**await request.json()))
        return JSONResponse({"ok": True})

    async def _reset(self, request: Request) -> JSONResponse:
        self.reset()
        return JSONResponse({"ok": True})

    def _error(self, status: int, code: int, message: str, sub: int | None = None) -> JSONResponse:
        error: dict[str, Any] = {"message": message, "type": "OAuthException", "code": code, "fbtrace_id": "fake"}
        if sub is not None:
            error["error_subcode"] = sub
        return JSONResponse({"error": error}, status_code=status)

    async def _graph(self, request: Request) -> JSONResponse:
        parts = [p for p in request.path_params["path"].split("/") if p]
        if parts and parts[0].startswith("v") and parts[0][1:].replace(".", "").isdigit():
            parts = parts[1:]  # version prefix, e.g. /v21.0/
        auth = request.headers.get("authorization", "")
        if not auth.startswith("Bearer ") or len(auth) < 9:
            return self._error(401, 190, "Invalid OAuth access token.")
        if request.method == "GET" and len(parts) == 1:
            self.stats["profile"] += 1
            if self.config.profile_forbidden:
                return self._error(403, 200, "Requires pages_messaging permission")
            return JSONResponse(
                {"id": parts[0], "first_name": f"Cust{parts[0][-4:]}", "name": f"Cust{parts[0][-4:]} X"}
            )
        if request.method != "POST" or len(parts) != 2 or parts[1] != "messages":
            return self._error(400, 100, "Unsupported request")
        body = await request.json()
        recipient = str((body.get("recipient") or {}).get("id"))
        if "sender_action" in body:
            self.actions.append({"account": parts[0], "recipient": recipient, "action": body["sender_action"]})
            return JSONResponse({"recipient_id": recipient})
        roll = self._random.random()
        c = self.config
        if roll < c.timeout_rate:
            self.stats["timeout"] += 1
            await asyncio.sleep(c.timeout_s)
            return self._error(504, 2, "timeout")
        roll -= c.timeout_rate
        if roll < c.fail_rate:
            self.stats["5xx"] += 1
            return self._error(500, 2, "Service temporarily unavailable", None)
        roll -= c.fail_rate
        if roll < c.rate_limit_rate:
            self.stats["429"] += 1
            return self._error(429, 613, "Calls to this api have exceeded the rate limit.")
        if recipient in c.refuse:
            self.stats["refused"] += 1
            code, sub = (c.refuse[recipient] + [0])[:2]
            return self._error(400, code, "refused", sub or None)
        with self._lock:
            mid = f"m_fake{len(self.sends) + 1:08d}"
            record = {
                "account": parts[0],
                "recipient": recipient,
                "mid": mid,
                "at": time.time(),
                "messaging_type": body.get("messaging_type"),
                "tag": body.get("tag"),
                "message": body.get("message"),
                "token": auth[7:],
            }
            self.sends.append(record)
            self._by_recipient.setdefault(recipient, []).append(record)
        self.stats["ok"] += 1
        waiter = self._waiters.get(recipient)
        if waiter is not None:
            waiter.set()
        return JSONResponse({"recipient_id": recipient, "message_id": mid})


@dataclass
class RunningFake:
    """A fake Graph API serving on a port."""

    graph: FakeGraph
    url: str


@contextmanager
def serve_in_thread(port: int, config: FakeConfig | None = None) -> Iterator[RunningFake]:
    """Serve a fake on 127.0.0.1:``port`` in a background thread (tests)."""
    graph = FakeGraph(config)
    server = uvicorn.Server(uvicorn.Config(graph.app, host="127.0.0.1", port=port, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("fake Graph API did not start")
        time.sleep(0.02)
    try:
        yield RunningFake(graph, f"http://127.0.0.1:{port}")
    finally:
        server.should_exit = True
        thread.join(timeout=5)


def serve(port: int, config: FakeConfig | None = None) -> None:
    """Serve in the foreground (``dmdesk fake-graph``)."""
    uvicorn.run(FakeGraph(config).app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
