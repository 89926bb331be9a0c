"""Browser: the training data editor page adds an example, refuses a conflicting one with the reason."""

from __future__ import annotations

import uuid

import pytest
from selenium.webdriver.common.by import By

from bot.stack import StackConfig
from tests.browser.conftest import BrowserFactory
from tests.browser.helpers import console_errors, fill, login, make_account, wait_for

pytestmark = [pytest.mark.browser, pytest.mark.stack]


def test_add_an_example_and_see_a_conflict(stack: StackConfig, browser: BrowserFactory) -> None:
    password = make_account(stack, "kopiku", "dataeditor", "editor")
    driver = browser()
    login(driver, stack.bot_url, "kopiku", "dataeditor", password, "/staff/training")
    wait_for(driver, lambda d: d.find_elements(By.CSS_SELECTOR, "#intents a[data-intent='greet']"))
    driver.find_element(By.CSS_SELECTOR, "#intents a[data-intent='greet']").click()
    wait_for(driver, lambda d: len(d.find_elements(By.CSS_SELECTOR, "#examples tr")) > 50)
    assert driver.find_element(By.ID, "model-active").text == "base"

    fill(driver, "#add-text", "thank you")  # an example of `thank`
    driver.find_element(By.CSS_SELECTOR, "#add-form button[type=submit]").click()
    issue = wait_for(driver, lambda d: d.find_elements(By.CSS_SELECTOR, "#issues [data-code='conflicting_intents']"))
    assert "'thank'" in issue[0].text

    text = f"halo kopiku {uuid.uuid4().hex[:6]}"
    fill(driver, "#add-text", text)
    driver.find_element(By.CSS_SELECTOR, "#add-form button[type=submit]").click()
    wait_for(driver, lambda d: any(c.text == text for c in d.find_elements(By.CSS_SELECTOR, "#examples td.text")))
    wait_for(driver, lambda d: text in d.find_element(By.ID, "history").text)
    assert "dataeditor" in driver.find_element(By.ID, "history").text
    assert console_errors(driver) == []
