"""The FAQ editor's API through the real stack: roles, brands, versions, checks, import/export, live edits.

Uses the session's stack. Every test that changes the FAQ restores it (its own
entries are deleted, edits of demo entries rolled back), so later tests see
the demo FAQ's content.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest

from bot.stack import ROOT, StackConfig
from tests.browser.helpers import make_account
from tests.e2e.helpers import new_sender, say

pytestmark = pytest.mark.stack

BASE = "/api/staff/faq"


@contextmanager
def session(stack: StackConfig, brand: str, username: str, role: str) -> Iterator[httpx.Client]:
    """An HTTP client logged in as a new (or reset) account."""
    password = make_account(stack, brand, username, role)
    with httpx.Client(base_url=stack.bot_url, timeout=60) as client:
        r = client.post("/api/agent/session", json={"brand": brand, "username": username, "password": password})
        assert r.status_code == 200, r.text
        client.headers["Authorization"] = f"Bearer {r.json()['token']}"
        yield client


@pytest.fixture(scope="module")
def editor(stack: StackConfig) -> Iterator[httpx.Client]:
    with session(stack, "kopiku", "faq-ed", "editor") as client:
        yield client


@pytest.fixture()
def entry_id(editor: httpx.Client) -> Iterator[str]:
    """A fresh entry of this test, deleted afterwards."""
    eid = f"t_{uuid.uuid4().hex[:10]}"
    body = {
        "id": eid,
        "topic": "testing",
        "question": f"Is the {eid} thing on sale?",
        "alternatives": [f"{eid} discount?"],
        "answers": {"en": "Yes, the thing is on sale."},
    }
    assert editor.post(f"{BASE}/entries", json=body).status_code == 201
    yield eid
    current = editor.get(f"{BASE}/entries/{eid}")
    if current.status_code == 200:
        assert (
            editor.delete(f"{BASE}/entries/{eid}", params={"expected_version": current.json()["version"]}).status_code
            == 204
        )


def test_roles_sessions_and_brands(stack: StackConfig, editor: httpx.Client, entry_id: str) -> None:
    anonymous = httpx.get(f"{stack.bot_url}{BASE}/entries")
    assert anonymous.status_code == 401
    with session(stack, "kopiku", "faq-agent", "agent") as agent:
        assert agent.get(f"{BASE}/entries").status_code == 403
        assert (
            agent.patch(f"{BASE}/entries/{entry_id}", json={"question": "Hacked?", "expected_version": 1}).status_code
            == 403
        )
    with session(stack, "kopiku", "faq-admin", "admin") as admin:
        assert admin.get(f"{BASE}/entries/{entry_id}").status_code == 200
    with session(stack, "otherbrand", "faq-spy", "admin") as spy:
        for method, path, body in [
            ("GET", f"{BASE}/entries", None),
            ("GET", f"{BASE}/entries/{entry_id}", None),
            ("PATCH", f"{BASE}/entries/{entry_id}", {"question": "Hacked?", "expected_version": 1}),
            ("GET", f"{BASE}/entries/{entry_id}/history", None),
            ("GET", f"{BASE}/export.yml", None),
            ("POST", f"{BASE}/try", {"text": "How can I track my order?"}),
        ]:
            assert spy.request(method, path, json=body).status_code == 404, path
    assert editor.get(f"{BASE}/entries/{entry_id}").json()["version"] == 1


@pytest.mark.parametrize(
    ("method", "path", "body", "status"),
    [
        ("POST", "/entries", {"id": "Bad Id!", "topic": "x", "question": "q", "answers": {"en": "a"}}, 422),
        ("POST", "/entries", {"id": "ok_id", "topic": "x", "question": "q", "answers": {"en": "a"}, "extra": 1}, 422),
        ("POST", "/entries", {"id": "ok_id", "topic": "x", "question": "   ", "answers": {"en": "a"}}, 422),
        ("POST", "/entries", {"id": "ok_id", "topic": "x", "question": "q", "answers": {"english": "a"}}, 422),
        ("PATCH", "/entries/gift_cards", {"question": "Gift?"}, 422),  # no expected_version
        ("PATCH", "/entries/gift_cards", {"question": None, "expected_version": 1}, 422),
        ("PATCH", "/entries/no_such_entry", {"question": "Gift?", "expected_version": 1}, 404),
        ("DELETE", "/entries/gift_cards", None, 422),  # no expected_version
        ("GET", "/entries?limit=100000", None, 422),
        ("GET", "/entries?missing_language=english", None, 422),
        ("POST", "/try", {"text": ""}, 422),
        ("POST", "/import", {"format": "xml", "content": "x"}, 422),
        ("POST", "/entries/gift_cards/rollback", {"to_version": 0, "expected_version": 1}, 422),
    ],
)
def test_bad_input_gets_a_clear_4xx(
    editor: httpx.Client, method: str, path: str, body: dict | None, status: int
) -> None:
    response = editor.request(method, BASE + path, json=body)
    assert response.status_code == status, response.text
    assert "detail" in response.json()


def test_malformed_json_is_a_4xx(editor: httpx.Client) -> None:
    r = editor.post(f"{BASE}/entries", content=b"{not json", headers={"content-type": "application/json"})
    assert 400 <= r.status_code < 500


def test_conflict_history_and_rollback(editor: httpx.Client, entry_id: str) -> None:
    url = f"{BASE}/entries/{entry_id}"
    first = editor.patch(url, json={"answers": {"en": "Second text."}, "expected_version": 1})
    assert first.status_code == 200 and first.json()["entry"]["version"] == 2
    stale = editor.patch(url, json={"answers": {"en": "Lost text?"}, "expected_version": 1})
    assert stale.status_code == 409
    assert stale.json()["current"]["answers"]["en"] == "Second text." and stale.json()["current"]["version"] == 2
    history = editor.get(f"{url}/history").json()
    assert [(h["version"], h["action"], h["by"]) for h in history] == [
        (2, "updated", "faq-ed"),
        (1, "created", "faq-ed"),
    ]
    assert history[0]["before"]["answers"]["en"] == "Yes, the thing is on sale."
    back = editor.post(f"{url}/rollback", json={"to_version": 1, "expected_version": 2})
    assert back.status_code == 200, back.text
    assert (
        back.json()["entry"]["version"] == 3 and back.json()["entry"]["answers"]["en"] == "Yes, the thing is on sale."
    )
    assert editor.get(f"{url}/history").json()[0]["rollback_of"] == 1
    assert editor.delete(url, params={"expected_version": 2}).status_code == 409
    disabled = editor.patch(url, json={"enabled": False, "expected_version": 3})
    assert disabled.json()["entry"]["enabled"] is False
    assert editor.get(f"{url}/history").json()[0]["action"] == "disabled"
    assert editor.get(f"{BASE}/entries", params={"enabled": "false", "q": entry_id}).json()["total"] == 1


def test_checks_errors_block_and_warnings_come_back(editor: httpx.Client, entry_id: str) -> None:
    url = f"{BASE}/entries/{entry_id}"
    dup = editor.patch(url, json={"alternatives": ["How can I track my order?"], "expected_version": 1})
    assert dup.status_code == 422
    finding = next(c for c in dup.json()["checks"] if c["code"] == "duplicate")
    assert finding["other_entry"] == "order_tracking" and finding["level"] == "error"
    empty = editor.patch(url, json={"answers": {"en": " "}, "expected_version": 1})
    assert empty.status_code == 422 and empty.json()["checks"][0]["code"] == "empty_answer"
    long = "The thing is on sale this week. " * 40
    saved = editor.patch(
        url,
        json={"answers": {"en": long}, "titles": {"en": "A title far too long for a button"}, "expected_version": 1},
    )
    assert saved.status_code == 200
    codes = {(w["code"], w["field"]) for w in saved.json()["warnings"]}
    assert {
        ("answer_too_long", "answers.en"),
        ("title_too_long", "titles.en"),
        ("missing_language", "answers.fr"),
    } <= codes
    assert editor.post(f"{BASE}/checks", json=editor.get(url).json()).status_code == 422  # versions are not fields
    body = {
        k: v
        for k, v in editor.get(url).json().items()
        if k in {"id", "topic", "question", "answers", "titles", "enabled"}
    }
    found = editor.post(f"{BASE}/checks", json={**body, "alternatives": ["How do I track my parcel?"]}).json()
    assert any(c["code"] == "closer_to_other_entry" and c["other_entry"] == "order_tracking" for c in found)
    assert editor.get(url).json()["version"] == 2  # checking saves nothing


def test_search_filters_and_completeness(editor: httpx.Client, entry_id: str) -> None:
    found = editor.get(f"{BASE}/entries", params={"q": f"{entry_id} sale"}).json()
    assert [e["id"] for e in found["entries"]] == [entry_id]
    assert found["entries"][0]["missing_languages"] == ["id", "fr", "ru"]
    missing_fr = editor.get(f"{BASE}/entries", params={"missing_language": "fr", "limit": 500}).json()
    assert entry_id in [e["id"] for e in missing_fr["entries"]]
    assert editor.get(f"{BASE}/entries", params={"topic": "testing"}).json()["total"] >= 1
    gaps = {g["language"]: g for g in editor.get(f"{BASE}/completeness").json()["by_language"]}
    assert entry_id in gaps["ru"]["missing"] and entry_id not in gaps["en"]["missing"]


def test_try_it_is_the_bots_decision(editor: httpx.Client) -> None:
    r = editor.post(f"{BASE}/try", json={"text": "How can I track my order?"}).json()
    assert r["decision"] == "answer" and r["entry_id"] == "order_tracking" and r["reply"]
    assert r["probability"] >= 0.4 and len(r["candidates"]) >= 2 and r["candidates"][0]["entry_id"] == "order_tracking"
    none = editor.post(f"{BASE}/try", json={"text": "what is the capital of mongolia", "strict": True}).json()
    assert none["decision"] == "none" and none["reply"] is None
    fr = editor.post(f"{BASE}/try", json={"text": "Comment suivre ma commande ?"}).json()
    assert fr["language"] == "fr"


def test_an_edit_is_what_the_bot_answers_within_two_seconds(editor: httpx.Client, api: httpx.Client) -> None:
    url = f"{BASE}/entries/order_tracking"
    entry = editor.get(url).json()
    marker = f"Track it here (edit {uuid.uuid4().hex[:6]})."
    saved = editor.patch(
        url, json={"answers": {**entry["answers"], "en": marker}, "expected_version": entry["version"]}
    )
    assert saved.status_code == 200, saved.text
    try:
        deadline = time.monotonic() + 2.0
        texts: list[str] = []
        while time.monotonic() < deadline:
            result = say(api, new_sender(), "How can I track my order?")
            texts = [r.get("text") or "" for r in result["replies"]]
            if marker in texts:
                break
        assert marker in texts
    finally:
        back = editor.post(
            f"{url}/rollback", json={"to_version": entry["version"], "expected_version": entry["version"] + 1}
        )
        assert back.status_code == 200
    assert marker not in [r.get("text") for r in say(api, new_sender(), "How can I track my order?")["replies"]]


def test_yaml_round_trips_exactly_and_csv_imports_report_errors_by_row(editor: httpx.Client) -> None:
    text = (ROOT / "data" / "faq.yml").read_text(encoding="utf-8")
    imported = editor.post(f"{BASE}/import", json={"format": "yaml", "content": text})
    assert imported.status_code == 200, imported.text
    exported = editor.get(f"{BASE}/export.yml")
    assert exported.headers["content-type"].startswith("application/yaml")
    assert exported.content == text.encode("utf-8")
    csv_text = editor.get(f"{BASE}/export.csv").text
    dry = editor.post(f"{BASE}/import", json={"format": "csv", "content": csv_text, "dry_run": True}).json()
    assert dry["applied"] is False and dry["created"] == dry["updated"] == [] and dry["unchanged"] == 54
    lines = csv_text.splitlines()
    header = lines[0]
    bad = "\n".join(
        [
            header,
            "new_one,shop,maybe,Is this new?,,Yes.," + "," * (header.count(",") - 6),
            "gift_cards,shop,true,How can I track my order?,,Yes.," + "," * (header.count(",") - 6),
            "bad id,shop,true,Question?,,Yes.," + "," * (header.count(",") - 6),
            "no_answer,shop,true,A question nobody asked?,,," + "," * (header.count(",") - 6),
        ]
    )
    before = editor.get(f"{BASE}/entries/gift_cards").json()["version"]
    r = editor.post(f"{BASE}/import", json={"format": "csv", "content": bad})
    assert r.status_code == 422
    errors = {(e["row"], e["column"]) for e in r.json()["report"]["errors"]}
    assert (2, "enabled") in errors and (3, "question") in errors and (4, "id") in errors and (5, "answer_*") in errors
    assert editor.get(f"{BASE}/entries/gift_cards").json()["version"] == before  # nothing applied
    assert editor.get(f"{BASE}/entries/new_one").status_code == 404
    broken = editor.post(
        f"{BASE}/import", json={"format": "yaml", "content": text.replace("topic: orders", "topic: [")}
    )
    assert broken.status_code == 422 and broken.json()["report"]["errors"][0]["row"] == 0
