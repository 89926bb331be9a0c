"""The agent console in headless Chromium with 1,000 waiting tickets.

    .venv-app/bin/python -m bench.console [--waiting 1000] [--handoffs 30] [--out bench/results/console.json]

Starts a private stack, puts ``--waiting`` tickets in the brand's queue
(priority 3, Messenger and Instagram, four languages), logs an agent in to
``/console`` and measures:

- page load: from navigation to the first queue rows on screen;
- the queue read the console makes (``GET /api/agent/queue?limit=51``), p50/p99;
- paging through the whole queue (50 rows a page): time to fetch and render each page;
- handoff to console: a customer asks for a person through the dev endpoint,
  and the ticket's row appears in the open console (a MutationObserver in the
  page stamps the arrival with the wall clock), p50/p99, one customer at a time;
  and the console's part of it, from the ticket's creation to the row.
"""

from __future__ import annotations

import argparse
import random
import time
import uuid
from typing import Any

import httpx
from redis import Redis
from selenium.webdriver.common.by import By

from bench import write_result
from bot.agents.accounts import AccountStore
from bot.agents.models import AccountCreate, Role
from bot.cli import ensure_redis, redis_url
from bot.evaluation import percentile
from bot.handoff.models import CustomerProfile, HandoffReason, Ticket, TranscriptLine
from bot.handoff.queue import HandoffStore
from bot.keys import Keys
from bot.processes import stop_on_signals
from bot.stack import ROOT, private_stack
from tests.browser.conftest import new_driver
from tests.browser.helpers import login, wait_for

BRAND = "kopiku"
PASSWORD = "bench console password"

#: records when a queue row of a conversation first appears (Date.now(), the wall clock)
OBSERVER = """
window.__arrivals = {};
new MutationObserver(function () {
  document.querySelectorAll('#queue .qrow').forEach(function (row) {
    const c = row.dataset.conversation;
    if (!(c in window.__arrivals)) window.__arrivals[c] = Date.now();
  });
}).observe(document.getElementById('queue'), {childList: true});
"""


def waiting_ticket(i: int, now: float) -> Ticket:
    """A priority-3 ticket that has waited up to an hour."""
    channel = "messenger" if i % 2 else "instagram"
    language = ["en", "id", "fr", "ru"][i % 4]
    created = now - random.uniform(60, 3600)
    return Ticket(
        id=uuid.uuid4().hex[:12],
        conversation_id=f"{channel}:bench{i}",
        channel=channel,
        customer=CustomerProfile(id=f"bench{i}", channel=channel, name=f"Customer {i}"),
        language=language,
        reason=HandoffReason.OFFER_ACCEPTED,
        priority=3,
        created_at=created,
        transcript=[
            TranscriptLine(sender="customer", text=f"question {i} about my order", timestamp=created - 5),
            TranscriptLine(sender="bot", text="Shall I pass you to a person?", timestamp=created - 4),
            TranscriptLine(sender="customer", text="yes please", timestamp=created, intent="affirm", confidence=0.9),
        ],
    )


def summary(values_ms: list[float]) -> dict[str, float]:
    return {
        "p50_ms": round(percentile(values_ms, 50), 1),
        "p99_ms": round(percentile(values_ms, 99), 1),
        "max_ms": round(max(values_ms), 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--waiting", type=int, default=1000)
    parser.add_argument("--handoffs", type=int, default=30)
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "console.json"))
    args = parser.parse_args()
    ensure_redis(redis_url())
    env = {"DMDESK_SUPPORT_HOURS": "mon-sun 00:00-23:59"}
    with private_stack("benchconsole", redis_url(), env) as stack:
        config = stack.config
        redis = Redis.from_url(config.redis_url)
        keys = Keys(config.redis_prefix)
        AccountStore(redis, keys).create(BRAND, AccountCreate(username="bench", password=PASSWORD, role=Role.AGENT))
        store = HandoffStore(redis, keys, BRAND)
        now = time.time()
        for i in range(args.waiting):
            store.open(waiting_ticket(i, now))
        result: dict[str, Any] = {"waiting_tickets": args.waiting}
        driver = new_driver()
        try:
            login(driver, config.bot_url, BRAND, "bench", PASSWORD)
            t0 = time.perf_counter()
            driver.get(config.bot_url + "/console")
            wait_for(driver, lambda d: len(d.find_elements(By.CSS_SELECTOR, "#queue .qrow")) == 50, timeout=60)
            result["page_load_to_rows_ms"] = round((time.perf_counter() - t0) * 1000, 1)
            wait_for(driver, lambda d: d.find_element(By.ID, "live").get_attribute("data-state") == "live")
            token = driver.execute_script("return sessionStorage.getItem('dmdesk-token')")

            with httpx.Client(base_url=config.bot_url, headers={"Authorization": f"Bearer {token}"}) as http:
                reads = []
                for _ in range(50):
                    t = time.perf_counter()
                    http.get("/api/agent/queue", params={"limit": 51}).raise_for_status()
                    reads.append((time.perf_counter() - t) * 1000)
                result["queue_read_limit_51"] = summary(reads)

            pages = []
            for first in range(51, args.waiting + 1, 50):
                t = time.perf_counter()
                driver.find_element(By.ID, "page-next").click()
                wait_for(driver, lambda d, f=first: d.find_element(By.ID, "page-label").text.startswith(f"{f}–"), 60)
                pages.append((time.perf_counter() - t) * 1000)
            result["next_page"] = {"pages": len(pages), **summary(pages)}
            driver.get(config.bot_url + "/console")
            wait_for(driver, lambda d: d.find_element(By.ID, "live").get_attribute("data-state") == "live", 60)
            wait_for(driver, lambda d: d.find_elements(By.CSS_SELECTOR, "#queue .qrow"), timeout=60)
            driver.execute_script(OBSERVER)

            headers = {"Authorization": f"Bearer {config.api_token}"}
            latencies, after_ticket = [], []
            with httpx.Client(base_url=config.bot_url, headers=headers, timeout=60) as customer:
                for i in range(args.handoffs):
                    sender = f"benchlive{i}{uuid.uuid4().hex[:6]}"
                    sent_at = time.time() * 1000
                    body = {"channel": "dev", "sender": sender, "text": "I want to talk to a human"}
                    ticket_id = customer.post("/api/dev/messages", json=body).raise_for_status().json()["ticket_id"]
                    arrived = wait_for(
                        driver,
                        lambda d, c=f"dev:{sender}": d.execute_script("return window.__arrivals[arguments[0]]", c),
                        timeout=30,
                    )
                    latencies.append(float(arrived) - sent_at)
                    created = customer.get(f"/api/handoffs/{ticket_id}").raise_for_status().json()["created_at"]
                    after_ticket.append(float(arrived) - created * 1000)
            result["handoff_to_console_row"] = {"n": len(latencies), **summary(latencies)}
            # the console's part: from the ticket's creation (after NLU) to its row on screen
            result["ticket_created_to_console_row"] = {"n": len(after_ticket), **summary(after_ticket)}
        finally:
            driver.quit()
            redis.close()
    write_result(result, args.out)


if __name__ == "__main__":
    stop_on_signals()
    main()
