"""Browser: an unanswered question added as an FAQ alternative in the inbox makes the bot answer it."""

from __future__ import annotations

from collections.abc import Iterator
from functools import lru_cache

import httpx
import pytest
from redis import Redis
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select

from bot.faq.editor import FaqEditor
from bot.faq.editor_models import EntryPatch
from bot.faq.kb import KnowledgeBase
from bot.keys import Keys
from bot.runtime import build_knowledge_base
from bot.settings import CoreSettings
from bot.stack import StackConfig
from tests.browser.conftest import BrowserFactory
from tests.browser.helpers import console_errors, login, make_account, wait_for
from tests.e2e.helpers import new_sender, say

pytestmark = [pytest.mark.browser, pytest.mark.stack]

QUESTION = "do you sell pastries or cakes?"
ENTRY = "contact_store_address_hours"


@pytest.fixture()
def editor(stack: StackConfig, cache_prefix: str) -> Iterator[FaqEditor]:
    """The FAQ editing service on the stack's Redis; the entry's alternatives are put back afterwards."""
    redis = Redis.from_url(stack.redis_url)
    # a knowledge base on the stack's Redis and prefix (this process's own, runtime.knowledge_base, follows
    # the environment: Redis db 0 and the default prefix, where it would import the FAQ and its embeddings)
    settings = CoreSettings(
        redis_url=stack.redis_url, redis_prefix=stack.redis_prefix, embedding_cache_prefix=cache_prefix
    )

    @lru_cache(maxsize=1)
    def knowledge_base() -> KnowledgeBase:
        return build_knowledge_base(settings, redis)

    faq = FaqEditor(redis, Keys(stack.redis_prefix), "kopiku", knowledge_base)
    before = faq.get("kopiku", ENTRY)
    yield faq
    now = faq.get("kopiku", ENTRY)
    faq.update("kopiku", "test", ENTRY, EntryPatch(alternatives=before.alternatives), now.version)
    if knowledge_base.cache_info().currsize:
        knowledge_base().close()
    redis.close()


def reply_kind(api: httpx.Client, text: str) -> tuple[str, str | None]:
    result = say(api, new_sender(), text)
    meta = next((r["meta"] for r in result["replies"] if r.get("meta")), {})
    return str(meta.get("kind", "")), meta.get("faq_id")


def test_added_as_alternative_the_bot_answers_it(
    stack: StackConfig, api: httpx.Client, browser: BrowserFactory, editor: FaqEditor
) -> None:
    kind, _ = reply_kind(api, QUESTION)  # the action server records it in the inbox
    assert kind in ("none", "clarify"), kind
    password = make_account(stack, "kopiku", "inboxeditor", "editor")
    driver = browser()
    login(driver, stack.bot_url, "kopiku", "inboxeditor", password, "/staff/unanswered")

    def card(d):  # type: ignore[no-untyped-def]
        found = [
            c for c in d.find_elements(By.CSS_SELECTOR, "article.group") if c.get_attribute("data-text") == QUESTION
        ]
        return found[0] if found else None

    group = wait_for(driver, card, timeout=15)
    Select(group.find_element(By.CSS_SELECTOR, "select.entry-select")).select_by_value(ENTRY)
    group.find_element(By.CSS_SELECTOR, "button.add-alternative").click()
    wait_for(driver, lambda d: card(d) is None, timeout=15)  # the group left the inbox
    assert QUESTION in editor.get("kopiku", ENTRY).alternatives
    assert reply_kind(api, QUESTION) == ("faq", ENTRY)  # through the dev endpoint, within the same second
    assert console_errors(driver) == []
