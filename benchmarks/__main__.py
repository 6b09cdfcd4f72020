"""`python -m benchmarks [--only retrieval|quality|turns]` prints Markdown tables."""

from __future__ import annotations

import argparse
import sys

from bot.logs import configure_logging

SECTIONS = ("retrieval", "quality", "turns")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks")
    parser.add_argument("--only", choices=SECTIONS, action="append")
    parser.add_argument("--users", type=int, default=8, help="conversations to run")
    args = parser.parse_args(argv)
    configure_logging("WARNING")
    chosen = args.only or SECTIONS
    if "retrieval" in chosen:
        from benchmarks.retrieval import latency_table

        print(latency_table(), flush=True)
    if "quality" in chosen:
        from benchmarks.retrieval import quality_table

        print(quality_table(), flush=True)
    if "turns" in chosen:
        from benchmarks.turns import turns_table

        print(turns_table(args.users), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
