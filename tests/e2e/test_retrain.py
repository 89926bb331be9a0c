"""Retrain and swap through the real stack: one real training on the real data plus one added example.

While the model trains and the NLU supervisor swaps Rasa servers, customers
keep writing through the dev endpoint (a running conversation and new ones):
every request must succeed. The new model must answer the added example the
way it was taught; a restore must bring the previous model back the same way.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from redis import Redis

from bot.agents.accounts import AccountStore
from bot.agents.models import AccountCreate, Role
from bot.keys import Keys
from bot.retrain.jobs import JobStore
from bot.stack import StackConfig
from tests.e2e.helpers import new_sender

pytestmark = pytest.mark.stack

PASSWORD = "a long test password"
#: the base model files this under `faq` (0.50); one example teaches it `bot_challenge`
TAUGHT = "are you powered by a toaster"
IAMABOT = "I'm Kopiku's virtual assistant"
LOAD_TEXTS = ["hello", "how long does delivery to Medan take?", "thanks!", "brp ongkir ke bali kak?"]


class Load:
    """Customers writing continuously through the dev endpoint; every result is kept."""

    def __init__(self, stack: StackConfig) -> None:
        self._http = httpx.Client(
            base_url=stack.bot_url, headers={"Authorization": f"Bearer {stack.api_token}"}, timeout=60
        )
        self.results: list[tuple[float, int, str]] = []
        self.running_sender = new_sender()  # one conversation that goes on across the swaps
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        i = 0
        while not self._stop.is_set():
            sender = self.running_sender if i % 2 == 0 else new_sender()
            body = {"channel": "dev", "sender": sender, "text": LOAD_TEXTS[i % len(LOAD_TEXTS)]}
            try:
                response = self._http.post("/api/dev/messages", json=body)
                status = response.json().get("status", "") if response.status_code == 200 else response.text[:200]
                self.results.append((time.time(), response.status_code, str(status)))
            except httpx.HTTPError as exc:
                self.results.append((time.time(), 0, type(exc).__name__))
            i += 1
            time.sleep(0.15)

    def __enter__(self) -> Load:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=90)
        self._http.close()

    def failures(self) -> list[tuple[float, int, str]]:
        return [r for r in self.results if r[1] != 200 or r[2] != "answered"]


@pytest.fixture()
def editor(stack: StackConfig) -> Iterator[httpx.Client]:
    redis = Redis.from_url(stack.redis_url)
    AccountStore(redis, Keys(stack.redis_prefix)).create(
        "kopiku", AccountCreate(username="retrainer", password=PASSWORD, role=Role.EDITOR)
    )
    redis.close()
    with httpx.Client(base_url=stack.bot_url, timeout=60) as http:
        login = {"brand": "kopiku", "username": "retrainer", "password": PASSWORD}
        token = http.post("/api/agent/session", json=login).json()["token"]
        http.headers["Authorization"] = f"Bearer {token}"
        yield http


def warm_up(api: httpx.Client) -> None:
    """The stack's first FAQ turn loads the action server's knowledge base: give it time on a busy machine."""
    for _ in range(5):
        response = api.post("/api/dev/messages", json={"channel": "dev", "sender": new_sender(), "text": "shipping?"})
        if response.status_code == 200:
            return
        time.sleep(5)
    raise AssertionError(f"the stack does not answer: {response.text}")


def reply(api: httpx.Client, text: str) -> str:
    response = api.post("/api/dev/messages", json={"channel": "dev", "sender": new_sender(), "text": text})
    assert response.status_code == 200, response.text
    return " ".join(r["text"] or "" for r in response.json()["replies"])


def run_job(editor: httpx.Client, path: str, body: dict[str, Any] | None = None, timeout_s: float = 1200) -> dict:
    """Start a job and poll it to the end; returns the final record with every state seen while polling."""
    started = editor.post(path, json=body or {})
    assert started.status_code == 202, started.text
    job, seen = started.json(), [started.json()["state"]]
    deadline = time.monotonic() + timeout_s
    while job["state"] not in ("done", "failed") and time.monotonic() < deadline:
        time.sleep(0.5)
        job = editor.get(f"/api/training/jobs/{job['id']}").json()
        if job["state"] != seen[-1]:
            seen.append(job["state"])
    job["seen"] = seen
    return job


def rasa_answers(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/webhooks/dmdesk/", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def test_retrain_swap_and_restore_with_no_failed_request(
    stack: StackConfig, api: httpx.Client, editor: httpx.Client
) -> None:
    warm_up(api)
    assert not reply(api, TAUGHT).startswith(IAMABOT)
    added = editor.post("/api/training/intents/bot_challenge/examples", json={"text": TAUGHT})
    assert added.status_code == 201, added.text
    jobs = JobStore(Redis.from_url(stack.redis_url), Keys(stack.redis_prefix))
    first = jobs.endpoint()
    assert first is not None and first.model_version == "base" and first.url.endswith(f":{stack.rasa_port}")
    trained_file: Path | None = None
    try:
        with Load(stack) as load:
            job = run_job(editor, "/api/training/jobs")
            time.sleep(2)
        assert job["state"] == "done", (job["error"], job["log_tail"][-10:])
        states = [h["state"] for h in job["history"]]
        assert [s for s in states if s != "queued"] == ["training", "validating", "swapping", "done"]
        assert {"training", "done"} <= set(job["seen"])  # progress was visible while it ran
        assert job["log_tail"] and job["data_version"] == added.json()["data_version"]
        assert load.failures() == [] and len(load.results) > 20, load.failures()[:5]
        swapped = jobs.endpoint()
        assert swapped is not None and swapped.model_version == job["model_version"]
        assert swapped.url.endswith(f":{stack.rasa_alt_port}") and swapped.generation == first.generation + 1
        assert not rasa_answers(stack.rasa_port)  # the old server was drained and stopped
        models = editor.get("/api/training/models").json()
        assert models["active"] == {**models["active"], "version": job["model_version"], "previous": "base"}
        trained_file = Path(next(m["path"] for m in models["models"] if m["version"] == job["model_version"]))
        assert trained_file.exists()
        assert reply(api, TAUGHT).startswith(IAMABOT)  # the new model answers

        with Load(stack) as load:
            restored = run_job(editor, "/api/training/models/restore")
            time.sleep(2)
        assert restored["state"] == "done", restored["error"]
        assert [h["state"] for h in restored["history"] if h["state"] != "queued"] == ["validating", "swapping", "done"]
        assert load.failures() == [] and len(load.results) > 5, load.failures()[:5]
        back = jobs.endpoint()
        assert back is not None and back.model_version == "base" and back.url.endswith(f":{stack.rasa_port}")
        assert not rasa_answers(stack.rasa_alt_port)
        assert not reply(api, TAUGHT).startswith(IAMABOT)
        assert editor.get("/api/training/models").json()["active"]["previous"] == job["model_version"]
    finally:
        if trained_file is not None:
            trained_file.unlink(missing_ok=True)
