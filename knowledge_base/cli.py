"""``python -m knowledge_base``: build, search, serve, eval and calibrate.

Each subcommand is a small function over ``knowledge_base.pipeline``; errors
from the package end as one ``error [code]: message`` line and exit code 2.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from bot.logs import configure_logging
from bot.settings import load_settings
from knowledge_base import pipeline
from knowledge_base.calibration import (
    choose_thresholds,
    measure_floor,
    save_calibration,
    with_floor,
)
from knowledge_base.documents import build_documents
from knowledge_base.encoder import load_encoder
from knowledge_base.errors import KnowledgeBaseError
from knowledge_base.evaluate import (
    EvalQuery,
    QueryOutcome,
    format_report,
    load_queries,
    run_queries,
    summarise,
)
from knowledge_base.loader import load_faq, load_guide_catalogue
from knowledge_base.search import Searcher


def _layout(args: argparse.Namespace) -> pipeline.Layout:
    layout = pipeline.Layout.from_settings(load_settings())
    overrides = {
        name: value
        for name in ("faq_embed_chars", "guide_embed_chars", "keyword_chars")
        if (value := getattr(args, name, None)) is not None
    }
    policy = dataclasses.replace(layout.text_policy, **overrides)
    out = getattr(args, "out", None)
    return dataclasses.replace(
        layout, text_policy=policy, index_dir=Path(out) if out else layout.index_dir
    )


def cmd_build(args: argparse.Namespace) -> int:
    layout = _layout(args)
    custom = args.guides or args.faq or args.catalogue
    sources = (
        pipeline.Sources(
            guide_dirs=tuple(map(Path, args.guides)),
            faq_files=tuple(map(Path, args.faq)),
            catalogues=tuple(map(Path, args.catalogue)),
        )
        if custom
        else layout.default_sources()
    )
    manifest, built = pipeline.build(layout, sources, force=args.force)
    state = "built" if built else "up to date"
    print(f"index {state}: {layout.index_dir}")
    print(f"documents: {manifest.doc_count}, model: {manifest.model_id}")
    return 0


def cmd_search(args: argparse.Namespace) -> int:
    searcher = pipeline.open_searcher(_layout(args))
    result = searcher.search(args.query, top_k=args.top_k)
    print(f"outcome: {result.outcome}")
    for hit in result.hits:
        print(f"{hit.score:.3f}  {hit.doc_id}  {hit.title}")
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    from knowledge_base.service import serve

    settings = load_settings()
    serve(
        pipeline.Layout.from_settings(settings),
        host=args.host or settings.host,
        port=args.port or settings.kb_port,
    )
    return 0


def _eval_searcher(args: argparse.Namespace, layout: pipeline.Layout) -> Searcher:
    corpus = Path(args.corpus)
    if args.format == "guides":
        documents = build_documents(
            load_guide_catalogue(corpus), [], layout.text_policy
        )
    else:
        documents = build_documents([], load_faq(corpus), layout.text_policy)
    encoder = load_encoder(layout.embedder_dir)
    config, thresholds = pipeline.scoring_for(layout, encoder.model_id)
    overrides = {
        name: value
        for name in ("dense_weight", "keyword_weight", "identifier_boost")
        if (value := getattr(args, name)) is not None
    }
    config = dataclasses.replace(config, **overrides)
    return pipeline.in_memory_searcher(layout, documents, encoder, config, thresholds)


def _calibrate(
    searcher: Searcher, queries: list[EvalQuery], layout: pipeline.Layout, write: bool
) -> Searcher:
    floor = measure_floor(searcher, queries)
    config = with_floor(searcher.score_config, floor)
    scaled = Searcher(searcher.index, searcher.encoder, config)
    thresholds, utility = choose_thresholds(run_queries(scaled, queries))
    print(f"scale: dense_floor={floor} dense_ceiling={config.dense_ceiling}")
    print(f"thresholds: {thresholds} (expected utility {utility:.3f})")
    if write:
        measured = {"queries": len(queries), "expected_utility": round(utility, 4)}
        model_id = searcher.encoder.model_id
        save_calibration(
            layout.calibration_file, model_id, config, thresholds, measured
        )
        print(f"saved to {layout.calibration_file}")
    return Searcher(searcher.index, searcher.encoder, config, thresholds)


def _print_failures(outcomes: Sequence[QueryOutcome], limit: int) -> None:
    misses = [o for o in outcomes if o.query.gold is not None and o.gold_rank != 1]
    for o in misses[:limit]:
        top = o.result.hits[0]
        print(f"[{o.query.kind}] rank={o.gold_rank} {o.query.query}")
        print(f"    top {top.score:.3f} {top.doc_id} {top.title[:40]}")


def cmd_eval(args: argparse.Namespace) -> int:
    layout = _layout(args)
    queries = [
        q
        for path in args.queries
        for q in load_queries(Path(path), args.format == "guides")
    ]
    searcher = _eval_searcher(args, layout)
    if args.calibrate:
        searcher = _calibrate(searcher, queries, layout, write=args.write)
    outcomes = run_queries(searcher, queries)
    report = summarise(outcomes)
    if args.json:
        print(json.dumps(report.to_dict(), ensure_ascii=False, indent=2))
    else:
        print(format_report(report))
    _print_failures(outcomes, args.failures)
    return 0


def cmd_calibrate(args: argparse.Namespace) -> int:
    args.calibrate, args.write = True, not args.dry_run
    return cmd_eval(args)


def cmd_build_embedder(args: argparse.Namespace) -> int:
    from knowledge_base.embedder import build_embedder

    path = build_embedder(Path(args.out), args.force)
    print(f"embedder ready: {path}")
    return 0


def cmd_check_embedder(args: argparse.Namespace) -> int:
    from knowledge_base.embedder import check_fidelity

    report = check_fidelity(Path(args.model))
    verdict = "passed" if report.passed else "FAILED"
    print(
        f"embedder fidelity {verdict}: min cosine {report.min_cosine:.6f} "
        f"(floor {report.floor}) over {report.n} texts"
    )
    return 0 if report.passed else 1


def _eval_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--corpus", required=True, help="FAQ JSON Lines or guide catalogue"
    )
    parser.add_argument(
        "--queries", required=True, action="append", help="labelled queries"
    )
    parser.add_argument("--format", choices=("faq", "guides"), default="faq")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument(
        "--failures", type=int, default=0, help="print this many misses"
    )
    for name in ("dense-weight", "keyword-weight", "identifier-boost"):
        parser.add_argument(
            f"--{name}", type=float, help="override the calibrated value"
        )
    for name in ("faq-embed-chars", "guide-embed-chars", "keyword-chars"):
        parser.add_argument(f"--{name}", type=int, help="override the text policy")


def make_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m knowledge_base")
    commands = parser.add_subparsers(dest="command", required=True)

    build = commands.add_parser(
        "build", help="build the index from the knowledge-base data"
    )
    build.add_argument(
        "--guides", action="append", default=[], help="folder of guide YAML"
    )
    build.add_argument("--faq", action="append", default=[], help="FAQ JSON Lines file")
    build.add_argument(
        "--catalogue", action="append", default=[], help="guide catalogue"
    )
    build.add_argument("--out", help="index directory (default build/index)")
    build.add_argument(
        "--force", action="store_true", help="rebuild even if up to date"
    )
    build.set_defaults(func=cmd_build)

    search = commands.add_parser("search", help="search the built index")
    search.add_argument("query")
    search.add_argument("--top-k", type=int, default=3)
    search.set_defaults(func=cmd_search)

    serve = commands.add_parser("serve", help="run the HTTP service")
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    serve.set_defaults(func=cmd_serve)

    evaluate = commands.add_parser("eval", help="retrieval numbers on labelled queries")
    _eval_arguments(evaluate)
    evaluate.add_argument(
        "--calibrate", action="store_true", help="choose thresholds first"
    )
    evaluate.add_argument("--write", action="store_true", help="save the calibration")
    evaluate.set_defaults(func=cmd_eval)

    calibrate = commands.add_parser("calibrate", help="choose and save the thresholds")
    _eval_arguments(calibrate)
    calibrate.add_argument("--dry-run", action="store_true", help="do not save")
    calibrate.set_defaults(func=cmd_calibrate)

    embedder = commands.add_parser("build-embedder", help="convert the offline model")
    embedder.add_argument("--out", default="build/embedder")
    embedder.add_argument("--force", action="store_true")
    embedder.set_defaults(func=cmd_build_embedder)

    check = commands.add_parser(
        "check-embedder", help="compare with the package's engine"
    )
    check.add_argument("--model", default="build/embedder")
    check.set_defaults(func=cmd_check_embedder)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = make_parser().parse_args(argv)
    configure_logging(load_settings().log_level)
    try:
        return args.func(args)
    except KnowledgeBaseError as exc:
        print(f"error [{exc.code}]: {exc}", file=sys.stderr)
        return 2
