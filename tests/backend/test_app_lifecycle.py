"""Each item's progress through its department, and cancelling an application."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

import backend.__main__ as cli
from backend.db import AuditEntry
from backend.lifecycle import application_status
from tests.backend.conftest import AUTH, OPERATOR_AUTH
from tests.backend.samples import application_body

FOOD = "food_business_licence"
FIRE = "fire_safety_check"
REASON = "请补充经营场所平面布局图"


@pytest.fixture
async def application_no(client) -> str:
    response = await client.post(
        "/v1/applications",
        json=application_body(),
        headers={**AUTH, "Idempotency-Key": "conversation-0001"},
    )
    assert response.status == 201
    return (await response.json())["application_no"]


async def _move(client, number: str, item_id: str, status: str, reason=None):
    body = {"status": status} | ({"reason": reason} if reason is not None else {})
    return await client.post(
        f"/v1/applications/{number}/items/{item_id}/status",
        json=body,
        headers=OPERATOR_AUTH,
    )


async def _cancel(client, number: str):
    return await client.post(f"/v1/applications/{number}/cancel", headers=AUTH)


def _items(body: dict) -> dict[str, tuple[str, str | None]]:
    return {item["item_id"]: (item["status"], item["reason"]) for item in body["items"]}


async def test_submission_fans_out_one_received_item_per_department(
    client, application_no
):
    response = await client.get(f"/v1/applications/{application_no}", headers=AUTH)

    body = await response.json()
    assert _items(body) == {FOOD: ("received", None), FIRE: ("received", None)}
    assert [item["department"] for item in body["items"]] == [
        "县级市场监督管理局",
        "县级消防救援机构",
    ]


async def test_an_item_goes_received_accepted_done(client, application_no):
    accepted = await _move(client, application_no, FOOD, "accepted")
    done = await _move(client, application_no, FOOD, "done")

    assert (await accepted.json())["status"] == "accepted"
    body = await done.json()
    assert _items(body) == {FOOD: ("done", None), FIRE: ("received", None)}
    assert body["status"] == "accepted"  # one item still waits
    assert body["updated_at"] >= body["created_at"]


async def test_a_returned_item_carries_what_to_fix_until_it_is_received_again(
    client, application_no
):
    returned = await _move(client, application_no, FIRE, "returned", REASON)
    body = await returned.json()
    assert body["status"] == "returned"
    assert _items(body)[FIRE] == ("returned", REASON)

    again = await _move(client, application_no, FIRE, "received")
    assert _items(await again.json())[FIRE] == ("received", None)


async def test_the_same_move_twice_changes_nothing(client, application_no, engine):
    first = await _move(client, application_no, FOOD, "accepted")
    second = await _move(client, application_no, FOOD, "accepted")

    assert (first.status, second.status) == (200, 200)
    assert await first.json() == await second.json()
    with Session(engine, future=True) as session:
        actions = session.execute(select(AuditEntry.action)).scalars().all()
    assert actions.count("item.accepted") == 1


@pytest.mark.parametrize(
    ("path", "status", "code"),
    [
        (["done"], 409, "invalid_transition"),
        (["accepted", "received"], 409, "invalid_transition"),
        (["accepted", "done", "received"], 409, "invalid_transition"),
    ],
)
async def test_moves_outside_the_lifecycle_are_refused(
    client, application_no, path, status, code
):
    for step in path[:-1]:
        assert (await _move(client, application_no, FOOD, step)).status == 200

    response = await _move(client, application_no, FOOD, path[-1])

    assert response.status == status
    assert (await response.json())["error"]["code"] == code


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({"status": "returned"}, "reason"),
        ({"status": "returned", "reason": "  "}, "reason"),
        ({"status": "returned", "reason": "长" * 257}, "reason"),
        ({"status": "accepted", "reason": "好"}, "reason"),
        ({"status": "cancelled"}, "status"),
        ({"status": "approved"}, "status"),
        ({"status": "done", "by": "me"}, "unknown fields"),
    ],
)
async def test_malformed_status_changes_are_invalid_request(
    client, application_no, body, fragment
):
    response = await client.post(
        f"/v1/applications/{application_no}/items/{FOOD}/status",
        json=body,
        headers=OPERATOR_AUTH,
    )

    assert response.status == 400
    error = (await response.json())["error"]
    assert (error["code"], fragment in error["message"]) == ("invalid_request", True)


async def test_unknown_item_and_unknown_application_are_not_found(
    client, application_no
):
    item = await _move(client, application_no, "tobacco_retail_licence", "accepted")
    application = await _move(client, "ZW20990101000009", FOOD, "accepted")

    assert (await item.json())["error"]["code"] == "item_not_found"
    assert (await application.json())["error"]["code"] == "application_not_found"


async def test_cancel_before_acceptance_cancels_every_item_and_is_idempotent(
    client, application_no, engine
):
    await _move(client, application_no, FIRE, "returned", REASON)

    first = await _cancel(client, application_no)
    again = await _cancel(client, application_no)

    assert (first.status, again.status) == (200, 200)
    body = await again.json()
    assert body["status"] == "cancelled"
    assert _items(body) == {FOOD: ("cancelled", None), FIRE: ("cancelled", None)}
    with Session(engine, future=True) as session:
        actions = session.execute(select(AuditEntry.action)).scalars().all()
    assert actions.count("application.cancel") == 1


async def test_cancel_after_an_item_is_accepted_is_a_conflict(client, application_no):
    await _move(client, application_no, FOOD, "accepted")

    response = await _cancel(client, application_no)

    assert response.status == 409
    assert (await response.json())["error"]["code"] == "cancel_not_allowed"
    current = await client.get(f"/v1/applications/{application_no}", headers=AUTH)
    assert (await current.json())["status"] == "accepted"


async def test_a_cancelled_item_moves_no_further(client, application_no):
    await _cancel(client, application_no)

    response = await _move(client, application_no, FOOD, "accepted")

    assert (await response.json())["error"]["code"] == "invalid_transition"


@pytest.mark.parametrize(
    ("statuses", "expected"),
    [
        (["received", "received"], "received"),
        (["accepted", "received"], "accepted"),
        (["done", "received"], "accepted"),
        (["done", "returned"], "returned"),
        (["done", "done"], "done"),
    ],
)
def test_application_status_follows_its_items(statuses, expected):
    assert application_status(statuses) == expected


async def test_operator_cli_moves_an_item_and_is_audited(
    client, application_no, engine, monkeypatch, capsys
):
    monkeypatch.setenv("ZW_BACKEND_DB_URL", str(engine.url.render_as_string(False)))
    monkeypatch.setattr(cli, "configure_logging", lambda level: None)

    status = cli.main(
        ["item-status", application_no, FIRE, "returned", "--reason", REASON]
    )
    refused = cli.main(["item-status", application_no, FIRE, "done"])

    assert (status, refused) == (0, 1)
    out, err = capsys.readouterr()
    assert REASON in out and "invalid_transition" in err
    with Session(engine, future=True) as session:
        who = session.execute(
            select(AuditEntry.who).where(AuditEntry.action == "item.returned")
        ).scalar_one()
    assert who == "operator_cli"
