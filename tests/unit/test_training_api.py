"""Training data and retraining API through the real app (in process, real Redis): rules, roles, brands."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from redis import Redis

from bot.keys import Keys
from bot.retrain.jobs import JobStore
from bot.retrain.models import JobState
from tests.unit.test_training_data import examples_in_files
from tests.unit.training_app import account, service, session

BRAND = "kopiku"


@pytest.fixture()
def client(monkeypatch: pytest.MonkeyPatch, redis_url: str, redis: Redis, keys: Keys) -> Iterator[TestClient]:
    for brand, name, role in [(BRAND, "rina", "editor"), (BRAND, "boss", "admin"), (BRAND, "sari", "agent")]:
        account(redis, keys, brand, name, role)
    account(redis, keys, "otherbrand", "spy", "admin")
    with service(monkeypatch, redis_url, keys) as c:
        yield c


@pytest.fixture()
def rina(client: TestClient) -> dict[str, str]:
    return session(client, BRAND, "rina")


def greet_examples(client: TestClient, headers: dict[str, str]) -> list[dict]:
    response = client.get("/api/training/intents/greet/examples", headers=headers)
    assert response.status_code == 200
    return response.json()


def test_intents_and_examples_are_imported_on_first_use(client: TestClient, rina: dict[str, str]) -> None:
    status = client.get("/api/training/intents", headers=rina).json()
    counts = {i["intent"]: i["examples"] for i in status["intents"]}
    assert counts["greet"] == 83 and counts["choose_faq"] == 0 and sum(counts.values()) == examples_in_files()
    assert status["data_version"] == 1
    assert [(i["code"], i["severity"]) for i in status["issues"]] == [("intent_without_examples", "warning")]
    russian = client.get("/api/training/intents/greet/examples?language=ru", headers=rina).json()
    assert russian and all(e["language"] == "ru" for e in russian)


def test_add_edit_remove_history_and_conflict(client: TestClient, rina: dict[str, str]) -> None:
    boss = session(client, BRAND, "boss")
    added = client.post("/api/training/intents/greet/examples", json={"text": "hai kopiku apa kabs"}, headers=rina)
    assert added.status_code == 201, added.text
    ex_id = added.json()["example_id"]
    assert added.json()["after"]["language"] == "id" and added.json()["by"] == "rina"
    first = client.patch(f"/api/training/examples/{ex_id}", json={"version": 1, "text": "hai kopiku"}, headers=rina)
    assert first.status_code == 200 and first.json()["after"]["version"] == 2
    second = client.patch(f"/api/training/examples/{ex_id}", json={"version": 1, "text": "halo kopiku"}, headers=boss)
    assert second.status_code == 409 and "reload" in second.json()["detail"]
    assert client.get(f"/api/training/examples/{ex_id}", headers=boss).json()["text"] == "hai kopiku"
    stale = client.delete(f"/api/training/examples/{ex_id}?version=1", headers=boss)
    assert stale.status_code == 409
    gone = client.delete(f"/api/training/examples/{ex_id}?version=2", headers=boss)
    assert gone.status_code == 200 and gone.json()["before"]["text"] == "hai kopiku"
    assert client.get(f"/api/training/examples/{ex_id}", headers=boss).status_code == 404
    history = client.get("/api/training/intents/greet/history", headers=rina).json()
    assert [(h["action"], h["by"]) for h in history] == [("remove", "boss"), ("edit", "rina"), ("add", "rina")]
    assert history[1]["before"]["text"] == "hai kopiku apa kabs" and history[1]["after"]["text"] == "hai kopiku"


@pytest.mark.parametrize(
    ("path", "body", "code"),
    [
        ("/api/training/intents/greet/examples", {"text": "thank you"}, "conflicting_intents"),
        ("/api/training/intents/greet/examples", {"text": "hello"}, "duplicate"),
        ("/api/training/intents/greet/examples", {"text": "  "}, "empty"),
        ("/api/training/intents/greet/examples", {"text": "y" * 600}, "too_long"),
        ("/api/training/intents/order_pizza/examples", {"text": "a pizza please"}, "unknown_intent"),
        ("/api/training/intents/faq/examples", {"text": "where is [KPK-1](order_number"}, "entity_syntax"),
        ("/api/training/intents/faq/examples", {"text": "where is [KPK-1](flavour)"}, "unknown_entity"),
    ],
)
def test_invalid_examples_get_422_with_the_issue_and_nothing_is_saved(
    client: TestClient, rina: dict[str, str], path: str, body: dict, code: str
) -> None:
    before = client.get("/api/training/intents", headers=rina).json()["data_version"]
    response = client.post(path, json=body, headers=rina)
    assert response.status_code == 422, response.text
    assert code in {i["code"] for i in response.json()["issues"]}
    assert client.get("/api/training/intents", headers=rina).json()["data_version"] == before


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/api/training/intents/greet/examples", {}),
        ("POST", "/api/training/intents/greet/examples", {"text": 5, "language": "english"}),
        ("POST", "/api/training/intents/Greet!/examples", {"text": "hi"}),
        ("PATCH", "/api/training/examples/not-an-id", {"version": 1}),
        ("PATCH", "/api/training/examples/0123456789ab", {"version": 0}),
        ("DELETE", "/api/training/examples/0123456789ab", None),
        ("GET", "/api/training/intents/greet/examples?language=english", None),
        ("GET", "/api/training/jobs/xyz", None),
        ("POST", "/api/training/models/restore", {"version": "../../etc/passwd"}),
    ],
)
def test_bad_input_is_a_4xx(
    client: TestClient, rina: dict[str, str], method: str, path: str, body: dict | None
) -> None:
    response = client.request(method, path, json=body, headers=rina)
    assert response.status_code == 422, response.text
    assert response.json()["detail"]


def test_malformed_json_is_a_4xx(client: TestClient, rina: dict[str, str]) -> None:
    headers = {**rina, "Content-Type": "application/json"}
    response = client.post("/api/training/intents/greet/examples", content=b"{nope", headers=headers)
    assert response.status_code == 422


def test_unknown_records_are_404(client: TestClient, rina: dict[str, str]) -> None:
    assert client.get("/api/training/examples/0123456789ab", headers=rina).status_code == 404
    assert client.get("/api/training/jobs/0123456789ab", headers=rina).status_code == 404
    assert client.post("/api/training/models/restore", json={"version": "v1-nope"}, headers=rina).status_code == 404


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/training/intents"),
        ("GET", "/api/training/intents/greet/examples"),
        ("POST", "/api/training/intents/greet/examples"),
        ("GET", "/api/training/intents/greet/history"),
        ("GET", "/api/training/export"),
        ("POST", "/api/training/jobs"),
        ("GET", "/api/training/jobs"),
        ("GET", "/api/training/models"),
        ("POST", "/api/training/models/restore"),
        ("GET", "/api/unanswered"),
        ("POST", "/api/unanswered/dismiss"),
        ("GET", "/api/staff/faq/not-covered"),
        ("POST", "/api/staff/faq/not-covered"),
    ],
)
def test_roles_and_sessions(client: TestClient, method: str, path: str) -> None:
    body = {"text": "hey hey kopiku"} if "examples" in path else {}
    assert client.request(method, path, json=body).status_code == 401
    assert client.request(method, path, json=body, headers={"Authorization": "Bearer nope"}).status_code == 401
    agent = session(client, BRAND, "sari")
    assert client.request(method, path, json=body, headers=agent).status_code == 403


def test_another_brand_sees_nothing(client: TestClient, rina: dict[str, str]) -> None:
    ex_id = greet_examples(client, rina)[0]["id"]
    spy = session(client, "otherbrand", "spy")
    assert client.get("/api/training/intents", headers=spy).status_code == 404
    assert client.get(f"/api/training/examples/{ex_id}", headers=spy).status_code == 404
    assert client.delete(f"/api/training/examples/{ex_id}?version=1", headers=spy).status_code == 404
    assert client.post("/api/training/jobs", headers=spy).status_code == 404
    job = client.post("/api/training/jobs", headers=rina).json()
    assert client.get(f"/api/training/jobs/{job['id']}", headers=spy).status_code == 404
    assert client.get("/api/unanswered", headers=spy).json()["groups"] == []


def test_export_reproduces_the_repository_files(client: TestClient, rina: dict[str, str]) -> None:
    from bot.stack import ROOT

    files = client.get("/api/training/export", headers=rina).json()
    assert set(files) == {f"nlu/{p.name}" for p in (ROOT / "data" / "nlu").glob("*.yml")}
    for name, text in files.items():
        assert text == (ROOT / "data" / name).read_text(encoding="utf-8")


def test_training_jobs_queue_one_at_a_time(client: TestClient, rina: dict[str, str], redis: Redis, keys: Keys) -> None:
    job = client.post("/api/training/jobs", headers=rina)
    assert job.status_code == 202 and job.json()["state"] == "queued"
    assert [h["state"] for h in job.json()["history"]] == ["queued"]
    again = client.post("/api/training/jobs", headers=session(client, BRAND, "boss"))
    assert again.status_code == 409 and job.json()["id"] in again.json()["detail"]
    restore = client.post("/api/training/models/restore", json={}, headers=rina)
    assert restore.status_code == 409
    assert client.get(f"/api/training/jobs/{job.json()['id']}", headers=rina).json()["requested_by"] == "rina"
    # the job ends (no supervisor runs here: finish it as one would) and the next one may be queued
    store = JobStore(redis, keys)
    store.advance(store.get(job.json()["id"]), JobState.FAILED, error="test")
    assert client.post("/api/training/jobs", headers=rina).status_code == 202
    listed = client.get("/api/training/jobs", headers=rina).json()
    assert [j["state"] for j in listed] == ["queued", "failed"]


def test_training_is_refused_while_the_data_has_errors(
    client: TestClient, rina: dict[str, str], redis: Redis, keys: Keys
) -> None:
    from bot.trainingdata.models import TrainingExample

    greet_examples(client, rina)  # imported
    bad = TrainingExample(id="0123456789ab", intent="greet", text="thank you", position=999)
    redis.hset(keys.nlu_examples(BRAND), bad.id, bad.model_dump_json())  # written around the API's checks
    response = client.post("/api/training/jobs", headers=rina)
    assert response.status_code == 422
    assert {i["code"] for i in response.json()["issues"]} == {"conflicting_intents"}


def test_pages_need_an_editor_session(client: TestClient) -> None:
    assert (
        client.get("/staff/training", follow_redirects=False).headers["location"] == "/login?next=%2Fstaff%2Ftraining"
    )
    session(client, BRAND, "sari")  # the login sets the session cookie
    assert client.get("/staff/training").status_code == 403
    session(client, BRAND, "rina")
    page = client.get("/staff/training")
    assert (
        page.status_code == 200
        and 'id="retrain"' in page.text
        and "default-src 'self'" in page.headers["content-security-policy"]
    )
    session(client, "otherbrand", "spy")
    assert "serves another brand" in client.get("/staff/training").text
