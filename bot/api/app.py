"""FastAPI application factory for the bot service."""

from __future__ import annotations

import asyncio
import gc
import logging
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from urllib.parse import urlencode

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse
from redis import Redis
from redis.asyncio import Redis as AsyncRedis
from redis.exceptions import RedisError

import bot
from bot import runtime
from bot.agents.errors import AuthenticationError, ConflictError, PermissionDeniedError, TooManyAttemptsError
from bot.agents.idle import IdleCloser
from bot.agents.service import build_agent_services
from bot.api.deps import Services
from bot.api.routers import (
    agent_auth,
    agent_availability,
    agent_canned,
    agent_dev,
    agent_events,
    agent_tickets,
    dev,
    handoffs,
    health,
    metrics,
    staff_faq_entries,
    staff_faq_tools,
    training_data,
    training_jobs,
    unanswered,
    web_auth,
    web_console,
    web_faq,
    web_training,
    webhooks,
)
from bot.api.training_deps import build_training_services
from bot.api.web_deps import LoginRequired, PageForbidden
from bot.consume import (
    build_consumers,
    build_message_vectors,
    build_rasa_client,
    consume_when_ready,
    wait_for_rasa,
)
from bot.dispatcher import Dispatcher
from bot.errors import DmdeskError, FaqConflictError, InvalidInputError, NotFoundError, UpstreamError
from bot.faq.editor import FaqEditor
from bot.handoff.queue import HandoffStore
from bot.handoff.rules import load_escalator, rule_summary
from bot.ingest import Ingest
from bot.keys import Keys
from bot.messages import Channel
from bot.meta.agent_sender import MetaAgentSender
from bot.meta.send import build_send_client
from bot.metrics import WorkspaceCollector
from bot.rasa_client import RasaClient
from bot.settings import ServiceSettings
from bot.web import render

log = logging.getLogger(__name__)

_STATUS: dict[type[DmdeskError], int] = {
    NotFoundError: 404,
    InvalidInputError: 422,
    UpstreamError: 502,
    FaqConflictError: 409,
}
_STATUS.update(  # agent workspace
    {AuthenticationError: 401, PermissionDeniedError: 403, ConflictError: 409, TooManyAttemptsError: 429}
)


def _warm_knowledge_base(freeze: bool = False) -> None:
    """Build this process's knowledge base at start, so its FAQ listener runs from then on (and Try it is fast)."""
    try:
        runtime.knowledge_base()
    except (OSError, DmdeskError, RedisError) as exc:  # the first request that needs it raises again
        log.warning("faq knowledge base not built at start", extra={"error": str(exc)})
        return
    if freeze:
        gc.freeze()  # the knowledge base's objects too (see _freeze_startup_objects)


async def _finish(task: asyncio.Task[None], timeout_s: float) -> None:
    """Let a background task end after ``stop`` was set; cancel it if it takes longer than ``timeout_s``."""
    try:
        await asyncio.wait_for(task, timeout=timeout_s)
    except asyncio.TimeoutError:
        task.cancel()


def _freeze_startup_objects(settings: ServiceSettings) -> None:
    """Move every object alive after start-up out of the garbage collector's sight (``gc.freeze``).

    The service holds about 166,000 long-lived objects (FastAPI, pydantic, the routers); a full
    collection walks all of them: 300 to 1,200 ms on this busy 2-core machine, during which the
    event loop acknowledges no webhook. Frozen, a collection walks only what was allocated since.
    They live as long as the process anyway. DMDESK_GC_FREEZE=false turns it off.
    """
    if settings.gc_freeze:
        gc.collect()
        gc.freeze()


async def _warm_when_rasa_serves(rasa: RasaClient, stop: asyncio.Event, freeze: bool, settle_s: float = 20.0) -> None:
    """Build the knowledge base in a thread once Rasa serves.

    Not at once: while the stack starts, the encoder and the index (about 4 CPU seconds) would compete
    with the Rasa server's start and its first turn (the supervisor's probe, which loads Rasa's own
    encoder), which the first answer waits for. So: once Rasa answers and the NLU supervisor has
    published it (after its probe), or ``settle_s`` after Rasa answers without a supervisor. The
    first request that needs the knowledge base before then builds it itself.
    """
    if not await wait_for_rasa(rasa, stop):
        return
    deadline = asyncio.get_running_loop().time() + settle_s
    endpoints = rasa.endpoints
    while endpoints is not None and endpoints.generation == 0 and asyncio.get_running_loop().time() < deadline:
        with suppress(asyncio.TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=endpoints.refresh_s)
        if stop.is_set():
            return
    threading.Thread(target=_warm_knowledge_base, args=(freeze,), name="faq-warmup", daemon=True).start()


async def _release_idle_models(settings: ServiceSettings, stop: asyncio.Event) -> None:
    """Drop the encoder's weights and the language detector's models (about 120 and 110 MiB) when unused.

    The knowledge base of this process builds its index from the Redis cache and so loads no weights
    (bot/encoders/base.py); staff and agents' tools load them on their first text (a second or two),
    and this lets them go again ``models_idle_s`` after those tools rest.
    """
    idle_s = settings.models_idle_s
    while not stop.is_set():
        with suppress(asyncio.TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=max(1.0, min(60.0, idle_s / 4)))
        if not stop.is_set():
            await asyncio.to_thread(runtime.release_idle_models, settings, idle_s)


def create_app(settings: ServiceSettings | None = None) -> FastAPI:
    """Build the app; connections are opened in the lifespan, not at import."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        cfg = settings or ServiceSettings()  # type: ignore[call-arg]  # api_token from the environment
        keys = Keys(cfg.redis_prefix)
        aredis = AsyncRedis.from_url(cfg.redis_url)
        sredis = Redis.from_url(cfg.redis_url)
        rasa = build_rasa_client(cfg, aredis, keys)
        store = HandoffStore(sredis, keys, cfg.brand)
        escalator = load_escalator(cfg.escalation_file)  # a bad rules file stops the service here, with the reason
        for line in rule_summary(escalator.rules):
            log.info("escalation rule %s", line)
        moved = await asyncio.to_thread(store.migrate_legacy_queue)
        if moved:
            log.info("moved %d waiting tickets into their brand's queue", moved)
        # in a worker thread: the weights load on the first message (the dev endpoint, consumers in this process)
        # and encoding would otherwise hold up the loop that acknowledges webhooks
        vectors = build_message_vectors(cfg, sredis, aredis, keys, in_thread=True)
        dispatcher = Dispatcher(aredis, keys, rasa, store, escalator, vectors)
        ingest = Ingest(aredis, keys, cfg.ingest_shards)
        send = build_send_client(cfg, aredis, keys)
        agents = build_agent_services(cfg, sredis, aredis, keys, store, rasa, runtime.knowledge_base)
        for channel in (Channel.MESSENGER, Channel.INSTAGRAM):
            agents.outbound.register(channel.value, MetaAgentSender(send, channel))
        collector = WorkspaceCollector(sredis, keys, store, agents.presence)
        faq = FaqEditor(sredis, keys, cfg.brand, runtime.knowledge_base, cfg.faq_near_duplicate)
        stop = asyncio.Event()
        if settings is None:  # the service proper (its knowledge base follows the environment's settings)
            warming: asyncio.Task[None] | None = asyncio.create_task(_warm_when_rasa_serves(rasa, stop, cfg.gc_freeze))
        else:
            warming = None
        releasing = (
            asyncio.create_task(_release_idle_models(cfg, stop)) if settings is None and cfg.models_idle_s else None
        )
        app.state.services = Services(
            cfg, dispatcher, store, rasa, agents=agents, ingest=ingest, send=send, metrics=collector, faq=faq
        )
        app.state.training = build_training_services(cfg, sredis, keys, faq)
        consumers = build_consumers(cfg, aredis, keys, dispatcher, send, store, cfg.consumers)
        running = asyncio.create_task(consume_when_ready(consumers, rasa, stop))
        if cfg.idle_close_s > 0:
            closer = IdleCloser(agents.workflow, aredis, keys, cfg.idle_close_s, cfg.idle_scan_s)
            idle_task: asyncio.Task[None] | None = asyncio.create_task(closer.run(stop))
        else:
            idle_task = None
        watching = asyncio.create_task(rasa.endpoints.run(stop)) if rasa.endpoints is not None else None
        if settings is None:  # the service proper, not an app built in a test process
            _freeze_startup_objects(cfg)
        try:
            yield
        finally:
            stop.set()
            for task in (running, idle_task):
                if task is not None:
                    await _finish(task, timeout_s=10)
            if watching is not None:
                await watching
            for background in (warming, releasing):
                if background is not None:
                    await background
            await send.close()
            await rasa.close()
            await aredis.aclose()
            sredis.close()

    app = FastAPI(
        title="dmdesk bot service",
        version=bot.__version__,
        description=(
            "Customer-service bot for Messenger and Instagram DMs: Meta webhooks, dev chat endpoint, handoff queue."
        ),
        lifespan=lifespan,
    )

    @app.exception_handler(DmdeskError)
    async def _dmdesk_error(request: Request, exc: DmdeskError) -> JSONResponse:
        code = next((c for t, c in _STATUS.items() if isinstance(exc, t)), 500)
        log.warning("request failed", extra={"path": request.url.path, "error": str(exc), "status": code})
        return JSONResponse(status_code=code, content={"detail": str(exc), **exc.response_fields()})

    @app.exception_handler(LoginRequired)
    async def _login_required(request: Request, exc: LoginRequired) -> RedirectResponse:
        return RedirectResponse(f"/login?{urlencode({'next': exc.next_path})}", status_code=303)

    @app.exception_handler(PageForbidden)
    async def _page_forbidden(request: Request, exc: PageForbidden) -> HTMLResponse:
        log.warning("page forbidden", extra={"path": request.url.path, "role": exc.account.role.value})
        message = f"This page needs the {exc.needed.value} role; your account is {exc.account.role.value}."
        return render(request, "error.html", exc.account, 403, heading="Not allowed", message=message)

    app.include_router(health.router)
    app.include_router(dev.router)
    app.include_router(handoffs.router)
    app.include_router(webhooks.router)
    app.include_router(metrics.router)
    for router in (
        agent_auth,
        agent_tickets,
        agent_availability,
        agent_canned,
        agent_events,
        agent_dev,
        staff_faq_entries,
        staff_faq_tools,
        training_data,
        training_jobs,
        unanswered,
        web_auth,  # pages (bot/web): one line per page router
        web_console,
        web_faq,
        web_training,
    ):
        app.include_router(router.router)
    return app
