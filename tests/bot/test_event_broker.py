"""RedactingEventBroker around Rasa's SQL event broker, on SQLite."""

from __future__ import annotations

import json
import re

import yaml
from rasa.core.brokers.broker import EventBroker
from rasa.core.brokers.sql import SQLEventBroker
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.utils.endpoints import EndpointConfig

from bot.event_broker import RedactingEventBroker
from bot.privacy import find_personal_data, hash_user
from bot.settings import PROJECT_ROOT, load_settings
from bot.tracker_store import PrivateSQLTrackerStore
from tests.bot.test_tracker_store import SECRETS, SENDER, prefill_turn


def documented_config(db: str) -> EndpointConfig:
    """The commented-out event_broker block of endpoints.yml, switched on."""
    text = (PROJECT_ROOT / "endpoints.yml").read_text()
    block = re.search(r"^# event_broker:\n(?:#   .*\n)+", text, re.MULTILINE)
    assert block, "endpoints.yml documents the event broker"
    config = yaml.safe_load(re.sub(r"^# ?", "", block.group(), flags=re.MULTILINE))
    options = config["event_broker"]
    options["broker"]["db"] = db
    return EndpointConfig(type=options.pop("type"), **options)


def published(broker: RedactingEventBroker) -> list[tuple[str, dict]]:
    inner: SQLEventBroker = broker.inner
    with inner.session_scope() as session:
        rows = session.query(inner.SQLBrokerEvent).order_by(inner.SQLBrokerEvent.id)
        return [(row.sender_id, json.loads(row.data)) for row in rows]


async def test_the_documented_broker_publishes_masked_events(domain, tmp_path):
    broker = await EventBroker.create(documented_config(str(tmp_path / "events.db")))
    assert isinstance(broker, RedactingEventBroker)
    store = PrivateSQLTrackerStore(
        domain=domain, event_broker=broker, db=str(tmp_path / "tracker.db")
    )

    events = prefill_turn()
    await store.save(DialogueStateTracker.from_events(SENDER, events, domain.slots))

    rows = published(broker)
    assert len(rows) == len(events)
    expected_sender = hash_user(SENDER, load_settings().user_hash_key)
    assert {sender for sender, _ in rows} == {expected_sender}
    text = json.dumps([event for _, event in rows], ensure_ascii=False)
    for secret in (*SECRETS, SENDER):
        assert secret not in text
    assert find_personal_data(text) == []
    slots = [event for _, event in rows if event["event"] == "slot"]
    assert [slot["value"] for slot in slots] == ["[已隐去]", "[已隐去]"]


async def test_sender_ids_can_be_kept_for_a_trusted_consumer(tmp_path):
    config = EndpointConfig(
        type="bot.event_broker.RedactingEventBroker",
        hash_sender_id=False,
        broker={"type": "sql", "db": str(tmp_path / "events.db")},
    )
    broker = await EventBroker.create(config)

    broker.publish({"sender_id": SENDER, "event": "user", "text": SECRETS[1]})

    assert published(broker) == [
        (SENDER, {"sender_id": SENDER, "event": "user", "text": "[手机号]"})
    ]
