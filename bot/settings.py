"""One settings object for every process, read once from the environment.

Every variable has the ``ZW_`` prefix and an embedded default that works on
one machine (`make run`); production overrides them (docs/configuration.md).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent

# SECURITY: development defaults, refused in production mode
# (ZW_MODE=production, see check_secrets).
DEV_BACKEND_TOKEN = "dev-backend-token"
DEV_OPERATOR_TOKEN = "dev-operator-token"
DEV_KB_TOKEN = "dev-kb-token"
DEV_ACTION_TOKEN = "dev-action-token"
DEV_METRICS_TOKEN = "dev-metrics-token"
DEV_AGENT_TOKEN = "dev-agent-token"
DEV_AGENT_TOKENS = (("demo", DEV_AGENT_TOKEN),)
DEV_USER_HASH_KEY = "dev-user-hash-key"
# SECURITY: dev-only WeChat account settings for `make run` and the tests
# (channels/wechat_sim.py signs with them); a real account sets every
# ZW_WECHAT_* variable (docs/channels.md). Refused in production mode.
DEV_WECHAT = {
    "ZW_WECHAT_TOKEN": "devwechattoken",
    "ZW_WECHAT_APP_ID": "wxdev000000000000",
    "ZW_WECHAT_APP_SECRET": "dev-wechat-app-secret",
    "ZW_WECHAT_AES_KEY": "ZGV2LW9ubHktd2VjaGF0LWFlcy1rZXktMzItYnl0ZXM",
    "ZW_WECHAT_MODE": "safe",
    "ZW_WECHAT_CUSTOMER_SERVICE": "false",
    "ZW_WECHAT_API_BASE": "https://api.weixin.qq.com",
}


DEVELOPMENT, PRODUCTION = "development", "production"


@dataclass(frozen=True)
class Settings:
    """Where each part lives and how the parts reach each other."""

    host: str = "127.0.0.1"
    rasa_port: int = 5005
    action_port: int = 5055
    kb_port: int = 5060
    backend_port: int = 5070
    kb_url: str = "http://127.0.0.1:5060"
    backend_url: str = "http://127.0.0.1:5070"
    backend_token: str = field(default=DEV_BACKEND_TOKEN, repr=False)
    backend_db_url: str = ""
    build_dir: Path = PROJECT_ROOT / "build"
    var_dir: Path = PROJECT_ROOT / "var"
    models_dir: Path = PROJECT_ROOT / "models"
    kb_data_dir: Path = PROJECT_ROOT / "knowledge_base" / "data"
    log_level: str = "INFO"
    user_hash_key: str = field(default=DEV_USER_HASH_KEY, repr=False)
    # "development" (the embedded defaults work) or "production" (they are
    # refused at start-up: check_secrets).
    mode: str = "development"
    operator_token: str = field(default=DEV_OPERATOR_TOKEN, repr=False)
    kb_token: str = field(default=DEV_KB_TOKEN, repr=False)
    action_token: str = field(default=DEV_ACTION_TOKEN, repr=False)
    # What a Prometheus scraper presents on every process's GET /metrics.
    metrics_token: str = field(default=DEV_METRICS_TOKEN, repr=False)
    # Agents of the handoff queue (人工坐席): (name, token) pairs the
    # backend accepts (ZW_AGENT_TOKENS), and the one token the desk CLI
    # presents (ZW_AGENT_TOKEN).
    agent_tokens: tuple[tuple[str, str], ...] = field(
        default=DEV_AGENT_TOKENS, repr=False
    )
    agent_token: str = field(default=DEV_AGENT_TOKEN, repr=False)
    # Agents whose assist suggestions may show personal data unmasked
    # (ZW_ASSIST_UNMASKED_AGENTS, names from ZW_AGENT_TOKENS); none by default.
    unmasked_agents: frozenset[str] = frozenset()
    # When agents staff the queue; parsed by backend.service_hours.
    service_hours: str = "1-5 09:00-18:00"
    # The ZW_WECHAT_* values credentials.yml expands (channels.wechat).
    wechat: dict[str, str] = field(default_factory=lambda: dict(DEV_WECHAT), repr=False)

    @property
    def embedder_dir(self) -> Path:
        return self.build_dir / "embedder"

    @property
    def index_dir(self) -> Path:
        return self.build_dir / "index"

    @property
    def backend_database_url(self) -> str:
        """SQLAlchemy URL of the backend database (SQLite under var/ by default)."""
        return self.backend_db_url or f"sqlite:///{self.var_dir / 'backend.db'}"


def _env_int(env: dict[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise ValueError(f"{name} must be a whole number, got {raw!r}") from exc


def _env_mode(env: dict[str, str]) -> str:
    mode = env.get("ZW_MODE", DEVELOPMENT).strip().lower() or DEVELOPMENT
    if mode not in (DEVELOPMENT, PRODUCTION):
        raise ValueError(f"ZW_MODE must be {DEVELOPMENT} or {PRODUCTION}, got {mode!r}")
    return mode


_AGENT_NAME = re.compile(r"[a-z0-9_]{1,32}")


def _env_agent_tokens(env: dict[str, str]) -> tuple[tuple[str, str], ...]:
    """``ZW_AGENT_TOKENS``: ``name:token`` pairs, comma-separated.

    Token emptiness and strength are checked later (``backend.auth`` and
    :func:`check_secrets`); here only the shape and distinct names.
    """
    raw = env.get("ZW_AGENT_TOKENS")
    if raw is None:
        return DEV_AGENT_TOKENS
    pairs = []
    for entry in filter(None, (part.strip() for part in raw.split(","))):
        name, colon, token = entry.partition(":")
        if not colon or not _AGENT_NAME.fullmatch(name.strip()):
            raise ValueError(
                "ZW_AGENT_TOKENS must be comma-separated name:token pairs,"
                " names of 1-32 characters from a-z 0-9 _"
            )
        pairs.append((name.strip(), token.strip()))
    names = [name for name, _ in pairs]
    if len(set(names)) != len(names):
        raise ValueError("ZW_AGENT_TOKENS names an agent twice")
    return tuple(pairs)


def _env_unmasked_agents(
    env: dict[str, str], agents: tuple[tuple[str, str], ...]
) -> frozenset[str]:
    """``ZW_ASSIST_UNMASKED_AGENTS``: comma-separated names of known agents."""
    names = frozenset(
        filter(
            None,
            (
                part.strip()
                for part in env.get("ZW_ASSIST_UNMASKED_AGENTS", "").split(",")
            ),
        )
    )
    unknown = sorted(names - {name for name, _ in agents})
    if unknown:
        raise ValueError(
            f"ZW_ASSIST_UNMASKED_AGENTS names agents not in ZW_AGENT_TOKENS: {unknown}"
        )
    return names


def format_agent_tokens(pairs: tuple[tuple[str, str], ...]) -> str:
    """The ``ZW_AGENT_TOKENS`` value for ``pairs`` (the launcher passes it on)."""
    return ",".join(f"{name}:{token}" for name, token in pairs)


def load_settings(env: dict[str, str] | None = None) -> Settings:
    """Read the settings from ``env`` (the process environment by default).

    Raises:
        ValueError: a variable is present but malformed.
    """
    env = dict(os.environ if env is None else env)
    host = env.get("ZW_HOST", "127.0.0.1")
    kb_port = _env_int(env, "ZW_KB_PORT", 5060)
    backend_port = _env_int(env, "ZW_BACKEND_PORT", 5070)
    build_dir = Path(env.get("ZW_BUILD_DIR", PROJECT_ROOT / "build"))
    agent_tokens = _env_agent_tokens(env)
    return Settings(
        host=host,
        rasa_port=_env_int(env, "ZW_RASA_PORT", 5005),
        action_port=_env_int(env, "ZW_ACTION_PORT", 5055),
        kb_port=kb_port,
        backend_port=backend_port,
        kb_url=env.get("ZW_KB_URL", f"http://{host}:{kb_port}"),
        backend_url=env.get("ZW_BACKEND_URL", f"http://{host}:{backend_port}"),
        backend_token=env.get("ZW_BACKEND_TOKEN", DEV_BACKEND_TOKEN),
        backend_db_url=env.get("ZW_BACKEND_DB_URL", ""),
        build_dir=build_dir,
        var_dir=Path(env.get("ZW_VAR_DIR", PROJECT_ROOT / "var")),
        models_dir=Path(env.get("ZW_MODELS_DIR", PROJECT_ROOT / "models")),
        kb_data_dir=Path(
            env.get("ZW_KB_DATA_DIR", PROJECT_ROOT / "knowledge_base" / "data")
        ),
        log_level=env.get("ZW_LOG_LEVEL", "INFO").upper(),
        user_hash_key=env.get("ZW_USER_HASH_KEY", DEV_USER_HASH_KEY),
        mode=_env_mode(env),
        operator_token=env.get("ZW_OPERATOR_TOKEN", DEV_OPERATOR_TOKEN),
        kb_token=env.get("ZW_KB_TOKEN", DEV_KB_TOKEN),
        action_token=env.get("ZW_ACTION_TOKEN", DEV_ACTION_TOKEN),
        metrics_token=env.get("ZW_METRICS_TOKEN", DEV_METRICS_TOKEN),
        agent_tokens=agent_tokens,
        unmasked_agents=_env_unmasked_agents(env, agent_tokens),
        agent_token=env.get("ZW_AGENT_TOKEN", DEV_AGENT_TOKEN),
        service_hours=env.get("ZW_SERVICE_HOURS", "1-5 09:00-18:00"),
        wechat={name: env.get(name, value) for name, value in DEV_WECHAT.items()},
    )


# Secrets each process holds; its start-up checks them (check_secrets).
WECHAT_SECRETS = (
    "ZW_WECHAT_TOKEN",
    "ZW_WECHAT_APP_ID",
    "ZW_WECHAT_APP_SECRET",
    "ZW_WECHAT_AES_KEY",
)
# Every process serves GET /metrics (docs/operations.md).
METRICS_SECRETS = ("ZW_METRICS_TOKEN",)
# ZW_AGENT_TOKENS holds several tokens; _agent_problems checks each one.
AGENT_SECRETS = "ZW_AGENT_TOKENS"
BACKEND_SECRETS = (
    "ZW_BACKEND_TOKEN",
    "ZW_OPERATOR_TOKEN",
    AGENT_SECRETS,
    *METRICS_SECRETS,
)
KB_SECRETS = ("ZW_KB_TOKEN", *METRICS_SECRETS)
ACTION_SECRETS = (
    "ZW_BACKEND_TOKEN",
    "ZW_KB_TOKEN",
    "ZW_ACTION_TOKEN",
    *METRICS_SECRETS,
)
CHANNEL_SECRETS = ("ZW_USER_HASH_KEY", "ZW_ACTION_TOKEN")
ALL_SECRETS = (*BACKEND_SECRETS, *ACTION_SECRETS, *CHANNEL_SECRETS, *WECHAT_SECRETS)
# Our own tokens and keys; WeChat's have the lengths WeChat sets.
MIN_SECRET_CHARS = 16


class InsecureSettingsError(ValueError):
    """Production mode with an empty, short or development-default secret."""


def _secrets(settings: Settings) -> dict[str, tuple[str, str]]:
    values = {
        "ZW_BACKEND_TOKEN": (settings.backend_token, DEV_BACKEND_TOKEN),
        "ZW_OPERATOR_TOKEN": (settings.operator_token, DEV_OPERATOR_TOKEN),
        "ZW_KB_TOKEN": (settings.kb_token, DEV_KB_TOKEN),
        "ZW_ACTION_TOKEN": (settings.action_token, DEV_ACTION_TOKEN),
        "ZW_METRICS_TOKEN": (settings.metrics_token, DEV_METRICS_TOKEN),
        "ZW_USER_HASH_KEY": (settings.user_hash_key, DEV_USER_HASH_KEY),
    }
    for name in WECHAT_SECRETS:
        values[name] = (settings.wechat.get(name, ""), DEV_WECHAT[name])
    return values


def secret_problems(settings: Settings, names: tuple[str, ...]) -> list[str]:
    """What is wrong with the named secrets for production, one line each.

    The WeChat app secret only counts when the customer-service API is on.
    """
    values = _secrets(settings)
    customer_service = settings.wechat.get("ZW_WECHAT_CUSTOMER_SERVICE", "")
    problems = []
    for name in dict.fromkeys(names):
        if name == AGENT_SECRETS:
            problems.extend(_agent_problems(settings, values, names))
            continue
        value, default = values[name]
        if name == "ZW_WECHAT_APP_SECRET" and customer_service.lower() != "true":
            continue
        if not value.strip():
            problems.append(f"{name} is empty")
        elif value == default:
            problems.append(f"{name} is the development default")
        elif name not in WECHAT_SECRETS and len(value) < MIN_SECRET_CHARS:
            problems.append(f"{name} is shorter than {MIN_SECRET_CHARS} characters")
    problems.extend(_reused(values, names))
    return problems


# One value in two places lets a leak of one token open both doors.
_DISTINCT = (
    "ZW_BACKEND_TOKEN",
    "ZW_OPERATOR_TOKEN",
    "ZW_KB_TOKEN",
    "ZW_ACTION_TOKEN",
    "ZW_METRICS_TOKEN",
    "ZW_USER_HASH_KEY",
)


def _reused(values: dict[str, tuple[str, str]], names: tuple[str, ...]) -> list[str]:
    checked = [name for name in _DISTINCT if name in names]
    problems = []
    for index, name in enumerate(checked):
        for earlier in checked[:index]:
            if values[name][0].strip() and values[name][0] == values[earlier][0]:
                problems.append(f"{name} must differ from {earlier}")
    return problems


def _agent_problems(
    settings: Settings, values: dict[str, tuple[str, str]], names: tuple[str, ...]
) -> list[str]:
    """Each agent's token as strictly as the others, and none shared."""
    if not settings.agent_tokens:
        return [f"{AGENT_SECRETS} is empty"]
    others = [name for name in _DISTINCT if name in names]
    problems = []
    seen: dict[str, str] = {}
    for agent, token in settings.agent_tokens:
        where = f"(agent {agent})"
        if not token.strip():
            problems.append(f"{AGENT_SECRETS} is empty {where}")
            continue
        if token == DEV_AGENT_TOKEN:
            problems.append(f"{AGENT_SECRETS} is the development default {where}")
        elif len(token) < MIN_SECRET_CHARS:
            problems.append(
                f"{AGENT_SECRETS} is shorter than {MIN_SECRET_CHARS} characters {where}"
            )
        for other in others:
            if token == values[other][0]:
                problems.append(f"{AGENT_SECRETS} must differ from {other} {where}")
        if token in seen:
            problems.append(
                f"{AGENT_SECRETS} must differ from agent {seen[token]} {where}"
            )
        seen.setdefault(token, agent)
    return problems


def check_secrets(settings: Settings, names: tuple[str, ...]) -> Settings:
    """Return ``settings``, or refuse them in production mode.

    Every process calls this at start-up with the secrets it holds, so a
    process started alone refuses too. Development mode accepts anything.

    Raises:
        InsecureSettingsError: ``ZW_MODE=production`` and a named secret is
            empty, the development default or too short; the message names
            every such variable.
    """
    if settings.mode != PRODUCTION:
        return settings
    problems = secret_problems(settings, names)
    if problems:
        raise InsecureSettingsError(
            "production mode (ZW_MODE=production) refuses to start: "
            + "; ".join(problems)
        )
    return settings
