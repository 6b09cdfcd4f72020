"""While a person owns a conversation, the channels talk to the agent queue, not Rasa.

``actions.handoff`` puts a conversation in the backend's agent queue. From
then on each citizen message is checked here first: with a handoff open it
goes to the agent (``POST /v1/handoffs/{no}/messages``) and Rasa never sees
it; the citizen gets a short notice while no agent has joined yet, and
nothing once one has. 结束人工 (and its variants) closes the handoff and
the assistant takes over again, as it does when the agent closes it.

The agent's replies travel the other way: the web page polls for them; the
WeChat channel pushes them through the customer-service API or passes them
on with the citizen's next message. The words the citizen reads are
domain.yml responses.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from actions.backend_client import (
    BackendClientError,
    HandoffClosed,
    HandoffMessage,
    HandoffReceipt,
)
from channels.limits import load_responses

logger = logging.getLogger(__name__)

RESPONSES = (
    "utter_handoff_waiting",
    "utter_handoff_agent_joined",
    "utter_handoff_closed",
    "utter_handoff_ended_by_citizen",
    "utter_handoff_agent_says",
    "utter_handoff_not_sent",
    "utter_handoff_none_open",
)
# The citizen takes the conversation back from the agent queue.
_END = re.compile(
    r"(我要|我想|请|帮我|麻烦)?"
    r"(结束|退出|取消|不要|不用)(人工|人工服务|人工客服|转人工)"
    r"|(我要|我想|请|帮我|麻烦)?(返回|回到|转回|切换到?)(智能助手|机器人|智能客服)",
)
_TRAILING = re.compile(r"[\s。.!！~～吧吗了啊]+$")
CLOSED = "closed"
WAITING = "waiting"


def ends_handoff(text: str) -> bool:
    """Whether the message asks to leave the agent queue (结束人工 …)."""
    return bool(_END.fullmatch(_TRAILING.sub("", re.sub(r"\s+", "", text))))


@dataclass(frozen=True)
class Relayed:
    """What became of a message sent while a handoff may be open.

    ``to_rasa``: no person owns the conversation; run the turn as usual.
    ``texts``: what to say now (before Rasa's answer, when it runs).
    """

    to_rasa: bool
    texts: tuple[str, ...] = ()
    handoff_no: str | None = None


@dataclass(frozen=True)
class AgentUpdate:
    """New agent messages for the page, rendered, and where the handoff stands."""

    handoff_no: str | None
    status: str | None
    last_seq: int
    texts: tuple[str, ...]


class HandoffRelay:
    """Routes a message to the agent queue or to Rasa, and renders agent replies."""

    def __init__(self, backend: object, texts: Mapping[str, str]) -> None:
        self.backend = backend
        self.texts = dict(texts)

    @classmethod
    def from_domain(cls, backend: object, domain_path: Path) -> HandoffRelay:
        """Raises ValueError when domain.yml lacks one of the responses."""
        return cls(backend, load_responses(domain_path, RESPONSES))

    async def relay(
        self,
        conversation: str,
        text: str,
        message_key: str | None = None,
        *,
        deliver_pending: bool = False,
    ) -> Relayed:
        """Send ``text`` to the agent if a handoff is open, else say Rasa's turn.

        Args:
            conversation: the keyed hash of the sender (as the actions use).
            message_key: the same for every delivery of this message, so a
                re-sent message reaches the agent once.
            deliver_pending: also pass on agent messages the citizen has not
                been given yet (WeChat, which cannot be polled).

        A backend that cannot be reached lets Rasa answer: the citizen is
        not left without a reply.
        """
        try:
            handoff = await self.backend.latest_handoff(conversation)
        except BackendClientError as exc:
            logger.warning("channels.handoff.lookup_failed", extra={"code": exc.code})
            return Relayed(to_rasa=True)
        if handoff is None or handoff.status == CLOSED:
            pending = (
                await self._pending(handoff) if handoff and deliver_pending else ()
            )
            if ends_handoff(text):
                # Found by a tester: the NLU reads 结束人工 as 转人工, so with
                # nothing open it queued the citizen who asked to leave.
                texts = (*pending, self.texts["utter_handoff_none_open"])
                return Relayed(False, texts, None)
            return Relayed(to_rasa=True, texts=pending)
        pending = await self._pending(handoff) if deliver_pending else ()
        if ends_handoff(text):
            return await self._end(handoff, pending)
        if text.startswith("/"):
            # An old button clicked while waiting: nothing for the agent.
            return Relayed(
                False, (*pending, *self._notice(handoff)), handoff.handoff_no
            )
        try:
            await self.backend.send_handoff_message(
                handoff.handoff_no, text, idempotency_key=message_key
            )
        except HandoffClosed:
            # The agent closed it a moment ago: the assistant answers.
            return Relayed(to_rasa=True, texts=pending)
        except BackendClientError as exc:
            logger.warning(
                "channels.handoff.forward_failed",
                extra={"code": exc.code, "handoff_no": handoff.handoff_no},
            )
            texts = (*pending, self.texts["utter_handoff_not_sent"])
            return Relayed(False, texts, handoff.handoff_no)
        logger.info(
            "channels.handoff.forwarded",
            extra={"handoff_no": handoff.handoff_no, "status": handoff.status},
        )
        return Relayed(False, (*pending, *self._notice(handoff)), handoff.handoff_no)

    async def agent_update(
        self, conversation: str, following: str | None, after: int
    ) -> AgentUpdate:
        """Agent messages after ``after`` in the conversation's latest handoff.

        ``following`` is the handoff the page has been showing; a newer one
        is read from its start.

        Raises:
            BackendClientError: the backend could not be reached.
        """
        handoff = await self.backend.latest_handoff(conversation)
        if handoff is None:
            return AgentUpdate(None, None, 0, ())
        if handoff.handoff_no != following:
            after = 0
        status, messages = await self.backend.handoff_messages(
            handoff.handoff_no, after=after
        )
        last = max((message.seq for message in messages), default=after)
        return AgentUpdate(
            handoff.handoff_no, status, last, tuple(self.render(messages, handoff))
        )

    async def undelivered(self, conversation: str) -> tuple[str, ...]:
        """Agent messages not yet given to the citizen, marked given (WeChat push)."""
        handoff = await self.backend.latest_handoff(conversation)
        if handoff is None:
            return ()
        return await self._pending(handoff)

    def render(
        self, messages: Iterable[HandoffMessage], handoff: HandoffReceipt
    ) -> Iterable[str]:
        """The citizen's view of the agent's side: replies, joined, closed."""
        for message in messages:
            if message.role == "agent" and message.text:
                yield self.texts["utter_handoff_agent_says"].replace(
                    "{text}", message.text
                )
            elif message.event == "claimed":
                yield self.texts["utter_handoff_agent_joined"]
            elif message.event == "closed" and handoff.closed_by != "citizen":
                # The citizen who ended it was told so at once.
                yield self.texts["utter_handoff_closed"]

    async def _pending(self, handoff: HandoffReceipt) -> tuple[str, ...]:
        if handoff.last_seq <= handoff.delivered_seq:
            return ()
        try:
            _, messages = await self.backend.handoff_messages(
                handoff.handoff_no, after=handoff.delivered_seq
            )
            texts = tuple(self.render(messages, handoff))
            if messages:
                await self.backend.mark_delivered(
                    handoff.handoff_no, max(message.seq for message in messages)
                )
        except BackendClientError as exc:
            logger.warning(
                "channels.handoff.pending_failed",
                extra={"code": exc.code, "handoff_no": handoff.handoff_no},
            )
            return ()
        return texts

    async def _end(self, handoff: HandoffReceipt, pending: tuple[str, ...]) -> Relayed:
        try:
            await self.backend.close_handoff(handoff.handoff_no)
        except BackendClientError as exc:
            logger.warning(
                "channels.handoff.close_failed",
                extra={"code": exc.code, "handoff_no": handoff.handoff_no},
            )
            texts = (*pending, self.texts["utter_handoff_not_sent"])
            return Relayed(False, texts, handoff.handoff_no)
        logger.info(
            "channels.handoff.ended_by_citizen",
            extra={"handoff_no": handoff.handoff_no},
        )
        texts = (*pending, self.texts["utter_handoff_ended_by_citizen"])
        return Relayed(False, texts, handoff.handoff_no)

    def _notice(self, handoff: HandoffReceipt) -> tuple[str, ...]:
        if handoff.status == WAITING:
            return (self.texts["utter_handoff_waiting"],)
        return ()
