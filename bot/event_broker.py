"""An event broker that masks personal data before any event leaves Rasa.

Configured in endpoints.yml as ``type: bot.event_broker.RedactingEventBroker``;
its ``broker`` setting is the real broker's own configuration (Rasa's ``sql``
by default, or ``pika``, ``kafka``, ``file``). Every event is masked the way an
export is (bot.event_privacy): message text, template values and every slot
value, since no consumer rebuilds a conversation from the stream; the sender
id becomes a keyed hash (a WeChat OpenID identifies a person).
"""

from __future__ import annotations

import logging
from asyncio import AbstractEventLoop
from typing import Any

from rasa.core.brokers.broker import EventBroker
from rasa.utils.endpoints import EndpointConfig

from bot.event_privacy import MaskPolicy, mask_event
from bot.privacy import hash_user
from bot.settings import load_settings

logger = logging.getLogger(__name__)


class RedactingEventBroker(EventBroker):
    """Masks each event, then hands it to the configured broker."""

    def __init__(
        self, inner: EventBroker, policy: MaskPolicy, hash_key: str | None
    ) -> None:
        """Wrap ``inner``.

        Args:
            inner: the broker that publishes the masked events.
            policy: the personal slots and bot template values.
            hash_key: key for the sender-id hash; None keeps sender ids.
        """
        self.inner = inner
        self.policy = policy
        self.hash_key = hash_key

    @classmethod
    async def from_endpoint_config(
        cls,
        broker_config: EndpointConfig,
        event_loop: AbstractEventLoop | None = None,
    ) -> RedactingEventBroker:
        """Create the inner broker from the ``broker`` setting, then wrap it.

        Raises:
            ValueError: the inner broker could not be created.
        """
        options = dict(broker_config.kwargs)
        inner_options = dict(options.pop("broker", None) or {"type": "sql"})
        inner_config = EndpointConfig(
            url=inner_options.pop("url", None),
            type=inner_options.pop("type", "sql"),
            **inner_options,
        )
        inner = await EventBroker.create(inner_config, event_loop)
        if inner is None:
            raise ValueError(f"event_broker: cannot create {inner_config.type!r}")
        policy = MaskPolicy.from_config(
            options.get("personal_slots"), options.get("personal_fields")
        )
        hash_key = (
            load_settings().user_hash_key
            if options.get("hash_sender_id", True)
            else None
        )
        logger.info(
            "event_broker.privacy.ready",
            extra={"inner": type(inner).__name__, "hash_sender_id": bool(hash_key)},
        )
        return cls(inner, policy, hash_key)

    def publish(self, event: dict[str, Any]) -> None:
        """Publish ``event`` with its personal data masked."""
        masked = mask_event(event, self.policy, mask_slot=True)
        if self.hash_key and masked.get("sender_id"):
            masked["sender_id"] = hash_user(str(masked["sender_id"]), self.hash_key)
        self.inner.publish(masked)

    def is_ready(self) -> bool:
        return self.inner.is_ready()

    async def close(self) -> None:
        await self.inner.close()
