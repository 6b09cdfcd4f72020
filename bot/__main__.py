"""`python -m bot run` starts the assistant; `python -m bot check` checks artifacts."""

from __future__ import annotations

import argparse
import sys

from bot.launcher import MissingArtifact, check_artifacts, run_foreground
from bot.settings import load_settings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bot")
    parser.add_argument("command", choices=["run", "check"])
    args = parser.parse_args(argv)
    try:
        settings = load_settings()
    except ValueError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2
    try:
        if args.command == "check":
            check_artifacts(settings)
            print("check: model, index and embedder are present")
            return 0
        return run_foreground(settings)
    except MissingArtifact as exc:
        print(f"cannot start: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
