"""Start the assistant's processes on free ports, for tests and benchmarks.

The same process specs as `make run` (bot.launcher), with their own var/
directory so tests never touch a developer's databases.
"""

from __future__ import annotations

import os
import socket
import subprocess
from dataclasses import dataclass, replace
from pathlib import Path

from bot.launcher import (
    ProcessSpec,
    check_artifacts,
    process_env,
    process_specs,
    wait_healthy,
)
from bot.settings import PROJECT_ROOT, Settings, load_settings


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def stack_settings(var_dir: Path, base: Settings | None = None) -> Settings:
    """Settings for a test stack: fresh ports, a private var/ directory."""
    base = base or load_settings({})
    ports = {name: free_port() for name in ("rasa", "action", "kb", "backend")}
    return replace(
        base,
        rasa_port=ports["rasa"],
        action_port=ports["action"],
        kb_port=ports["kb"],
        backend_port=ports["backend"],
        kb_url=f"http://127.0.0.1:{ports['kb']}",
        backend_url=f"http://127.0.0.1:{ports['backend']}",
        var_dir=var_dir,
    )


@dataclass
class RunningStack:
    """Handles to the started processes and where to reach them."""

    settings: Settings
    processes: dict[str, subprocess.Popen]
    log_dir: Path

    @property
    def rasa_url(self) -> str:
        return f"http://127.0.0.1:{self.settings.rasa_port}"

    @property
    def kb_url(self) -> str:
        return self.settings.kb_url

    @property
    def backend_url(self) -> str:
        return self.settings.backend_url

    def stop(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                process.terminate()
        for process in self.processes.values():
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()

    def logs(self, name: str) -> str:
        return (self.log_dir / f"{name}.log").read_text(errors="replace")


def start_stack(
    var_dir: Path, only: set[str] | None = None, timeout: float = 400
) -> RunningStack:
    """Start the processes (all, or those named in ``only``) and wait for health.

    Raises:
        RuntimeError: a process exited or never became healthy; the message
            carries the tail of its log.
    """
    settings = stack_settings(var_dir)
    check_artifacts(settings)
    var_dir.mkdir(parents=True, exist_ok=True)
    log_dir = var_dir / "logs"
    log_dir.mkdir(exist_ok=True)
    env = {**os.environ, **process_env(settings)}
    specs: list[ProcessSpec] = [
        spec for spec in process_specs(settings) if only is None or spec.name in only
    ]
    processes = {}
    for spec in specs:
        log = open(log_dir / f"{spec.name}.log", "wb")  # noqa: SIM115
        processes[spec.name] = subprocess.Popen(
            spec.argv,
            env={**env, **spec.env},
            cwd=PROJECT_ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    stack = RunningStack(settings=settings, processes=processes, log_dir=log_dir)
    missing = wait_healthy(specs, timeout=timeout)
    if missing:
        tails = {name: stack.logs(name)[-3000:] for name in missing}
        stack.stop()
        raise RuntimeError(f"not healthy: {missing}\n{tails}")
    return stack
