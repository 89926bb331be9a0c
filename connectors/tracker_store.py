"""Rasa tracker store whose per-message cost does not grow with the conversation.

Rasa 3.6's ``RedisTrackerStore`` keeps a conversation as one JSON blob: every
message reads and parses the whole history (twice: retrieve, and again on
save to merge), writes it back whole, and the policies then featurize every
event of it. A Messenger or Instagram customer keeps the same id for years,
so the cost per message grew without bound (bench/, README "Performance").

This store keeps the same history, append only:

* ``trackerevents:<id>``: a Redis list with every event (JSON), oldest first;
  a save appends only the events the turn added (RPUSH);
* ``trackerstate:<id>``: the current slot values and whether the bot is paused.

``retrieve`` (every message) loads only the last ``window`` events, cut at a
user message, preceded by the state they need: a session start, the slots
and, if the bot is paused, the pause. Dialogue state is therefore what it was
(slots, paused, the recent turns the policies look at); the events before the
window stay in Redis and ``retrieve_full_tracker`` returns all of them. The
handoff ticket's transcript (bot/handoff/context.py ``with_stored_history``)
reaches further back than the window (about ``window / 8.5`` turns; FAQ turns
have 8 to 9 events): the action reads the last ``DMDESK_TRANSCRIPT_EVENTS``
(1,000) stored events; the ticket then keeps its transcript itself.

endpoints.yml::

    tracker_store:
      type: connectors.tracker_store.WindowedRedisTrackerStore
      url: 127.0.0.1
      port: 6379
      db: 0
      key_prefix: dmdesk
      window: 60       # events loaded per message (DMDESK_TRACKER_WINDOW)

A conversation stored by Rasa's ``RedisTrackerStore`` under the same prefix is
migrated on its first read.
"""

from __future__ import annotations

import itertools
import json
import logging
import os
from collections.abc import Iterable
from typing import Any, Optional

from rasa.core.brokers.broker import EventBroker
from rasa.core.tracker_store import SerializedTrackerAsText, TrackerStore
from rasa.shared.core.constants import ACTION_LISTEN_NAME, ACTION_SESSION_START_NAME
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import (
    ActionExecuted,
    ConversationPaused,
    Event,
    SessionStarted,
    SlotSet,
    UserUttered,
)
from rasa.shared.core.trackers import DialogueStateTracker
from redis.asyncio import Redis

from bot.keys import Keys

log = logging.getLogger(__name__)

DEFAULT_WINDOW = 60
#: attribute set on the trackers this store returns: (stored index of the first loaded event, prefix length)
ORIGIN = "_dmdesk_origin"


def restored_prefix(slots: dict[str, Any], paused: bool, timestamp: float) -> list[Event]:
    """The events that put a tracker in the state the window starts from."""
    ts = timestamp - 1e-3
    events: list[Event] = [ActionExecuted(ACTION_SESSION_START_NAME, timestamp=ts), SessionStarted(timestamp=ts)]
    events += [SlotSet(name, value, timestamp=ts) for name, value in slots.items() if value is not None]
    if paused:
        events.append(ConversationPaused(timestamp=ts))
    events.append(ActionExecuted(ACTION_LISTEN_NAME, timestamp=ts))
    return events


class WindowedRedisTrackerStore(TrackerStore, SerializedTrackerAsText):
    """Append-only Redis tracker store that loads a bounded window of recent events."""

    def __init__(
        self,
        domain: Domain,
        host: str = "localhost",
        port: int = 6379,
        db: int = 0,
        password: Optional[str] = None,
        event_broker: Optional[EventBroker] = None,
        record_exp: Optional[float] = None,
        key_prefix: str = "dmdesk",
        window: Optional[int] = None,
        **kwargs: Any,
    ) -> None:
        """Connect to Redis (``host`` is the endpoint's ``url``)."""
        self.red = Redis(host=host, port=int(port), db=int(db), password=password)
        self.record_exp = record_exp
        self.keys = Keys(str(key_prefix))
        self.window = int(window or os.environ.get("DMDESK_TRACKER_WINDOW") or DEFAULT_WINDOW)
        if self.window < 20:
            raise ValueError("tracker store window must be at least 20 events")
        super().__init__(domain, event_broker, **kwargs)

    # --- reading
    async def _migrate_legacy(self, sender_id: str) -> int:
        """Move a tracker kept by Rasa's RedisTrackerStore into the event list; the number of events."""
        legacy = await self.red.get(self.keys.legacy_tracker(sender_id))
        if legacy is None:
            return 0
        tracker = self.deserialise_tracker(sender_id, legacy)
        if tracker is None:
            return 0
        await self._append(tracker, list(tracker.events), replace=True)
        await self.red.delete(self.keys.legacy_tracker(sender_id))
        log.info("tracker migrated from RedisTrackerStore (%d events)", len(tracker.events))
        return len(tracker.events)

    async def _load(self, sender_id: str, window: Optional[int]) -> Optional[DialogueStateTracker]:
        key = self.keys.tracker_events(sender_id)
        total = int(await self.red.llen(key)) or await self._migrate_legacy(sender_id)
        if not total:
            return None
        start = 0 if window is None else max(0, total - window)
        raw = await self.red.lrange(key, start, -1)
        events = [e for e in (Event.from_parameters(json.loads(r)) for r in raw) if e is not None]
        prefix: list[Event] = []
        if start > 0:
            cut = next((i for i, e in enumerate(events) if isinstance(e, UserUttered)), len(events))
            events, start = events[cut:], start + cut
            state = json.loads(await self.red.get(self.keys.tracker_state(sender_id)) or b"{}")
            first_ts = events[0].timestamp if events else 0.0
            prefix = restored_prefix(dict(state.get("slots") or {}), bool(state.get("paused")), first_ts)
        tracker = DialogueStateTracker.from_events(sender_id, prefix + events, self.domain.slots)
        setattr(tracker, ORIGIN, (start, len(prefix)))
        return tracker

    async def retrieve(self, sender_id: str) -> Optional[DialogueStateTracker]:
        """The conversation's recent window (what processing a message needs)."""
        return await self._load(sender_id, self.window)

    async def retrieve_full_tracker(self, sender_id: str) -> Optional[DialogueStateTracker]:
        """Every event of the conversation."""
        return await self._load(sender_id, None)

    async def keys(self) -> Iterable[str]:
        """Conversation ids stored."""
        head = self.keys.tracker_events("")
        return [k.decode()[len(head) :] async for k in self.red.scan_iter(match=f"{head}*", count=1000)]

    # --- writing
    async def _append(self, tracker: DialogueStateTracker, new: list[Event], replace: bool = False) -> None:
        key = self.keys.tracker_events(tracker.sender_id)
        state = {"slots": tracker.current_slot_values(), "paused": tracker.is_paused()}
        async with self.red.pipeline(transaction=True) as pipe:
            if replace:
                pipe.delete(key)
            if new:
                pipe.rpush(key, *[json.dumps(e.as_dict()) for e in new])
            pipe.set(self.keys.tracker_state(tracker.sender_id), json.dumps(state, default=str))
            if self.record_exp:
                pipe.expire(key, int(self.record_exp))
                pipe.expire(self.keys.tracker_state(tracker.sender_id), int(self.record_exp))
            await pipe.execute()

    async def save(self, tracker: DialogueStateTracker, timeout: Optional[float] = None) -> None:
        """Append the events added since the tracker was loaded (or saved) and the current state.

        Called under Rasa's conversation lock. A tracker this store did not load (a
        new conversation, or one rebuilt from an API call) replaces what is stored.
        """
        await self.stream_events(tracker)
        origin = getattr(tracker, ORIGIN, None)
        if origin is None:
            await self._append(tracker, list(tracker.events), replace=True)
            setattr(tracker, ORIGIN, (0, 0))
            return
        start, prefix_len = origin
        stored = int(await self.red.llen(self.keys.tracker_events(tracker.sender_id)))
        first_new = prefix_len + (stored - start)
        await self._append(tracker, list(itertools.islice(tracker.events, max(first_new, prefix_len), None)))
