"""The FAQ editor in headless Chromium against the real stack.

An editor changes an answer and the bot (dev endpoint) serves it within two
seconds; a second editor saving a stale version sees the conflict with their
text kept; a rollback from the history page restores the old answer. Every
test puts the demo entry back as it was (rollback through the API).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
import yaml
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver

from bot.stack import StackConfig
from tests.browser.conftest import BrowserFactory
from tests.browser.helpers import console_errors, login, make_account, wait_for
from tests.e2e.helpers import new_sender, say

pytestmark = [pytest.mark.browser, pytest.mark.stack]

ENTRY = "order_tracking"
QUESTION = "How can I track my order?"
API = "/api/staff/faq"


@contextmanager
def editor_api(stack: StackConfig, username: str, password: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=stack.bot_url, timeout=60) as client:
        r = client.post("/api/agent/session", json={"brand": "kopiku", "username": username, "password": password})
        assert r.status_code == 200, r.text
        client.headers["Authorization"] = f"Bearer {r.json()['token']}"
        yield client


@pytest.fixture()
def restore(stack: StackConfig) -> Iterator[httpx.Client]:
    """An editor's API client; the demo entry is rolled back to its version at the start afterwards."""
    name = f"restorer{uuid.uuid4().hex[:6]}"
    with editor_api(stack, name, make_account(stack, "kopiku", name, "editor")) as client:
        start = client.get(f"{API}/entries/{ENTRY}").json()
        yield client
        now = client.get(f"{API}/entries/{ENTRY}").json()
        if now["answers"] != start["answers"]:
            body = {"to_version": start["version"], "expected_version": now["version"]}
            assert client.post(f"{API}/entries/{ENTRY}/rollback", json=body).status_code == 200


def open_entry(driver: WebDriver, stack: StackConfig, role: str = "editor") -> str:
    name = f"ed{uuid.uuid4().hex[:8]}"
    login(driver, stack.bot_url, "kopiku", name, make_account(stack, "kopiku", name, role), f"/staff/faq/{ENTRY}")
    wait_for(driver, lambda d: d.find_element(By.ID, "answer-en"))
    return name


def set_text(driver: WebDriver, element_id: str, text: str) -> None:
    field = driver.find_element(By.ID, element_id)
    field.clear()
    field.send_keys(text)


def save(driver: WebDriver) -> int:
    """Click Save and wait until the form holds the new version; returns it."""
    form = driver.find_element(By.ID, "entry-form")
    before = form.get_attribute("data-version")
    driver.find_element(By.ID, "save").click()
    wait_for(driver, lambda d: d.find_element(By.ID, "entry-form").get_attribute("data-version") != before)
    return int(driver.find_element(By.ID, "entry-form").get_attribute("data-version") or 0)


def bot_reply(api: httpx.Client) -> list[str]:
    return [r.get("text") or "" for r in say(api, new_sender(), QUESTION)["replies"]]


def answered_within(api: httpx.Client, text: str, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while True:
        if text in bot_reply(api):
            return True
        if time.monotonic() > deadline:
            return False


def test_an_edited_answer_is_what_the_bot_says_within_two_seconds(
    stack: StackConfig, browser: BrowserFactory, api: httpx.Client, restore: httpx.Client
) -> None:
    driver = browser()
    open_entry(driver, stack)
    marker = f"Track your order at kopiku.example/track ({uuid.uuid4().hex[:6]})."
    set_text(driver, "answer-en", marker)
    save(driver)
    assert answered_within(api, marker, 2.0)
    assert console_errors(driver) == []


def test_a_second_editor_sees_the_conflict_and_keeps_their_text(
    stack: StackConfig, browser: BrowserFactory, restore: httpx.Client
) -> None:
    first, second = browser(), browser()
    open_entry(first, stack)
    open_entry(second, stack)
    set_text(first, "answer-en", "First editor's answer.")
    save(first)
    set_text(second, "answer-en", "Second editor's answer.")
    second.find_element(By.ID, "save").click()
    conflict = wait_for(
        second, lambda d: d.find_element(By.ID, "conflict").is_displayed() and d.find_element(By.ID, "conflict")
    )
    assert "First editor's answer." in conflict.find_element(By.ID, "conflict-theirs").text
    assert second.find_element(By.ID, "answer-en").get_attribute("value") == "Second editor's answer."
    assert restore.get(f"{API}/entries/{ENTRY}").json()["answers"]["en"] == "First editor's answer."
    second.find_element(By.ID, "conflict-mine").click()  # re-apply on top of their version
    wait_for(second, lambda d: not d.find_element(By.ID, "conflict").is_displayed())
    assert restore.get(f"{API}/entries/{ENTRY}").json()["answers"]["en"] == "Second editor's answer."
    assert console_errors(second) == []


def test_a_rollback_from_the_history_page_restores_the_old_answer(
    stack: StackConfig, browser: BrowserFactory, api: httpx.Client, restore: httpx.Client
) -> None:
    entry = restore.get(f"{API}/entries/{ENTRY}").json()
    original = entry["answers"]["en"]
    assert original in bot_reply(api)
    changed = {"answers": {**entry["answers"], "en": "A temporary answer."}, "expected_version": entry["version"]}
    assert restore.patch(f"{API}/entries/{ENTRY}", json=changed).status_code == 200
    assert answered_within(api, "A temporary answer.", 2.0)
    driver = browser()
    open_entry(driver, stack)
    driver.get(f"{stack.bot_url}/staff/faq/{ENTRY}/history")
    record = wait_for(
        driver, lambda d: d.find_element(By.CSS_SELECTOR, f'.history-record[data-version="{entry["version"] + 1}"]')
    )
    assert "A temporary answer." in record.find_element(By.CSS_SELECTOR, '[data-field="answer (en)"] .after').text
    driver.find_element(By.CSS_SELECTOR, f'button.rollback[data-to="{entry["version"]}"]').click()
    wait_for(
        driver, lambda d: d.find_elements(By.CSS_SELECTOR, f'.history-record[data-version="{entry["version"] + 2}"]')
    )
    assert answered_within(api, original, 2.0)
    latest = restore.get(f"{API}/entries/{ENTRY}/history").json()[0]
    assert latest["action"] == "rolled_back" and latest["rollback_of"] == entry["version"]
    assert console_errors(driver) == []


def test_a_dry_run_import_reports_entries_and_not_covered_questions_and_changes_nothing(
    stack: StackConfig, browser: BrowserFactory, tmp_path: Path
) -> None:
    name = f"imp{uuid.uuid4().hex[:8]}"
    password = make_account(stack, "kopiku", name, "editor")
    with editor_api(stack, name, password) as client:
        exported = client.get(f"{API}/export.yml")
        assert exported.status_code == 200
        book = yaml.safe_load(exported.text)
        listed_before = client.get(f"{API}/not-covered").json()["questions"]
    book["entries"][0]["answers"]["en"] += " (dry run)"
    book["not_covered"] = [*book["not_covered"][1:], f"do you host chess evenings? {uuid.uuid4().hex[:6]}"]
    upload = tmp_path / "faq.yml"
    upload.write_text(yaml.safe_dump(book, allow_unicode=True, sort_keys=False), encoding="utf-8")

    driver = browser()
    login(driver, stack.bot_url, "kopiku", name, password, "/staff/faq")
    wait_for(driver, lambda d: d.find_element(By.ID, "import-file")).send_keys(str(upload))
    assert driver.find_element(By.ID, "import-dry").is_selected()  # a dry run unless unticked
    driver.find_element(By.ID, "import-submit").click()
    report = wait_for(driver, lambda d: d.find_element(By.ID, "import-report"), timeout=30).text
    entries = len(book["entries"])
    assert report == f"Dry run, nothing applied: 0 created, 1 updated, 0 deleted, {entries - 1} unchanged."
    assert driver.find_element(By.ID, "import-not-covered").text == "Not-covered questions: 1 added, 1 removed."
    with editor_api(stack, name, password) as client:
        assert client.get(f"{API}/not-covered").json()["questions"] == listed_before
        assert client.get(f"{API}/export.yml").text == exported.text
    assert console_errors(driver) == []
