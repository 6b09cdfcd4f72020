"""The backend's HTTP routes (docs/backend-api.md); thin over the repository.

Each handler parses, calls one repository function in a worker thread (the
database driver blocks), and renders the record. Errors are raised, and
:mod:`backend.middleware` turns them into error bodies.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import TypeVar

from aiohttp import web
from aiohttp.typedefs import Handler
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from backend import (
    assist,
    consents,
    handoff_store,
    handoffs,
    lifecycle,
    metrics,
    repository,
    review,
    service_hours,
    tickets,
)
from backend.auth import TokenTable, agent_name, check_route
from backend.errors import DatabaseUnavailableError
from backend.middleware import (
    CALLER,
    METRICS_TOKEN,
    REQUEST_ID,
    TOKENS,
    json_response,
    request_context,
    require_token,
    route_template,
)
from backend.validation import (
    parse_application_no,
    parse_consent,
    parse_consent_id,
    parse_id_number,
    parse_idempotency_key,
    parse_item_id,
    parse_json_object,
    parse_status_change,
    parse_submission,
)
from bot.settings import Settings

logger = logging.getLogger(__name__)

OPENAPI_PATH = Path(__file__).resolve().parent / "openapi.yaml"
# An application with 50 items and long answers stays well under this.
MAX_BODY_BYTES = 64 * 1024

ENGINE = web.AppKey("engine", Engine)
OPENAPI = web.AppKey("openapi", bytes)
SERVICE_HOURS = web.AppKey("service_hours", service_hours.ServiceHours)
UNMASKED_AGENTS = web.AppKey("unmasked_agents", frozenset)

T = TypeVar("T")


async def in_session(app: web.Application, work: Callable[[Session], T]) -> T:
    """Run ``work`` with a fresh session in a worker thread.

    Raises:
        DatabaseUnavailableError: the database cannot be reached or stays locked.
    """

    def run() -> T:
        with Session(app[ENGINE], future=True) as session:
            return work(session)

    try:
        return await asyncio.to_thread(run)
    except OperationalError as exc:
        raise DatabaseUnavailableError() from exc


def _caller(request: web.Request) -> repository.Caller:
    return repository.Caller(name=request[CALLER], request_id=request[REQUEST_ID])


async def health(request: web.Request) -> web.Response:
    await in_session(request.app, lambda session: session.execute(text("SELECT 1")))
    dialect = request.app[ENGINE].dialect.name
    return json_response({"status": "ok", "database": dialect})


async def openapi(request: web.Request) -> web.Response:
    return web.Response(body=request.app[OPENAPI], content_type="application/yaml")


async def create_consent(request: web.Request) -> web.Response:
    key = parse_idempotency_key(request.headers.get("Idempotency-Key"))
    submission = parse_consent(parse_json_object(await request.read()))

    work = partial(
        consents.record_consent,
        submission=submission,
        idempotency_key=key,
        caller=_caller(request),
    )
    result = await in_session(request.app, work)

    logger.info(
        "backend.consent.recorded" if result.created else "backend.consent.replayed",
        extra={
            "fields": len(result.consent.fields),
            "scenario_id": result.consent.scenario_id,
            "request_id": request[REQUEST_ID],
        },
    )
    return json_response(
        result.consent.to_json(), status=201 if result.created else 200
    )


async def get_profile(request: web.Request) -> web.Response:
    id_number = parse_id_number(request.match_info["id_number"])
    consent_id = parse_consent_id(request.query.get("consent_id"))

    work = partial(
        consents.release_profile,
        id_number=id_number,
        consent_id=consent_id,
        caller=_caller(request),
    )
    profile, consent = await in_session(request.app, work)

    metrics.count_profile_read()
    return json_response(profile.to_json(consent))


async def create_application(request: web.Request) -> web.Response:
    key = parse_idempotency_key(request.headers.get("Idempotency-Key"))
    submission = parse_submission(parse_json_object(await request.read()))

    work = partial(
        repository.submit_application,
        submission=submission,
        idempotency_key=key,
        caller=_caller(request),
    )
    result = await in_session(request.app, work)

    application = result.application
    metrics.count_application(result.created)
    logger.info(
        "backend.application.created"
        if result.created
        else "backend.application.replayed",
        extra={
            "application_no": application.application_no,
            "scenario_id": application.scenario_id,
            "items": len(application.items),
            "request_id": request[REQUEST_ID],
        },
    )
    return json_response(application.to_json(), status=201 if result.created else 200)


async def get_application(request: web.Request) -> web.Response:
    application_no = parse_application_no(request.match_info["application_no"])

    work = partial(
        repository.get_application,
        application_no=application_no,
        caller=_caller(request),
    )
    application = await in_session(request.app, work)

    return json_response(application.to_json())


async def cancel_application(request: web.Request) -> web.Response:
    application_no = parse_application_no(request.match_info["application_no"])

    work = partial(
        lifecycle.cancel_application,
        application_no=application_no,
        caller=_caller(request),
    )
    application = await in_session(request.app, work)

    return json_response(application.to_json())


async def set_item_status(request: web.Request) -> web.Response:
    application_no = parse_application_no(request.match_info["application_no"])
    item_id = parse_item_id(request.match_info["item_id"])
    change = parse_status_change(parse_json_object(await request.read()))

    work = partial(
        lifecycle.set_item_status,
        application_no=application_no,
        item_id=item_id,
        change=change,
        caller=_caller(request),
    )
    application = await in_session(request.app, work)

    return json_response(application.to_json())


async def create_ticket(request: web.Request) -> web.Response:
    key = parse_idempotency_key(request.headers.get("Idempotency-Key"))
    submission = tickets.parse_ticket(parse_json_object(await request.read()))

    work = partial(
        tickets.create_ticket,
        submission=submission,
        idempotency_key=key,
        caller=_caller(request),
    )
    result = await in_session(request.app, work)

    logger.info(
        "backend.ticket.created" if result.created else "backend.ticket.replayed",
        extra={
            "ticket_no": result.ticket.ticket_no,
            "kind": result.ticket.kind,
            "topic": result.ticket.topic,
            "request_id": request[REQUEST_ID],
        },
    )
    return json_response(result.ticket.to_json(), status=201 if result.created else 200)


async def get_ticket(request: web.Request) -> web.Response:
    ticket_no = tickets.parse_ticket_no(request.match_info["ticket_no"])

    work = partial(tickets.get_ticket, ticket_no=ticket_no, caller=_caller(request))
    ticket = await in_session(request.app, work)

    return json_response(ticket.to_json())


async def create_review_record(request: web.Request) -> web.Response:
    submission = review.parse_review_record(parse_json_object(await request.read()))

    work = partial(review.record_review, submission=submission, caller=_caller(request))
    entry = await in_session(request.app, work)

    logger.info(
        "backend.review.recorded",
        extra={
            "kind": entry.kind,
            "channel": entry.channel,
            "matches": len(entry.matches),
            "request_id": request[REQUEST_ID],
        },
    )
    return json_response(entry.to_json(), status=201)


async def list_review_records(request: web.Request) -> web.Response:
    query = review.parse_review_query(dict(request.query))

    work = partial(review.list_reviews, query=query, caller=_caller(request))
    entries, following = await in_session(request.app, work)

    body = {"records": [entry.to_json() for entry in entries], "next_after": following}
    return json_response(body)


def _summary(
    request: web.Request, record: handoffs.HandoffRecord, **extra: object
) -> dict:
    """A handoff's summary with the service hours as of now (and ``extra``)."""
    service = request.app[SERVICE_HOURS].status(repository.utc_now())
    return {**record.to_json(service), **extra}


def _handoff_no(request: web.Request) -> str:
    return handoffs.parse_handoff_no(request.match_info["handoff_no"])


async def _body(request: web.Request) -> dict:
    """The JSON object sent, or ``{}`` for an empty body."""
    raw = await request.read()
    return parse_json_object(raw) if raw.strip() else {}


async def create_handoff(request: web.Request) -> web.Response:
    key = parse_idempotency_key(request.headers.get("Idempotency-Key"))
    submission = handoffs.parse_handoff(parse_json_object(await request.read()))

    work = partial(
        handoff_store.create_handoff,
        submission=submission,
        idempotency_key=key,
        caller=_caller(request),
    )
    result = await in_session(request.app, work)

    if result.created:
        metrics.count_handoff(result.handoff.reason)
    logger.info(
        "backend.handoff.created" if result.created else "backend.handoff.replayed",
        extra={
            "handoff_no": result.handoff.handoff_no,
            "reason": result.handoff.reason,
            "channel": result.handoff.channel,
            "transcript": len(submission.transcript),
            "request_id": request[REQUEST_ID],
        },
    )
    body = _summary(request, result.handoff, created=result.created)
    return json_response(body, status=201 if result.created else 200)


async def get_open_handoff(request: web.Request) -> web.Response:
    conversation = handoffs.parse_conversation(request.query.get("conversation"))

    work = partial(
        handoff_store.open_handoff, conversation=conversation, caller=_caller(request)
    )
    record = await in_session(request.app, work)

    return json_response(_summary(request, record))


async def get_latest_handoff(request: web.Request) -> web.Response:
    conversation = handoffs.parse_conversation(request.query.get("conversation"))
    work = partial(handoff_store.latest_handoff, conversation=conversation)
    record = await in_session(request.app, work)
    return json_response(_summary(request, record))


async def get_handoff(request: web.Request) -> web.Response:
    handoff_no = _handoff_no(request)

    work = partial(
        handoff_store.get_handoff,
        handoff_no=handoff_no,
        caller=_caller(request),
        details=agent_name(request[CALLER]) is not None,
    )
    record = await in_session(request.app, work)

    return json_response(_summary(request, record))


async def list_handoffs(request: web.Request) -> web.Response:
    statuses = handoffs.parse_status_filter(request.query.get("status"))

    work = partial(
        handoff_store.list_handoffs, statuses=statuses, caller=_caller(request)
    )
    records = await in_session(request.app, work)

    service = request.app[SERVICE_HOURS].status(repository.utc_now())
    return json_response({"handoffs": [r.to_json(service) for r in records]})


async def claim_handoff(request: web.Request) -> web.Response:
    handoff_no = _handoff_no(request)
    handoffs.parse_empty(await _body(request))

    work = partial(
        handoff_store.claim_handoff, handoff_no=handoff_no, caller=_caller(request)
    )
    record = await in_session(request.app, work)

    return json_response(_summary(request, record))


async def post_handoff_message(request: web.Request) -> web.Response:
    handoff_no = _handoff_no(request)
    raw_key = request.headers.get("Idempotency-Key")
    key = None if raw_key is None else parse_idempotency_key(raw_key)
    message = handoffs.parse_message(parse_json_object(await request.read()))

    work = partial(
        handoff_store.post_message,
        handoff_no=handoff_no,
        message=message,
        idempotency_key=key,
        caller=_caller(request),
    )
    result = await in_session(request.app, work)

    logger.info(
        "backend.handoff.message_added"
        if result.created
        else "backend.handoff.message_replayed",
        extra={
            "handoff_no": handoff_no,
            "role": result.message.role,
            "seq": result.message.seq,
            "length": len(message),
            "request_id": request[REQUEST_ID],
        },
    )
    return json_response(
        result.message.to_json(), status=201 if result.created else 200
    )


async def list_handoff_messages(request: web.Request) -> web.Response:
    handoff_no = _handoff_no(request)
    after = handoffs.parse_after(request.query.get("after"))

    work = partial(
        handoff_store.list_messages,
        handoff_no=handoff_no,
        after=after,
        caller=_caller(request),
    )
    status, messages = await in_session(request.app, work)

    body = {"status": status, "messages": [m.to_json() for m in messages]}
    return json_response(body)


async def close_handoff(request: web.Request) -> web.Response:
    handoff_no = _handoff_no(request)
    handoffs.parse_empty(await _body(request))

    work = partial(
        handoff_store.close_handoff, handoff_no=handoff_no, caller=_caller(request)
    )
    record = await in_session(request.app, work)

    return json_response(_summary(request, record))


async def mark_handoff_delivered(request: web.Request) -> web.Response:
    handoff_no = _handoff_no(request)
    seq = handoffs.parse_delivered(parse_json_object(await request.read()))

    work = partial(
        handoff_store.mark_delivered,
        handoff_no=handoff_no,
        seq=seq,
        caller=_caller(request),
    )
    record = await in_session(request.app, work)

    return json_response(_summary(request, record))


async def scrape_metrics(request: web.Request) -> web.Response:
    """``GET /metrics``, with the waiting-queue gauge read from the database."""
    try:
        waiting = await in_session(request.app, handoff_store.count_waiting)
    except DatabaseUnavailableError:
        # The other metrics still help; the gauge keeps its last value.
        logger.warning("backend.metrics.queue_unavailable")
    else:
        metrics.set_handoffs_waiting(waiting)
    return await metrics.scrape(request)


@web.middleware
async def require_role(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Refuse a known token on a route it does not open (after require_token)."""
    if CALLER in request:
        check_route(request[CALLER], request.method, route_template(request))
    return await handler(request)


def create_app(settings: Settings, engine: Engine) -> web.Application:
    """The backend application over an engine whose schema is up to date.

    The caller owns ``engine`` and disposes of it after the app stops.

    Raises:
        ValueError: the settings carry an empty token or one token twice, or
            ``ZW_SERVICE_HOURS`` is malformed.
    """
    app = web.Application(
        client_max_size=MAX_BODY_BYTES,
        middlewares=[request_context, require_token, require_role],
    )
    app[ENGINE] = engine
    app[TOKENS] = TokenTable.from_settings(settings)
    app[METRICS_TOKEN] = settings.metrics_token
    app[OPENAPI] = OPENAPI_PATH.read_bytes()
    app[SERVICE_HOURS] = service_hours.parse(settings.service_hours)
    app.router.add_get("/health", health)
    app.router.add_get("/openapi.yaml", openapi)
    # The scraper's route, under ZW_METRICS_TOKEN only (backend.middleware).
    app.router.add_get("/metrics", scrape_metrics)
    app.router.add_post("/v1/consents", create_consent)
    app.router.add_get("/v1/profiles/{id_number}", get_profile)
    app.router.add_post("/v1/applications", create_application)
    app.router.add_get("/v1/applications/{application_no}", get_application)
    app.router.add_post("/v1/applications/{application_no}/cancel", cancel_application)
    app.router.add_post("/v1/tickets", create_ticket)
    app.router.add_get("/v1/tickets/{ticket_no}", get_ticket)
    # An operator's call, under ZW_OPERATOR_TOKEN only (backend.auth).
    app.router.add_post(
        "/v1/applications/{application_no}/items/{item_id}/status", set_item_status
    )
    # Recorded by the action server, read by an operator (backend.auth).
    app.router.add_post("/v1/review-records", create_review_record)
    app.router.add_get("/v1/review-records", list_review_records)
    _add_handoff_routes(app)
    # An agent's token only: the assist channel passes it on (backend.assist).
    app.router.add_post("/v1/assist/events", create_assist_event)
    app[UNMASKED_AGENTS] = settings.unmasked_agents
    return app


async def create_assist_event(request: web.Request) -> web.Response:
    event = assist.parse_event(parse_json_object(await request.read()))

    work = partial(
        assist.record_event,
        event=event,
        caller=_caller(request),
        unmasked_agents=request.app[UNMASKED_AGENTS],
    )
    grant = await in_session(request.app, work)

    logger.info(
        "backend.assist.audited",
        extra={
            "event": event.event,
            "turns": event.turns,
            "unmasked": grant.unmasked,
            "request_id": request[REQUEST_ID],
        },
    )
    return json_response(grant.to_json(), status=201)


def _add_handoff_routes(app: web.Application) -> None:
    """The agent queue; who may call which is backend.auth's AGENT_ROUTES."""
    one = "/v1/handoffs/{handoff_no}"
    app.router.add_post("/v1/handoffs", create_handoff)
    app.router.add_get("/v1/handoffs", list_handoffs)
    # Before the {handoff_no} route, which would read "open" or "latest" as
    # a number.
    app.router.add_get("/v1/handoffs/open", get_open_handoff)
    app.router.add_get("/v1/handoffs/latest", get_latest_handoff)
    app.router.add_get(one, get_handoff)
    app.router.add_post(f"{one}/claim", claim_handoff)
    app.router.add_get(f"{one}/messages", list_handoff_messages)
    app.router.add_post(f"{one}/messages", post_handoff_message)
    app.router.add_post(f"{one}/close", close_handoff)
    app.router.add_post(f"{one}/delivered", mark_handoff_delivered)
