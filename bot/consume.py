"""``dmdesk consume``: ingest consumers as a separate replica (no HTTP server)."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
from contextlib import suppress

import numpy as np
from redis import Redis
from redis.asyncio import Redis as AsyncRedis

from bot.dispatcher import Dispatcher
from bot.encoders import EncoderError, LazyEncoder, get_encoder
from bot.faq.query_vectors import QueryVectors, sharing_enabled
from bot.handoff.queue import HandoffStore
from bot.handoff.rules import load_escalator
from bot.ingest import Consumer, run_consumers
from bot.keys import Keys
from bot.meta.handler import MetaHandler
from bot.meta.send import SendClient, build_send_client
from bot.nlu.vectors import MessageVectors, featurizer_encoder
from bot.rasa_client import RasaClient
from bot.retrain.endpoint import RasaEndpoints
from bot.retrain.servers import cache_probe_vector
from bot.settings import ServiceSettings

log = logging.getLogger(__name__)


async def wait_for_rasa(rasa: RasaClient, stop: asyncio.Event, period_s: float = 0.25) -> bool:
    """Wait until the Rasa server answers, or ``stop`` is set; False if stopped first.

    Consumers start after this: a message taken while Rasa still loads its model would fail at
    every retry and be dead-lettered (webhooks are stored from the moment the bot service listens).
    """
    waited = False
    while not stop.is_set():
        if await rasa.ready():
            if waited:
                log.info("rasa answers: consuming")
            return True
        if not waited:
            log.info("waiting for the Rasa server before consuming")
            waited = True
        with suppress(asyncio.TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=period_s)
    return False


async def consume_when_ready(consumers: list[Consumer], rasa: RasaClient, stop: asyncio.Event) -> None:
    """Run ``consumers`` until ``stop`` is set, once Rasa answers."""
    if consumers and await wait_for_rasa(rasa, stop):
        await run_consumers(consumers, stop)


def build_rasa_client(cfg: ServiceSettings, aredis: AsyncRedis, keys: Keys) -> RasaClient:
    """The process's Rasa client: pinned to its own server (``DMDESK_RASA_PINNED``, ``DMDESK_RASA_URL``),
    else following the server the NLU supervisor publishes (``rasa.endpoints``; run its watcher)."""
    endpoints = None if cfg.rasa_pinned else RasaEndpoints(aredis, keys, cfg.rasa_url, cfg.rasa_endpoint_refresh_s)
    return RasaClient(cfg.rasa_url, cfg.rasa_timeout_s, cfg.channel_token.get_secret_value(), endpoints)


def build_message_vectors(
    cfg: ServiceSettings, redis: Redis, aredis: AsyncRedis, keys: Keys, in_thread: bool = False
) -> MessageVectors | None:
    """What encodes each message for the Rasa server (``DMDESK_ENCODE_FOR_RASA``), with the encoder of the NLU's
    featurizer in ``config.yml``; also shares the vectors with the FAQ search unless that is off. None: off.
    ``in_thread``: encode off the event loop (the bot service)."""
    spec = featurizer_encoder(cfg.rasa_config) if cfg.encode_for_rasa else None
    if spec is None:
        return None
    try:
        encoder = get_encoder(spec)
    except EncoderError as exc:  # the Rasa server encodes instead
        log.warning("messages go to Rasa without their vectors: %s", exc)
        return None
    if not sharing_enabled():
        return MessageVectors(encoder, in_thread=in_thread)
    shared = QueryVectors(redis, keys)

    async def share(texts: list[str], vectors: np.ndarray) -> None:
        await shared.aput(aredis, encoder.name, texts, vectors)

    return MessageVectors(encoder, share, in_thread=in_thread)


async def load_message_vectors(vectors: MessageVectors | None, redis: Redis, keys: Keys) -> MessageVectors | None:
    """``vectors`` with the encoder's weights loaded (a consumer process does it before its first message, not in
    a customer's turn) and the NLU supervisor's probe vector cached; None if the weights cannot load."""
    if vectors is None or not isinstance(vectors.encoder, LazyEncoder):
        return vectors
    try:
        await asyncio.to_thread(vectors.encoder.load)
    except EncoderError as exc:
        log.warning("messages go to Rasa without their vectors: %s", exc)
        return None
    await asyncio.to_thread(cache_probe_vector, redis, keys, vectors.encoder)
    return vectors


def build_consumers(
    cfg: ServiceSettings,
    aredis: AsyncRedis,
    keys: Keys,
    dispatcher: Dispatcher,
    send: SendClient,
    store: HandoffStore,
    n: int,
) -> list[Consumer]:
    """``n`` consumers of the webhook streams, each handing Meta events to the dispatcher."""
    handler = MetaHandler(aredis, keys, dispatcher, send, store, cfg.meta_app_id, cfg.typing_delay_s)
    return [
        Consumer(
            aredis, keys, cfg.ingest_shards, handler, lease_ms=cfg.ingest_lease_ms, max_attempts=cfg.ingest_max_attempts
        )
        for _ in range(n)
    ]


def run_process(count: int | None = None) -> None:
    """``dmdesk consume``: logging, then :func:`consume` on uvloop where it is installed.

    uvloop comes with uvicorn's standard extra; the bot service (and the consumers inside it when
    ``DMDESK_CONSUMER_PROCESS=false``) already run on it; its event loop costs less CPU per callback
    and per Redis round trip than asyncio's. httpx logs every request at INFO (0.3 to 0.5 ms of CPU
    per line measured here): only its warnings are kept.
    """
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)
    try:
        import uvloop
    except ImportError:  # not installed: asyncio's own loop
        asyncio.run(consume(count))
    else:
        uvloop.run(consume(count))


async def consume(count: int | None = None) -> None:
    """Run ``count`` consumers (default DMDESK_CONSUMERS) until SIGINT or SIGTERM."""
    # the JSON API token is not used by a consumer replica
    cfg = ServiceSettings(api_token=os.environ.get("DMDESK_API_TOKEN", "unused"))  # type: ignore[arg-type]
    keys = Keys(cfg.redis_prefix, cfg.embedding_cache_prefix)  # the cache prefix: the probe vector (below)
    aredis = AsyncRedis.from_url(cfg.redis_url)
    sredis = Redis.from_url(cfg.redis_url)
    rasa = build_rasa_client(cfg, aredis, keys)
    store = HandoffStore(sredis, keys, cfg.brand)
    send = build_send_client(cfg, aredis, keys)
    vectors = await load_message_vectors(build_message_vectors(cfg, sredis, aredis, keys), sredis, keys)
    dispatcher = Dispatcher(aredis, keys, rasa, store, load_escalator(cfg.escalation_file), vectors)
    n = count if count is not None else max(1, cfg.consumers)
    consumers = build_consumers(cfg, aredis, keys, dispatcher, send, store, n)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    print(f"dmdesk consume: {n} consumers on prefix {cfg.redis_prefix}", flush=True)
    watching = asyncio.create_task(rasa.endpoints.run(stop)) if rasa.endpoints is not None else None
    try:
        await consume_when_ready(consumers, rasa, stop)
    finally:
        stop.set()
        if vectors is not None:
            done = vectors.batcher
            log.info("message vectors: %d texts encoded in %d batches", done.texts, done.batches)
        if watching is not None:
            await watching
        await send.close()
        await rasa.close()
        await aredis.aclose()
        sredis.close()
