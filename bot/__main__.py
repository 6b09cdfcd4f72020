"""`python -m bot run` starts the assistant; `check` checks artifacts;
`export-conversations --out FILE` and `privacy purge` act on the stored
conversations (bot.conversations)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from bot.launcher import MissingArtifact, check_artifacts, run_foreground
from bot.settings import Settings, load_settings


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bot")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("run", help="start every process in the foreground")
    commands.add_parser("check", help="check the model, index and embedder")
    export = commands.add_parser(
        "export-conversations", help="write the conversations, masked, as JSON lines"
    )
    export.add_argument("--out", type=Path, required=True)
    privacy = commands.add_parser("privacy", help="personal-data retention")
    privacy.add_argument("action", choices=["purge"])
    return parser


def _conversations(args: argparse.Namespace, settings: Settings) -> int:
    from bot import conversations

    try:
        if args.command == "export-conversations":
            report = conversations.export_to_file(settings, args.out)
            print(
                f"export: conversations={report.conversations} events={report.events}"
            )
            return 0
        purged = conversations.purge(settings)
    except ValueError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2
    print(f"purge: events_seen={purged.events_seen} masked={purged.events_masked}")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        settings = load_settings()
    except ValueError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2
    try:
        if args.command in ("export-conversations", "privacy"):
            return _conversations(args, settings)
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
