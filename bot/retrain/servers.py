"""Rasa server processes of the NLU supervisor: start on a model, check, stop."""

from __future__ import annotations

import logging
import os
import subprocess
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
import numpy as np
import yaml
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


def action_health_url(endpoints: Path) -> str | None:
    """The ``/health`` URL of the action server in Rasa's ``endpoints`` file (None if it names none).

    Raises:
        UpstreamError: The file cannot be read.
    """
    try:
        data = yaml.safe_load(endpoints.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise UpstreamError(f"cannot read the Rasa endpoints file {endpoints}: {type(exc).__name__}") from exc
    url = (data.get("action_endpoint") or {}).get("url") if isinstance(data, dict) else None
    if not isinstance(url, str) or not url:
        return None
    return urlunsplit(urlsplit(url)._replace(path="/health", query="", fragment=""))


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

    def wait_for_actions(self, endpoints: Path, timeout_s: float) -> None:
        """Wait until the action server of Rasa's ``endpoints`` file answers ``/health`` (at once without one).

        The stack starts every process at once; the action server answers ``/health`` only once its FAQ
        index is built (actions/serve.py), so a turn sent before then gets no reply.

        Raises:
            UpstreamError: This server exited, or the action server did not answer in time.
        """
        url = action_health_url(endpoints)
        if url is None:
            return
        self._wait(url, timeout_s, "waiting for the action server", f"action server {url}")

    def wait_ready(self, timeout_s: float) -> None:
        """Wait until the dmdesk channel answers (Rasa listens only once its model is loaded).

        Raises:
            UpstreamError: The process exited or did not answer in time.
        """
        self._wait(
            f"{self.url}/webhooks/dmdesk/", timeout_s, "while loading the model", f"rasa server on port {self.port}"
        )

    def _wait(self, url: str, timeout_s: float, doing: str, name: str) -> None:
        with httpx.Client(timeout=2) as http:
            ready = wait_http(http, url, self.alive, timeout_s, poll_s=0.3)
        if ready is None:
            code = self.proc.returncode if self.proc else None
            raise UpstreamError(f"rasa server on port {self.port} exited with {code} {doing}")
        if not ready:
            raise UpstreamError(f"{name} not ready after {timeout_s:.0f} s")

    def probe(self, channel_token: str, redis: Redis, keys: Keys, encoder: str | None = None) -> None:
        """One real conversation turn through the server (model, actions, tracker store), then forgotten.

        With the probe text's vector by ``encoder`` (the NLU featurizer's) when the consumers have put it in
        the embedding cache (:func:`cache_probe_vector`), as a consumer sends it: the server does not load
        the encoder's weights for the probe.

        Raises:
            UpstreamError: No 200 or no reply.
        """
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
