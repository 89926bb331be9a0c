"""Lazy, cached providers of the heavy objects a process needs.

Nothing here runs at import time; the first call creates the object.
"""

from __future__ import annotations

from functools import lru_cache

from redis import Redis

from bot.encoders import Encoder, LazyEncoder, get_encoder
from bot.encoders.base import return_freed_memory
from bot.faq.index import IndexWeights
from bot.faq.kb import KnowledgeBase, Thresholds
from bot.faq.verifier import Verifier
from bot.handoff.hours import SupportHours
from bot.handoff.presence import Presence
from bot.handoff.queue import HandoffStore
from bot.handoff.rules import Escalator, load_escalator
from bot.keys import Keys
from bot.language import release_detector_if_idle
from bot.settings import CoreSettings, core_settings
from bot.unanswered.store import UnansweredStore


def thresholds(settings: CoreSettings) -> Thresholds:
    """Retrieval thresholds from settings."""
    return Thresholds(
        answer=settings.answer_threshold,
        clarify=settings.clarify_threshold,
        window=settings.clarify_window,
        strict=settings.strict_threshold,
        not_covered=settings.not_covered_margin,
    )


def index_config(settings: CoreSettings) -> tuple[list[Encoder], IndexWeights]:
    """The encoders and component weights of the FAQ index."""
    encoders = [get_encoder(spec) for spec in settings.encoders]
    return encoders, IndexWeights(dense={e.name: 1.0 for e in encoders}, lexical=settings.lexical_weight)


def load_encoders(settings: CoreSettings) -> None:
    """Load the weights of the FAQ index's encoders now, not at the first text to encode.

    For a process that encodes in a customer's turn (the action server: a query the NLU's shared
    vector does not cover, such as a text that normalisation changed), where loading them (about
    1 CPU second for USE) must not be what a customer waits for.

    Raises:
        EncoderError: An encoder cannot load.
    """
    for spec in settings.encoders:
        encoder = get_encoder(spec)
        if isinstance(encoder, LazyEncoder):
            encoder.load()


def release_idle_models(settings: CoreSettings, idle_s: float) -> list[str]:
    """Drop the models unused for ``idle_s`` seconds: the FAQ index's encoders' weights, the language detector's.

    Returns:
        What was released: encoder names, ``language-detector`` (each loads again on its next use).
    """
    released = []
    for spec in settings.encoders:
        encoder = get_encoder(spec)
        if isinstance(encoder, LazyEncoder) and encoder.release_if_idle(idle_s):
            released.append(encoder.name)
    if release_detector_if_idle(idle_s):
        released.append("language-detector")
    if released:
        return_freed_memory()
    return released


def build_knowledge_base(settings: CoreSettings, redis: Redis) -> KnowledgeBase:
    """A knowledge base seeded from the FAQ file when Redis has none, index built, listening for edits.

    Raises:
        FileNotFoundError: No verifier file (``make train`` writes it).
    """
    encoders, weights = index_config(settings)
    verifier = Verifier.load(settings.verifier_file)
    keys = Keys(settings.redis_prefix, settings.embedding_cache_prefix)
    kb = KnowledgeBase(redis, keys, encoders, weights, verifier, thresholds(settings))
    kb.seed_from_file(settings.faq_file)
    kb.refresh()
    kb.listen()
    return kb


@lru_cache(maxsize=1)
def redis_client() -> Redis:
    """The process's Redis connection pool."""
    return Redis.from_url(core_settings().redis_url, health_check_interval=30)


@lru_cache(maxsize=1)
def knowledge_base() -> KnowledgeBase:
    """The process's knowledge base."""
    return build_knowledge_base(core_settings(), redis_client())


@lru_cache(maxsize=1)
def handoff_store() -> HandoffStore:
    """The process's ticket store."""
    return HandoffStore(redis_client(), Keys(core_settings().redis_prefix), core_settings().brand)


@lru_cache(maxsize=1)
def unanswered_store() -> UnansweredStore:
    """The process's store of unanswered messages."""
    s = core_settings()
    return UnansweredStore(redis_client(), Keys(s.redis_prefix), s.unanswered_kept)


@lru_cache(maxsize=1)
def support_hours() -> SupportHours:
    """Support hours from settings."""
    s = core_settings()
    return SupportHours.parse(s.support_hours, s.support_timezone)


@lru_cache(maxsize=1)
def escalator() -> Escalator:
    """The escalation rules of ``DMDESK_ESCALATION_FILE``, compiled.

    Raises:
        EscalationConfigError: The file is missing or not valid.
    """
    return load_escalator(core_settings().escalation_file)


@lru_cache(maxsize=1)
def presence() -> Presence:
    """Who of the brand's agents is online."""
    s = core_settings()
    return Presence(redis_client(), Keys(s.redis_prefix), s.presence_ttl_s, s.agent_presence)
