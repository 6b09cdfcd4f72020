"""``python -m knowledge_base.triage train | eval | classify``.

``train`` fits the classifier on the training split of the shared labelled
messages and writes ``build/triage/``; ``eval`` prints per-class precision
and recall on the held-out split; ``classify TEXT`` shows one reading.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from bot.logs import configure_logging
from bot.settings import PROJECT_ROOT
from knowledge_base.errors import KnowledgeBaseError
from knowledge_base.tokenizer import KbTokenizer
from knowledge_base.triage import data
from knowledge_base.triage.evaluate import HeadReport, score_head
from knowledge_base.triage.model import TriageModel, train

DEFAULT_SHARED = PROJECT_ROOT.parent / "shared" / "data"
DEFAULT_MODEL = PROJECT_ROOT / "build" / "triage"
DICT_DIR = PROJECT_ROOT / "knowledge_base" / "data" / "dict"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m knowledge_base.triage")
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL)
    parser.add_argument("--shared", type=Path, default=DEFAULT_SHARED)
    commands = parser.add_subparsers(dest="command", required=True)
    fit = commands.add_parser("train", help="train on the shared labelled messages")
    fit.add_argument("--if-data", action="store_true", help="skip when absent")
    commands.add_parser("eval", help="precision and recall on the held-out split")
    classify = commands.add_parser("classify", help="kind and topic of one message")
    classify.add_argument("text")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    configure_logging("WARNING")
    try:
        if args.command == "train":
            return _train(args)
        model = TriageModel.load(args.model, KbTokenizer.load(DICT_DIR))
        if args.command == "classify":
            reading = model.predict(args.text)
            print(
                f"kind={reading.kind} ({reading.kind_score:.2f}) "
                f"topic={reading.topic} ({reading.topic_score:.2f})"
            )
            return 0
        _, test = data.split(data.load_shared(args.shared))
        for head in ("kind", "topic"):
            print(report_table(score_head(model, head, *data.with_label(test, head))))
        return 0
    except FileNotFoundError as exc:
        print(f"triage: not found: {exc.filename} (run `make triage`)", file=sys.stderr)
        return 2
    except KnowledgeBaseError as exc:
        print(f"triage: {exc}", file=sys.stderr)
        return 2


def _train(args: argparse.Namespace) -> int:
    if not (args.shared / data.BEIJING_FILE).is_file():
        print(f"triage: no labelled messages at {args.shared}", file=sys.stderr)
        return 0 if args.if_data else 2
    started = time.perf_counter()
    train_split, test_split = data.split(data.load_shared(args.shared))
    labelled = {head: data.with_label(train_split, head) for head in ("kind", "topic")}
    model = train(
        KbTokenizer.load(DICT_DIR),
        labelled,
        meta={
            "trained_on": "msgabench_beijing+taidi2020 train split",
            "train_messages": len(train_split),
            "held_out_messages": len(test_split),
        },
    )
    model.save(args.model)
    print(
        f"triage: trained on {len(train_split)} messages "
        f"({len(test_split)} held out) in {time.perf_counter() - started:.0f} s "
        f"-> {args.model}"
    )
    return 0


def report_table(report: HeadReport) -> str:
    """A Markdown table: one row per class, then accuracy and macro F1."""
    lines = [
        f"\n### triage: {report.head} (held-out split)\n",
        "| class | support | precision | recall | F1 |",
        "| --- | --- | --- | --- | --- |",
    ]
    lines.extend(
        f"| {s.label} | {s.support} | {s.precision:.3f} | {s.recall:.3f} | {s.f1:.3f} |"
        for s in report.classes
    )
    total = sum(s.support for s in report.classes)
    accuracy, macro = f"{report.accuracy:.3f}", f"{report.macro_f1:.3f}"
    lines.append(f"| all | {total} | accuracy {accuracy} | | macro F1 {macro} |")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
