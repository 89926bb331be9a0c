"""The fake Graph API's control endpoints, which the tests and benchmarks read (a real local server)."""

from __future__ import annotations

import httpx

from bot.fakegraph import FakeConfig, RunningFake

from .conftest import TOKEN


def _send(http: httpx.Client, recipient: str, text: str) -> None:
    body = {"recipient": {"id": recipient}, "messaging_type": "RESPONSE", "message": {"text": text}}
    response = http.post("/v21.0/100000000000001/messages", json=body, headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 200


def test_sends_since_and_waits_per_recipient(fake: RunningFake) -> None:
    fake.graph.reset(FakeConfig())
    with httpx.Client(base_url=fake.url, timeout=5) as http:
        for i, recipient in enumerate(["a", "b", "a", "c", "a"]):
            _send(http, recipient, f"m{i}")
        every = http.get("/_fake/sends").json()
        assert [s["message"]["text"] for s in every] == ["m0", "m1", "m2", "m3", "m4"]
        assert http.get("/_fake/sends", params={"since": 3}).json() == every[3:]
        assert http.get("/_fake/sends", params={"since": 9}).json() == []
        assert http.get("/_fake/sends", params={"since": "-1"}).status_code == 400
        waited = http.get("/_fake/wait", params={"recipient": "a", "n": 3, "timeout": 2}).json()
        assert [s["message"]["text"] for s in waited] == ["m0", "m2", "m4"]
        assert http.get("/_fake/wait", params={"recipient": "b", "n": 1, "timeout": 2}).json() == [every[1]]
        assert http.get("/_fake/wait", params={"recipient": "z", "n": 1, "timeout": 0.2}).json() == []
        http.post("/_fake/reset")
        assert http.get("/_fake/sends").json() == []
        assert http.get("/_fake/wait", params={"recipient": "a", "n": 1, "timeout": 0.2}).json() == []
