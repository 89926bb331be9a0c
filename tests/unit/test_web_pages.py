"""The page skeleton (bot/web, bot/api/web_deps.py) on a real Redis, without Rasa: cookie
authentication of pages, redirects to the login page, the 403 page, security headers, escaping."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse
from fastapi.testclient import TestClient
from pydantic import SecretStr
from redis import Redis

from bot.agents.models import AccountCreate, AccountUpdate, Role
from bot.api.agent_deps import SESSION_COOKIE
from bot.api.app import create_app
from bot.api.deps import Services
from bot.api.web_deps import EditorPage
from bot.keys import Keys
from bot.settings import ServiceSettings
from bot.web import asset, render, safe_next

PASSWORD = "a long enough password"


@pytest.fixture()
def app(redis_url: str, keys: Keys) -> Iterator[FastAPI]:
    settings = ServiceSettings(
        redis_url=redis_url, redis_prefix=keys.prefix, api_token=SecretStr("t"), consumers=0, brand="kopiku"
    )
    app = create_app(settings)

    @app.get("/test/editor-page", response_class=HTMLResponse)
    async def editor_page(request: Request, account: EditorPage) -> HTMLResponse:
        return render(request, "error.html", account, heading="Editors", message=f"hello <{account.username}>")

    yield app


@pytest.fixture()
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, base_url="http://127.0.0.1") as c:
        services: Services = app.state.services
        assert services.agents is not None
        for name, role in [("ana", Role.AGENT), ("eddy", Role.EDITOR)]:
            services.agents.accounts.create("kopiku", AccountCreate(username=name, password=PASSWORD, role=role))
        yield c


def log_in(client: TestClient, name: str) -> str:
    response = client.post("/api/agent/session", json={"brand": "kopiku", "username": name, "password": PASSWORD})
    assert response.status_code == 200, response.text
    assert response.cookies.get(SESSION_COOKIE) == response.json()["token"]
    cookie = response.headers["set-cookie"].lower()
    assert "path=/;" in cookie and "httponly" in cookie and "samesite=strict" in cookie
    return str(response.json()["token"])


def test_the_session_cookie_is_secure_over_https_only(app: FastAPI, client: TestClient) -> None:
    plain = client.post("/api/agent/session", json={"brand": "kopiku", "username": "ana", "password": PASSWORD})
    assert plain.status_code == 200 and "secure" not in plain.headers["set-cookie"].lower()
    with TestClient(app, base_url="https://dmdesk.example") as tls:
        response = tls.post("/api/agent/session", json={"brand": "kopiku", "username": "ana", "password": PASSWORD})
        assert response.status_code == 200
        assert "; secure" in response.headers["set-cookie"].lower()


def test_a_page_without_a_session_redirects_to_the_login_page_and_back(client: TestClient) -> None:
    response = client.get("/test/editor-page?x=1&y=2", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=%2Ftest%2Feditor-page%3Fx%3D1%26y%3D2"
    client.cookies.set(SESSION_COOKIE, "not-a-session")
    assert client.get("/test/editor-page", follow_redirects=False).status_code == 303
    login = client.get(response.headers["location"])
    assert login.status_code == 200 and 'data-next="/test/editor-page?x=1&amp;y=2"' in login.text
    assert 'value="kopiku"' in login.text and "Log out" not in login.text


def test_the_cookie_opens_pages_the_role_allows_and_shows_a_403_page_otherwise(client: TestClient) -> None:
    log_in(client, "ana")  # the client keeps the cookie
    forbidden = client.get("/test/editor-page", follow_redirects=False)
    assert forbidden.status_code == 403 and "text/html" in forbidden.headers["content-type"]
    assert "needs the editor role" in forbidden.text and 'href="/console"' in forbidden.text
    assert 'href="/staff/faq"' not in forbidden.text  # nav items the role may not use are hidden
    log_in(client, "eddy")
    page = client.get("/test/editor-page")
    assert page.status_code == 200
    assert "hello &lt;eddy&gt;" in page.text  # autoescaped
    for path in ("/console", "/staff/faq", "/staff/training", "/staff/unanswered"):
        assert f'href="{path}"' in page.text
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert page.headers["x-frame-options"] == "DENY" and page.headers["cache-control"] == "no-store"


def test_a_deactivated_account_or_a_revoked_session_loses_its_pages(client: TestClient, app: FastAPI) -> None:
    token = log_in(client, "eddy")
    assert client.get("/test/editor-page").status_code == 200
    logout = client.delete("/api/agent/session", headers={"Authorization": f"Bearer {token}"})
    assert logout.status_code == 204 and SESSION_COOKIE not in client.cookies
    client.cookies.set(SESSION_COOKIE, token)
    assert client.get("/test/editor-page", follow_redirects=False).status_code == 303
    log_in(client, "eddy")
    app.state.services.agents.accounts.update("kopiku", "eddy", AccountUpdate(active=False))
    assert client.get("/test/editor-page", follow_redirects=False).status_code == 303


def test_static_files_and_the_root(client: TestClient) -> None:
    script = client.get(asset("api.js"))
    assert script.status_code == 200 and "javascript" in script.headers["content-type"]
    assert "dmdesk-token" in script.text
    assert client.get("/static/../settings.py").status_code == 404
    assert client.get("/", follow_redirects=False).headers["location"] == "/console"


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("/staff/faq?q=1", "/staff/faq?q=1"),
        (None, "/console"),
        ("", "/console"),
        ("https://evil.example/", "/console"),
        ("//evil.example/", "/console"),
        ("/\\evil.example", "/console"),
        ("javascript:alert(1)", "/console"),
        ("/a b", "/console"),
        ("/x\n", "/console"),
    ],
)
def test_login_only_goes_to_paths_on_this_site(given: str | None, expected: str) -> None:
    assert safe_next(given) == expected


def test_the_console_page_embeds_what_its_script_needs_and_nothing_secret(client: TestClient, app: FastAPI) -> None:
    assert client.get("/console", follow_redirects=False).headers["location"] == "/login?next=%2Fconsole"
    services: Services = app.state.services
    assert services.agents is not None
    services.agents.accounts.create("kopiku", AccountCreate(username="gone", password=PASSWORD, teams=["billing"]))
    services.agents.accounts.update("kopiku", "gone", AccountUpdate(active=False))
    services.agents.accounts.create("otherbrand", AccountCreate(username="spy", password=PASSWORD, teams=["x"]))
    token = log_in(client, "ana")
    page = client.get("/console")
    assert page.status_code == 200 and "script-src 'self'" in page.headers["content-security-policy"]
    raw = page.text.split('<script type="application/json" id="console-config">', 1)[1].split("</script>", 1)[0]
    config = json.loads(raw)
    assert config["me"] == {"username": "ana", "display_name": "ana", "role": "agent", "teams": []}
    assert [a["username"] for a in config["agents"]] == ["ana", "eddy"]  # active colleagues of the brand only
    assert config["teams"] == [] and config["channels"] == ["dev", "messenger", "instagram"]
    assert "scrypt" not in page.text and token not in page.text and "password" not in raw
    assert '<script src="/static/console.js?v=' in page.text and "<script>" not in page.text  # no inline script


def seed_faq(redis: Redis, keys: Keys, not_covered: list[str]) -> None:
    """An FAQ without entries in the test prefix, as ``KnowledgeBase.replace_all`` stores one (no knowledge base
    is built: this app's would follow the environment's Redis settings, not the test's)."""
    meta = {"brand": "kopiku", "default_language": "en", "languages": ["en", "id"], "version": 1, "order": []}
    redis.set(keys.faq_meta, json.dumps({**meta, "not_covered": not_covered}))
    redis.set(keys.faq_version, 7)


NOT_COVERED = ["ada wifi gratis di toko kak?", "</script><script>alert('x')</script> parking?"]


def test_the_not_covered_page_is_for_editors(client: TestClient, redis: Redis, keys: Keys) -> None:
    seed_faq(redis, keys, NOT_COVERED)
    anonymous = client.get("/staff/faq/not-covered", follow_redirects=False)
    assert anonymous.status_code == 303
    assert anonymous.headers["location"] == "/login?next=%2Fstaff%2Ffaq%2Fnot-covered"
    log_in(client, "ana")
    forbidden = client.get("/staff/faq/not-covered", follow_redirects=False)
    assert forbidden.status_code == 403 and "needs the editor role" in forbidden.text
    assert "wifi" not in forbidden.text
    log_in(client, "eddy")
    page = client.get("/staff/faq/not-covered", follow_redirects=False)
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    assert "script-src 'self'" in page.headers["content-security-policy"]
    raw = page.text.split('<script type="application/json" id="nc-data">', 1)[1].split("</script>", 1)[0]
    assert json.loads(raw) == {"questions": NOT_COVERED, "faq_version": 7}  # the tag cannot be closed early
    assert f'<script src="{asset("not_covered.js")}"></script>' in page.text and "<script>" not in page.text
    assert 'id="nc-filter"' in page.text and 'id="nc-add-text"' in page.text
    assert "gets no FAQ answer instead of a wrong one" in " ".join(page.text.split())  # what the list does
    assert '<a href="/staff/faq" class="active" aria-current="page">FAQ</a>' in page.text


def test_the_faq_list_links_the_not_covered_page_with_its_count(client: TestClient, redis: Redis, keys: Keys) -> None:
    seed_faq(redis, keys, NOT_COVERED)
    log_in(client, "eddy")
    page = client.get("/staff/faq")
    assert page.status_code == 200
    link = page.text.split('id="faq-not-covered"', 1)[1].split("</a>", 1)[0]
    assert link.endswith(">Not covered (2)")
    assert 'href="/staff/faq/not-covered" id="faq-not-covered"' in page.text
    assert 'data-not-covered-margin="0.05"' in page.text  # Try it tells when the lead is why there is no answer
