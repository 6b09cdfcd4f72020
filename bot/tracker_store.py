"""Rasa's SQL tracker store, keeping message text masked (issue #8).

Configured in endpoints.yml (``type: bot.tracker_store.PrivateSQLTrackerStore``)
with Rasa's SQL settings plus:

- ``pii_mode: mask`` (default): user and bot text, entity values and personal
  template values are masked before they are written; a slot value is masked
  once a later event replaces it. ``pii_mode: keep`` writes events readable.
- ``keep_days`` (default 30): after this many days an event is masked whatever
  the mode, and a personal slot (``id_number``) still set in it is emptied.
  Applied to a conversation each time it is saved, and to every conversation
  by ``python -m bot privacy purge``.
- ``personal_slots`` / ``personal_fields``: slot names and bot template values
  to treat as personal besides the defaults (bot.event_privacy).

Rasa rebuilds a conversation by replaying these events, so the current value
of every slot is written exact: forms and the application still work.

Each save also counts the turn's intents and hand-offs for ``GET /metrics``
(``channels.metrics``): the store is the one place that sees every turn's new
events once, whatever the channel.
"""

from __future__ import annotations

import itertools
import json
import logging
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import IO, Any

import sqlalchemy as sa
from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.events import Event, SlotSet
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.nlu.constants import INTENT_NAME_KEY

from bot.event_privacy import MaskPolicy, expire_event, mask_event, superseded
from bot.privacy import hash_user
from channels import metrics

logger = logging.getLogger(__name__)

PII_MODES = ("mask", "keep")
DAY_SECONDS = 86_400
# Event kinds that can carry personal data; the rest are names and scores.
_PERSONAL_KINDS = ("user", "bot", "slot", "entities", "action")
_BATCH = 500
# Senders whose old events were expired by this process, and up to when.
_EXPIRED_CACHE_SIZE = 10_000


@dataclass(frozen=True)
class PurgeReport:
    """What a purge looked at and changed."""

    events_seen: int
    events_masked: int


@dataclass(frozen=True)
class ExportReport:
    """How much an export wrote."""

    conversations: int
    events: int


class PrivateSQLTrackerStore(SQLTrackerStore):
    """SQLTrackerStore that writes personal data masked (see module docstring)."""

    def __init__(
        self,
        domain: Any = None,
        pii_mode: str = "mask",
        keep_days: int | str = 30,
        personal_slots: Iterable[str] | None = None,
        personal_fields: Iterable[str] | None = None,
        **kwargs: Any,
    ) -> None:
        """Check the privacy settings, then connect like SQLTrackerStore.

        Raises:
            ValueError: ``pii_mode`` is not mask or keep, or ``keep_days`` is
                not a whole number of at least 1.
        """
        if pii_mode not in PII_MODES:
            raise ValueError(f"tracker_store pii_mode must be one of {PII_MODES}")
        try:
            days = int(keep_days)
        except (TypeError, ValueError) as exc:
            raise ValueError("tracker_store keep_days must be a whole number") from exc
        if days < 1:
            raise ValueError("tracker_store keep_days must be at least 1")
        self.pii_mode = pii_mode
        self.keep_days = days
        self.policy = MaskPolicy.from_config(personal_slots, personal_fields)
        self._expired_until: OrderedDict[str, float] = OrderedDict()
        # The time retention is measured against (tests move it forward).
        self.clock: Callable[[], float] = time.time
        super().__init__(domain, **kwargs)
        if self.engine.dialect.name == "sqlite":
            sa.event.listen(self.engine, "connect", _secure_delete)
        logger.info(
            "tracker_store.privacy.ready",
            extra={"pii_mode": pii_mode, "keep_days": days},
        )

    async def save(self, tracker: DialogueStateTracker) -> None:
        """Write the tracker's new events, masked as configured.

        Mirrors SQLTrackerStore.save (Rasa 3.6), which offers no hook between
        ``event.as_dict()`` and the row.
        """
        await self.stream_events(tracker)
        with self.session_scope() as session:
            stored = self._event_query(
                session, tracker.sender_id, fetch_events_from_all_sessions=False
            ).count()
            events = list(tracker.events)
            replaced = _replaced_slot_events(events)
            new = list(itertools.islice(enumerate(events), stored, len(events)))
            if self.pii_mode == "mask":
                self._mask_earlier_values(session, tracker.sender_id, new)
            for index, event in new:
                data = event.as_dict()
                if self.pii_mode == "mask":
                    data = mask_event(data, self.policy, mask_slot=index in replaced)
                session.add(self._row(tracker.sender_id, event, data))
            self._expire_sender(session, tracker.sender_id)
            session.commit()
        intents = self.domain.intents if self.domain is not None else ()
        metrics.count_dialogue((event for _, event in new), intents)
        logger.debug("tracker_store.save.done", extra={"events": len(new)})

    def _row(self, sender_id: str, event: Event, data: dict[str, Any]) -> Any:
        intent = ((data.get("parse_data") or {}).get("intent") or {}).get(
            INTENT_NAME_KEY
        )
        return self.SQLEvent(
            sender_id=sender_id,
            type_name=event.type_name,
            timestamp=data.get("timestamp"),
            intent_name=intent,
            action_name=data.get("name"),
            data=json.dumps(data),
        )

    def _mask_earlier_values(
        self, session: Any, sender_id: str, new: list[tuple[int, Event]]
    ) -> None:
        """Mask stored values of personal slots the new events set again
        (a 身份证号 cleared after submission no longer sits in an old row)."""
        slots = {
            event.key
            for _, event in new
            if isinstance(event, SlotSet) and event.key in self.policy.personal_slots
        }
        for slot in slots:
            rows = session.query(self.SQLEvent).filter(
                self.SQLEvent.sender_id == sender_id,
                self.SQLEvent.type_name == SlotSet.type_name,
                self.SQLEvent.data.like(f'%"name": "{slot}"%'),
            )
            for row in rows:
                data = json.loads(row.data)
                masked = mask_event(data, self.policy, mask_slot=True)
                if data.get("name") == slot and masked != data:
                    row.data = json.dumps(masked)

    def _expire_sender(self, session: Any, sender_id: str) -> None:
        """Expire this conversation's events older than ``keep_days``."""
        cutoff = self.clock() - self.keep_days * DAY_SECONDS
        since = self._expired_until.get(sender_id)
        query = self._expiry_query(session, cutoff, since).filter(
            self.SQLEvent.sender_id == sender_id
        )
        _expire_rows(query, self.policy)
        self._expired_until[sender_id] = cutoff
        self._expired_until.move_to_end(sender_id)
        if len(self._expired_until) > _EXPIRED_CACHE_SIZE:
            self._expired_until.popitem(last=False)

    def _expiry_query(self, session: Any, cutoff: float, since: float | None) -> Any:
        query = session.query(self.SQLEvent).filter(
            self.SQLEvent.timestamp < cutoff,
            self.SQLEvent.type_name.in_(_PERSONAL_KINDS),
        )
        if since is not None:
            query = query.filter(self.SQLEvent.timestamp >= since)
        return query

    def purge(self, now: float | None = None) -> PurgeReport:
        """Expire every conversation's events older than ``keep_days``."""
        cutoff = (now or self.clock()) - self.keep_days * DAY_SECONDS
        seen = masked = 0
        last_id = 0
        while True:
            with self.session_scope() as session:
                rows = (
                    self._expiry_query(session, cutoff, None)
                    .filter(self.SQLEvent.id > last_id)
                    .order_by(self.SQLEvent.id)
                    .limit(_BATCH)
                    .all()
                )
                if not rows:
                    break
                masked += _expire_rows(rows, self.policy)
                seen += len(rows)
                last_id = rows[-1].id
                session.commit()
        logger.info(
            "tracker_store.purge.done",
            extra={"events_seen": seen, "events_masked": masked},
        )
        return PurgeReport(events_seen=seen, events_masked=masked)


def _secure_delete(dbapi_connection: Any, _record: Any) -> None:
    # SQLite leaves the old bytes of an updated row in free pages; this makes
    # it overwrite them, so a masked message is gone from the file too.
    # (PostgreSQL keeps old row versions until VACUUM: docs/security.md.)
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA secure_delete = ON")
    cursor.close()


def _replaced_slot_events(events: list[Event]) -> set[int]:
    """Indices of SlotSet events a later SlotSet of the same slot replaces."""
    return superseded(
        [
            {"event": "slot", "name": event.key} if isinstance(event, SlotSet) else {}
            for event in events
        ]
    )


def _expire_rows(rows: Iterable[Any], policy: MaskPolicy) -> int:
    """Rewrite rows past retention; the number actually changed."""
    changed = 0
    for row in rows:
        data = json.loads(row.data)
        expired = expire_event(data, policy)
        if expired != data:
            row.data = json.dumps(expired)
            changed += 1
    return changed


def _conversations(store: SQLTrackerStore) -> Iterator[tuple[str, list[dict]]]:
    """Every conversation's events in order, one conversation in memory at once."""
    with store.session_scope() as session:
        senders = [
            sender
            for (sender,) in session.query(store.SQLEvent.sender_id)
            .distinct()
            .order_by(store.SQLEvent.sender_id)
        ]
    for sender in senders:
        with store.session_scope() as session:
            rows = (
                session.query(store.SQLEvent.data)
                .filter(store.SQLEvent.sender_id == sender)
                .order_by(store.SQLEvent.id)
            )
            events = [json.loads(data) for (data,) in rows]
        yield sender, events


def export_conversations(
    store: SQLTrackerStore, out: IO[str], hash_key: str, policy: MaskPolicy
) -> ExportReport:
    """Write each conversation as one JSON line, every value masked.

    Whatever the store's ``pii_mode``, text, template values and every slot
    value are masked, and the conversation is named by a keyed hash of its
    sender id (a WeChat OpenID is personal too).
    """
    conversations = count = 0
    for sender_id, events in _conversations(store):
        masked = [mask_event(event, policy, mask_slot=True) for event in events]
        line = {"conversation": hash_user(sender_id, hash_key), "events": masked}
        out.write(json.dumps(line, ensure_ascii=False) + "\n")
        conversations += 1
        count += len(masked)
    logger.info(
        "tracker_store.export.done",
        extra={"conversations": conversations, "events": count},
    )
    return ExportReport(conversations=conversations, events=count)
