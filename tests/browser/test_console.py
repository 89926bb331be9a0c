"""The agent console in headless Chromium, through the real stack (Rasa, consumers, bot service).

Customers write through signed Messenger webhooks or the dev endpoint; the fake
Graph API records what reaches them. Every check reads the page as an agent
sees it (the DOM), with the API only as the customer's side or to prove that
the server refuses what the page disables.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from redis import Redis
from selenium.common.exceptions import NoAlertPresentException
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement

from bot import simulate as sim
from bot.agents.texts import RESOLVED
from bot.fakegraph import RunningFake
from bot.faq import store as faq_store
from bot.handoff.models import CustomerProfile, HandoffReason, Ticket, TranscriptLine
from bot.handoff.queue import HandoffStore
from bot.keys import Keys
from bot.stack import ROOT, StackConfig
from tests.browser.conftest import BrowserFactory
from tests.browser.helpers import console_errors, fill, login, make_account, wait_for
from tests.e2e import meta_helpers as meta
from tests.e2e.helpers import kinds, new_sender, say

pytestmark = [pytest.mark.browser, pytest.mark.stack]

BRAND = "kopiku"
FAQ = faq_store.load(ROOT / "data" / "faq.yml")


@pytest.fixture(scope="module")
def accounts(stack: StackConfig) -> dict[str, str]:
    """username -> password of this module's accounts (names unique to the run)."""
    suffix = uuid.uuid4().hex[:4]
    roles = {"sari": "agent", "budi": "agent", "rina": "editor", "boss": "admin"}
    return {f"{name}{suffix}": make_account(stack, BRAND, f"{name}{suffix}", role) for name, role in roles.items()}


def named(accounts: dict[str, str], prefix: str) -> str:
    return next(name for name in accounts if name.startswith(prefix))


@pytest.fixture()
def customer(stack: StackConfig) -> Iterator[httpx.Client]:
    """The dev endpoint, with the static API token."""
    with httpx.Client(base_url=stack.bot_url, headers={"Authorization": f"Bearer {stack.api_token}"}, timeout=60) as c:
        yield c


def open_console(browser: BrowserFactory, stack: StackConfig, accounts: dict[str, str], prefix: str) -> WebDriver:
    """A browser logged in as the account named ``prefix…``, with the console's live stream up."""
    driver = browser()
    name = named(accounts, prefix)
    login(driver, stack.bot_url, BRAND, name, accounts[name])
    wait_for(driver, lambda d: d.find_element(By.ID, "live").get_attribute("data-state") == "live")
    driver.execute_script("window.__sameDocument = true")  # gone if the page ever reloads
    return driver


def row(driver: WebDriver, conversation: str) -> WebElement | None:
    found = driver.find_elements(By.CSS_SELECTOR, f'#queue .qrow[data-conversation="{conversation}"]')
    return found[0] if found else None


def ticket_status(driver: WebDriver) -> tuple[str | None, str | None]:
    panel = driver.find_element(By.ID, "ticket")
    return panel.get_attribute("data-status"), panel.get_attribute("data-assignee")


def transcript(driver: WebDriver) -> list[tuple[str, str]]:
    """(sender, text) of the open ticket's transcript, notes included (sender ``note``)."""
    items = driver.execute_script(
        """return Array.from(document.querySelectorAll('#transcript > li')).map(li =>
             [li.classList.contains('note') ? 'note' : li.dataset.sender, li.querySelector('.msg-text').textContent])"""
    )
    return [(sender, text) for sender, text in items]


def click(driver: WebDriver, css: str) -> bool:
    """Click the first element matching ``css`` (False while there is none)."""
    found = driver.find_elements(By.CSS_SELECTOR, css)
    if not found:
        return False
    found[0].click()
    return True


def click_row(driver: WebDriver, conversation: str) -> bool:
    """Click the conversation's queue row (False while it is not there)."""
    found = row(driver, conversation)
    if found is None:
        return False
    found.click()
    return True


def not_reloaded(driver: WebDriver) -> bool:
    return bool(driver.execute_script("return window.__sameDocument === true"))


def webhook_text(stack: StackConfig, customer_id: str, text: str) -> None:
    body = sim.delivery("page", meta.P, [sim.text(customer_id, meta.P, text)])
    assert meta.post(stack.bot_url, "messenger", body).status_code == 200


def browser_api(driver: WebDriver, method: str, path: str, body: Any = None) -> dict[str, Any]:
    """Call the JSON API from the page (its token); returns {"status", "body"} or {"status", "detail"}."""
    return driver.execute_async_script(
        """
        const done = arguments[arguments.length - 1];
        dmdesk.api(arguments[0], arguments[1], arguments[2] === null ? undefined : arguments[2])
          .then(body => done({status: 200, body: body}))
          .catch(e => done({status: e.status, detail: e.detail}));
        """,
        method,
        path,
        body,
    )


def test_a_messenger_escalation_is_worked_live_and_handed_back_to_the_bot(
    browser: BrowserFactory, stack: StackConfig, accounts: dict[str, str], fake_graph: RunningFake
) -> None:
    sari = open_console(browser, stack, accounts, "sari")
    budi = open_console(browser, stack, accounts, "budi")
    customer_id = meta.new_customer()
    conversation = f"messenger:{customer_id}"

    # the customer asks for a person on Messenger: the ticket appears in both consoles, no reload
    webhook_text(stack, customer_id, "I want to talk to a human")
    meta.wait_sends(fake_graph, customer_id, 1)  # "a person will reply ..."
    for driver in (sari, budi):
        wait_for(driver, lambda d: click_row(d, conversation), timeout=5)
    wait_for(budi, lambda d: ticket_status(d) == ("waiting", ""))
    wait_for(sari, lambda d: ticket_status(d)[0] == "waiting")
    assert transcript(sari)[0] == ("customer", "I want to talk to a human")
    assert "request_human" in sari.find_element(By.CSS_SELECTOR, "#transcript .msg.customer .intent").text
    context = sari.find_element(By.ID, "context").text
    assert "asked for a person" in context and "Messenger" in context and "request_human" in context

    # sari claims: budi's console shows it within a second, and budi cannot reply
    sari.find_element(By.ID, "btn-claim").click()
    claimed_at = time.monotonic()
    wait_for(budi, lambda d: ticket_status(d)[0] == "claimed" and row(d, conversation) is None, timeout=1.0)
    shown_after = time.monotonic() - claimed_at
    sari_name = named(accounts, "sari")
    assert ticket_status(budi) == ("claimed", sari_name)
    banner = budi.find_element(By.ID, "t-banner").text
    assert banner.startswith("Claimed by") and sari_name in banner
    for control in ("btn-release", "btn-transfer", "btn-resolve", "mode-reply"):
        assert not budi.find_element(By.ID, control).is_enabled(), control
    assert budi.find_element(By.ID, "composer").get_attribute("data-mode") == "note"  # notes stay possible
    refused = browser_api(
        budi,
        "POST",
        f"/api/agent/tickets/{budi.find_element(By.ID, 'ticket').get_attribute('data-id')}/replies",
        {"text": "I am budi"},
    )
    assert refused["status"] == 409 and "another agent" in refused["detail"]
    wait_for(sari, lambda d: ticket_status(d) == ("claimed", sari_name))
    wait_for(sari, lambda d: int(d.find_element(By.ID, "count-mine").text or 0) >= 1)

    # the customer writes while sari owns the chat: it appears in both consoles; the bot stays silent
    webhook_text(stack, customer_id, "How much is shipping to Medan?")
    for driver in (sari, budi):
        wait_for(driver, lambda d: ("customer", "How much is shipping to Medan?") in transcript(d), timeout=10)
    assert len(meta.sends_to(fake_graph, customer_id)) == 1

    # a suggested FAQ answer goes into the reply box with one click, is edited and sent
    # (the bot service loads the FAQ index on the first request for suggestions)
    wait_for(sari, lambda d: d.find_elements(By.CSS_SELECTOR, "#suggestion-list .suggestion .use"), timeout=90)
    entry = sari.find_element(By.CSS_SELECTOR, "#suggestion-list .suggestion").get_attribute("data-entry")
    wait_for(sari, lambda d: click(d, "#suggestion-list .suggestion .use"))
    answer = FAQ.get(entry).answers["en"]  # type: ignore[union-attr]
    box = sari.find_element(By.ID, "composer-text")
    assert box.get_attribute("value") == answer
    box.send_keys(" Anything else?")
    fill(sari, "#composer-quick", "Thanks, Another question")
    sari.find_element(By.ID, "btn-send").click()
    sent = meta.wait_sends(fake_graph, customer_id, 2)[-1]
    assert meta.text_of(sent) == answer + " Anything else?"
    assert sent["messaging_type"] == "RESPONSE" and not sent.get("tag"), sent
    # (Messenger shows up to 3 choices as a button template)
    buttons = sent["message"]["attachment"]["payload"]["buttons"]
    assert [b["title"] for b in buttons] == ["Thanks", "Another question"]
    wait_for(sari, lambda d: d.find_elements(By.CSS_SELECTOR, "#transcript .msg.agent .delivery-status.sent"))
    wait_for(budi, lambda d: ("agent", answer + " Anything else?") in transcript(d))
    assert sari.find_element(By.ID, "composer-text").get_attribute("value") == ""

    # two days after the customer's last message only a person may write, with the HUMAN_AGENT tag
    redis = Redis.from_url(stack.redis_url)
    keys = Keys(stack.redis_prefix)
    try:
        redis.set(keys.last_inbound(conversation), repr(time.time() - 2 * 86400))
        fill(sari, "#composer-text", "Your parcel left Bandung today.")
        sari.find_element(By.ID, "btn-send").click()
        late = meta.wait_sends(fake_graph, customer_id, 3)[-1]
        assert meta.text_of(late) == "Your parcel left Bandung today."
        assert late["messaging_type"] == "MESSAGE_TAG" and late["tag"] == "HUMAN_AGENT"

        # resolve (two clicks: the second confirms): the customer is told, the bot has the chat again
        redis.set(keys.last_inbound(conversation), repr(time.time()))
        sari.find_element(By.ID, "btn-resolve").click()
        sari.find_element(By.ID, "btn-resolve").click()
        wait_for(sari, lambda d: ticket_status(d)[0] == "resolved", timeout=15)
        assert meta.text_of(meta.wait_sends(fake_graph, customer_id, 4)[-1]) == RESOLVED["en"]
        wait_for(budi, lambda d: ticket_status(d)[0] == "resolved")
        assert "Resolved by" in budi.find_element(By.ID, "t-banner").text

        # later than the reopen window (its marker removed): the bot answers the next message itself
        redis.delete(keys.recently_resolved(conversation))
        webhook_text(stack, customer_id, "How can I track my order?")
        bot_answer = meta.wait_sends(fake_graph, customer_id, 5)[-1]
        assert meta.text_of(bot_answer) == FAQ.get("order_tracking").answers["en"]  # type: ignore[union-attr]
    finally:
        redis.close()
    assert not_reloaded(sari) and not_reloaded(budi)
    assert console_errors(sari) == [] and console_errors(budi) == []
    print(f"claim shown in the second console after {shown_after * 1000:.0f} ms")


def test_a_failed_delivery_is_shown_on_the_line_and_can_be_retried(
    browser: BrowserFactory, stack: StackConfig, accounts: dict[str, str], customer: httpx.Client
) -> None:
    sari = open_console(browser, stack, accounts, "sari")
    sender = new_sender()
    # through the dev endpoint no Messenger message opened the 24-hour window: Meta's rules forbid the send
    result = say(customer, sender, "I want to talk to a human", channel="messenger", profile={"name": "Wulan"})
    assert kinds(result) == ["handoff"]
    conversation = f"messenger:{sender}"
    assert "Wulan" in wait_for(sari, lambda d: row(d, conversation), timeout=5).text
    wait_for(sari, lambda d: click_row(d, conversation))
    wait_for(sari, lambda d: d.find_element(By.ID, "btn-claim").is_enabled())
    sari.find_element(By.ID, "btn-claim").click()
    wait_for(sari, lambda d: ticket_status(d)[0] == "claimed")
    fill(sari, "#composer-text", "Hi Wulan, Sari here")
    sari.find_element(By.ID, "btn-send").click()
    wait_for(sari, lambda d: d.find_elements(By.CSS_SELECTOR, "#transcript .msg.agent .delivery-status.failed"))
    assert "window" in sari.find_element(By.CSS_SELECTOR, "#transcript .msg.agent .delivery-error").text
    wait_for(sari, lambda d: click(d, "#transcript .msg.agent .retry"))
    wait_for(sari, lambda d: "2 attempts" in d.find_element(By.CSS_SELECTOR, "#transcript .msg.agent .delivery").text)
    assert sari.find_element(By.CSS_SELECTOR, "#transcript .msg.agent .retry").is_enabled()


def test_notes_canned_replies_and_transfer_between_agents(
    browser: BrowserFactory, stack: StackConfig, accounts: dict[str, str], customer: httpx.Client
) -> None:
    rina = open_console(browser, stack, accounts, "rina")
    created = browser_api(
        rina,
        "POST",
        "/api/agent/canned-replies",
        {"language": "id", "title": "Salam <b>", "text": "Halo kak, dengan senang hati kami bantu 🙏"},
    )
    assert created["status"] == 200, created
    sari = open_console(browser, stack, accounts, "sari")
    budi = open_console(browser, stack, accounts, "budi")
    refused = browser_api(sari, "POST", "/api/agent/canned-replies", {"language": "id", "title": "x", "text": "y"})
    assert refused["status"] == 403  # agents read canned replies; editors write them

    sender = new_sender()
    conversation = f"dev:{sender}"
    assert kinds(say(customer, sender, "mau ngobrol sama admin dong")) == ["handoff"]
    wait_for(sari, lambda d: click_row(d, conversation), timeout=5)
    wait_for(sari, lambda d: d.find_element(By.ID, "btn-claim").is_enabled())
    sari.find_element(By.ID, "btn-claim").click()
    wait_for(sari, lambda d: ticket_status(d)[0] == "claimed")

    # a canned reply in the customer's language is offered first and goes into the reply box
    canned = sari.find_element(By.ID, "canned")
    group = canned.find_element(By.CSS_SELECTOR, "optgroup")
    assert group.get_attribute("label").startswith("id")
    option = group.find_element(By.XPATH, "option[. = 'Salam <b>']")
    option.click()
    canned_text = sari.find_element(By.ID, "composer-text").get_attribute("value")
    assert canned_text == "Halo kak, dengan senang hati kami bantu 🙏"

    # an internal note shows in both consoles' transcripts, never reaches the customer
    sari.find_element(By.ID, "mode-note").click()
    fill(sari, "#composer-text", "VIP: handle with care <script>window.__xss=1</script>")
    sari.find_element(By.ID, "btn-send").click()
    note = ("note", "VIP: handle with care <script>window.__xss=1</script>")
    wait_for(sari, lambda d: note in transcript(d))
    assert customer.get(f"/api/dev/conversations/{conversation}/messages").json() == []

    # transfer to budi: budi's console offers the ticket under "Mine", and now only budi can reply
    budi_name = named(accounts, "budi")
    sari.find_element(By.ID, "btn-transfer").click()
    sari.find_element(By.CSS_SELECTOR, f'#transfer-to option[value="agent:{budi_name}"]').click()
    fill(sari, "#transfer-note", "please take over, I am off")
    sari.find_element(By.ID, "transfer-submit").click()
    wait_for(sari, lambda d: ticket_status(d) == ("claimed", budi_name))
    assert not sari.find_element(By.ID, "mode-reply").is_enabled()
    budi.find_element(By.ID, "tab-mine").click()
    wait_for(budi, lambda d: click_row(d, conversation), timeout=5)
    wait_for(budi, lambda d: ticket_status(d) == ("claimed", budi_name))
    assert note in transcript(budi) and ("note", "please take over, I am off") in transcript(budi)
    fill(budi, "#composer-text", "Halo kak, Budi di sini")
    budi.find_element(By.ID, "btn-send").click()
    wait_for(budi, lambda d: d.find_elements(By.CSS_SELECTOR, "#transcript .msg.agent .delivery-status.sent"))
    outbox = customer.get(f"/api/dev/conversations/{conversation}/messages").json()
    assert [m["text"] for m in outbox] == ["Halo kak, Budi di sini"]
    budi.find_element(By.ID, "btn-release").click()
    wait_for(budi, lambda d: ticket_status(d)[0] == "waiting")
    assert all(driver.execute_script("return window.__xss") is None for driver in (sari, budi, rina))


def test_customer_text_is_shown_as_text_never_run(
    browser: BrowserFactory, stack: StackConfig, accounts: dict[str, str], customer: httpx.Client
) -> None:
    sari = open_console(browser, stack, accounts, "sari")
    sender = new_sender()
    conversation = f"dev:{sender}"
    hostile = "<img src=x onerror=alert(1)>"
    name = '<script>window.__xss=1</script>"><img src=x onerror="window.__xss=2">'
    assert kinds(say(customer, sender, "I want to talk to a human", profile={"name": name})) == ["handoff"]
    assert say(customer, sender, hostile)["status"] == "human"
    found = wait_for(sari, lambda d: (r := row(d, conversation)) and hostile in r.text and r.text, timeout=5)
    assert name in found
    wait_for(sari, lambda d: click_row(d, conversation))
    wait_for(sari, lambda d: ("customer", hostile) in transcript(d))
    assert sari.find_element(By.ID, "t-customer").text == name
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
