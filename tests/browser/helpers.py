"""Helpers of the browser tests: accounts, logging in, waiting for the page."""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import quote, urlparse

from redis import Redis
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import WebDriverWait

from bot.agents.accounts import AccountStore
from bot.agents.errors import ConflictError
from bot.agents.models import AccountCreate, AccountUpdate, Role
from bot.errors import NotFoundError
from bot.keys import Keys
from bot.stack import StackConfig

T = TypeVar("T")


def drop_accounts(stack: StackConfig, brand: str, usernames: list[str]) -> None:
    """Delete accounts made by ``make_account`` and their presence (an open console keeps an agent online
    for the presence TTL, which other modules on the same stack would see)."""
    redis = Redis.from_url(stack.redis_url)
    try:
        keys = Keys(stack.redis_prefix)
        accounts = AccountStore(redis, keys)
        for username in usernames:
            with contextlib.suppress(NotFoundError):  # a test may have removed it itself
                accounts.delete(brand, username)
        redis.zrem(keys.agent_presence(brand), *usernames)
        redis.srem(keys.agent_away(brand), *usernames)
    finally:
        redis.close()


def make_account(
    stack: StackConfig, brand: str, username: str, role: str = "agent", teams: list[str] | None = None
) -> str:
    """Create (or reset) an account in the stack's Redis; returns its new password."""
    password = f"pw-{secrets.token_urlsafe(12)}"
    redis = Redis.from_url(stack.redis_url)
    try:
        accounts = AccountStore(redis, Keys(stack.redis_prefix))
        try:
            accounts.create(
                brand, AccountCreate(username=username, password=password, role=Role(role), teams=teams or [])
            )
        except ConflictError:
            accounts.update(brand, username, AccountUpdate(password=password, role=Role(role), active=True))
    finally:
        redis.close()
    return password


def wait_for(driver: WebDriver, condition: Callable[[WebDriver], T], timeout: float = 10.0) -> T:
    """Poll ``condition(driver)`` every 50 ms until it returns something truthy; returns that.

    Elements that went stale meanwhile (the page re-rendered them) count as "not yet".
    """
    wait = WebDriverWait(driver, timeout, poll_frequency=0.05, ignored_exceptions=[StaleElementReferenceException])
    return wait.until(condition)


def login(
    driver: WebDriver,
    base_url: str,
    brand: str,
    username: str,
    password: str,
    next_path: str = "/console",
) -> None:
    """Log in through the login page and wait until ``next_path`` is open."""
    driver.get(f"{base_url}/login?next={quote(next_path, safe='')}")
    fill(driver, "#brand", brand)
    fill(driver, "#username", username)
    fill(driver, "#password", password)
    driver.find_element(By.ID, "login-submit").click()
    wanted = urlparse(next_path).path
    wait_for(
        driver,
        lambda d: (
            urlparse(d.current_url).path == wanted
            and d.execute_script("return !!window.dmdesk && !!sessionStorage.getItem('dmdesk-token')")
        ),
    )


def fill(driver: WebDriver, css: str, text: str) -> None:
    """Replace the value of an input or textarea."""
    field = driver.find_element(By.CSS_SELECTOR, css)
    field.clear()
    field.send_keys(text)


def console_errors(driver: WebDriver) -> list[dict[str, Any]]:
    """The page's JavaScript errors and CSP violations since the last call (failed HTTP requests aside)."""
    return [
        entry
        for entry in driver.get_log("browser")
        if entry["level"] == "SEVERE" and "Failed to load resource" not in entry["message"]
    ]
