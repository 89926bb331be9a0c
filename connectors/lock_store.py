"""Rasa lock store with Rasa's ticket lock in Redis, taken and released by Lua scripts, without blocking.

Rasa 3.6's ``RedisLockStore`` serves a conversation's messages in ticket order
(``rasa.core.lock.TicketLock``: the lowest live ticket is served, a ticket
expires ``lock_lifetime`` seconds after it was issued). Per message it made
seven synchronous Redis calls on the server's event loop (issue: GET, SET;
acquire: GET; release: GET, SET, GET, DEL), each stopping every other
conversation the process was serving, and it issued a ticket by a read then a
write, so two replicas could draw the same ticket number and both process the
same conversation at once.

This store keeps the same lock, under the same key (``<prefix>:lock:<id>``)
and in the same JSON (a Rasa ``RedisLockStore`` replica on the same Redis
reads and writes it alike), and replaces ``lock`` only:

* taking a ticket is one script (``ISSUE``): drop expired tickets, append
  the next number (0 when none is left, as Rasa), report whether it is served
  now: one awaited call, atomic across replicas;
* while another ticket is served it sleeps ``wait_time_in_seconds`` (Rasa's
  1 s) and asks again (``POLL``: drop expired tickets, then the same check);
  the lock gone is a ``LockError`` as in Rasa;
* releasing is one script (``RELEASE``): drop expired tickets and its own,
  delete the key when none is left.

Expiry is measured with Redis's clock (``TIME``), so replicas on different
hosts agree on it; Rasa used each replica's clock. The key has no TTL, as in
Rasa. The synchronous methods of ``RedisLockStore`` (``get_lock``,
``issue_ticket``, ...) are inherited unchanged for anything that calls them.

endpoints.yml::

    lock_store:
      type: connectors.lock_store.AsyncRedisLockStore
      url: 127.0.0.1
      port: 6379
      db: 0
      key_prefix: dmdesk
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import AsyncGenerator
from contextlib import asynccontextmanager
from typing import Any, Optional

from rasa.core.lock import TicketLock
from rasa.core.lock_store import LOCK_LIFETIME, LockError, LockStore, RedisLockStore
from rasa.utils.endpoints import EndpointConfig
from redis.asyncio import Redis

log = logging.getLogger(__name__)

#: sha256 of the source of Rasa's lock code this store reproduces (``tests/rasa_env/check_lock_store.py``)
RASA_SOURCES: dict[str, str] = {
    "LockStore.lock": "8b9b716c031a34445100c32e7123859553831d2ac4747ae2b47a581f137ea371",
    "LockStore._acquire_lock": "ead2fff373291c24619f2a2b53453f64ed2975ed68f53dce0e56041061356f05",
    "LockStore.issue_ticket": "4dfdfb5e62c1dda994b30fe56f20994a55d54493d1f1b84e8a0ec2e8291036b8",
    "LockStore.cleanup": "f2ba1745c8153f923521ce87419bf04a30c5764e1680f15d5d30bd7e4d65dac5",
    "LockStore.update_lock": "d56816a13451e7a5fe53b6e8aa6c604775d58de1febbbd0f3664c3cf92f68cb3",
    "LockStore.finish_serving": "ba76ac5a486b97dda51d0522ca2978fd8a5ccd01c26e1124ba31169f948945f9",
    "RedisLockStore.save_lock": "204875b9029c7f1802056acaf61bef20af631c51ac84625d5eb82ebfedb72bc3",
    "RedisLockStore.get_lock": "57d7f8558543450dbfeb0632021bb66d58d96948573284c384d7e80844de0c9b",
    "TicketLock": "2cd46225330fb0cafd529e7a569616742e305e5179f6318c85b044ee47832562",
}

#: shared by the scripts: the lock's live tickets (their stored strings and numbers) and its JSON
_PRELUDE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local function live(raw)
  local kept, numbers = {}, {}
  for _, s in ipairs(cjson.decode(raw).tickets or {}) do
    local ticket = cjson.decode(s)
    if not (now > tonumber(ticket.expires)) then
      kept[#kept + 1] = s
      numbers[#numbers + 1] = tonumber(ticket.number)
    end
  end
  return kept, numbers
end
local function dumps(conversation_id, kept)
  local items = {}
  for i, s in ipairs(kept) do items[i] = cjson.encode(s) end
  return '{"conversation_id": ' .. cjson.encode(conversation_id) .. ', "tickets": [' ..
    table.concat(items, ', ') .. ']}'
end
"""

#: KEYS[1] lock key; ARGV[1] conversation id, ARGV[2] lifetime (s) -> {ticket, 1 if served now else 0}
ISSUE = (
    _PRELUDE
    + """
local raw = redis.call('GET', KEYS[1])
local kept, numbers = {}, {}
if raw then kept, numbers = live(raw) end
local number = (numbers[#numbers] or -1) + 1
kept[#kept + 1] = string.format('{"number": %d, "expires": %.17g}', number, now + tonumber(ARGV[2]))
redis.call('SET', KEYS[1], dumps(ARGV[1], kept))
local serving = numbers[1] or number
return {number, serving == number and 1 or 0}
"""
)

#: KEYS[1] lock key; ARGV[1] conversation id, ARGV[2] ticket -> -1 no lock, 1 served now, 0 not yet
POLL = (
    _PRELUDE
    + """
local raw = redis.call('GET', KEYS[1])
if not raw then return -1 end
local kept, numbers = live(raw)
redis.call('SET', KEYS[1], dumps(ARGV[1], kept))
return (numbers[1] or 0) == tonumber(ARGV[2]) and 1 or 0
"""
)

#: KEYS[1] lock key; ARGV[1] conversation id, ARGV[2] ticket -> tickets left (the key deleted at 0)
RELEASE = (
    _PRELUDE
    + """
local raw = redis.call('GET', KEYS[1])
if not raw then return 0 end
local kept, numbers = live(raw)
local left = {}
for i, s in ipairs(kept) do
  if numbers[i] ~= tonumber(ARGV[2]) then left[#left + 1] = s end
end
if #left == 0 then redis.call('DEL', KEYS[1]) else redis.call('SET', KEYS[1], dumps(ARGV[1], left)) end
return #left
"""
)


class AsyncRedisLockStore(RedisLockStore):
    """``RedisLockStore`` whose ``lock`` awaits two atomic scripts instead of seven blocking calls."""

    def __init__(self, endpoint_config: Optional[EndpointConfig] = None, **kwargs: Any) -> None:
        """Connect as ``RedisLockStore`` does, from the endpoint (``url`` is the host) or keyword arguments."""
        settings: dict[str, Any] = {**(endpoint_config.kwargs if endpoint_config else {}), **kwargs}
        settings.pop("type", None)
        if endpoint_config is not None and endpoint_config.url:
            settings.setdefault("host", endpoint_config.url)
        super().__init__(**settings)
        sync = self.red.connection_pool.connection_kwargs
        self.ared = Redis(
            host=sync.get("host", "localhost"),
            port=int(sync.get("port", 6379)),
            db=int(sync.get("db", 0)),
            username=sync.get("username"),
            password=sync.get("password"),
            ssl=bool(settings.get("use_ssl", False)),
            ssl_certfile=settings.get("ssl_certfile"),
            ssl_keyfile=settings.get("ssl_keyfile"),
            ssl_ca_certs=settings.get("ssl_ca_certs"),
            socket_timeout=sync.get("socket_timeout"),
        )
        self._issue = self.ared.register_script(ISSUE)
        self._poll = self.ared.register_script(POLL)
        self._release = self.ared.register_script(RELEASE)
        self._background: set[asyncio.Future[Any]] = set()

    def _key(self, conversation_id: str) -> str:
        return self.key_prefix + conversation_id

    async def issue_ticket_async(self, conversation_id: str, lock_lifetime: float = LOCK_LIFETIME) -> tuple[int, bool]:
        """(a new ticket for the conversation, whether it is served now); ``LockError`` if Redis fails."""
        try:
            number, served = await self._issue(keys=[self._key(conversation_id)], args=[conversation_id, lock_lifetime])
        except Exception as exc:  # as Rasa's issue_ticket
            raise LockError(f"Error while acquiring lock. Error:\n{exc}") from exc
        return int(number), bool(served)

    async def release_async(self, conversation_id: str, ticket: int) -> int:
        """Give the ticket back (the key deleted when no ticket is left); the number of tickets left."""
        return int(await self._release(keys=[self._key(conversation_id)], args=[conversation_id, ticket]))

    async def _wait_for(self, conversation_id: str, ticket: int, wait_time_in_seconds: float) -> None:
        """Sleep and ask again until ``ticket`` is served; ``LockError`` when the lock is gone."""
        while True:
            log.debug("Waiting for the lock of conversation '%s' (ticket %d).", conversation_id, ticket)
            await asyncio.sleep(wait_time_in_seconds)
            state = int(await self._poll(keys=[self._key(conversation_id)], args=[conversation_id, ticket]))
            if state < 0:
                raise LockError(f"Could not acquire lock for conversation_id '{conversation_id}'.")
            if state:
                return

    @asynccontextmanager
    async def lock(
        self,
        conversation_id: str,
        lock_lifetime: float = LOCK_LIFETIME,
        wait_time_in_seconds: float = 1,
    ) -> AsyncGenerator[TicketLock, None]:
        """Hold the conversation's lock (ticket order, as ``LockStore.lock``), without blocking the loop.

        Yields an empty ``TicketLock`` of the conversation (Rasa yielded the lock as read; its callers
        use none of it).
        """
        issuing = asyncio.ensure_future(self.issue_ticket_async(conversation_id, lock_lifetime))
        try:
            ticket, served = await asyncio.shield(issuing)
        except asyncio.CancelledError:  # the script may have issued a ticket: give it back once known
            issuing.add_done_callback(functools.partial(self._release_issued, conversation_id))
            raise
        try:
            if not served:
                await self._wait_for(conversation_id, ticket, wait_time_in_seconds)
            yield TicketLock(conversation_id)
        finally:  # shielded: a second cancellation does not keep the ticket
            await asyncio.shield(self.release_async(conversation_id, ticket))

    def _release_issued(self, conversation_id: str, issuing: asyncio.Future[tuple[int, bool]]) -> None:
        if not issuing.cancelled() and issuing.exception() is None:
            task = asyncio.ensure_future(self.release_async(conversation_id, issuing.result()[0]))
            self._background.add(task)
            task.add_done_callback(self._background.discard)

    async def close(self) -> None:
        """Close the asynchronous connections."""
        await self.ared.close()


def current_sources() -> dict[str, Any]:
    """The Rasa code ``RASA_SOURCES`` pins, as installed now."""
    names = ("lock", "_acquire_lock", "issue_ticket", "cleanup", "update_lock", "finish_serving")
    return {
        **{f"LockStore.{n}": getattr(LockStore, n) for n in names},
        "RedisLockStore.save_lock": RedisLockStore.save_lock,
        "RedisLockStore.get_lock": RedisLockStore.get_lock,
        "TicketLock": TicketLock,
    }


__all__ = ["ISSUE", "POLL", "RELEASE", "AsyncRedisLockStore"]
