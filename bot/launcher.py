"""The processes of one assistant and how to start them together.

`make run` starts them under honcho (output multiplexed, Ctrl-C stops all);
the test suite starts the same specs itself on free ports (``bot/stack.py``).
"""

from __future__ import annotations

import logging
import os
import shlex
import sys
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from bot.settings import (
    ALL_SECRETS,
    PROJECT_ROOT,
    InsecureSettingsError,
    Settings,
    check_secrets,
    format_agent_tokens,
)

logger = logging.getLogger(__name__)

MODEL_NAME = "assistant.tar.gz"
LOGGING_CONFIG = PROJECT_ROOT / "bot" / "logging.yml"


@dataclass(frozen=True)
class ProcessSpec:
    """One process: its command line, its extra environment and its health URL."""

    name: str
    argv: tuple[str, ...]
    health_url: str
    env: dict[str, str] = field(default_factory=dict)

    @property
    def command(self) -> str:
        return shlex.join(self.argv)


class MissingArtifact(RuntimeError):
    """Something `make setup` builds is not there."""


def model_path(settings: Settings) -> Path:
    return settings.models_dir / MODEL_NAME


def check_artifacts(settings: Settings) -> None:
    """Stop start-up early, naming the command that builds what is missing.

    Raises:
        MissingArtifact: the embedder, the index or the Rasa model is missing.
    """
    needed = [
        (settings.embedder_dir / "manifest.json", "make embedder"),
        (settings.index_dir / "manifest.json", "make index"),
        (model_path(settings), "make train"),
    ]
    for path, command in needed:
        if not path.exists():
            raise MissingArtifact(
                f"{path} is missing: build it with `{command}` (or `make setup`)"
            )


def process_env(settings: Settings) -> dict[str, str]:
    """Environment every child process shares, so they find each other."""
    return {
        "ZW_HOST": settings.host,
        "ZW_KB_URL": settings.kb_url,
        "ZW_BACKEND_URL": settings.backend_url,
        "ZW_MODE": settings.mode,
        "ZW_BACKEND_TOKEN": settings.backend_token,
        "ZW_KB_TOKEN": settings.kb_token,
        "ZW_ACTION_TOKEN": settings.action_token,
        "ZW_METRICS_TOKEN": settings.metrics_token,
        "ZW_USER_HASH_KEY": settings.user_hash_key,
        "ZW_BUILD_DIR": str(settings.build_dir),
        "ZW_VAR_DIR": str(settings.var_dir),
        "ZW_MODELS_DIR": str(settings.models_dir),
        "ZW_ACTION_URL": f"http://{settings.host}:{settings.action_port}/webhook",
        "ZW_TRACKER_DB": str(settings.var_dir / "tracker.db"),
        "ZW_LOG_LEVEL": settings.log_level,
        # credentials.yml expands these for the WeChat channel.
        **settings.wechat,
        # Rasa reads --logging-config-file before the project is importable.
        "PYTHONPATH": str(PROJECT_ROOT),
        "RASA_TELEMETRY_ENABLED": "false",
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "TRANSFORMERS_VERBOSITY": "error",
        "HF_HUB_DISABLE_PROGRESS_BARS": "1",
        "TF_CPP_MIN_LOG_LEVEL": "2",
        "PYTHONWARNINGS": "ignore::DeprecationWarning",
        # Log lines reach honcho (or a log file) as they are written, not
        # when a block buffer fills: Rasa's INFO lines sat in stdout's buffer.
        "PYTHONUNBUFFERED": "1",
    }


def process_specs(settings: Settings) -> list[ProcessSpec]:
    """The four processes, in the order they should start.

    Raises:
        UnsafeCommand: the Rasa command line would expose its API openly.
    """
    specs = _specs(settings)
    for spec in specs:
        if spec.name == "rasa":
            check_rasa_argv(spec.argv)
    return specs


def _specs(settings: Settings) -> list[ProcessSpec]:
    python = sys.executable
    host = settings.host
    bindir = Path(python).parent
    return [
        ProcessSpec(
            name="kb",
            argv=(
                python,
                "-m",
                "knowledge_base",
                "serve",
                "--host",
                host,
                "--port",
                str(settings.kb_port),
            ),
            health_url=f"{settings.kb_url}/health",
        ),
        ProcessSpec(
            name="backend",
            argv=(
                python,
                "-m",
                "backend",
                "serve",
                "--host",
                host,
                "--port",
                str(settings.backend_port),
            ),
            health_url=f"{settings.backend_url}/health",
            # Only the backend checks the operator's and the agents' tokens;
            # no other process needs them (an operator or agent presents one).
            env={
                "ZW_OPERATOR_TOKEN": settings.operator_token,
                "ZW_AGENT_TOKENS": format_agent_tokens(settings.agent_tokens),
                "ZW_ASSIST_UNMASKED_AGENTS": ",".join(sorted(settings.unmasked_agents)),
            },
        ),
        ProcessSpec(
            name="actions",
            argv=(
                python,
                "-m",
                "rasa_sdk",
                "--actions",
                "actions",
                "--port",
                str(settings.action_port),
                # Spelled this way in rasa-sdk 3.6's argument parser.
                "--logging-config_file",
                str(LOGGING_CONFIG),
            ),
            health_url=f"http://{host}:{settings.action_port}/health",
            # rasa-sdk 3.6 has no --interface flag; it binds SANIC_HOST.
            env={"SANIC_HOST": host},
        ),
        ProcessSpec(
            name="rasa",
            argv=(
                str(bindir / "rasa"),
                "run",
                "--interface",
                host,
                "--port",
                str(settings.rasa_port),
                "--model",
                str(model_path(settings)),
                "--credentials",
                str(PROJECT_ROOT / "credentials.yml"),
                "--endpoints",
                str(PROJECT_ROOT / "endpoints.yml"),
                "--logging-config-file",
                str(LOGGING_CONFIG),
            ),
            health_url=f"http://{host}:{settings.rasa_port}/webhooks/web/health",
        ),
    ]


class UnsafeCommand(RuntimeError):
    """A process would be started with an open door (see :func:`check_rasa_argv`)."""


def check_rasa_argv(argv: tuple[str, ...]) -> None:
    """Refuse a Rasa command line that opens its HTTP API without a token.

    ``rasa run --enable-api`` serves the trackers (every conversation), model
    replacement and message injection; without ``--auth-token`` (or JWT)
    anyone who reaches the port has them. We never pass ``--enable-api``.

    Raises:
        UnsafeCommand: ``--enable-api`` without ``--auth-token``/``--jwt-secret``.
    """
    if "--enable-api" in argv and not {"--auth-token", "--jwt-secret"} & set(argv):
        raise UnsafeCommand("rasa run --enable-api needs --auth-token")


def chat_page_url(settings: Settings) -> str:
    return f"http://{settings.host}:{settings.rasa_port}/webhooks/web/"


def is_healthy(url: str, timeout: float = 2.0) -> bool:
    """True when ``url`` answers 200."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


def wait_healthy(specs: list[ProcessSpec], timeout: float) -> list[str]:
    """Poll every spec's health URL until all answer; return those that never did."""
    deadline = time.monotonic() + timeout
    pending = {spec.name: spec.health_url for spec in specs}
    while pending and time.monotonic() < deadline:
        for name, url in list(pending.items()):
            if is_healthy(url):
                del pending[name]
        if pending:
            time.sleep(1.0)
    return sorted(pending)


def _announce_when_ready(settings: Settings, specs: list[ProcessSpec]) -> None:
    started = time.monotonic()
    missing = wait_healthy(specs, timeout=600)
    if missing:
        print(f"launcher: not healthy after 600 s: {', '.join(missing)}", flush=True)
        return
    elapsed = time.monotonic() - started
    print(
        f"\n  政务智能助手 is ready after {elapsed:.0f} s.\n"
        f"  Chat page: {chat_page_url(settings)}\n"
        f"  REST:      POST http://{settings.host}:{settings.rasa_port}"
        "/webhooks/web/webhook\n  Ctrl-C stops everything.\n",
        flush=True,
    )


def run_foreground(settings: Settings) -> int:
    """Start every process under honcho and block until Ctrl-C or a crash.

    Returns 2 without starting anything when production mode finds an
    empty or development secret (the message names the variable).
    """
    from honcho.manager import Manager

    try:
        check_secrets(settings, ALL_SECRETS)
    except InsecureSettingsError as exc:
        print(f"launcher: cannot start: {exc}", file=sys.stderr, flush=True)
        return 2
    check_artifacts(settings)
    settings.var_dir.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, **process_env(settings)}
    specs = process_specs(settings)
    manager = Manager()
    for spec in specs:
        manager.add_process(
            spec.name, spec.command, env={**env, **spec.env}, cwd=str(PROJECT_ROOT)
        )
    print(
        f"launcher: starting {len(specs)} processes; the Rasa server takes about"
        " 40 s to load its model.\n"
        f"  Chat page (when ready): {chat_page_url(settings)}",
        flush=True,
    )
    threading.Thread(
        target=_announce_when_ready, args=(settings, specs), daemon=True
    ).start()
    manager.loop()
    return manager.returncode or 0
