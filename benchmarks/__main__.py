"""`python -m benchmarks [--only SECTION]`: Markdown tables of the named sections.

Sections: retrieval, quality, turns, kb, flood, triage, assist. Without
``--only`` it runs the default ones; ``kb`` (several minutes, `make
bench-kb`), ``flood`` (about a minute, `make bench-flood`), ``triage`` (`make
bench-triage`) and ``assist`` (`make bench-assist`) run only when asked for.
"""

from __future__ import annotations

import argparse
import sys

from bot.logs import configure_logging

SECTIONS = ("retrieval", "quality", "turns")
ON_REQUEST = ("kb", "flood", "triage", "assist")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks")
    parser.add_argument("--only", choices=SECTIONS + ON_REQUEST, action="append")
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
    if "kb" in chosen:
        from benchmarks.kb import kb_tables

        for table in kb_tables():
            print(table, flush=True)
    if "triage" in chosen:
        from benchmarks.triage import triage_tables

        for table in triage_tables():
            print(table, flush=True)
    if "assist" in chosen:
        from benchmarks.assist import assist_table

        print(assist_table(), flush=True)
    if "flood" in chosen:
        from benchmarks.flood import flood_table

        print(flood_table(), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
