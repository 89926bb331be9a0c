"""Process settings, read from the environment (pydantic-settings).

``CoreSettings`` is what every dmdesk process needs (the action server uses
it as is); ``ServiceSettings`` adds what the bot service needs.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

ROOT = Path(__file__).resolve().parent.parent


class CoreSettings(BaseSettings):
    """Settings shared by every dmdesk process."""

    model_config = SettingsConfigDict(env_prefix="DMDESK_", extra="ignore")

    redis_url: str = Field(
        default="redis://127.0.0.1:6379/0",
        validation_alias=AliasChoices("REDIS_URL", "DMDESK_REDIS_URL"),
        description="Redis holding FAQ, tickets, locks and dedupe keys.",
    )
    redis_prefix: str = Field(
        default="dmdesk", pattern=r"^[A-Za-z0-9]{1,40}$", description="Alphanumeric (Rasa's stores require it)."
    )
    embedding_cache_prefix: str = Field(
        default="", pattern=r"^[A-Za-z0-9]{0,40}$", description="Shared embedding cache prefix (default: redis_prefix)."
    )
    faq_file: Path = ROOT / "data" / "faq.yml"
    # FAQ retrieval: dense encoders (the first is also the NLU featurizer's in
    # config.yml) plus character n-grams with this weight; see bot/faq/index.py.
    encoders: list[str] = ["use-multilingual"]
    lexical_weight: float = 0.5
    verifier_file: Path = ROOT / ".build" / "verifier.json"
    # Decision thresholds, calibrated on eval/dev.yml (README, "Evaluation"):
    # verifier probabilities, and the choice window in combined z-score units.
    answer_threshold: float = 0.4
    clarify_threshold: float = 0.2
    clarify_window: float = 0.5
    strict_threshold: float = 0.6
    not_covered_margin: float = Field(
        default=0.05,
        ge=-1.0,
        le=2.0,
        description="No FAQ answer when a message's cosine to the nearest of the FAQ's not-covered questions "
        "exceeds its cosine to the top entry's best text by more than this (chosen on eval/dev.yml).",
    )
    # Escalation
    max_failed_answers: int = 2
    transcript_events: int = Field(
        default=1000,
        ge=0,
        le=20000,
        description="Stored tracker events (the full history in Redis) read for a handoff ticket's transcript, "
        "besides the window Rasa loads; 0: the window only.",
    )
    support_timezone: str = "Asia/Jakarta"
    support_hours: str = "mon-fri 09:00-18:00; sat 09:00-14:00"
    expected_wait_minutes: int = 10
    escalation_file: Path = Field(
        default=ROOT / "config" / "escalation.yml", description="Escalation rules (priorities, teams, keywords, VIPs)."
    )
    # Availability (bot/handoff/presence.py): "auto" counts online agents when the brand has accounts
    agent_presence: Literal["auto", "on", "off"] = "auto"
    presence_ttl_s: int = Field(default=45, ge=5, description="An agent is online this long after last seen.")
    away_wait_minutes: int = Field(default=60, ge=1, description="Told to customers when no agent is online.")
    # Agent workspace: the brand this deployment's tickets belong to
    brand: str = Field(default="kopiku", pattern=r"^[a-z0-9][a-z0-9_-]{0,39}$", description="Brand slug of tickets.")
    # Training data editor (bot/trainingdata) and unanswered questions (bot/unanswered)
    nlu_dir: Path = ROOT / "data" / "nlu"
    nlu_min_examples: int = Field(default=5, ge=1, description="Fewest examples an intent may keep.")
    unanswered_similarity: float = Field(default=0.5, gt=0, le=1, description="Cosine to join a group.")
    unanswered_kept: int = Field(default=5000, ge=10, description="Newest unanswered messages kept per brand.")


class NluSettings(CoreSettings):
    """Settings of the NLU supervisor (``dmdesk nlu``): Rasa servers, retraining, swaps."""

    rasa_port: int = Field(default=5005, description="Port of the Rasa server started first.")
    rasa_alt_port: int = Field(default=5006, description="Port of the next Rasa server during a swap.")
    rasa_endpoints_file: Path = ROOT / "endpoints.yml"
    rasa_credentials: str = "credentials.yml"
    rasa_api: bool = Field(default=False, description="Start Rasa with --enable-api (calibration only).")
    nlu_nice: int = Field(default=5, ge=0, le=19, description="Niceness of Rasa servers and trainings.")
    nlu_start_nice: int = Field(
        default=0, ge=0, le=19, description="Niceness of the first Rasa server until it serves (then nlu_nice)."
    )
    channel_token: SecretStr = Field(default=SecretStr(""), description="Shared with Rasa's dmdesk channel.")
    models_dir: Path = ROOT / "models"
    base_model: Path = Field(default=ROOT / "models" / "dmdesk.tar.gz", description="What `make train` writes.")
    rasa_config: Path = ROOT / "config.yml"
    train_timeout_s: float = Field(default=1800, gt=0, description="A training taking longer fails.")
    rasa_start_timeout_s: float = Field(default=240, gt=0, description="A new Rasa server must answer by then.")
    swap_drain_timeout_s: float = Field(default=45, gt=0, description="Longest wait for requests to the old server.")
    log_dir: Path = ROOT / ".cache" / "logs"


class ServiceSettings(CoreSettings):
    """Settings of the bot service (FastAPI)."""

    rasa_url: str = Field(default="http://127.0.0.1:5005", description="Rasa until the NLU supervisor publishes one.")
    gc_freeze: bool = Field(
        default=True, description="Exempt the objects alive after start-up from garbage collection (gc.freeze)."
    )
    rasa_pinned: bool = Field(
        default=False,
        description=(
            "Send to DMDESK_RASA_URL only, not to the Rasa server the NLU supervisor publishes: a replica "
            "(bot service or consumers) paired with a Rasa server of its own, which model swaps do not reach."
        ),
    )
    rasa_endpoint_refresh_s: float = Field(default=0.25, gt=0, le=5, description="How often the Rasa URL is read.")
    rasa_timeout_s: float = 30.0
    encode_for_rasa: bool = Field(
        default=True,
        description=(
            "Encode each customer message here (in batches of the messages in flight) and send the vector "
            "with it, so the Rasa server (the serial step) does not encode it (bot/nlu/vectors.py)."
        ),
    )
    rasa_config: Path = Field(
        default=ROOT / "config.yml", description="Rasa's config.yml: its featurizer's encoder is the one used here."
    )
    channel_token: SecretStr = Field(default=SecretStr(""), description="Shared with Rasa's dmdesk channel.")
    api_token: SecretStr = Field(description="Bearer token for the agent/staff JSON API.")
    max_message_chars: int = 5000
    enable_dev_endpoint: bool = True
    # Agent workspace (bot/agents)
    first_response_target_s: int = Field(default=300, ge=1, description="Queue: first agent reply due after.")
    session_ttl_s: int = Field(default=12 * 3600, ge=60, description="Agent session lifetime.")
    reopen_window_s: int = Field(default=600, ge=0, description="A customer writing within this after resolve reopens.")
    max_login_failures: int = Field(default=10, ge=1, description="Failed logins per account per 15 min.")
    idle_close_s: int = Field(
        default=0, ge=0, description="Close tickets idle this long after an agent's reply (0: never)."
    )
    idle_scan_s: float = Field(default=30.0, gt=0, description="How often the bot service looks for idle tickets.")
    metrics_token: SecretStr | None = Field(
        default=None, description="Bearer token of GET /metrics (default: api_token)."
    )
    models_idle_s: float = Field(
        default=900,
        ge=0,
        description=(
            "Drop the FAQ encoder's weights and the language detector's models after this long unused (0: never). "
            "The bot service uses them only for staff and agents (Try it, editor checks, the unanswered inbox, "
            "suggestions, training examples); they load again on use."
        ),
    )
    # FAQ editor (bot/faq/editor.py, bot/faq/checks.py)
    faq_near_duplicate: float = Field(
        default=0.95,
        gt=0,
        le=1,
        description="Cosine from which two phrasings of different entries are near duplicates.",
    )
    # Meta webhooks (connectors/meta, bot/ingest.py) and the Send API (bot/meta/send.py)
    meta_app_secret: SecretStr | None = Field(
        default=None,
        validation_alias=AliasChoices("META_APP_SECRET", "DMDESK_META_APP_SECRET"),
        description="Signs webhooks (X-Hub-Signature-256); without it every webhook POST is refused.",
    )
    meta_verify_token: SecretStr | None = Field(
        default=None,
        validation_alias=AliasChoices("META_VERIFY_TOKEN", "DMDESK_META_VERIFY_TOKEN"),
        description="Answered back to Meta's subscription check (GET hub.verify_token).",
    )
    meta_app_id: str = Field(
        default="", validation_alias=AliasChoices("META_APP_ID", "DMDESK_META_APP_ID"), description="Our app's id."
    )
    meta_graph_url: str = Field(
        default="https://graph.facebook.com/v21.0",
        validation_alias=AliasChoices("META_GRAPH_URL", "DMDESK_META_GRAPH_URL"),
        description="Graph API base URL; point it at `dmdesk fake-graph` for tests and demos.",
    )
    meta_pages_file: Path = Field(
        default=ROOT / "config" / "meta_pages.yml",
        validation_alias=AliasChoices("META_PAGES_FILE", "DMDESK_META_PAGES_FILE"),
        description="Page / Instagram account id -> access token source and brand.",
    )
    webhook_max_bytes: int = 1_000_000
    #: consumer tasks inside the bot service (0: run them as `dmdesk consume` replicas only)
    consumers: int = 4
    ingest_shards: int = 16
    ingest_lease_ms: int = 15_000
    ingest_max_attempts: int = 8
    send_timeout_s: float = 10.0
    send_max_attempts: int = 8
    send_rate_per_s: int = 50
    typing_delay_s: float = Field(
        default=1.0,
        ge=0,
        le=20,
        description="Send mark_seen and typing_on only if the answer is not ready by then (0: at once, every time).",
    )


@lru_cache(maxsize=1)
def core_settings() -> CoreSettings:
    """Cached settings for processes that only need the core."""
    return CoreSettings()
