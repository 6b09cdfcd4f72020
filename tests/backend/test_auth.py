from __future__ import annotations

from dataclasses import replace

import pytest

from backend.auth import ACTION_SERVER, TokenTable
from backend.errors import UnauthorizedError
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


def test_from_settings_maps_the_backend_token_to_the_action_server():
    settings = replace(load_settings({}), backend_token="from-settings")

    assert TokenTable.from_settings(settings).caller_for("Bearer from-settings") == (
        ACTION_SERVER
    )


def test_the_table_never_shows_tokens_in_its_repr():
    assert "token-one" not in repr(TABLE)
