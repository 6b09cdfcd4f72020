"""PrivateSQLTrackerStore against real SQLite and PostgreSQL databases."""

from __future__ import annotations

import io
import json
import re
import time

import pytest
from rasa.core.tracker_store import TrackerStore
from rasa.shared.core.events import (
    ActionExecuted,
    ActiveLoop,
    BotUttered,
    SlotSet,
    UserUttered,
)
from rasa.shared.core.trackers import DialogueStateTracker

from backend.seed import SAMPLE_CITIZENS
from bot.event_privacy import MaskPolicy
from bot.privacy import find_personal_data, hash_user
from bot.settings import PROJECT_ROOT
from bot.tracker_store import (
    DAY_SECONDS,
    PrivateSQLTrackerStore,
    export_conversations,
)

CITIZEN = SAMPLE_CITIZENS[0]  # 张晓明, fictional (backend/seed.py)
SECRETS = (CITIZEN.id_number, CITIZEN.phone, CITIZEN.name, CITIZEN.address)
SENDER = "wx-openid-test-0001"


def prefill_turn(timestamp: float | None = None) -> list:
    """The events of the turn that takes the 身份证号 and shows the form."""
    said = f"我的身份证号是{CITIZEN.id_number}，电话{CITIZEN.phone}"
    stamp = {"timestamp": timestamp} if timestamp else {}
    form = (
        f"申请人：{CITIZEN.name}\n手机：130****0001\n地址：{CITIZEN.address}\n"
        "身份证号：990***********0117"
    )
    return [
        ActionExecuted("action_listen", **stamp),
        UserUttered(
            said,
            intent={"name": "inform", "confidence": 0.9},
            entities=[{"entity": "number", "value": CITIZEN.phone, "start": 0}],
            **stamp,
        ),
        ActionExecuted("prefill_form", **stamp),
        SlotSet("id_number", said, **stamp),
        SlotSet("id_number", CITIZEN.id_number, **stamp),
        ActiveLoop(None, **stamp),
        ActionExecuted("action_prefill_application", **stamp),
        BotUttered(
            form,
            metadata={
                "utter_action": "utter_integrated_application",
                "applicant_name": CITIZEN.name,
                "address": CITIZEN.address,
                "phone_masked": "130****0001",
            },
            **stamp,
        ),
    ]


def make_store(domain, tracker_db, **options) -> PrivateSQLTrackerStore:
    return PrivateSQLTrackerStore(domain=domain, **tracker_db, **options)


def stored_rows(store) -> list[str]:
    with store.session_scope() as session:
        query = session.query(store.SQLEvent.data).order_by(store.SQLEvent.id)
        return [data for (data,) in query]


def rows_holding(rows: list[str], secret: str) -> list[dict]:
    return [json.loads(row) for row in rows if secret in repr(json.loads(row))]


async def save_new(store, domain, events) -> DialogueStateTracker:
    tracker = DialogueStateTracker.from_events(SENDER, events, domain.slots)
    await store.save(tracker)
    return tracker


async def test_text_and_template_values_are_stored_masked(domain, tracker_db):
    store = make_store(domain, tracker_db)
    await save_new(store, domain, prefill_turn())

    rows = stored_rows(store)
    for secret in (CITIZEN.phone, CITIZEN.name, CITIZEN.address):
        assert rows_holding(rows, secret) == []
    # The 身份证号 is in one row only: the slot the application still needs.
    holding = rows_holding(rows, CITIZEN.id_number)
    assert [(row["event"], row["value"]) for row in holding] == [
        ("slot", CITIZEN.id_number)
    ]
    user = next(json.loads(row) for row in rows if '"event": "user"' in row)
    assert user["text"] == "我的身份证号是[身份证号]，电话[手机号]"
    assert user["parse_data"]["entities"][0]["value"] == "[手机号]"
    bot = next(json.loads(row) for row in rows if '"event": "bot"' in row)
    assert "申请人：[姓名]" in bot["text"] and "地址：[地址]" in bot["text"]


async def test_each_saved_turn_counts_its_intent_and_handoff_once(domain, tracker_db):
    from channels.metrics import REGISTRY

    def count(name: str, **labels: str) -> float:
        return REGISTRY.get_sample_value(name, labels) or 0.0

    store = make_store(domain, tracker_db)
    handoff_turn = [
        ActionExecuted("action_listen"),
        UserUttered("转人工", intent={"name": "request_agent", "confidence": 0.9}),
        ActionExecuted("action_request_agent"),
        BotUttered("请拨打12345"),
    ]
    before = count("zw_rasa_intents_total", intent="request_agent")
    handoffs = count("zw_rasa_handoffs_total")

    tracker = await save_new(store, domain, handoff_turn)
    await store.save(tracker)  # nothing new: nothing counted again

    assert count("zw_rasa_intents_total", intent="request_agent") == before + 1
    assert count("zw_rasa_handoffs_total") == handoffs + 1


async def test_the_replayed_tracker_keeps_every_slot_and_the_form(domain, tracker_db):
    store = make_store(domain, tracker_db)
    events = prefill_turn()
    events.insert(1, ActiveLoop("prefill_form"))
    original = await save_new(store, domain, events[:-2])

    again = await store.retrieve(SENDER)

    assert again.current_slot_values() == original.current_slot_values()
    assert again.get_slot("id_number") == CITIZEN.id_number
    assert again.active_loop_name == original.active_loop_name
    assert len(again.events) == len(original.events)


async def test_a_cleared_id_number_leaves_no_copy_in_any_row(domain, tracker_db):
    store = make_store(domain, tracker_db)
    tracker = await save_new(store, domain, prefill_turn())

    tracker.update(ActionExecuted("action_submit_application"))
    tracker.update(SlotSet("id_number", None))
    await store.save(tracker)

    rows = stored_rows(store)
    assert rows_holding(rows, CITIZEN.id_number) == []
    assert (await store.retrieve(SENDER)).get_slot("id_number") is None


async def test_keep_mode_stores_readable_text_until_purged(domain, tracker_db):
    store = make_store(domain, tracker_db, pii_mode="keep", keep_days=7)
    await save_new(store, domain, prefill_turn())
    assert rows_holding(stored_rows(store), CITIZEN.name)

    early = store.purge(now=time.time() + 6 * DAY_SECONDS)
    report = store.purge(now=time.time() + 8 * DAY_SECONDS)

    assert early.events_masked == 0
    assert report.events_masked >= 4
    rows = stored_rows(store)
    for secret in SECRETS:
        assert rows_holding(rows, secret) == []
    # Past retention the 身份证号 is forgotten: the form would ask again.
    assert (await store.retrieve(SENDER)).get_slot("id_number") is None


async def test_saving_a_conversation_expires_its_own_old_events(domain, tracker_db):
    store = make_store(domain, tracker_db, pii_mode="keep", keep_days=30)
    tracker = await save_new(store, domain, prefill_turn())
    assert rows_holding(stored_rows(store), CITIZEN.phone)

    store.clock = lambda: time.time() + 31 * DAY_SECONDS
    tracker.update(UserUttered("你好", intent={"name": "greet", "confidence": 1.0}))
    await store.save(tracker)

    rows = stored_rows(store)
    for secret in SECRETS:
        assert rows_holding(rows, secret) == []
    assert json.loads(rows[-1])["text"] == "你好"


async def test_events_already_past_retention_are_written_masked(domain, tracker_db):
    store = make_store(domain, tracker_db, pii_mode="keep", keep_days=30)
    await save_new(store, domain, prefill_turn(time.time() - 40 * DAY_SECONDS))

    rows = stored_rows(store)
    for secret in SECRETS:
        assert rows_holding(rows, secret) == []


async def test_export_masks_every_value_whatever_the_stored_mode(domain, tracker_db):
    store = make_store(domain, tracker_db, pii_mode="keep")
    await save_new(store, domain, prefill_turn())
    out = io.StringIO()

    report = export_conversations(store, out, "export-key", MaskPolicy())

    lines = out.getvalue().splitlines()
    assert (report.conversations, len(lines)) == (1, 1)
    line = json.loads(lines[0])
    assert line["conversation"] == hash_user(SENDER, "export-key")
    assert report.events == len(line["events"]) == len(prefill_turn())
    text = json.dumps(line, ensure_ascii=False)
    for secret in (*SECRETS, SENDER):
        assert secret not in text
    assert find_personal_data(text) == []


def test_endpoints_yml_configures_the_private_store(tmp_path, monkeypatch, domain):
    from rasa.core.utils import AvailableEndpoints

    path = PROJECT_ROOT / "endpoints.yml"
    # Every ${ZW_...} the file names, as the launcher sets them.
    for name in re.findall(r"\$\{(\w+)\}", path.read_text()):
        monkeypatch.setenv(name, "set-by-the-launcher")
    monkeypatch.setenv("ZW_TRACKER_DB", str(tmp_path / "tracker.db"))
    endpoints = AvailableEndpoints.read_endpoints(str(path))

    store = TrackerStore.create(endpoints.tracker_store, domain=domain)

    assert isinstance(store, PrivateSQLTrackerStore)
    assert (store.pii_mode, store.keep_days) == ("mask", 30)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"pii_mode": "encrypt"}, "pii_mode"),
        ({"keep_days": "a month"}, "whole number"),
        ({"keep_days": 0}, "at least 1"),
    ],
)
def test_bad_privacy_settings_stop_start_up(domain, tmp_path, options, message):
    with pytest.raises(ValueError, match=message):
        make_store(domain, {"db": str(tmp_path / "t.db")}, **options)
