"""A conversation's Meta context on a real Redis: each event's items once, however often it is handled."""

from __future__ import annotations

from redis.asyncio import Redis as AsyncRedis

from bot import simulate as sim
from bot.keys import Keys
from bot.meta.context import CONTEXT_KEEP, CONTEXT_SHOWN, ConversationContext, context_items
from connectors.meta.events import EventKind, MetaEvent, parse_delivery

IG = sim.DEMO_INSTAGRAM


def one(event: dict) -> MetaEvent:  # type: ignore[type-arg]
    [parsed] = parse_delivery(sim.delivery("instagram", IG, [event]))
    return parsed


async def test_an_event_handled_again_adds_its_context_once(aredis: AsyncRedis, keys: Keys) -> None:
    contexts = ConversationContext(aredis, keys)
    reply = one(sim.story_reply("c-ctx-1", IG, "is this blend back?"))
    for _ in range(3):  # its entry retried after a failure further on (Rasa down, a send failed)
        await contexts.add(reply)
    recent = await contexts.recent(reply.conversation_id)
    assert [(i["type"], i["mid"]) for i in recent] == [("story_reply", reply.mid)]
    mention = one(sim.story_mention("c-ctx-1", IG))
    assert mention.kind == EventKind.STORY_MENTION and context_items(mention)
    await contexts.add(mention)
    await contexts.add(reply)
    recent = await contexts.recent(reply.conversation_id)
    assert [(i["type"], i["mid"]) for i in recent] == [("story_reply", reply.mid), ("story_mention", mention.mid)]
    assert await aredis.ttl(keys.conversation_context(reply.conversation_id)) > 0


async def test_the_context_keeps_the_latest_items_and_shows_the_last_few(aredis: AsyncRedis, keys: Keys) -> None:
    contexts = ConversationContext(aredis, keys)
    replies = [one(sim.story_reply("c-ctx-2", IG, f"question {i}")) for i in range(CONTEXT_KEEP + 3)]
    for reply in replies:
        await contexts.add(reply)
    conversation = replies[0].conversation_id
    assert await aredis.llen(keys.conversation_context(conversation)) == CONTEXT_KEEP
    recent = await contexts.recent(conversation)
    assert [i["mid"] for i in recent] == [r.mid for r in replies[-CONTEXT_SHOWN:]]
    assert context_items(one(sim.text("c-ctx-2", IG, "plain text"))) == []
