from __future__ import annotations

from dataclasses import replace

import pytest

from backend.auth import (
    ACTION_SERVER,
    OPERATOR,
    OPERATOR_ROUTES,
    TokenTable,
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
