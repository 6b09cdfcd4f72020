"""The action server's client for the reference backend (docs/backend-api.md).

One shared aiohttp session per event loop, created on first use; bounded
retries with backoff on idempotent calls only; failures surface as three
exceptions with stable codes that the actions map to named Chinese responses.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import random
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar
from urllib.parse import quote

import aiohttp

from bot.settings import Settings, load_settings

logger = logging.getLogger(__name__)

DEFAULT_TIMEOUT = aiohttp.ClientTimeout(total=5, connect=2)
DEFAULT_ATTEMPTS = 3
DEFAULT_BACKOFF_S = 0.2
# Worth another try: the backend or a proxy is briefly unable to answer.
RETRY_STATUSES = frozenset({502, 503, 504})

# Codes the client raises itself; the others come from the backend's body.
UNREACHABLE = "backend_unreachable"
TIMEOUT = "backend_timeout"
SERVER_ERROR = "backend_server_error"
UNAUTHORIZED = "backend_unauthorized"
BAD_RESPONSE = "backend_bad_response"
REJECTED = "backend_rejected"

T = TypeVar("T")


class BackendClientError(Exception):
    """Base class: a backend call failed; ``code`` picks the reply."""

    def __init__(
        self, code: str, *, status: int | None = None, request_id: str = ""
    ) -> None:
        super().__init__(f"{code} (status={status}, request_id={request_id})")
        self.code = code
        self.status = status
        self.request_id = request_id


class BackendUnavailable(BackendClientError):
    """No usable answer: unreachable, timed out, 5xx, misconfigured token."""


class ProfileNotFound(BackendClientError):
    """The platform has no profile for this 身份证号 (fill the form by hand)."""


class BackendRejected(BackendClientError):
    """The backend refused the request as sent (4xx); ``code`` says why."""


class HandoffClosed(BackendRejected):
    """The handoff is closed (``409 handoff_closed``): the bot takes over again."""


@dataclass(frozen=True)
class Licence:
    kind: str
    number: str
    holder: str


@dataclass(frozen=True)
class Profile:
    """A citizen's profile for pre-fill: only the fields the consent released.

    A field the consent did not name is ``None`` (``licences``: empty).
    """

    id_number: str
    consent_id: str
    name: str | None = None
    phone: str | None = None
    address: str | None = None
    licences: tuple[Licence, ...] = ()

    def has_licence(self, kind: str) -> bool:
        """True when the citizen holds a licence of this kind (e.g. 营业执照)."""
        return any(licence.kind == kind for licence in self.licences)


@dataclass(frozen=True)
class ConsentRequest:
    """A citizen's consent (授权同意) to release ``fields`` for one form instance."""

    id_number: str
    fields: tuple[str, ...]  # from name, phone, address, licences
    scenario_id: str
    form_instance: str

    def to_json(self) -> dict[str, Any]:
        return {
            "id_number": self.id_number,
            "fields": list(self.fields),
            "scenario_id": self.scenario_id,
            "form_instance": self.form_instance,
        }


@dataclass(frozen=True)
class ConsentReceipt:
    """The platform's record of a consent; ``consent_id`` releases the profile."""

    consent_id: str
    fields: tuple[str, ...]
    granted_at: str
    expires_at: str


@dataclass(frozen=True)
class RequestedItem:
    """A service item the dialogue decided applies, to submit."""

    item_id: str
    name: str
    department: str
    route: str  # "normal" | "commitment"


@dataclass(frozen=True)
class ReceiptItem(RequestedItem):
    """A submitted item with its own status at the backend.

    ``reason`` says what the citizen must fix while the item is ``returned``.
    """

    status: str
    reason: str | None = None


@dataclass(frozen=True)
class ApplicationRequest:
    """An integrated application (一表申请) as the dialogue collected it."""

    scenario_id: str
    applicant_id_number: str
    answers: Mapping[str, Any]
    items: tuple[RequestedItem, ...]
    form: Mapping[str, Any]

    def to_json(self) -> dict[str, Any]:
        return {
            "scenario_id": self.scenario_id,
            "applicant": {"id_number": self.applicant_id_number},
            "answers": dict(self.answers),
            "items": [vars(item) for item in self.items],
            "form": dict(self.form),
        }

    @classmethod
    def from_json(cls, body: dict[str, Any]) -> ApplicationRequest:
        """The request :meth:`to_json` made (the outbox stores it that way).

        Raises:
            KeyError, TypeError: ``body`` is not such a request.
        """
        return cls(
            scenario_id=body["scenario_id"],
            applicant_id_number=body["applicant"]["id_number"],
            answers=body["answers"],
            items=tuple(RequestedItem(**item) for item in body["items"]),
            form=body["form"],
        )


@dataclass(frozen=True)
class ApplicationReceipt:
    """The backend's record of an application.

    ``replayed`` is True when the idempotency key had already created it.
    """

    application_no: str
    scenario_id: str
    status: str
    items: tuple[ReceiptItem, ...]
    created_at: str
    replayed: bool = False
    updated_at: str = ""


@dataclass(frozen=True)
class TicketRequest:
    """A 12345 ticket as the action server files it (docs/backend-api.md)."""

    kind: str  # complaint | suggestion
    topic: str
    description: str
    location: str | None
    occurred: str | None
    contact_phone: str | None  # only when the citizen agreed to be contacted
    channel: str

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "kind": self.kind,
            "topic": self.topic,
            "description": self.description,
            "contact_consent": self.contact_phone is not None,
            "channel": self.channel,
        }
        optional = {
            "location": self.location,
            "occurred": self.occurred,
            "contact_phone": self.contact_phone,
        }
        body.update({name: value for name, value in optional.items() if value})
        return body


@dataclass(frozen=True)
class TicketReceipt:
    """The backend's record of a ticket; ``replayed`` as for applications."""

    ticket_no: str
    kind: str
    topic: str
    status: str
    created_at: str
    replayed: bool = False


@dataclass(frozen=True)
class HandoffRequest:
    """A conversation handed to the agent queue (docs/backend-api.md).

    ``conversation`` is the channel's keyed hash of the sender, never the
    raw id; ``transcript`` holds (role, text) pairs, role ``citizen`` or
    ``assistant``, already masked.
    """

    conversation: str
    channel: str  # web | wechat | other
    reason: str  # requested | repeated_failures | low_confidence_complaint
    topic: str | None
    transcript: tuple[tuple[str, str], ...]
    collected: Mapping[str, str]

    def to_json(self) -> dict[str, Any]:
        return {
            "conversation": self.conversation,
            "channel": self.channel,
            "reason": self.reason,
            "topic": self.topic,
            "transcript": [
                {"role": role, "text": text} for role, text in self.transcript
            ],
            "collected": dict(self.collected),
        }


@dataclass(frozen=True)
class HandoffReceipt:
    """A handoff's summary: where it is, and when agents are on duty.

    ``position`` is the place in the waiting queue (1 = next) while waiting;
    ``next_open`` (aware UTC) is None while agents are on duty; ``created`` is
    True only when this call opened the handoff.
    """

    handoff_no: str
    status: str  # waiting | active | closed
    agent: str | None
    position: int | None
    open_now: bool
    hours: str
    next_open: datetime | None
    delivered_seq: int
    last_seq: int
    created: bool = False
    closed_by: str | None = None  # agent | citizen, once closed


@dataclass(frozen=True)
class HandoffMessage:
    """One message of a handoff; a system message has an event, no text."""

    seq: int
    role: str  # citizen | agent | system
    text: str | None
    event: str | None  # claimed | closed
    created_at: str


@dataclass(frozen=True)
class ReviewRecordRequest:
    """A question answered badly or not at all, for the review loop.

    ``question`` should already be masked (the backend masks it again);
    ``matches`` are ``(doc_id, score)`` pairs, best first, score None when
    unknown; ``user_hash`` is the keyed hash of the sender, never the id.
    """

    kind: str  # no_answer | clarify_rejected | thumbs_down | agent_wrong
    question: str
    matches: tuple[tuple[str, float | None], ...]
    channel: str
    user_hash: str

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "question": self.question,
            "matches": [
                {"doc_id": doc_id, "score": score} for doc_id, score in self.matches
            ],
            "channel": self.channel,
            "user_hash": self.user_hash,
        }


def make_idempotency_key(*parts: str) -> str:
    """A stable key from what identifies one submission (conversation, scenario...).

    The same parts give the same key, so a retried action cannot submit twice.
    """
    digest = hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()
    return f"zw-{digest[:40]}"


def is_retryable(method: str, headers: Mapping[str, str]) -> bool:
    """GET, and any call carrying an ``Idempotency-Key``, may be sent again."""
    return method == "GET" or "Idempotency-Key" in headers


class BackendClient:
    """Calls the backend's ``/v1`` API with one shared session."""

    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        timeout: aiohttp.ClientTimeout = DEFAULT_TIMEOUT,
        attempts: int = DEFAULT_ATTEMPTS,
        backoff_s: float = DEFAULT_BACKOFF_S,
    ) -> None:
        if attempts < 1:
            raise ValueError("attempts must be at least 1")
        self._base_url = base_url.rstrip("/")
        self._token = token
        self._timeout = timeout
        self._attempts = attempts
        self._backoff_s = backoff_s
        self._session: aiohttp.ClientSession | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    @classmethod
    def from_settings(cls, settings: Settings | None = None) -> BackendClient:
        """A client for ``backend_url`` and ``backend_token`` of the settings."""
        settings = settings or load_settings()
        return cls(settings.backend_url, settings.backend_token)

    async def record_consent(
        self, consent: ConsentRequest, idempotency_key: str
    ) -> ConsentReceipt:
        """Record the citizen's consent once per key (a retry replays it).

        Raises:
            BackendRejected: invalid body (``invalid_request``,
                ``invalid_id_number``) or the key was used with another body.
            BackendUnavailable: no usable answer after the retries.
        """
        answer = await self._call(
            "POST",
            "/v1/consents",
            "/v1/consents",
            json=consent.to_json(),
            headers={"Idempotency-Key": idempotency_key},
        )
        return answer.parse(_consent)

    async def get_profile(self, id_number: str, consent_id: str) -> Profile:
        """The citizen's profile fields that the consent ``consent_id`` released.

        Raises:
            ProfileNotFound: the platform has no profile for this number.
            BackendRejected: a malformed number (``invalid_id_number``), or a
                consent the platform refuses (``consent_invalid``,
                ``consent_expired``, ``consent_required``).
            BackendUnavailable: no usable answer after the retries.
        """
        path = (
            f"/v1/profiles/{quote(id_number, safe='')}"
            f"?consent_id={quote(consent_id, safe='')}"
        )
        answer = await self._call("GET", path, "/v1/profiles/{id_number}")
        return answer.parse(_profile)

    async def submit_application(
        self, request: ApplicationRequest, idempotency_key: str
    ) -> ApplicationReceipt:
        """Submit once per key; a retry or replay returns the same application.

        Raises:
            BackendRejected: invalid body, or the key was used with another body
                (code ``idempotency_conflict``).
            BackendUnavailable: no usable answer after the retries.
        """
        answer = await self._call(
            "POST",
            "/v1/applications",
            "/v1/applications",
            json=request.to_json(),
            headers={"Idempotency-Key": idempotency_key},
        )
        # 201 created it now; 200 means this key had already created it.
        return answer.parse(lambda body: _receipt(body, replayed=answer.status == 200))

    async def get_application(self, application_no: str) -> ApplicationReceipt:
        """The application with its current status.

        Raises:
            BackendRejected: unknown (``application_not_found``) or malformed
                (``invalid_application_no``) number.
            BackendUnavailable: no usable answer after the retries.
        """
        path = f"/v1/applications/{quote(application_no, safe='')}"
        answer = await self._call("GET", path, "/v1/applications/{application_no}")
        return answer.parse(lambda body: _receipt(body, replayed=False))

    async def cancel_application(self, application_no: str) -> ApplicationReceipt:
        """Cancel while no item is accepted; cancelling again answers the same.

        Not retried: a POST without an idempotency key (docs/backend-api.md).

        Raises:
            BackendRejected: ``cancel_not_allowed`` (an item is accepted),
                ``application_not_found``, ``invalid_application_no``.
            BackendUnavailable: no usable answer.
        """
        path = f"/v1/applications/{quote(application_no, safe='')}/cancel"
        route = "/v1/applications/{application_no}/cancel"
        answer = await self._call("POST", path, route)
        return answer.parse(lambda body: _receipt(body, replayed=False))

    async def file_ticket(
        self, request: TicketRequest, idempotency_key: str
    ) -> TicketReceipt:
        """File a 12345 ticket once per key; a retry returns the same ticket.

        Raises:
            BackendRejected: invalid body, or the key was used with another body.
            BackendUnavailable: no usable answer after the retries.
        """
        answer = await self._call(
            "POST",
            "/v1/tickets",
            "/v1/tickets",
            json=request.to_json(),
            headers={"Idempotency-Key": idempotency_key},
        )
        return answer.parse(lambda body: _ticket(body, replayed=answer.status == 200))

    async def get_ticket(self, ticket_no: str) -> TicketReceipt:
        """A ticket's current status.

        Raises:
            BackendRejected: ``ticket_not_found`` or ``invalid_ticket_no``.
            BackendUnavailable: no usable answer after the retries.
        """
        path = f"/v1/tickets/{quote(ticket_no, safe='')}"
        answer = await self._call("GET", path, "/v1/tickets/{ticket_no}")
        return answer.parse(lambda body: _ticket(body, replayed=False))

    async def record_review(self, record: ReviewRecordRequest) -> None:
        """Store one review record; sent once (a lost record is no harm).

        Raises:
            BackendRejected: the body breaks the contract (``invalid_request``).
            BackendUnavailable: no usable answer.
        """
        await self._call(
            "POST", "/v1/review-records", "/v1/review-records", json=record.to_json()
        )

    async def assist_event(
        self,
        agent_token: str,
        event: str,
        call_id: str | None,
        turns: int,
        unmasked: bool,
    ) -> AssistGrant:
        """Audit one hotline-assist request under the agent's own token.

        Sent once. An unknown agent token comes back as BackendUnavailable
        with code ``backend_unauthorized`` (401) and a known token the route does not
        take as BackendRejected ``forbidden`` (403).

        Raises:
            BackendRejected: ``forbidden`` or ``invalid_request``.
            BackendUnavailable: ``backend_unauthorized``, or no usable answer.
        """
        body = {
            "event": event,
            "call_id": call_id,
            "turns": turns,
            "unmasked": unmasked,
        }
        answer = await self._call(
            "POST",
            "/v1/assist/events",
            "/v1/assist/events",
            json=body,
            headers={"Authorization": f"Bearer {agent_token}"},
        )
        return answer.parse(
            lambda body: AssistGrant(str(body["agent"]), bool(body["unmasked"]))
        )

    async def start_handoff(
        self, request: HandoffRequest, idempotency_key: str
    ) -> HandoffReceipt:
        """Hand the conversation to the agent queue once per key.

        A retry returns the same handoff; while the conversation already has
        an open one, that one comes back with ``created`` False.

        Raises:
            BackendRejected: invalid body, or the key was used with another body.
            BackendUnavailable: no usable answer after the retries.
        """
        answer = await self._call(
            "POST",
            "/v1/handoffs",
            "/v1/handoffs",
            json=request.to_json(),
            headers={"Idempotency-Key": idempotency_key},
        )
        return answer.parse(_handoff)

    async def open_handoff(self, conversation: str) -> HandoffReceipt | None:
        """The conversation's open handoff, or None when it has none.

        Raises:
            BackendRejected: a malformed conversation (``invalid_request``).
            BackendUnavailable: no usable answer after the retries.
        """
        path = f"/v1/handoffs/open?conversation={quote(conversation, safe='')}"
        try:
            answer = await self._call("GET", path, "/v1/handoffs/open")
        except BackendRejected as exc:
            if exc.code == "handoff_not_found":
                return None
            raise
        return answer.parse(_handoff)

    async def latest_handoff(self, conversation: str) -> HandoffReceipt | None:
        """The conversation's newest handoff, open or closed, or None if never.

        The channels ask before each message whether a person owns it.

        Raises:
            BackendRejected: a malformed conversation (``invalid_request``).
            BackendUnavailable: no usable answer after the retries.
        """
        path = f"/v1/handoffs/latest?conversation={quote(conversation, safe='')}"
        try:
            answer = await self._call("GET", path, "/v1/handoffs/latest")
        except BackendRejected as exc:
            if exc.code == "handoff_not_found":
                return None
            raise
        return answer.parse(_handoff)

    async def send_handoff_message(
        self, handoff_no: str, text: str, idempotency_key: str | None = None
    ) -> HandoffMessage:
        """Pass the citizen's message to the agent.

        Retried only with ``idempotency_key`` (the same key gives the same
        message back); without one it is sent once.

        Raises:
            HandoffClosed: the handoff is closed.
            BackendRejected: ``handoff_not_found``, ``invalid_request``, ...
            BackendUnavailable: no usable answer.
        """
        headers = (
            {} if idempotency_key is None else {"Idempotency-Key": idempotency_key}
        )
        answer = await self._call(
            "POST",
            f"{_handoff_path(handoff_no)}/messages",
            "/v1/handoffs/{handoff_no}/messages",
            json={"text": text},
            headers=headers,
        )
        return answer.parse(_handoff_message)

    async def handoff_messages(
        self, handoff_no: str, after: int = 0
    ) -> tuple[str, list[HandoffMessage]]:
        """The handoff's status and its messages with ``seq > after`` (up to 100).

        Raises:
            BackendRejected: ``handoff_not_found`` or ``invalid_handoff_no``.
            BackendUnavailable: no usable answer after the retries.
        """
        answer = await self._call(
            "GET",
            f"{_handoff_path(handoff_no)}/messages?after={int(after)}",
            "/v1/handoffs/{handoff_no}/messages",
        )
        return answer.parse(
            lambda body: (
                _one_of(body["status"], ("waiting", "active", "closed")),
                [_handoff_message(entry) for entry in body["messages"]],
            )
        )

    async def close_handoff(self, handoff_no: str) -> HandoffReceipt:
        """Close for the citizen; closing a closed handoff answers the same.

        Raises:
            BackendRejected: ``handoff_not_found`` or ``invalid_handoff_no``.
            BackendUnavailable: no usable answer (sent once).
        """
        answer = await self._call(
            "POST",
            f"{_handoff_path(handoff_no)}/close",
            "/v1/handoffs/{handoff_no}/close",
            json={},
        )
        return answer.parse(_handoff)

    async def mark_delivered(self, handoff_no: str, seq: int) -> HandoffReceipt:
        """Tell the backend the citizen has seen the messages up to ``seq``.

        Raises:
            BackendRejected: ``handoff_not_found`` or ``invalid_request``.
            BackendUnavailable: no usable answer (sent once).
        """
        answer = await self._call(
            "POST",
            f"{_handoff_path(handoff_no)}/delivered",
            "/v1/handoffs/{handoff_no}/delivered",
            json={"seq": seq},
        )
        return answer.parse(_handoff)

    async def close(self) -> None:
        """Close the shared session; the next call opens a new one."""
        if self._session is not None and not self._session.closed:
            await self._session.close()
        self._session = None

    def _session_for_this_loop(self) -> aiohttp.ClientSession:
        loop = asyncio.get_running_loop()
        if self._session is None or self._session.closed or self._loop is not loop:
            # A session is bound to the loop it was made on (tests run many).
            self._session = aiohttp.ClientSession(timeout=self._timeout)
            self._loop = loop
        return self._session

    async def _call(
        self,
        method: str,
        path: str,
        route: str,
        *,
        json: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> _Answer:
        headers = {
            "Authorization": f"Bearer {self._token}",
            "X-Request-ID": uuid.uuid4().hex,
            **(headers or {}),
        }
        attempts = self._attempts if is_retryable(method, headers) else 1
        attempt = 1
        while True:
            try:
                return await self._attempt(method, path, route, json, headers)
            except BackendClientError as exc:
                if not _worth_retrying(exc) or attempt >= attempts:
                    _log_failure(route, exc, attempt)
                    raise
                logger.warning(
                    "backend_client.call.retry",
                    extra={"route": route, "code": exc.code, "attempt": attempt},
                )
            # Exponential backoff with jitter, so retrying callers spread out.
            await asyncio.sleep(
                self._backoff_s * 2 ** (attempt - 1) * random.uniform(1, 1.5)
            )
            attempt += 1

    async def _attempt(
        self,
        method: str,
        path: str,
        route: str,
        json: dict[str, Any] | None,
        headers: dict[str, str],
    ) -> _Answer:
        request_id = headers["X-Request-ID"]
        started = time.perf_counter()
        session = self._session_for_this_loop()
        try:
            async with session.request(
                method, self._base_url + path, json=json, headers=headers
            ) as response:
                status = response.status
                body = await _json_or_none(response)
        except TimeoutError as exc:
            raise BackendUnavailable(TIMEOUT, request_id=request_id) from exc
        except aiohttp.ClientError as exc:
            raise BackendUnavailable(UNREACHABLE, request_id=request_id) from exc
        logger.info(
            "backend_client.call.done",
            extra={
                "method": method,
                "route": route,
                "status": status,
                "latency_ms": round((time.perf_counter() - started) * 1000),
                "request_id": request_id,
            },
        )
        _raise_for_status(status, body, request_id)
        return _Answer(status, body, request_id)


@dataclass(frozen=True)
class AssistGrant:
    """The backend's answer to an audited assist request (backend.assist)."""

    agent: str
    unmasked: bool


@dataclass(frozen=True)
class _Answer:
    """A 2xx answer before parsing."""

    status: int
    body: Any
    request_id: str

    def parse(self, build: Callable[[Any], T]) -> T:
        """``build(body)``, or BackendUnavailable when the body breaks the contract."""
        try:
            return build(self.body)
        except (AttributeError, KeyError, TypeError, ValueError) as exc:
            raise BackendUnavailable(
                BAD_RESPONSE, status=self.status, request_id=self.request_id
            ) from exc


def _log_failure(route: str, error: BackendClientError, attempts: int) -> None:
    # An unknown citizen or a refused body is an answer; only no answer warns.
    level = logging.WARNING if isinstance(error, BackendUnavailable) else logging.INFO
    logger.log(
        level,
        "backend_client.call.failed",
        extra={
            "route": route,
            "code": error.code,
            "status": error.status or "",
            "attempts": attempts,
            "request_id": error.request_id,
        },
    )


async def _json_or_none(response: aiohttp.ClientResponse) -> Any:
    try:
        return await response.json(content_type=None)
    except ValueError:
        # Not JSON (a proxy's HTML page, say); the status decides what it means.
        return None


def _worth_retrying(error: BackendClientError) -> bool:
    transient = error.code in (TIMEOUT, UNREACHABLE) or error.status in RETRY_STATUSES
    return isinstance(error, BackendUnavailable) and transient


def _error_code(body: Any) -> str | None:
    error = body.get("error") if isinstance(body, dict) else None
    code = error.get("code") if isinstance(error, dict) else None
    return code if isinstance(code, str) else None


def _raise_for_status(status: int, body: Any, request_id: str) -> None:
    """Map a non-2xx answer to one of the three exceptions."""
    if 200 <= status < 300:
        return
    code = _error_code(body)
    if status == 401:
        # Our token is wrong: a deployment mistake, not the citizen's.
        raise BackendUnavailable(UNAUTHORIZED, status=status, request_id=request_id)
    if status >= 500:
        raise BackendUnavailable(
            code or SERVER_ERROR, status=status, request_id=request_id
        )
    if code == "profile_not_found":
        raise ProfileNotFound(code, status=status, request_id=request_id)
    if code == "handoff_closed":
        raise HandoffClosed(code, status=status, request_id=request_id)
    raise BackendRejected(code or REJECTED, status=status, request_id=request_id)


def _texts(entry: Any, names: tuple[str, ...]) -> dict[str, str]:
    values = {name: entry[name] for name in names}
    if not all(isinstance(value, str) for value in values.values()):
        raise TypeError(f"expected strings in {names}")
    return values


def _optional_text(body: Any, name: str) -> str | None:
    value = body.get(name)
    if value is not None and not isinstance(value, str):
        raise TypeError(f"expected a string or null in {name}")
    return value


def _profile(body: Any) -> Profile:
    licences = tuple(
        Licence(**_texts(entry, ("kind", "number", "holder")))
        for entry in body.get("licences", ())
    )
    return Profile(
        **_texts(body, ("id_number", "consent_id")),
        name=_optional_text(body, "name"),
        phone=_optional_text(body, "phone"),
        address=_optional_text(body, "address"),
        licences=licences,
    )


def _consent(body: Any) -> ConsentReceipt:
    fields = body["fields"]
    if not isinstance(fields, list) or not all(isinstance(f, str) for f in fields):
        raise TypeError("expected a list of field names")
    return ConsentReceipt(
        **_texts(body, ("consent_id", "granted_at", "expires_at")),
        fields=tuple(fields),
    )


def _receipt(body: Any, *, replayed: bool) -> ApplicationReceipt:
    item_fields = ("item_id", "name", "department", "route", "status")
    items = tuple(
        ReceiptItem(
            **_texts(entry, item_fields), reason=_optional_text(entry, "reason")
        )
        for entry in body["items"]
    )
    return ApplicationReceipt(
        **_texts(body, ("application_no", "scenario_id", "status", "created_at")),
        items=items,
        replayed=replayed,
        updated_at=_optional_text(body, "updated_at") or "",
    )


def _ticket(body: Any, *, replayed: bool) -> TicketReceipt:
    return TicketReceipt(
        **_texts(body, ("ticket_no", "kind", "topic", "status", "created_at")),
        replayed=replayed,
    )


def _handoff_path(handoff_no: str) -> str:
    return f"/v1/handoffs/{quote(handoff_no, safe='')}"


def _whole(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError("expected a whole number")
    return value


def _one_of(value: Any, allowed: tuple[str, ...]) -> str:
    if value not in allowed:
        raise ValueError(f"expected one of {allowed}")
    return value


def _moment(value: Any) -> datetime | None:
    """``2026-12-07T01:00:00Z`` as an aware UTC datetime; None for null."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise TypeError("expected an ISO 8601 time")
    moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        raise ValueError("expected a time with an offset")
    return moment.astimezone(UTC)


def _handoff(body: Any) -> HandoffReceipt:
    service = body["service"]
    position = body["position"]
    created = body.get("created", False)
    if not isinstance(service["open_now"], bool) or not isinstance(created, bool):
        raise TypeError("expected true or false")
    return HandoffReceipt(
        handoff_no=_texts(body, ("handoff_no",))["handoff_no"],
        status=_one_of(body["status"], ("waiting", "active", "closed")),
        agent=_optional_text(body, "agent"),
        position=None if position is None else _whole(position),
        open_now=service["open_now"],
        hours=_texts(service, ("hours",))["hours"],
        next_open=_moment(service["next_open"]),
        delivered_seq=_whole(body["delivered_seq"]),
        last_seq=_whole(body["last_seq"]),
        created=created,
        closed_by=_closed_by(body.get("closed_by")),
    )


def _closed_by(value: Any) -> str | None:
    return None if value is None else _one_of(value, ("agent", "citizen"))


def _handoff_message(body: Any) -> HandoffMessage:
    return HandoffMessage(
        seq=_whole(body["seq"]),
        role=_one_of(body["role"], ("citizen", "agent", "system")),
        text=_optional_text(body, "text"),
        event=_optional_text(body, "event"),
        created_at=_texts(body, ("created_at",))["created_at"],
    )


_shared: BackendClient | None = None


def get_backend_client() -> BackendClient:
    """The process-wide client, built from the settings on first use."""
    global _shared
    if _shared is None:
        _shared = BackendClient.from_settings()
    return _shared


async def close_backend_client() -> None:
    """Close the process-wide client's session.

    The action server's own clients live in ``actions.services`` and are
    closed by ``shutdown_services`` when the server stops.
    """
    global _shared
    if _shared is not None:
        await _shared.close()
        _shared = None
