"""Rasa server processes of the NLU supervisor: start on a model, check, stop."""

from __future__ import annotations

import logging
import os
import subprocess
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import numpy as np
from redis import Redis

from bot.encoders import Encoder
from bot.errors import UpstreamError
from bot.faq.kb import RedisVectorCache
from bot.faq.query_vectors import text_digest
from bot.keys import Keys
from bot.nlu.vectors import pack
from bot.processes import renice
from bot.retrain.trainer import rasa_env
from bot.stack import ROOT, rasa_argv, wait_http

log = logging.getLogger(__name__)

PROBE_TEXT = "hello"
#: between the probe turns of :meth:`RasaServer.probe` that got no reply
PROBE_RETRY_S = 0.5


def cache_probe_vector(redis: Redis, keys: Keys, encoder: Encoder) -> None:
    """Put the probe text's vector in ``encoder``'s content-addressed embedding cache (the FAQ index's), if absent.

    The consumers do it when their encoder is loaded; :meth:`RasaServer.probe` sends it with the probe turn.
    """
    cache, digest = RedisVectorCache(redis, keys), text_digest(PROBE_TEXT)
    if cache.get_many(encoder.name, [digest])[0] is None:
        cache.set_many(encoder.name, {digest: encoder.encode([PROBE_TEXT])[0].astype(np.float32).tobytes()})


@dataclass
class RasaServer:
    """One ``rasa run`` process serving one model version."""

    version: str
    model: Path
    port: int
    proc: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        """Base URL of the server."""
        return f"http://127.0.0.1:{self.port}"

    def start(self, endpoints: Path, credentials: str, api: bool, nice: int, log_dir: Path) -> None:
        """Spawn the process (in the supervisor's process group, so stopping the stack stops it)."""
        log_dir.mkdir(parents=True, exist_ok=True)
        out = open(log_dir / f"rasa-{self.port}.log", "ab")  # noqa: SIM115 (closed with the process)
        self.proc = subprocess.Popen(
            rasa_argv(self.model, endpoints, credentials, self.port, api),
            cwd=ROOT,
            env=rasa_env(),
            stdout=out,
            stderr=subprocess.STDOUT,
            preexec_fn=(lambda: os.nice(nice)) if nice else None,  # noqa: PLW1509
        )
        out.close()
        log.info("rasa server started", extra={"port": self.port, "version": self.version, "pid": self.proc.pid})

    def renice(self, nice: int) -> None:
        """Set the server's niceness (every thread of it)."""
        if self.proc is not None and self.proc.poll() is None:
            renice(self.proc.pid, nice)

    def alive(self) -> bool:
        """True while the process runs."""
        return self.proc is not None and self.proc.poll() is None

    def wait_ready(self, timeout_s: float) -> None:
        """Wait until the dmdesk channel answers (Rasa listens only once its model is loaded).

        Raises:
            UpstreamError: The process exited or did not answer in time.
        """
        with httpx.Client(timeout=2) as http:
            ready = wait_http(http, f"{self.url}/webhooks/dmdesk/", self.alive, timeout_s, poll_s=0.3)
        if ready is None:
            code = self.proc.returncode if self.proc else None
            raise UpstreamError(f"rasa server on port {self.port} exited with {code} while loading the model")
        if not ready:
            raise UpstreamError(f"rasa server on port {self.port} not ready after {timeout_s:.0f} s")

    def probe(
        self, channel_token: str, redis: Redis, keys: Keys, encoder: str | None = None, wait_s: float = 0.0
    ) -> None:
        """One real conversation turn through the server (model, actions, tracker store), then forgotten.

        With the probe text's vector by ``encoder`` (the NLU featurizer's) when the consumers have put it in
        the embedding cache (:func:`cache_probe_vector`), as a consumer sends it: the server does not load
        the encoder's weights for the probe.

        Args:
            wait_s: Try again (a new turn every :data:`PROBE_RETRY_S`) for up to this long while a turn gets no
                reply and the server runs: at the stack's start the action server may still be loading the FAQ
                when Rasa serves.

        Raises:
            UpstreamError: No 200 or no reply (after ``wait_s``).
        """
        deadline = time.monotonic() + wait_s
        while True:
            try:
                return self._probe_once(channel_token, redis, keys, encoder)
            except UpstreamError:
                exited = self.proc is not None and not self.alive()  # a server that died gets no second turn
                if exited or time.monotonic() >= deadline:
                    raise
                time.sleep(PROBE_RETRY_S)

    def _probe_once(self, channel_token: str, redis: Redis, keys: Keys, encoder: str | None) -> None:
        sender = f"probe:{uuid.uuid4().hex[:12]}"
        headers = {"X-Dmdesk-Token": channel_token} if channel_token else {}
        body: dict[str, Any] = {"sender": sender, "message": PROBE_TEXT, "metadata": {"channel": "dev"}}
        raw = RedisVectorCache(redis, keys).get_many(encoder, [text_digest(PROBE_TEXT)])[0] if encoder else None
        if isinstance(raw, bytes) and raw and len(raw) % 4 == 0:
            body["vector"] = pack(str(encoder), PROBE_TEXT, np.frombuffer(raw, dtype=np.float32))
        try:
            response = httpx.post(f"{self.url}/webhooks/dmdesk/webhook", json=body, headers=headers, timeout=60)
        except httpx.HTTPError as exc:
            raise UpstreamError(f"probe of the new model failed: {type(exc).__name__}") from exc
        finally:
            redis.delete(keys.tracker_events(sender), keys.tracker_state(sender), keys.legacy_tracker(sender))
        if response.status_code != 200 or not response.json().get("messages"):
            raise UpstreamError(f"probe of the new model got {response.status_code} without a reply")

    def stop(self, timeout_s: float = 15) -> None:
        """SIGTERM (Rasa finishes what it has), then SIGKILL after ``timeout_s``."""
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        log.info("rasa server stopped", extra={"port": self.port, "version": self.version})
