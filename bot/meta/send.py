"""One Send API client for the bot and the agents: pooled, retried, rate-limited, policy-aware.

Meta's rules it applies:

* inside 24 hours of the customer's last message: ``messaging_type: RESPONSE``;
* a message written by a person, up to 7 days: ``MESSAGE_TAG`` + ``HUMAN_AGENT``;
* anything else (a bot message outside the window) is not sent: ``OutsideWindowError``.

Network errors and 5xx are retried with exponential backoff; rate-limit
errors wait (``Retry-After`` or backoff) and retry; permanent errors (outside
the window, user unavailable, bad token, bad request) are raised at once.
Calls are rate-limited per page across replicas (a Redis counter per second).
Access tokens travel in the ``Authorization`` header, never in a URL or a log.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import time
from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis

from bot.errors import DmdeskError
from bot.http import HttpError, HttpPool
from bot.keys import Keys
from bot.meta.pages import Account, Pages
from bot.settings import ServiceSettings

log = logging.getLogger(__name__)

WINDOW_S = 24 * 3600
HUMAN_AGENT_WINDOW_S = 7 * 24 * 3600
OUR_SEND_TTL_S = 24 * 3600
RATE_LIMIT_CODES = {4, 17, 32, 613, 80001, 80006}
TRANSIENT_CODES = {1, 2}


class SendError(DmdeskError):
    """A message was not delivered."""


class PermanentSendError(SendError):
    """Meta refused the message for good (not retried)."""


class OutsideWindowError(PermanentSendError):
    """The messaging window is closed for this kind of message."""


class UserUnavailableError(PermanentSendError):
    """The customer cannot receive messages (blocked the page, deleted the account)."""


class BadTokenError(PermanentSendError):
    """The page's access token is invalid or expired."""


class TransientSendError(SendError):
    """Gave up after retrying network errors, 5xx or rate limits."""


@dataclass(frozen=True)
class RetryPolicy:
    """Backoff of the Send API client."""

    max_attempts: int = 8
    base_s: float = 0.2
    max_s: float = 4.0

    def delay(self, attempt: int) -> float:
        """Full-jitter exponential backoff for attempt 1, 2, ..."""
        return random.uniform(0.5, 1.0) * min(self.max_s, self.base_s * 2 ** (attempt - 1))


def classify(status: int, body: Any) -> type[SendError] | None:
    """Which error a Graph API answer is (None: success). Retry-worthy ones are ``TransientSendError``."""
    if 200 <= status < 300:
        return None
    error = body.get("error") if isinstance(body, dict) else None
    error = error if isinstance(error, dict) else {}
    code, sub = error.get("code"), error.get("error_subcode")
    if status == 429 or code in RATE_LIMIT_CODES:
        return _RateLimited
    if status >= 500 or code in TRANSIENT_CODES or error.get("is_transient"):
        return TransientSendError
    if code == 10 or sub == 2018278 or sub == 2534022:
        return OutsideWindowError
    if code == 551 or sub in (1545041, 2018001, 2018108):
        return UserUnavailableError
    if code == 190 or status == 401:
        return BadTokenError
    return PermanentSendError


class _RateLimited(TransientSendError):
    pass


# KEYS: the page's counter of this second; ARGV: its ttl (s). The calls counted so far, this one included.
_COUNT_CALL = """
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
return n
"""

# KEYS: the conversation's last-inbound key; ARGV: timestamp, ttl (s). Only ever moves forward.
_RECORD_INBOUND = """
local c = tonumber(redis.call('GET', KEYS[1]) or '0')
if tonumber(ARGV[1]) > c then redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2]) end
return 1
"""


class SendClient:
    """Async Send API / profile client over one pool of keep-alive connections (``bot.http``)."""

    def __init__(
        self,
        graph_url: str,
        pages: Pages,
        redis: Redis,
        keys: Keys,
        timeout_s: float = 10.0,
        retry: RetryPolicy | None = None,
        rate_per_s: int = 50,
    ) -> None:
        self._http = HttpPool(graph_url, timeout_s=timeout_s, max_idle=32)
        self._pages = pages
        self._redis = redis
        self._keys = keys
        self._retry = retry or RetryPolicy()
        self._rate = rate_per_s
        self._record_inbound = redis.register_script(_RECORD_INBOUND)
        self._count_call = redis.register_script(_COUNT_CALL)

    @property
    def pages(self) -> Pages:
        """The configured accounts."""
        return self._pages

    async def close(self) -> None:
        """Close the connection pool."""
        await self._http.close()

    # --- policy
    async def record_inbound(self, conversation_id: str, timestamp: float) -> None:
        """Remember the customer's last message time (opens the 24-hour window)."""
        key = self._keys.last_inbound(conversation_id)
        await self._record_inbound(keys=[key], args=[repr(timestamp), HUMAN_AGENT_WINDOW_S])

    async def messaging_type(self, conversation_id: str, human: bool, now: float | None = None) -> dict[str, str]:
        """``messaging_type`` (and tag) for a message now.

        Raises:
            OutsideWindowError: A bot message after 24 hours, or a person's after 7 days.
        """
        raw = await self._redis.get(self._keys.last_inbound(conversation_id))
        age = (now or time.time()) - float(raw) if raw is not None else None
        if age is not None and age <= WINDOW_S:
            return {"messaging_type": "RESPONSE"}
        if human and age is not None and age <= HUMAN_AGENT_WINDOW_S:
            return {"messaging_type": "MESSAGE_TAG", "tag": "HUMAN_AGENT"}
        limit = "7 days (HUMAN_AGENT)" if human else "24 hours"
        raise OutsideWindowError(
            f"outside the messaging window: last customer message older than {limit}",
            conversation=conversation_id,
            age_s=None if age is None else round(age),
        )

    # --- sending
    async def send_message(
        self, account: Account, customer_id: str, message: dict[str, Any], conversation_id: str, human: bool = False
    ) -> str:
        """Send one message; returns Meta's message id.

        Raises:
            OutsideWindowError, UserUnavailableError, BadTokenError, PermanentSendError, TransientSendError.
        """
        body = {
            "recipient": {"id": customer_id},
            **await self.messaging_type(conversation_id, human),
            "message": message,
        }
        data = await self._post(account, body)
        mid = str(data.get("message_id") or "")
        if mid:
            await self._redis.set(self._keys.our_send(mid), "1", ex=OUR_SEND_TTL_S)
        return mid

    async def sender_action(self, account: Account, customer_id: str, action: str) -> None:
        """``mark_seen``, ``typing_on`` or ``typing_off``; best effort (one attempt, errors logged)."""
        body = {"recipient": {"id": customer_id}, "sender_action": action}
        try:
            await self._post(account, body, attempts=1)
        except SendError as exc:
            log.info("sender action not sent", extra={"action": action, "error": type(exc).__name__})

    async def _wait_rate(self, account_id: str) -> None:
        if self._rate <= 0:
            return
        while True:
            now = time.time()
            second = int(now)
            # one script, not MULTI/INCR/EXPIRE/EXEC: four commands less to pack and parse per call
            count = await self._count_call(keys=[self._keys.send_rate(account_id, second)], args=[2])
            if int(count) <= self._rate:
                return
            await asyncio.sleep(second + 1 - now + 0.001)

    async def _post(self, account: Account, body: dict[str, Any], attempts: int | None = None) -> dict[str, Any]:
        headers = {"Authorization": f"Bearer {account.token.get_secret_value()}"}
        limit = attempts or self._retry.max_attempts
        attempt = 0
        while True:
            attempt += 1
            await self._wait_rate(account.id)
            error: type[SendError] | None
            retry_after: float | None = None
            try:
                response = await self._http.request("POST", f"/{account.id}/messages", json_body=body, headers=headers)
                try:
                    data = response.json()
                except json.JSONDecodeError:
                    data = {}
                error = classify(response.status_code, data)
                if error is None:
                    return data if isinstance(data, dict) else {}
                detail = (data.get("error") or {}) if isinstance(data, dict) else {}
                header = response.headers.get("retry-after")
                retry_after = float(header) if header and header.replace(".", "", 1).isdigit() else None
                context = {
                    "status": response.status_code,
                    "code": detail.get("code"),
                    "sub": detail.get("error_subcode"),
                }
            except HttpError as exc:
                error, context = TransientSendError, {"network": type(exc).__name__}
            if not issubclass(error, TransientSendError):
                raise error("send refused", account=account.id, **context)
            if attempt >= limit:
                raise TransientSendError("send failed after retries", account=account.id, attempts=attempt, **context)
            delay = self._retry.delay(attempt)
            if issubclass(error, _RateLimited):
                delay = max(delay, min(retry_after or 1.0, 60.0))
            log.info(
                "send retry", extra={"account": account.id, "attempt": attempt, "delay_s": round(delay, 2), **context}
            )
            await asyncio.sleep(delay)

    # --- profiles
    async def first_name(self, account: Account, customer_id: str) -> str | None:
        """The customer's first name from the profile API, cached a day (misses cached an hour).

        Works without it: a missing permission or any error gives None.
        """
        key = self._keys.profile(account.channel.value, customer_id)
        cached = await self._redis.get(key)
        if cached is not None:
            return json.loads(cached).get("name")
        fields = "first_name" if account.channel.value == "messenger" else "name,username"
        headers = {"Authorization": f"Bearer {account.token.get_secret_value()}"}
        name: str | None = None
        try:
            response = await self._http.request(
                "GET", f"/{customer_id}", params={"fields": fields}, headers=headers, timeout_s=3.0
            )
            data = response.json() if response.status_code == 200 else {}
            raw = data.get("first_name") or str(data.get("name") or "").split(" ")[0] or data.get("username")
            name = str(raw) if raw else None
            ok = response.status_code == 200
        except (HttpError, ValueError, AttributeError):
            ok = False
        await self._redis.set(key, json.dumps({"name": name}), ex=24 * 3600 if ok else 3600)
        return name


def build_send_client(settings: ServiceSettings, redis: Redis, keys: Keys) -> SendClient:
    """The Send API client of a process, from its settings (pages file, Graph URL, limits)."""
    return SendClient(
        settings.meta_graph_url,
        Pages.load(settings.meta_pages_file),
        redis,
        keys,
        timeout_s=settings.send_timeout_s,
        retry=RetryPolicy(max_attempts=settings.send_max_attempts),
        rate_per_s=settings.send_rate_per_s,
    )
