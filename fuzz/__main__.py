"""``python -m fuzz``: every target for a bounded number of inputs, then a table.

Each target runs in its own process (libFuzzer ends the process when it is
done). The corpus each run grows is kept under ``build/fuzz/<target>/`` so a
later run starts where this one stopped. Exit status 1 when anything was
found, so ``make fuzz`` fails on a finding.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import time
from dataclasses import dataclass

from fuzz.targets import PROJECT_ROOT, TARGETS

OUT_DIR = PROJECT_ROOT / "build" / "fuzz"
DEFAULT_RUNS = 20_000
MAX_INPUT_BYTES = 8192
# An input slower than this is a finding (libFuzzer reports a timeout).
INPUT_TIMEOUT_SECONDS = 10
_DONE = re.compile(r"Done (\d+) runs in (\d+) second")


@dataclass(frozen=True)
class Outcome:
    """One target's run: inputs tried, wall time, distinct findings."""

    name: str
    runs: int
    seconds: float
    findings: tuple[dict, ...]
    crashed: str | None = None


def run_target(name: str, runs: int, max_seconds: int) -> Outcome:
    """Fuzz one target in a child process; read back its counts and findings."""
    folder = OUT_DIR / name
    corpus = folder / "corpus"
    corpus.mkdir(parents=True, exist_ok=True)
    for number, seed in enumerate(TARGETS[name].seeds):
        (corpus / f"seed-{number}").write_bytes(seed)
    findings_path = folder / "findings.json"
    findings_path.unlink(missing_ok=True)
    command = [
        sys.executable, "-m", "fuzz.run_one", name, str(findings_path),
        f"-runs={runs}", f"-max_total_time={max_seconds}",
        f"-max_len={MAX_INPUT_BYTES}", f"-timeout={INPUT_TIMEOUT_SECONDS}",
        f"-artifact_prefix={folder}/", "-print_final_stats=1", str(corpus),
    ]  # fmt: skip

    started = time.perf_counter()
    result = subprocess.run(
        command, cwd=PROJECT_ROOT, capture_output=True, text=True, errors="replace"
    )
    seconds = time.perf_counter() - started

    log = result.stdout + result.stderr
    (folder / "log.txt").write_text(log, encoding="utf-8")
    done = _DONE.search(log)
    findings = ()
    if findings_path.exists():
        findings = tuple(json.loads(findings_path.read_text(encoding="utf-8")))
    crashed = None if result.returncode == 0 else _crash_line(log, result.returncode)
    return Outcome(name, int(done.group(1)) if done else 0, seconds, findings, crashed)


def _crash_line(log: str, returncode: int) -> str:
    for line in log.splitlines():
        if "ERROR: libFuzzer" in line or "Uncaught Python exception" in line:
            return line.strip()
    return f"exit status {returncode}"


def table(outcomes: list[Outcome]) -> str:
    """The Markdown table ``make fuzz`` prints."""
    lines = [
        "| parser | cases run | seconds | findings | first finding |",
        "| --- | ---: | ---: | ---: | --- |",
    ]
    for outcome in outcomes:
        first = outcome.crashed or ""
        if outcome.findings:
            first = f"{outcome.findings[0]['type']} at {outcome.findings[0]['where']}"
        count = len(outcome.findings) + (1 if outcome.crashed else 0)
        lines.append(
            f"| {outcome.name} | {outcome.runs} | {outcome.seconds:.0f} | {count} "
            f"| {first} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m fuzz")
    parser.add_argument("--runs", type=int, default=DEFAULT_RUNS, help="per target")
    parser.add_argument(
        "--max-seconds", type=int, default=300, help="per target, whatever --runs"
    )
    parser.add_argument("--only", nargs="*", choices=sorted(TARGETS), default=None)
    args = parser.parse_args(argv)

    outcomes = []
    for name in args.only or TARGETS:
        print(f"fuzz: {name} ({args.runs} runs at most)", flush=True)
        outcomes.append(run_target(name, args.runs, args.max_seconds))

    print(table(outcomes))
    for outcome in outcomes:
        for finding in outcome.findings:
            print(
                f"finding: {outcome.name}: {finding['type']} at {finding['where']}"
                f" (input {finding['input_bytes']} bytes, first bytes in"
                f" build/fuzz/{outcome.name}/findings.json)"
            )
    found = any(outcome.findings or outcome.crashed for outcome in outcomes)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
