"""The agent console in headless Chromium: escaping, login and roles, brands, reconnects, long queues.

Through the real stack, like tests/browser/test_console.py (the main flows).
"""

from __future__ import annotations

import time
import uuid

import httpx
import pytest
from redis import Redis
from selenium.common.exceptions import NoAlertPresentException
from selenium.webdriver.common.by import By

from bot.handoff.models import CustomerProfile, HandoffReason, Ticket, TranscriptLine
from bot.handoff.queue import HandoffStore
from bot.keys import Keys
from bot.stack import StackConfig
from tests.browser.conftest import BrowserFactory
from tests.browser.console_page import (
    BRAND,
    click_row,
    named,
    not_reloaded,
    open_console,
    row,
    transcript,
)
from tests.browser.helpers import console_errors, fill, login, make_account, wait_for
from tests.e2e.helpers import kinds, new_sender, say

pytestmark = [pytest.mark.browser, pytest.mark.stack]


def test_customer_text_is_shown_as_text_never_run(
    browser: BrowserFactory, stack: StackConfig, accounts: dict[str, str], customer: httpx.Client
) -> None:
    sari = open_console(browser, stack, accounts, "sari")
    sender = new_sender()
    conversation = f"dev:{sender}"
    hostile = "<img src=x onerror=alert(1)>"
    name = '<script>window.__xss=1</script>"><img src=x onerror="window.__xss=2">'
    assert kinds(say(customer, sender, "what colour are the chairs in your office?")) == ["none"]
    assert kinds(say(customer, sender, "I want to talk to a human", profile={"name": name})) == ["handoff"]
    assert say(customer, sender, hostile)["status"] == "human"
    found = wait_for(sari, lambda d: (r := row(d, conversation)) and hostile in r.text and r.text, timeout=5)
    assert name in found
    wait_for(sari, lambda d: click_row(d, conversation))
    wait_for(sari, lambda d: ("customer", hostile) in transcript(d))
    assert sari.find_element(By.ID, "t-customer").text == name
    (tried,) = sari.find_elements(By.CSS_SELECTOR, "#context ol.faq > li")  # the FAQ search, and why it failed
    assert "what colour are the chairs" in tried.text
    reason = tried.find_element(By.CSS_SELECTOR, ".reason")
    assert reason.get_attribute("data-reason") in ("low_confidence", "strict", "not_covered")
    assert reason.text in ("no entry fits well", "out of scope, not sure enough", "on the not-covered list")
    for scope in ("#queue", "#transcript", "#context", "#t-customer"):
        assert sari.find_elements(By.CSS_SELECTOR, f"{scope} img, {scope} script") == [], scope
    assert sari.execute_script("return window.__xss") is None
    with pytest.raises(NoAlertPresentException):
        sari.switch_to.alert.text  # noqa: B018 (reading it is the check)
    assert console_errors(sari) == []


def test_login_failure_logout_and_pages_by_role(
    browser: BrowserFactory, stack: StackConfig, accounts: dict[str, str]
) -> None:
    driver = browser()
    driver.get(stack.bot_url + "/console?tab=mine")
    wait_for(driver, lambda d: d.find_elements(By.ID, "login"))
    assert driver.current_url.endswith("/login?next=%2Fconsole%3Ftab%3Dmine")
    sari_name = named(accounts, "sari")
    fill(driver, "#username", sari_name)
    fill(driver, "#password", "not the password")
    driver.find_element(By.ID, "login-submit").click()
    error = wait_for(driver, lambda d: (e := d.find_element(By.ID, "login-error")).is_displayed() and e)
    assert error.text == "Wrong brand, username or password."
    assert driver.execute_script("return sessionStorage.getItem('dmdesk-token')") is None

    # the right password goes back to the page asked for; an agent sees only the console in the nav
    fill(driver, "#password", accounts[sari_name])
    driver.find_element(By.ID, "login-submit").click()
    wait_for(driver, lambda d: d.current_url.endswith("/console?tab=mine"))
    wait_for(driver, lambda d: "active" in d.find_element(By.ID, "tab-mine").get_attribute("class"))
    nav = [a.text for a in driver.find_elements(By.CSS_SELECTOR, ".topbar .nav a")]
    assert nav == ["Console"]
    token = driver.execute_script("return sessionStorage.getItem('dmdesk-token')")

    # log out: back to the login page, the token is revoked, the console needs a login again
    driver.find_element(By.CSS_SELECTOR, "[data-logout]").click()
    wait_for(driver, lambda d: d.find_elements(By.ID, "login"))
    assert driver.execute_script("return sessionStorage.getItem('dmdesk-token')") is None
    assert httpx.get(stack.bot_url + "/api/agent/me", headers={"Authorization": f"Bearer {token}"}).status_code == 401
    driver.get(stack.bot_url + "/console")
    wait_for(driver, lambda d: d.find_elements(By.ID, "login"))

    # editors and admins see the staff pages in the nav too
    rina = named(accounts, "rina")
    login(driver, stack.bot_url, BRAND, rina, accounts[rina])
    nav = [a.text for a in driver.find_elements(By.CSS_SELECTOR, ".topbar .nav a")]
    assert nav == ["Console", "FAQ", "Training data", "Unanswered"]


def test_another_brands_agent_never_sees_the_ticket(
    browser: BrowserFactory, stack: StackConfig, customer: httpx.Client
) -> None:
    spy = f"spy{uuid.uuid4().hex[:4]}"
    password = make_account(stack, "otherbrand", spy, "admin")
    driver = browser()
    login(driver, stack.bot_url, "otherbrand", spy, password)
    sender = new_sender()
    result = say(customer, sender, "I want to talk to a human")
    ticket_id = result["ticket_id"]
    driver.get(f"{stack.bot_url}/console?ticket={ticket_id}")
    wait_for(driver, lambda d: "not found" in d.find_element(By.ID, "toasts").text)
    assert driver.find_element(By.ID, "ticket").get_attribute("hidden") is not None
    assert row(driver, f"dev:{sender}") is None


def test_after_a_lost_connection_the_console_reads_again_what_it_missed(
    browser: BrowserFactory, stack: StackConfig, accounts: dict[str, str], customer: httpx.Client
) -> None:
    sari = open_console(browser, stack, accounts, "sari")
    network = {"latency": 0, "downloadThroughput": -1, "uploadThroughput": -1}
    sari.execute_cdp_cmd("Network.enable", {})
    sari.execute_cdp_cmd("Network.emulateNetworkConditions", {**network, "offline": True})
    sari.find_element(By.ID, "live").click()  # reconnect now: the stream drops and cannot come back offline
    wait_for(sari, lambda d: d.find_element(By.ID, "live").get_attribute("data-state") != "live", timeout=10)
    # an escalation while the console is offline: its event is never delivered (pub/sub has no replay)
    sender = new_sender()
    assert kinds(say(customer, sender, "I want to talk to a human")) == ["handoff"]
    time.sleep(1)
    assert row(sari, f"dev:{sender}") is None
    sari.execute_cdp_cmd("Network.emulateNetworkConditions", {**network, "offline": False})
    wait_for(sari, lambda d: d.find_element(By.ID, "live").get_attribute("data-state") == "live", timeout=40)
    wait_for(sari, lambda d: row(d, f"dev:{sender}"), timeout=5)
    assert not_reloaded(sari)


def queued_ticket(brand_store: HandoffStore, n: int, priority: int, now: float) -> str:
    """Put a ticket straight in a brand's queue (as an escalation would); returns its conversation id."""
    conversation = f"instagram:page{n}{uuid.uuid4().hex[:6]}"
    brand_store.open(
        Ticket(
            id=uuid.uuid4().hex[:12],
            conversation_id=conversation,
            channel="instagram",
            customer=CustomerProfile(id=conversation.split(":")[1], channel="instagram", name=f"Customer {n}"),
            language="fr",
            reason=HandoffReason.OFFER_ACCEPTED,
            priority=priority,
            created_at=now - 1000 + n,
            transcript=[TranscriptLine(sender="customer", text=f"question {n}", timestamp=now - 1000 + n)],
        )
    )
    return conversation


def test_a_long_queue_is_paged_and_stays_live(browser: BrowserFactory, stack: StackConfig) -> None:
    brand = f"pages{uuid.uuid4().hex[:6]}"
    password = make_account(stack, brand, "pager", "agent")
    redis = Redis.from_url(stack.redis_url)
    try:
        brand_store = HandoffStore(redis, Keys(stack.redis_prefix), brand)
        now = time.time()
        # priority 5: behind every other test's tickets in the shared queue
        conversations = [queued_ticket(brand_store, n, 5, now) for n in range(120)]
        driver = browser()
        login(driver, stack.bot_url, brand, "pager", password)
        wait_for(driver, lambda d: d.find_element(By.ID, "live").get_attribute("data-state") == "live")
        driver.execute_script("window.__sameDocument = true")
        wait_for(driver, lambda d: d.find_element(By.ID, "page-label").text.startswith("1–50"))
        shown = driver.execute_script(
            "return Array.from(document.querySelectorAll('#queue .qrow'), r => r.dataset.conversation)"
        )
        assert shown == conversations[:50]  # longest waiting first
        driver.find_element(By.ID, "page-next").click()
        wait_for(driver, lambda d: d.find_element(By.ID, "page-label").text.startswith("51–100"))
        driver.find_element(By.ID, "page-next").click()
        wait_for(driver, lambda d: d.find_element(By.ID, "page-label").text.startswith("101–120"))
        assert not driver.find_element(By.ID, "page-next").is_enabled()
        driver.find_element(By.ID, "page-prev").click()
        driver.find_element(By.ID, "page-prev").click()
        wait_for(driver, lambda d: d.find_element(By.ID, "page-label").text.startswith("1–50"))
        # an urgent escalation lands on top of the first page, live
        urgent = queued_ticket(brand_store, 999, 1, now)
        wait_for(
            driver,
            lambda d: (
                (first := d.find_elements(By.CSS_SELECTOR, "#queue .qrow"))
                and first[0].get_attribute("data-conversation") == urgent
            ),
            timeout=5,
        )
        assert not_reloaded(driver)
    finally:
        redis.close()
