"""The bot service's HTTP contract: auth, validation, dedupe, bad input."""

from __future__ import annotations

import httpx
import pytest

from bot.stack import StackConfig
from tests.e2e.helpers import new_sender, say

pytestmark = pytest.mark.stack


@pytest.mark.parametrize(
    ("method", "path"), [("GET", "/api/handoffs"), ("GET", "/api/handoffs/0123456789ab"), ("POST", "/api/dev/messages")]
)
@pytest.mark.parametrize("auth", [None, "Bearer wrong", "Basic abc"])
def test_api_requires_the_token(stack: StackConfig, method: str, path: str, auth: str | None) -> None:
    headers = {"Authorization": auth} if auth else {}
    response = httpx.request(
        method, stack.bot_url + path, headers=headers, json={"channel": "dev", "sender": "x", "text": "hi"}
    )
    assert response.status_code == 401


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"channel": "dev", "sender": "a", "text": ""}, 422),
        ({"channel": "dev", "sender": "a", "text": "   \n\t "}, 422),
        ({"channel": "whatsapp", "sender": "a", "text": "hi"}, 422),
        ({"channel": "dev", "sender": "", "text": "hi"}, 422),
        ({"channel": "dev", "sender": "a b", "text": "hi"}, 422),
        ({"channel": "dev", "text": "hi"}, 422),
        ({"channel": "dev", "sender": "a", "text": "x" * 5001}, 413),
    ],
)
def test_bad_requests_get_a_clear_4xx(api: httpx.Client, body: dict, status: int) -> None:
    response = api.post("/api/dev/messages", json=body)
    assert response.status_code == status
    assert response.json()["detail"]


def test_malformed_json_is_a_4xx(api: httpx.Client) -> None:
    response = api.post("/api/dev/messages", content=b"{not json", headers={"Content-Type": "application/json"})
    assert response.status_code == 422


@pytest.mark.parametrize(
    "text",
    [
        "😀😀😀",
        "🙏",
        "Привет, I need help с заказом KPK-10482 tolong",
        "a" * 5000,
        ("Hello, my order has not arrived yet and I am worried. " * 90)[:5000],
        "?????",
        "<script>alert(1)</script>",
    ],
)
def test_odd_messages_get_a_sensible_reply(api: httpx.Client, text: str) -> None:
    result = say(api, new_sender(), text)
    assert result["status"] == "answered"
    assert any(r["text"] for r in result["replies"])


def test_a_replayed_message_id_is_processed_once(api: httpx.Client) -> None:
    sender = new_sender()
    first = say(api, sender, "hello", message_id="mid.replay.1")
    assert first["status"] == "answered" and first["replies"]
    for _ in range(3):
        again = say(api, sender, "hello", message_id="mid.replay.1")
        assert again["status"] == "duplicate" and again["replies"] == []


def test_unknown_ticket_is_404(api: httpx.Client) -> None:
    assert api.get("/api/handoffs/0123456789ab").status_code == 404
    assert api.get("/api/handoffs/not-an-id").status_code == 422


def test_openapi_documents_the_endpoints(stack: StackConfig) -> None:
    spec = httpx.get(stack.bot_url + "/openapi.json").json()
    assert {"/api/dev/messages", "/api/handoffs", "/api/handoffs/{ticket_id}", "/healthz"} <= set(spec["paths"])
    assert "HTTPBearer" in spec["components"]["securitySchemes"]


def test_rasa_channel_rejects_calls_without_the_shared_token(stack: StackConfig) -> None:
    url = f"http://127.0.0.1:{stack.rasa_port}/webhooks/dmdesk/webhook"
    body = {"sender": "dev:intruder", "message": "hi", "metadata": {}}
    assert httpx.post(url, json=body).status_code == 401
    assert httpx.post(url, json=body, headers={"X-Dmdesk-Token": "wrong"}).status_code == 401
    ok = httpx.post(url, json=body, headers={"X-Dmdesk-Token": stack.channel_token}, timeout=60)
    assert ok.status_code == 200 and ok.json()["messages"]


def test_rasa_http_api_is_off_by_default(stack: StackConfig) -> None:
    # Without --enable-api, Rasa's tracker and model endpoints do not exist.
    assert httpx.get(f"http://127.0.0.1:{stack.rasa_port}/conversations/dev:x/tracker").status_code == 404
