"""The agent console page as the browser tests read and drive it: accounts, selectors, actions."""

from __future__ import annotations

from typing import Any

from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement

from bot import simulate as sim
from bot.faq import store as faq_store
from bot.stack import ROOT, StackConfig
from tests.browser.conftest import BrowserFactory
from tests.browser.helpers import login, wait_for
from tests.e2e import meta_helpers as meta

BRAND = "kopiku"
FAQ = faq_store.load(ROOT / "data" / "faq.yml")


def named(accounts: dict[str, str], prefix: str) -> str:
    return next(name for name in accounts if name.startswith(prefix))


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


def claim(driver: WebDriver) -> None:
    """Claim the open ticket once it is on screen, and wait until the console shows it claimed."""
    wait_for(driver, lambda d: ticket_status(d)[0] == "waiting")
    driver.find_element(By.ID, "btn-claim").click()
    wait_for(driver, lambda d: ticket_status(d)[0] == "claimed")


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
