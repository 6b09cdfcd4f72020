"""One fuzz target under atheris in this process (started by ``python -m fuzz``).

``python -m fuzz.run_one NAME FINDINGS_JSON [libFuzzer flags …] [CORPUS_DIR]``

An exception the target does not allow is a finding: it is written to
``FINDINGS_JSON`` (type, where, the input's first bytes in hex) and fuzzing
goes on, so one run reports every distinct finding, not only the first.
"""

from __future__ import annotations

import json
import sys
import traceback
from pathlib import Path

import atheris

# Instrument our packages only: coverage of our branches guides the fuzzer.
with atheris.instrument_imports(
    include=["actions", "backend", "channels", "knowledge_base"]
):
    from fuzz.targets import PROJECT_ROOT, TARGETS

MAX_SAVED_INPUT = 256


def where(exc: BaseException) -> str:
    """The innermost frame of the traceback inside this project, as path:line."""
    frames = traceback.extract_tb(exc.__traceback__)
    ours = [f for f in frames if f.filename.startswith(str(PROJECT_ROOT))]
    frame = (ours or frames)[-1]
    path = Path(frame.filename)
    shown = (
        path.relative_to(PROJECT_ROOT) if path.is_relative_to(PROJECT_ROOT) else path
    )
    return f"{shown}:{frame.lineno}"


def main(argv: list[str]) -> None:
    name, findings_path, *flags = argv
    target = TARGETS[name]
    findings: dict[tuple[str, str], dict[str, object]] = {}

    def one_input(data: bytes) -> None:
        try:
            target.check(data)
        except target.allowed:
            return
        except Exception as exc:  # noqa: BLE001 - every other exception is a finding
            key = (type(exc).__name__, where(exc))
            if key in findings:
                return
            findings[key] = {
                "type": key[0],
                "where": key[1],
                "input_hex": data[:MAX_SAVED_INPUT].hex(),
                "input_bytes": len(data),
            }
            Path(findings_path).write_text(
                json.dumps(list(findings.values()), indent=2), encoding="utf-8"
            )

    atheris.Setup([sys.argv[0], *flags], one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main(sys.argv[1:])
