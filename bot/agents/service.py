"""The agent workspace's objects, built once per bot service process."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from redis import Redis
from redis.asyncio import Redis as AsyncRedis

from bot.agents.accounts import AccountStore
from bot.agents.canned import CannedStore
from bot.agents.desk import AgentDesk
from bot.agents.outbound import DevOutbox, OutboundRouter
from bot.agents.sessions import SessionStore
from bot.agents.workflow import AgentWorkflow
from bot.faq.kb import KnowledgeBase
from bot.handoff.hours import SupportHours
from bot.handoff.presence import Presence
from bot.handoff.queue import HandoffStore
from bot.keys import Keys
from bot.messages import Channel
from bot.rasa_client import RasaClient
from bot.settings import ServiceSettings


@dataclass
class AgentServices:
    """Everything the agent routes need."""

    settings: ServiceSettings
    keys: Keys
    redis: AsyncRedis
    accounts: AccountStore
    sessions: SessionStore
    desk: AgentDesk
    workflow: AgentWorkflow
    canned: CannedStore
    outbox: DevOutbox
    outbound: OutboundRouter
    knowledge_base: Callable[[], KnowledgeBase]
    presence: Presence
    hours: SupportHours


def build_agent_services(
    settings: ServiceSettings,
    redis: Redis,
    aredis: AsyncRedis,
    keys: Keys,
    store: HandoffStore,
    rasa: RasaClient,
    knowledge_base: Callable[[], KnowledgeBase],
) -> AgentServices:
    """Wire the workspace; the dev channel's sender is registered here, Meta's by its own module."""
    accounts = AccountStore(redis, keys, settings.max_login_failures)
    desk = AgentDesk(store, redis, keys, accounts, settings.first_response_target_s)
    outbox = DevOutbox(aredis, keys)
    outbound = OutboundRouter({Channel.DEV.value: outbox})
    return AgentServices(
        settings=settings,
        keys=keys,
        redis=aredis,
        accounts=accounts,
        sessions=SessionStore(redis, keys, settings.session_ttl_s),
        desk=desk,
        workflow=AgentWorkflow(desk, outbound, rasa, aredis, keys, settings.reopen_window_s),
        canned=CannedStore(redis, keys),
        outbox=outbox,
        outbound=outbound,
        knowledge_base=knowledge_base,
        presence=Presence(redis, keys, settings.presence_ttl_s, settings.agent_presence),
        hours=SupportHours.parse(settings.support_hours, settings.support_timezone),
    )
