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

    @property
    def faq_changes(self) -> str:
        """Sorted set: ``"<faq version>:<entry id>"`` (``*``: everything) scored by FAQ version, newest kept.

        Lets every process apply only the entries that changed since its index was built.
        """
        return f"{self.prefix}:faq:changes"

    @property
    def faq_entry_versions(self) -> str:
        """Hash: entry id -> the entry's version (kept after a delete, so versions only grow)."""
        return f"{self.prefix}:faq:entryversions"

    @property
    def faq_entry_stamps(self) -> str:
        """Hash: entry id -> JSON {by, at} of the entry's last change."""
        return f"{self.prefix}:faq:entrystamps"

    def faq_history(self, entry_id: str) -> str:
        """List: one JSON change record per entry version (who, when, action, before, after), oldest first."""
        return f"{self.prefix}:faq:history:{entry_id}"

    def embeddings(self, encoder: str) -> str:
        """Hash: sha1(text) -> float32 vector bytes, per encoder."""
        return f"{self.cache_prefix or self.prefix}:emb:{encoder}"

    def query_embedding(self, encoder: str, digest: str) -> str:
        """String with a short TTL: the vector (float32 bytes) of a customer message by sha1(text).

        Put by the NLU featurizer, read by the FAQ search of the same turn (bot/faq/query_vectors.py).
        """
        return f"{self.prefix}:qemb:{encoder}:{digest}"

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

    def brand_queue(self, brand: str) -> str:
        """Sorted set of a brand's waiting ticket ids, ordered by priority then wait."""
        return f"{self.prefix}:queue:{brand}"

    def queue_attrs(self, brand: str) -> str:
        """Hash: waiting ticket id -> JSON of its filter fields (channel, language, team, priority),
        so that the queue is filtered inside Redis (bot/handoff/queue.py)."""
        return f"{self.prefix}:queueattrs:{brand}"

    @property
    def brands(self) -> str:
        """Set of the brands that have had tickets (metrics)."""
        return f"{self.prefix}:brands"

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

    # --- availability, idle auto-close, metrics (bot/handoff/presence.py, bot/agents/idle.py, bot/metrics.py)
    def agent_presence(self, brand: str) -> str:
        """Sorted set: username -> last time (ms) the agent was seen online (open event stream)."""
        return f"{self.prefix}:presence:{brand}"

    def agent_away(self, brand: str) -> str:
        """Set of usernames who marked themselves unavailable."""
        return f"{self.prefix}:away:{brand}"

    @property
    def idle_scan_lock(self) -> str:
        """Lock (with TTL) of the replica scanning for idle tickets."""
        return f"{self.prefix}:idlescan"

    def idle_close_claim(self, ticket_id: str) -> str:
        """Marker (with TTL): a replica is closing this idle ticket."""
        return f"{self.prefix}:idleclose:{ticket_id}"

    def handoff_counts(self, brand: str) -> str:
        """Hash: JSON label set -> number of tickets created (handoffs by reason)."""
        return f"{self.prefix}:metrics:handoffs:{brand}"

    def first_response_histogram(self, brand: str) -> str:
        """Hash: bucket upper bound (or "inf", "sum", "count") -> first-response times."""
        return f"{self.prefix}:metrics:firstresponse:{brand}"

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

    # --- training data editor (bot/trainingdata), retraining and model swaps (bot/retrain)
    def nlu_examples(self, brand: str) -> str:
        """Hash: example id -> TrainingExample JSON (the live training data of a brand)."""
        return f"{self.prefix}:nlu:{brand}:examples"

    def nlu_data_version(self, brand: str) -> str:
        """Integer, incremented on every training-data change of a brand."""
        return f"{self.prefix}:nlu:{brand}:version"

    def nlu_history(self, brand: str, intent: str) -> str:
        """List: change records of one intent (JSON), newest first."""
        return f"{self.prefix}:nlu:{brand}:history:{intent}"

    def nlu_seed_lock(self, brand: str) -> str:
        """Short-lived lock held by the process importing data/nlu."""
        return f"{self.prefix}:nlu:{brand}:seeding"

    @property
    def train_jobs(self) -> str:
        """Hash: training job id -> TrainingJob JSON."""
        return f"{self.prefix}:train:jobs"

    @property
    def train_job_order(self) -> str:
        """Sorted set of job ids by creation time."""
        return f"{self.prefix}:train:order"

    @property
    def train_queue(self) -> str:
        """List of job ids waiting for the trainer (pushed left, popped right)."""
        return f"{self.prefix}:train:queue"

    @property
    def train_lock(self) -> str:
        """String with TTL: the trainer running a job now (one at a time across replicas)."""
        return f"{self.prefix}:train:running"

    @property
    def nlu_models(self) -> str:
        """Hash: model version -> ModelRecord JSON."""
        return f"{self.prefix}:nlu:models"

    @property
    def nlu_active(self) -> str:
        """String: ActiveModel JSON (the version served, the one before it)."""
        return f"{self.prefix}:nlu:active"

    @property
    def rasa_endpoint(self) -> str:
        """String: RasaEndpoint JSON (URL every Rasa client sends to, with its generation)."""
        return f"{self.prefix}:nlu:endpoint"

    @property
    def rasa_clients(self) -> str:
        """Hash: Rasa client id -> ClientReport JSON (generation seen, requests still on older URLs)."""
        return f"{self.prefix}:nlu:clients"

    # --- unanswered questions (bot/unanswered)
    def unanswered_items(self, brand: str) -> str:
        """Hash: item id -> UnansweredItem JSON."""
        return f"{self.prefix}:unanswered:{brand}:items"

    def unanswered_order(self, brand: str) -> str:
        """Sorted set of item ids by time (newest highest)."""
        return f"{self.prefix}:unanswered:{brand}:order"

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
