"""One settings object for every process, read once from the environment.

Every variable has the ``ZW_`` prefix and an embedded default that works on
one machine (`make run`); production overrides them (docs/configuration.md).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent

# SECURITY: a development default, refused in production mode (TODO(#8)).
DEV_BACKEND_TOKEN = "dev-backend-token"
# SECURITY: dev-only WeChat account settings for `make run` and the tests
# (channels/wechat_sim.py signs with them); a real account sets every
# ZW_WECHAT_* variable (docs/channels.md). TODO(#8): refuse them in production.
DEV_WECHAT = {
    "ZW_WECHAT_TOKEN": "devwechattoken",
    "ZW_WECHAT_APP_ID": "wxdev000000000000",
    "ZW_WECHAT_APP_SECRET": "dev-wechat-app-secret",
    "ZW_WECHAT_AES_KEY": "ZGV2LW9ubHktd2VjaGF0LWFlcy1rZXktMzItYnl0ZXM",
    "ZW_WECHAT_MODE": "safe",
    "ZW_WECHAT_CUSTOMER_SERVICE": "false",
    "ZW_WECHAT_API_BASE": "https://api.weixin.qq.com",
}


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
    backend_token: str = DEV_BACKEND_TOKEN
    backend_db_url: str = ""
    build_dir: Path = PROJECT_ROOT / "build"
    var_dir: Path = PROJECT_ROOT / "var"
    models_dir: Path = PROJECT_ROOT / "models"
    kb_data_dir: Path = PROJECT_ROOT / "knowledge_base" / "data"
    log_level: str = "INFO"
    user_hash_key: str = field(default="dev-user-hash-key", repr=False)
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
        user_hash_key=env.get("ZW_USER_HASH_KEY", "dev-user-hash-key"),
        wechat={name: env.get(name, value) for name, value in DEV_WECHAT.items()},
    )
