"""Every Redis key and channel dmdesk uses, in one place.

All keys share a prefix (``DMDESK_REDIS_PREFIX``, default ``dmdesk``) so that
several deployments or test runs can share one Redis without colliding.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Keys:
    """Key builder for one deployment prefix."""

    prefix: str = "dmdesk"
    #: prefix of the embedding cache; content-addressed, so deployments (and
    #: test runs) on one Redis may share it. Defaults to ``prefix``.
    cache_prefix: str = ""

    # --- FAQ knowledge base
    @property
    def faq_entries(self) -> str:
        """Hash: entry id -> FaqEntry JSON."""
        return f"{self.prefix}:faq:entries"

    @property
    def faq_meta(self) -> str:
        """String: JSON with brand, default_language, languages."""
        return f"{self.prefix}:faq:meta"

    @property
    def faq_version(self) -> str:
        """Integer, incremented on every FAQ change."""
        return f"{self.prefix}:faq:version"

    @property
    def faq_seed_lock(self) -> str:
        """Short-lived lock held by the process importing the FAQ file."""
        return f"{self.prefix}:faq:seeding"

    @property
    def faq_changed_channel(self) -> str:
        """Pub/sub channel announcing FAQ changes."""
        return f"{self.prefix}:faq:changed"

    def embeddings(self, encoder: str) -> str:
        """Hash: sha1(text) -> float32 vector bytes, per encoder."""
        return f"{self.cache_prefix or self.prefix}:emb:{encoder}"

    # --- conversations and handoff
    def seen_message(self, channel: str, message_id: str) -> str:
        """Dedupe marker for one inbound message id."""
        return f"{self.prefix}:seen:{channel}:{message_id}"

    def conversation_lock(self, conversation_id: str) -> str:
        """Per-conversation lock that keeps messages in order."""
        return f"{self.prefix}:convlock:{conversation_id}"

    def conversation_owner(self, conversation_id: str) -> str:
        """String: id of the open ticket while a human owns the conversation."""
        return f"{self.prefix}:owner:{conversation_id}"

    def ticket(self, ticket_id: str) -> str:
        """String: handoff ticket JSON."""
        return f"{self.prefix}:ticket:{ticket_id}"

    @property
    def ticket_queue(self) -> str:
        """Sorted set of waiting ticket ids, ordered by priority then wait."""
        return f"{self.prefix}:queue"

    @property
    def tickets_all(self) -> str:
        """Sorted set of every ticket id by creation time (newest last)."""
        return f"{self.prefix}:tickets"

    @property
    def handoff_channel(self) -> str:
        """Pub/sub channel announcing new and changed tickets."""
        return f"{self.prefix}:handoff:events"

    # --- agent workspace (bot/agents)
    def conversation_tickets(self, conversation_id: str) -> str:
        """Sorted set of a conversation's ticket ids by creation time."""
        return f"{self.prefix}:convtickets:{conversation_id}"

    def recently_resolved(self, conversation_id: str) -> str:
        """String with TTL: id of the ticket resolved last, while it can still be reopened."""
        return f"{self.prefix}:resolved:{conversation_id}"

    def account(self, brand: str, username: str) -> str:
        """String: agent account JSON (password hash included)."""
        return f"{self.prefix}:account:{brand}:{username}"

    def accounts(self, brand: str) -> str:
        """Set of a brand's usernames."""
        return f"{self.prefix}:accounts:{brand}"

    def session(self, token_digest: str) -> str:
        """String with TTL: session JSON, by sha256 of the opaque token."""
        return f"{self.prefix}:session:{token_digest}"

    def account_sessions(self, brand: str, username: str) -> str:
        """Set of an account's session digests (revoked together)."""
        return f"{self.prefix}:accsessions:{brand}:{username}"

    def login_failures(self, brand: str, username: str) -> str:
        """Counter with TTL: failed logins of one account."""
        return f"{self.prefix}:loginfail:{brand}:{username}"

    def agent_events(self, brand: str) -> str:
        """Pub/sub channel of a brand's ticket events (JSON)."""
        return f"{self.prefix}:agent:events:{brand}"

    def ticket_notes(self, ticket_id: str) -> str:
        """List of internal note JSON of a ticket."""
        return f"{self.prefix}:notes:{ticket_id}"

    def canned_replies(self, brand: str) -> str:
        """Hash: canned reply id -> JSON, per brand."""
        return f"{self.prefix}:canned:{brand}"

    def dev_outbox(self, conversation_id: str) -> str:
        """List: messages sent to a dev-channel customer by agents (JSON)."""
        return f"{self.prefix}:outbox:{conversation_id}"

    @property
    def tickets_claimed(self) -> str:
        """Set of ids of tickets an agent owns now."""
        return f"{self.prefix}:claimed"

    # --- Meta ingest (bot/ingest.py) and outbound (bot/meta/)
    # Never ``{prefix}:lock:``: Rasa's lock store uses it.
    def ingest_stream(self, shard: int) -> str:
        """Stream of parsed webhook events for one shard (conversations hashed to shards)."""
        return f"{self.prefix}:ingest:{shard}"

    def ingest_lease(self, shard: int) -> str:
        """String: name of the consumer that owns a shard (expires unless renewed)."""
        return f"{self.prefix}:ingestlease:{shard}"

    @property
    def ingest_consumers(self) -> str:
        """Sorted set: live consumer names by last heartbeat (ms)."""
        return f"{self.prefix}:ingestconsumers"

    @property
    def ingest_dead(self) -> str:
        """Stream of events that failed too often (dead letters)."""
        return f"{self.prefix}:ingestdead"

    def outbox(self, channel: str, message_id: str) -> str:
        """Hash: the replies to one inbound message and how many parts were sent."""
        return f"{self.prefix}:outbox:{channel}:{message_id}"

    def last_inbound(self, conversation_id: str) -> str:
        """String: time (s) of the customer's last message (Meta's 24-hour window)."""
        return f"{self.prefix}:lastin:{conversation_id}"

    def our_send(self, message_id: str) -> str:
        """Marker of a message id returned by our own Send API call (echo detection)."""
        return f"{self.prefix}:oursend:{message_id}"

    def profile(self, channel: str, customer_id: str) -> str:
        """String: cached profile JSON ({} when unavailable)."""
        return f"{self.prefix}:profile:{channel}:{customer_id}"

    def conversation_context(self, conversation_id: str) -> str:
        """List: context items (referrals, story replies and mentions), newest last."""
        return f"{self.prefix}:context:{conversation_id}"

    def conversation_activity(self, conversation_id: str) -> str:
        """List: recorded non-message events (reactions, reads, deliveries), newest last."""
        return f"{self.prefix}:activity:{conversation_id}"

    def deleted_messages(self, conversation_id: str) -> str:
        """Set: message ids the customer unsent."""
        return f"{self.prefix}:deleted:{conversation_id}"

    def send_rate(self, account_id: str, second: int) -> str:
        """Counter of Send API calls of one page in one second."""
        return f"{self.prefix}:sendrate:{account_id}:{second}"

    # --- Rasa's tracker store (connectors/tracker_store.py)
    def tracker_events(self, conversation_id: str) -> str:
        """List: every tracker event of a conversation (JSON), oldest first; the whole history."""
        return f"{self.prefix}:trackerevents:{conversation_id}"

    def tracker_state(self, conversation_id: str) -> str:
        """String: JSON of the conversation's current slots and paused flag (restores a windowed tracker)."""
        return f"{self.prefix}:trackerstate:{conversation_id}"

    def legacy_tracker(self, conversation_id: str) -> str:
        """String: a tracker as Rasa's own RedisTrackerStore kept it (one JSON blob); migrated on first read."""
        return f"{self.prefix}:tracker:{conversation_id}"
