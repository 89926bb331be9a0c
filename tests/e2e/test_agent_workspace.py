"""The agent workspace through a real stack: accounts, queue, claim, live events, replies, resolve.

One private stack for this module, with a 3-second reopen window so that both
"a customer who writes at once reopens the ticket" and "later, the bot answers
again" can be shown.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
from redis import Redis

from bot import simulate as sim
from bot.agents.texts import RESOLVED
from bot.fakegraph import RunningFake
from bot.faq import store
from bot.handoff.queue import HandoffStore
from bot.keys import Keys
from bot.stack import ROOT, StackConfig, private_stack
from tests.conftest import META_SECRET
from tests.e2e import meta_helpers as meta
from tests.e2e.helpers import kinds, new_sender, say

pytestmark = pytest.mark.stack

REOPEN_WINDOW_S = 3
PASSWORD = "a long test password"
FAQ = store.load(ROOT / "data" / "faq.yml")


@pytest.fixture(scope="module")
def ws(redis_url: str, cache_prefix: str, fake_graph: RunningFake) -> Iterator[StackConfig]:
    """A private stack, with the workspace's accounts created through the CLI and the API.

    Meta webhooks are on and sends go to the fake Graph API.
    """
    env = {
        "META_APP_SECRET": META_SECRET,
        "META_GRAPH_URL": fake_graph.url + "/v21.0",
        "DMDESK_SUPPORT_HOURS": "mon-sun 00:00-23:59",
        "DMDESK_EMBEDDING_CACHE_PREFIX": cache_prefix,
        "DMDESK_REOPEN_WINDOW_S": str(REOPEN_WINDOW_S),
        "DMDESK_FIRST_RESPONSE_TARGET_S": "60",
    }
    with private_stack("agents", redis_url, env) as running:
        config = running.config
        for brand, name in [("kopiku", "boss"), ("otherbrand", "spy")]:
            cli_add_user(config, brand, name, "admin")
        with session(config, "boss") as boss:
            for name, role, teams in [("sari", "agent", []), ("budi", "agent", ["billing"]), ("rina", "editor", [])]:
                body = {"username": name, "password": PASSWORD, "role": role, "teams": teams}
                assert boss.post("/api/agent/users", json=body).status_code == 201
        yield config


def cli_add_user(config: StackConfig, brand: str, name: str, role: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "REDIS_URL": config.redis_url, "DMDESK_REDIS_PREFIX": config.redis_prefix}
    env.pop("DMDESK_NEW_PASSWORD", None)
    done = subprocess.run(
        [sys.executable, "-m", "bot.cli", "users", "add", "--brand", brand, "--role", role, "--name", name],
        input=PASSWORD + "\n",
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert PASSWORD not in done.stdout + done.stderr
    return done


def login(config: StackConfig, name: str, brand: str = "kopiku", password: str = PASSWORD) -> httpx.Response:
    return httpx.post(
        config.bot_url + "/api/agent/session", json={"brand": brand, "username": name, "password": password}
    )


def session(config: StackConfig, name: str, brand: str | None = None) -> httpx.Client:
    """An HTTP client logged in as ``name``."""
    response = login(config, name, brand or ("otherbrand" if name == "spy" else "kopiku"))
    assert response.status_code == 200, response.text
    token = response.json()["token"]
    return httpx.Client(base_url=config.bot_url, headers={"Authorization": f"Bearer {token}"}, timeout=60)


@pytest.fixture()
def customer(ws: StackConfig) -> Iterator[httpx.Client]:
    """The dev endpoint, with the static API token."""
    with httpx.Client(base_url=ws.bot_url, headers={"Authorization": f"Bearer {ws.api_token}"}, timeout=60) as c:
        yield c


class SseClient:
    """Reads ``GET /api/agent/events`` in a thread; records (arrival time, event, data)."""

    def __init__(self, config: StackConfig, token: str) -> None:
        self.events: list[tuple[float, str, dict[str, Any]]] = []
        self.ready = threading.Event()
        self._stop = False
        self._thread = threading.Thread(target=self._run, args=(config, token), daemon=True)
        self._thread.start()
        assert self.ready.wait(10), "SSE stream did not start"

    def _run(self, config: StackConfig, token: str) -> None:
        headers = {"Authorization": f"Bearer {token}"}
        with (
            httpx.Client(base_url=config.bot_url, timeout=httpx.Timeout(60, read=None)) as http,
            http.stream("GET", "/api/agent/events", headers=headers) as response,
        ):
            assert response.headers["content-type"].startswith("text/event-stream")
            kind = None
            for line in response.iter_lines():
                if self._stop:
                    return
                if line.startswith("event: "):
                    kind = line[7:]
                elif line.startswith("data: ") and kind:
                    if kind == "ready":
                        self.ready.set()
                    else:
                        self.events.append((time.monotonic(), kind, json.loads(line[6:])))

    def wait_for(self, kind: str, ticket_id: str, timeout: float = 5.0) -> float:
        """Arrival time of the first ``kind`` event of the ticket."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for at, k, data in list(self.events):
                if k == kind and data["ticket_id"] == ticket_id:
                    return at
            time.sleep(0.02)
        raise AssertionError(f"no {kind} for {ticket_id}; got {[k for _, k, _ in self.events]}")

    def close(self) -> None:
        self._stop = True


def hand_off(customer: httpx.Client, sender: str, text: str = "I want to talk to a human", **extra: Any) -> str:
    result = say(customer, sender, text, **extra)
    assert kinds(result) == ["handoff"], result
    return str(result["ticket_id"])


def test_a_claim_reaches_another_agents_event_stream_within_a_second(ws: StackConfig, customer: httpx.Client) -> None:
    with session(ws, "sari") as sari, session(ws, "budi") as budi:
        watcher = SseClient(ws, budi.headers["Authorization"].split()[1])
        sender = new_sender()
        try:
            ticket_id = hand_off(customer, sender)
            watcher.wait_for("ticket.created", ticket_id)
            claimed = sari.post(f"/api/agent/tickets/{ticket_id}/claim")
            done = time.monotonic()
            assert claimed.status_code == 200 and claimed.json()["assignee"] == "sari"
            assert watcher.wait_for("ticket.claimed", ticket_id, timeout=1.0) - done < 1.0
            assert say(customer, sender, "halo? masih di sana?")["status"] == "human"
            watcher.wait_for("ticket.customer_message", ticket_id)
            assert sari.post(f"/api/agent/tickets/{ticket_id}/release").status_code == 200
            watcher.wait_for("ticket.released", ticket_id)
        finally:
            watcher.close()


def test_two_agents_claiming_at_once_one_gets_409(ws: StackConfig, customer: httpx.Client) -> None:
    ticket_id = hand_off(customer, new_sender())
    with session(ws, "sari") as sari, session(ws, "boss") as boss:
        barrier = threading.Barrier(2)

        def claim(client: httpx.Client) -> int:
            barrier.wait()
            return client.post(f"/api/agent/tickets/{ticket_id}/claim").status_code

        with ThreadPoolExecutor(2) as pool:
            codes = sorted(pool.map(claim, [sari, boss]))
        assert codes == [200, 409]
        assert sari.post(f"/api/agent/tickets/{ticket_id}/claim").status_code == 409


def test_an_agent_works_a_chat_and_hands_it_back_to_the_bot(ws: StackConfig, customer: httpx.Client) -> None:
    sender = new_sender()
    conversation = f"dev:{sender}"
    ticket_id = hand_off(customer, sender, "mau ngobrol sama admin dong", profile={"name": "Dewi"})
    with session(ws, "sari") as sari:
        queue = sari.get("/api/agent/queue", params={"language": "id", "channel": "dev"}).json()
        row = next(r for r in queue if r["id"] == ticket_id)
        assert row["customer_name"] == "Dewi" and row["status"] == "waiting" and not row["first_response_breached"]
        assert ticket_id not in [r["id"] for r in sari.get("/api/agent/queue", params={"language": "fr"}).json()]
        assert sari.post(f"/api/agent/tickets/{ticket_id}/claim").status_code == 200
        assert ticket_id in [r["id"] for r in sari.get("/api/agent/tickets/claimed").json()]

        # the customer writes while a person owns the chat: recorded, the bot stays silent
        later = say(customer, sender, "brp ongkir ke medan kak?")
        assert later["status"] == "human" and later["replies"] == [] and later["ticket_id"] == ticket_id

        view = sari.get(f"/api/agent/tickets/{ticket_id}").json()
        ticket = view["ticket"]
        assert ticket["language"] == "id" and ticket["channel"] == "dev" and ticket["customer"]["name"] == "Dewi"
        assert ticket["reason"] == "requested_human" and ticket["priority"] == 2 and ticket["assignee"] == "sari"
        assert ticket["intents"][0]["intent"] == "request_human" and ticket["intents"][0]["confidence"] > 0
        assert ticket["transcript"][-1]["text"] == "brp ongkir ke medan kak?"
        assert view["earlier_tickets"] == [] and view["notes"] == []

        suggested = sari.get(f"/api/agent/tickets/{ticket_id}/suggestions").json()
        assert suggested["query"] == "brp ongkir ke medan kak?" and suggested["language"] == "id"
        assert 1 <= len(suggested["suggestions"]) <= 3
        top = suggested["suggestions"][0]
        assert top["entry_id"] == "shipping_domestic_cost" and top["language"] == "id"
        assert top["answer"] == FAQ.get("shipping_domestic_cost").answers["id"]  # type: ignore[union-attr]

        note = sari.post(f"/api/agent/tickets/{ticket_id}/notes", json={"text": "wants Medan rates"})
        assert note.status_code == 201 and note.json()["author"] == "sari"

        sent = sari.post(
            f"/api/agent/tickets/{ticket_id}/replies",
            json={"text": "Ongkir ke Medan Rp30.000 kak", "quick_replies": ["Oke", "Tanya lagi"]},
        )
        assert sent.status_code == 201, sent.text
        line = sent.json()
        assert line["sender"] == "agent" and line["author"] == "sari" and line["delivery"]["status"] == "sent"
        outbox = customer.get(f"/api/dev/conversations/{conversation}/messages").json()
        assert [(m["text"], m["quick_replies"]) for m in outbox] == [
            ("Ongkir ke Medan Rp30.000 kak", ["Oke", "Tanya lagi"])
        ]
        assert sari.post(f"/api/agent/tickets/{ticket_id}/replies/{line['id']}/retry").status_code == 409

        resolved = sari.post(f"/api/agent/tickets/{ticket_id}/resolve")
        assert resolved.status_code == 200, resolved.text
        assert resolved.json()["ticket"]["status"] == "resolved"
        assert (
            resolved.json()["line"]["text"] == RESOLVED["id"]
            and resolved.json()["line"]["delivery"]["status"] == "sent"
        )
        outbox = customer.get(f"/api/dev/conversations/{conversation}/messages", params={"after": 1}).json()
        assert [m["text"] for m in outbox] == [RESOLVED["id"]]

        # writing again at once reopens the same ticket (the bot stays silent)
        again = say(customer, sender, "eh kak satu lagi")
        assert again["status"] == "human" and again["ticket_id"] == ticket_id and again["replies"] == []
        assert ticket_id in [r["id"] for r in sari.get("/api/agent/queue").json()]
        assert sari.post(f"/api/agent/tickets/{ticket_id}/claim").status_code == 200
        assert sari.post(f"/api/agent/tickets/{ticket_id}/resolve").status_code == 200

        # after the window, the bot answers again
        time.sleep(REOPEN_WINDOW_S + 0.5)
        answered = say(customer, sender, "How can I track my order?")
        assert answered["status"] == "answered" and kinds(answered) == ["faq"], answered
        assert answered["replies"][0]["meta"]["faq_id"] == "order_tracking"
        assert sari.get(f"/api/agent/tickets/{ticket_id}").json()["ticket"]["status"] == "resolved"

        # a new escalation is a new ticket, with the old one among the customer's earlier tickets
        newer = hand_off(customer, sender)
        assert newer != ticket_id
        assert [t["id"] for t in sari.get(f"/api/agent/tickets/{newer}").json()["earlier_tickets"]] == [ticket_id]


def test_a_failed_delivery_is_recorded_and_can_be_retried(ws: StackConfig, customer: httpx.Client) -> None:
    # through the dev endpoint no Messenger message ever opened the 24-hour window: Meta's rules forbid the send
    ticket_id = hand_off(customer, new_sender(), channel="messenger")
    with session(ws, "budi") as budi:
        assert budi.post(f"/api/agent/tickets/{ticket_id}/claim").status_code == 200
        sent = budi.post(f"/api/agent/tickets/{ticket_id}/replies", json={"text": "Hi, Budi here"})
        assert sent.status_code == 201
        line = sent.json()
        assert line["delivery"]["status"] == "failed" and "window" in line["delivery"]["error"]
        retried = budi.post(f"/api/agent/tickets/{ticket_id}/replies/{line['id']}/retry")
        assert retried.status_code == 200 and retried.json()["delivery"]["attempts"] == 2
        stored = budi.get(f"/api/agent/tickets/{ticket_id}").json()["ticket"]["transcript"][-1]
        assert stored["id"] == line["id"] and stored["delivery"]["status"] == "failed"


def test_an_agent_reply_reaches_messenger_with_the_human_agent_rules(ws: StackConfig, fake_graph: RunningFake) -> None:
    customer_id = meta.new_customer()
    assert (
        meta.post(
            ws.bot_url,
            "messenger",
            sim.delivery("page", meta.P, [sim.text(customer_id, meta.P, "I want to talk to a human")]),
        ).status_code
        == 200
    )
    meta.wait_sends(fake_graph, customer_id, 1)
    redis = Redis.from_url(ws.redis_url)
    keys = Keys(ws.redis_prefix)
    try:
        conversation = f"messenger:{customer_id}"
        ticket_id = next(
            t.id for t in HandoffStore(redis, keys, "kopiku").waiting() if t.conversation_id == conversation
        )
        with session(ws, "sari") as sari:
            assert sari.post(f"/api/agent/tickets/{ticket_id}/claim").status_code == 200
            sent = sari.post(
                f"/api/agent/tickets/{ticket_id}/replies",
                json={"text": "Sari here, on it!", "quick_replies": ["Thanks"]},
            )
            assert sent.status_code == 201 and sent.json()["delivery"]["status"] == "sent", sent.json()
            last = meta.sends_to(fake_graph, customer_id)[-1]
            assert meta.text_of(last) == "Sari here, on it!" and last["messaging_type"] == "RESPONSE"
            # two days later the window is closed for the bot, not for a person: HUMAN_AGENT tag
            redis.set(keys.last_inbound(conversation), repr(time.time() - 2 * 86400))
            later = sari.post(f"/api/agent/tickets/{ticket_id}/replies", json={"text": "Your refund went out."})
            assert later.json()["delivery"]["status"] == "sent", later.json()
            last = meta.sends_to(fake_graph, customer_id)[-1]
            assert last["messaging_type"] == "MESSAGE_TAG" and last["tag"] == "HUMAN_AGENT"
    finally:
        redis.close()


def test_roles_brands_and_sessions(ws: StackConfig, customer: httpx.Client) -> None:
    ticket_id = hand_off(customer, new_sender())
    assert httpx.get(ws.bot_url + "/api/agent/queue").status_code == 401
    static = {"Authorization": f"Bearer {ws.api_token}"}
    assert httpx.get(ws.bot_url + "/api/agent/queue", headers=static).status_code == 401  # sessions only
    assert login(ws, "sari", password="wrong password").status_code == 401
    assert login(ws, "sari", brand="otherbrand").status_code == 401
    with session(ws, "sari") as sari, session(ws, "rina") as rina, session(ws, "spy") as spy:
        # the static token endpoints do not take sessions
        assert sari.get("/api/handoffs").status_code == 401
        assert sari.get("/api/agent/me").json()["role"] == "agent"
        reply = {"language": "id", "title": "Salam", "text": "Halo kak, ada yang bisa dibantu?"}
        assert sari.post("/api/agent/canned-replies", json=reply).status_code == 403
        created = rina.post("/api/agent/canned-replies", json=reply)
        assert created.status_code == 201
        reply_id = created.json()["id"]
        assert [r["id"] for r in sari.get("/api/agent/canned-replies", params={"language": "id"}).json()] == [reply_id]
        assert sari.get("/api/agent/canned-replies", params={"language": "en"}).json() == []
        assert rina.patch(f"/api/agent/canned-replies/{reply_id}", json={"title": "Sapaan"}).json()["title"] == "Sapaan"
        assert spy.get("/api/agent/canned-replies").json() == []
        assert spy.get(f"/api/agent/canned-replies/{reply_id}").status_code == 404
        assert sari.delete(f"/api/agent/canned-replies/{reply_id}").status_code == 403
        assert rina.delete(f"/api/agent/canned-replies/{reply_id}").status_code == 204
        assert rina.get(f"/api/agent/canned-replies/{reply_id}").status_code == 404
        # accounts: admins only, own brand only
        assert sari.get("/api/agent/users").status_code == 403
        assert rina.post("/api/agent/users", json={"username": "x1", "password": PASSWORD}).status_code == 403
        assert {u["username"] for u in spy.get("/api/agent/users").json()} == {"spy"}
        # another brand's agents never see this brand's tickets
        assert spy.get(f"/api/agent/tickets/{ticket_id}").status_code == 404
        assert spy.post(f"/api/agent/tickets/{ticket_id}/claim").status_code == 404
        assert ticket_id not in [r["id"] for r in spy.get("/api/agent/queue").json()]
        assert ticket_id in [r["id"] for r in sari.get("/api/agent/queue").json()]
        # logout revokes the token at once
        assert sari.delete("/api/agent/session").status_code == 204
        assert sari.get("/api/agent/me").status_code == 401


def test_the_session_cookie_works_for_reading_only(ws: StackConfig, customer: httpx.Client) -> None:
    ticket_id = hand_off(customer, new_sender())
    response = login(ws, "sari")
    cookie = response.cookies.get("dmdesk_session")
    assert cookie == response.json()["token"]
    set_cookie = response.headers["set-cookie"].lower()
    assert "httponly" in set_cookie and "samesite=strict" in set_cookie
    with httpx.Client(base_url=ws.bot_url, cookies={"dmdesk_session": cookie}) as browser:
        assert browser.get("/api/agent/me").json()["username"] == "sari"
        assert browser.post(f"/api/agent/tickets/{ticket_id}/claim").status_code == 401  # no CSRF through the cookie


def test_account_admin_rules(ws: StackConfig) -> None:
    with session(ws, "boss") as boss:
        assert boss.post("/api/agent/users", json={"username": "sari", "password": PASSWORD}).status_code == 409
        body = {"username": "temp", "password": PASSWORD, "role": "agent"}
        assert boss.post("/api/agent/users", json=body).status_code == 201
        with session(ws, "temp") as temp:
            assert boss.patch("/api/agent/users/temp", json={"active": False}).json()["active"] is False
            assert temp.get("/api/agent/me").status_code == 401
        assert login(ws, "temp").status_code == 401
        assert boss.patch("/api/agent/users/boss", json={"role": "agent"}).status_code == 409  # last admin
        assert boss.delete("/api/agent/users/boss").status_code == 409
        assert boss.delete("/api/agent/users/temp").status_code == 204
        assert boss.delete("/api/agent/users/temp").status_code == 404


@pytest.mark.parametrize(
    ("method", "path", "body", "status"),
    [
        ("POST", "/api/agent/tickets/not-an-id/claim", None, 422),
        ("POST", "/api/agent/tickets/0123456789ab/claim", None, 404),
        ("GET", "/api/agent/tickets/0123456789ab", None, 404),
        ("GET", "/api/agent/queue?priority=9", None, 422),
        ("GET", "/api/agent/queue?channel=whatsapp", None, 422),
        ("POST", "/api/agent/canned-replies", {"language": "english", "title": "t", "text": "x"}, 403),
        ("POST", "/api/agent/users", {"username": "ab", "password": "short"}, 422),
        ("POST", "/api/agent/users", {"username": "Bad Name", "password": PASSWORD}, 422),
        ("POST", "/api/agent/users", {"username": "abc", "password": PASSWORD, "languages": ["english"]}, 422),
        ("POST", "/api/agent/users", {"username": "abc", "password": PASSWORD, "role": "root"}, 422),
        ("PATCH", "/api/agent/users/nobody", {"role": "admin"}, 404),
    ],
)
def test_bad_agent_requests_get_a_clear_4xx(
    ws: StackConfig, method: str, path: str, body: dict[str, Any] | None, status: int
) -> None:
    with session(ws, "boss" if "users" in path else "sari") as client:
        response = client.request(method, path, json=body)
        assert response.status_code == status, response.text
        assert response.json()["detail"]


def test_ticket_state_errors_are_409_or_422(ws: StackConfig, customer: httpx.Client) -> None:
    ticket_id = hand_off(customer, new_sender())
    with session(ws, "sari") as sari, session(ws, "budi") as budi:
        assert sari.post(f"/api/agent/tickets/{ticket_id}/replies", json={"text": "hi"}).status_code == 409  # unclaimed
        assert sari.post(f"/api/agent/tickets/{ticket_id}/resolve").status_code == 409
        assert sari.post(f"/api/agent/tickets/{ticket_id}/claim").status_code == 200
        assert budi.post(f"/api/agent/tickets/{ticket_id}/replies", json={"text": "hi"}).status_code == 409  # not his
        assert budi.post(f"/api/agent/tickets/{ticket_id}/release").status_code == 409
        assert sari.post(f"/api/agent/tickets/{ticket_id}/replies", json={"text": "   "}).status_code == 422
        bad = {"text": "hi", "quick_replies": ["x" * 21]}
        assert sari.post(f"/api/agent/tickets/{ticket_id}/replies", json=bad).status_code == 422
        both = {"to_agent": "budi", "to_team": "billing"}
        assert sari.post(f"/api/agent/tickets/{ticket_id}/transfer", json=both).status_code == 422
        moved = sari.post(f"/api/agent/tickets/{ticket_id}/transfer", json={"to_team": "billing"})
        assert moved.status_code == 200 and moved.json()["team"] == "billing" and moved.json()["status"] == "waiting"
        assert sari.post(f"/api/agent/tickets/{ticket_id}/claim").status_code == 403  # not in billing
        assert budi.post(f"/api/agent/tickets/{ticket_id}/claim").status_code == 200
        assert budi.post(f"/api/agent/tickets/{ticket_id}/transfer", json={"to_agent": "sari"}).status_code == 200
        assert sari.post(f"/api/agent/tickets/{ticket_id}/release").json()["status"] == "waiting"
        resp = sari.post("/api/agent/session", content=b"{nope", headers={"Content-Type": "application/json"})
        assert resp.status_code == 422


def test_openapi_documents_the_agent_api(ws: StackConfig) -> None:
    spec = httpx.get(ws.bot_url + "/openapi.json").json()
    paths = spec["paths"]
    for path in [
        "/api/agent/session",
        "/api/agent/queue",
        "/api/agent/tickets/{ticket_id}/claim",
        "/api/agent/tickets/{ticket_id}/replies/{line_id}/retry",
        "/api/agent/tickets/{ticket_id}/resolve",
        "/api/agent/canned-replies",
        "/api/agent/events",
        "/api/dev/conversations/{conversation_id}/messages",
    ]:
        assert path in paths, path
    claim = paths["/api/agent/tickets/{ticket_id}/claim"]["post"]
    assert claim["tags"] == ["agent: tickets"] and {"200", "401", "403", "404", "409"} <= set(claim["responses"])
    assert {"AgentSession", "HTTPBearer"} <= set(spec["components"]["securitySchemes"])
