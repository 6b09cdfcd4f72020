from __future__ import annotations

from dataclasses import replace

import pytest

from backend.auth import (
    ACTION_SERVER,
    AGENT_ROUTES,
    OPERATOR,
    OPERATOR_ROUTES,
    SHARED_ROUTES,
    TokenTable,
    agent_name,
    check_route,
)
from backend.errors import ForbiddenError, UnauthorizedError
from bot.settings import load_settings

TABLE = TokenTable(callers={"token-one": "action_server", "token-two": "hotline"})


@pytest.mark.parametrize(
    ("header", "caller"),
    [("Bearer token-one", "action_server"), ("Bearer token-two", "hotline")],
)
def test_each_token_names_its_caller(header, caller):
    assert TABLE.caller_for(header) == caller


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "token-one",
        "Bearer ",
        "Bearer token-on",
        "Bearer token-one2",
        "Token token-one",
    ],
)
def test_anything_else_is_unauthorized(header):
    with pytest.raises(UnauthorizedError):
        TABLE.caller_for(header)


def test_a_non_ascii_token_is_unauthorized_not_a_crash():
    with pytest.raises(UnauthorizedError):
        TABLE.caller_for("Bearer 令牌")


def test_from_settings_maps_each_token_to_its_caller():
    settings = replace(
        load_settings({}), backend_token="from-settings", operator_token="operator-1"
    )
    table = TokenTable.from_settings(settings)

    assert table.caller_for("Bearer from-settings") == ACTION_SERVER
    assert table.caller_for("Bearer operator-1") == OPERATOR


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"backend_token": ""}, "ZW_BACKEND_TOKEN must not be empty"),
        ({"operator_token": ""}, "ZW_OPERATOR_TOKEN must not be empty"),
        ({"backend_token": "same", "operator_token": "same"}, "must differ"),
        ({"agent_tokens": (("li", ""),)}, r"ZW_AGENT_TOKENS \(agent li\) must not"),
        (
            {"agent_tokens": (("li", "dev-operator-token"),)},
            r"\(agent li\) must differ from ZW_OPERATOR_TOKEN",
        ),
        (
            {"agent_tokens": (("li", "same-token"), ("wang", "same-token"))},
            r"\(agent wang\) must differ from ZW_AGENT_TOKENS \(agent li\)",
        ),
    ],
)
def test_from_settings_refuses_empty_or_shared_tokens(changes, message):
    with pytest.raises(ValueError, match=message):
        TokenTable.from_settings(replace(load_settings({}), **changes))


STATUS_ROUTE = ("POST", "/v1/applications/{application_no}/items/{item_id}/status")
REVIEW_ROUTE = "/v1/review-records"


@pytest.mark.parametrize(
    ("caller", "call", "allowed"),
    [
        (ACTION_SERVER, ("POST", "/v1/applications"), True),
        (ACTION_SERVER, STATUS_ROUTE, False),
        (OPERATOR, STATUS_ROUTE, True),
        (OPERATOR, ("GET", "/v1/profiles/{id_number}"), False),
        (OPERATOR, ("POST", "/v1/applications/{application_no}/cancel"), False),
        (ACTION_SERVER, ("POST", REVIEW_ROUTE), True),
        (ACTION_SERVER, ("GET", REVIEW_ROUTE), False),
        (OPERATOR, ("GET", REVIEW_ROUTE), True),
        (OPERATOR, ("POST", REVIEW_ROUTE), False),
    ],
)
def test_check_route_opens_each_route_to_its_own_caller(caller, call, allowed):
    assert STATUS_ROUTE in OPERATOR_ROUTES
    if allowed:
        check_route(caller, *call)
    else:
        with pytest.raises(ForbiddenError):
            check_route(caller, *call)


def test_the_table_never_shows_tokens_in_its_repr():
    assert "token-one" not in repr(TABLE)


def test_each_agent_token_names_its_agent():
    settings = replace(
        load_settings({}), agent_tokens=(("li", "token-li-0001"), ("wang", "t-w"))
    )
    table = TokenTable.from_settings(settings)

    assert table.caller_for("Bearer token-li-0001") == "agent:li"
    assert table.caller_for("Bearer t-w") == "agent:wang"
    assert agent_name("agent:wang") == "wang"
    assert agent_name(ACTION_SERVER) is None
    assert agent_name(OPERATOR) is None


HANDOFF = "/v1/handoffs/{handoff_no}"
# Every handoff route and who may call it: (action server, agent, operator).
HANDOFF_CALLS = [
    (("POST", "/v1/handoffs"), (True, False, False)),
    (("GET", "/v1/handoffs/open"), (True, False, False)),
    (("GET", "/v1/handoffs/latest"), (True, False, False)),
    (("GET", "/v1/handoffs"), (False, True, False)),
    (("GET", HANDOFF), (True, True, False)),
    (("POST", f"{HANDOFF}/claim"), (False, True, False)),
    (("POST", f"{HANDOFF}/messages"), (True, True, False)),
    (("GET", f"{HANDOFF}/messages"), (True, True, False)),
    (("POST", f"{HANDOFF}/close"), (True, True, False)),
    (("POST", f"{HANDOFF}/delivered"), (True, False, False)),
]


@pytest.mark.parametrize(("call", "allowed"), HANDOFF_CALLS)
def test_each_handoff_route_opens_to_its_own_callers(call, allowed):
    for caller, may in zip((ACTION_SERVER, "agent:li", OPERATOR), allowed, strict=True):
        if may:
            check_route(caller, *call)
        else:
            with pytest.raises(ForbiddenError):
                check_route(caller, *call)


def test_an_agent_opens_no_other_route():
    assert SHARED_ROUTES < AGENT_ROUTES
    for call in (("POST", "/v1/tickets"), STATUS_ROUTE, ("GET", REVIEW_ROUTE)):
        with pytest.raises(ForbiddenError):
            check_route("agent:li", *call)
