"""Browser tests: headless Chromium (Debian's ``chromium`` and ``chromedriver``) driven by Selenium.

``browser()`` opens a new browser (1280x900) that is closed when the test ends;
call it twice for two agents. The binary paths are given explicitly, so
Selenium Manager never downloads anything. When a test fails, each of its
browsers leaves a screenshot in ``.cache/browser/``.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.remote.webdriver import WebDriver

from bot.stack import ROOT, StackConfig
from tests.browser.helpers import drop_accounts, make_account

CHROMIUM = Path(os.environ.get("DMDESK_CHROMIUM", "/usr/bin/chromium"))
CHROMEDRIVER = Path(os.environ.get("DMDESK_CHROMEDRIVER", "/usr/bin/chromedriver"))
SCREENSHOTS = ROOT / ".cache" / "browser"
WINDOW = (1280, 900)

BrowserFactory = Callable[[], WebDriver]


def new_driver() -> WebDriver:
    """A headless Chromium of its own (fresh profile: no cookies, no storage)."""
    options = Options()
    options.binary_location = str(CHROMIUM)
    for arg in (
        "--headless=new",
        "--no-sandbox",  # containers and CI run as root
        "--disable-dev-shm-usage",
        "--disable-gpu",
        "--disable-extensions",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-renderer-backgrounding",
        "--disable-background-timer-throttling",
        f"--window-size={WINDOW[0]},{WINDOW[1]}",
        "--lang=en-US",
    ):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(executable_path=str(CHROMEDRIVER)), options=options)
    driver.set_window_size(*WINDOW)
    driver.set_page_load_timeout(30)
    return driver


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """Keep each phase's report on the test item (the fixture takes screenshots of failures)."""
    report = yield
    setattr(item, f"report_{report.when}", report)
    return report


@pytest.fixture()
def browser(request: pytest.FixtureRequest) -> Iterator[BrowserFactory]:
    """A factory of headless Chromium browsers, all quit at teardown."""
    if not (CHROMIUM.exists() and CHROMEDRIVER.exists()):
        pytest.fail(f"{CHROMIUM} or {CHROMEDRIVER} is missing: `make test` installs chromium and chromium-driver")
    drivers: list[WebDriver] = []

    def make() -> WebDriver:
        driver = new_driver()
        drivers.append(driver)
        return driver

    yield make
    report = getattr(request.node, "report_call", None)
    failed = report is not None and report.failed
    for n, driver in enumerate(drivers):
        try:
            if failed:
                SCREENSHOTS.mkdir(parents=True, exist_ok=True)
                driver.save_screenshot(str(SCREENSHOTS / f"{request.node.name}-{n}.png"))
        finally:
            driver.quit()


@pytest.fixture(scope="module")
def accounts(stack: StackConfig) -> Iterator[dict[str, str]]:
    """username -> password of a module's console accounts (names unique to the run); deleted afterwards."""
    suffix = uuid.uuid4().hex[:4]
    roles = {"sari": "agent", "budi": "agent", "rina": "editor", "boss": "admin"}
    made = {f"{name}{suffix}": make_account(stack, "kopiku", f"{name}{suffix}", role) for name, role in roles.items()}
    yield made
    drop_accounts(stack, "kopiku", list(made))


@pytest.fixture()
def customer(stack: StackConfig) -> Iterator[httpx.Client]:
    """The dev endpoint, with the static API token."""
    with httpx.Client(base_url=stack.bot_url, headers={"Authorization": f"Bearer {stack.api_token}"}, timeout=60) as c:
        yield c
