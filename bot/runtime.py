"""Lazy, cached providers of the heavy objects a process needs.

Nothing here runs at import time; the first call creates the object.
"""

from __future__ import annotations

from functools import lru_cache

from redis import Redis

from bot.encoders import get_encoder
from bot.faq.kb import KnowledgeBase, Thresholds
from bot.handoff.hours import SupportHours
from bot.handoff.queue import HandoffStore
from bot.keys import Keys
from bot.settings import CoreSettings, core_settings


def thresholds(settings: CoreSettings) -> Thresholds:
    """Retrieval thresholds from settings."""
    return Thresholds(
        answer=settings.answer_threshold,
        clarify=settings.clarify_threshold,
        margin=settings.answer_margin,
        window=settings.clarify_window,
        strict=settings.strict_threshold,
    )


def build_knowledge_base(settings: CoreSettings, redis: Redis) -> KnowledgeBase:
    """A knowledge base seeded from the FAQ file when Redis has none, index built."""
    kb = KnowledgeBase(redis, Keys(settings.redis_prefix), get_encoder(settings.encoder), thresholds(settings))
    kb.seed_from_file(settings.faq_file)
    kb.refresh()
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
    return HandoffStore(redis_client(), Keys(core_settings().redis_prefix))


@lru_cache(maxsize=1)
def support_hours() -> SupportHours:
    """Support hours from settings."""
    s = core_settings()
    return SupportHours.parse(s.support_hours, s.support_timezone)
