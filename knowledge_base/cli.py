"""``python -m knowledge_base``: build, add, remove, restore, query, stats,
serve, eval, calibrate, gaps (the review loop's report), and the scenario
checker.

Each subcommand is a small function over ``knowledge_base.pipeline``; errors
from the package end as one ``error [code]: message`` line and exit code 2.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from bot.logs import configure_logging
from bot.settings import (
    KB_SECRETS,
    InsecureSettingsError,
    check_secrets,
    load_settings,
)
from knowledge_base import gaps, lifecycle, pipeline
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
from knowledge_base.index import read_manifest
from knowledge_base.loader import load_faq, load_guide_catalogue
from knowledge_base.scenarios import checker, load_scenarios
from knowledge_base.search import Searcher, SearchResult


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


def _rebuild(layout: pipeline.Layout) -> None:
    manifest, _ = pipeline.build(layout, layout.default_sources(), lock=False)
    print(f"index now holds {manifest.doc_count} documents ({manifest.index_id})")


def cmd_add(args: argparse.Namespace) -> int:
    """Copy guide or FAQ files into the data folder, then rebuild.

    A failed build puts the data folder back as it was.
    """
    layout = _layout(args)
    sources = [Path(path) for path in args.files]
    targets = [lifecycle.target_path(layout.data_dir, path) for path in sources]
    with lifecycle.build_lock(layout.index_dir), lifecycle.rollback_on_error(targets):
        for source in sources:
            target = lifecycle.add_file(layout.data_dir, source)
            print(f"added {source} -> {target}")
        _rebuild(layout)
    return 0


def cmd_remove(args: argparse.Namespace) -> int:
    """Withdraw documents by id, then rebuild."""
    layout = _layout(args)
    withdrawn = layout.data_dir / lifecycle.WITHDRAWN_FILE
    with (
        lifecycle.build_lock(layout.index_dir),
        lifecycle.rollback_on_error([withdrawn]),
    ):
        known = [
            doc.doc_id
            for doc in pipeline.load_documents(
                layout.default_sources(), layout.text_policy
            )
        ]
        new = lifecycle.withdraw(layout.data_dir, args.doc_ids, known)
        print(f"withdrawn: {', '.join(new) or 'none new'}")
        _rebuild(layout)
    return 0


def cmd_restore(args: argparse.Namespace) -> int:
    """Take documents off the withdrawn list, then rebuild."""
    layout = _layout(args)
    with lifecycle.build_lock(layout.index_dir):
        back = lifecycle.restore(layout.data_dir, args.doc_ids)
        print(f"restored: {', '.join(back) or 'none were withdrawn'}")
        _rebuild(layout)
    return 0


def format_explained(result: SearchResult) -> str:
    """The outcome, what the query was read as, and each hit's score parts."""
    lines = [f"outcome: {result.outcome}"]
    if result.expansion and result.expansion.rewrites:
        rewrites = ", ".join(f"{r.alias}→{r.term}" for r in result.expansion.rewrites)
        lines.append(f"synonyms: {rewrites}")
    if result.field:
        lines.append(f"asks about: {result.field}")
    lines.append("score  = dense×w + keyword×w (+ identifier boost)")
    for hit in result.hits:
        why = hit.why
        parts = (
            f"cosine {why.cosine:.3f} dense {why.dense:.3f} keyword {why.keyword:.3f}"
            + (" identifier" if why.identifier else "")
            if why
            else ""
        )
        lines.append(f"{hit.score:.3f}  {hit.doc_id}  {hit.title}")
        lines.append(f"       {parts}")
        if hit.field_answer:
            lines.append("       " + hit.field_answer.replace("\n", "\n       "))
    return "\n".join(lines)


def cmd_search(args: argparse.Namespace) -> int:
    searcher = pipeline.open_searcher(_layout(args))
    result = searcher.search(args.query, top_k=args.top_k)
    print(format_explained(result))
    return 0


def cmd_stats(args: argparse.Namespace) -> int:
    layout = _layout(args)
    manifest = read_manifest(layout.index_dir)
    if manifest is None:
        print(f"no index at {layout.index_dir}; run `make setup`", file=sys.stderr)
        return 2
    searcher = pipeline.open_searcher(layout)
    documents = searcher.index.documents
    kinds = Counter(doc.kind for doc in documents)
    departments = Counter(doc.department or "（未注明）" for doc in documents)
    size = sum(p.stat().st_size for p in layout.index_dir.iterdir() if p.is_file())
    print(f"index        {layout.index_dir} ({size / 1e6:.1f} MB)")
    print(f"index id     {manifest.index_id}, built {manifest.built_at}")
    print(f"model        {manifest.model_id} ({manifest.dim}d)")
    print(
        f"documents    {len(documents)}: "
        + ", ".join(f"{kind} {count}" for kind, count in sorted(kinds.items()))
    )
    with_fields = sum(1 for doc in documents if doc.fields)
    print(f"with facts   {with_fields} (answer one field: materials, time, ...)")
    print(f"synonyms     {len(searcher.index.synonyms)} aliases in use")
    print(f"withdrawn    {len(lifecycle.read_withdrawn(layout.data_dir))}")
    print(f"scoring      {dataclasses.asdict(manifest.score_config)}")
    print(f"thresholds   {dataclasses.asdict(manifest.thresholds)}")
    print(
        "departments  "
        + "; ".join(
            f"{name} {count}" for name, count in departments.most_common(args.top)
        )
    )
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    from knowledge_base.service import serve

    try:
        settings = check_secrets(load_settings(), KB_SECRETS)
    except InsecureSettingsError as exc:
        print(f"cannot start: {exc}", file=sys.stderr)
        return 2
    serve(
        pipeline.Layout.from_settings(settings),
        host=args.host or settings.host,
        port=args.port or settings.kb_port,
        token=settings.kb_token,
        metrics_token=settings.metrics_token,
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


def cmd_scenario_check(args: argparse.Namespace) -> int:
    scenarios = load_scenarios(args.dir or load_settings().kb_data_dir / "scenarios")
    scenario = checker.pick_scenario(scenarios, args.scenario)
    answers = checker.parse_answers(scenario, args.answers)
    print(
        json.dumps(
            checker.check_answers(scenario, answers), ensure_ascii=False, indent=2
        )
    )
    return 0


def cmd_scenario_questions(args: argparse.Namespace) -> int:
    scenarios = load_scenarios(args.dir or load_settings().kb_data_dir / "scenarios")
    ids = [args.scenario] if args.scenario else sorted(scenarios)
    views = [
        checker.describe_questions(checker.pick_scenario(scenarios, i)) for i in ids
    ]
    print(json.dumps(views, ensure_ascii=False, indent=2))
    return 0


def cmd_gaps(args: argparse.Namespace) -> int:
    settings = load_settings()
    since = gaps.since_days(args.since)
    if args.records:
        records = gaps.read_records(Path(args.records))
    else:
        url = args.backend_url or settings.backend_url
        try:
            records = gaps.fetch_records(url, settings.operator_token, since)
        except gaps.ReviewSourceError as exc:
            print(f"error [{exc.code}]: {exc}", file=sys.stderr)
            print(
                "the report needs the backend (python -m backend serve), or"
                " --records FILE with records exported as JSON Lines",
                file=sys.stderr,
            )
            return 2
    searcher = pipeline.open_searcher(_layout(args))
    found = gaps.find_gaps(records, searcher, threshold=args.similarity)
    label = args.records or since.strftime("%Y-%m-%d %H:%M UTC")
    print(gaps.format_report(found, len(records), args.top, label))
    return 0


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

    for name in ("query", "search"):
        search = commands.add_parser(
            name, help="search the built index and show why each hit scored"
        )
        search.add_argument("query")
        search.add_argument("--top-k", type=int, default=3)
        search.set_defaults(func=cmd_search)

    add = commands.add_parser(
        "add", help="add or replace guide YAML / FAQ JSONL files, then rebuild"
    )
    add.add_argument("files", nargs="+")
    add.set_defaults(func=cmd_add)

    remove = commands.add_parser(
        "remove", help="withdraw documents by id (see `query`), then rebuild"
    )
    remove.add_argument("doc_ids", nargs="+")
    remove.set_defaults(func=cmd_remove)

    restore = commands.add_parser("restore", help="undo `remove` for these ids")
    restore.add_argument("doc_ids", nargs="+")
    restore.set_defaults(func=cmd_restore)

    stats = commands.add_parser("stats", help="what the built index holds")
    stats.add_argument("--top", type=int, default=10, help="departments to list")
    stats.set_defaults(func=cmd_stats)

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

    report = commands.add_parser(
        "gaps", help="group review records and list the largest gaps"
    )
    report.add_argument(
        "--since", type=float, default=7, help="days back to read (default 7)"
    )
    report.add_argument("--top", type=int, default=20, help="gaps to list")
    report.add_argument(
        "--similarity",
        type=float,
        default=gaps.DEFAULT_SIMILARITY,
        help="cosine at which a question joins a group",
    )
    report.add_argument("--backend-url", help="default: ZW_BACKEND_URL")
    report.add_argument(
        "--records", help="read records from this JSON Lines file instead"
    )
    report.set_defaults(func=cmd_gaps)

    scenario_check = commands.add_parser(
        "scenario-check", help="items, routes and materials for answers (JSON)"
    )
    scenario_check.add_argument("scenario")
    scenario_check.add_argument("answers", help="e.g. '{\"venue_area\": 120}'")
    scenario_check.add_argument("--dir", help="scenario packages (default: data dir)")
    scenario_check.set_defaults(func=cmd_scenario_check)

    questions = commands.add_parser("scenario-questions", help="intake questions")
    questions.add_argument("scenario", nargs="?")
    questions.add_argument("--dir", help="scenario packages (default: data dir)")
    questions.set_defaults(func=cmd_scenario_questions)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = make_parser().parse_args(argv)
    configure_logging(load_settings().log_level)
    try:
        return args.func(args)
    except KnowledgeBaseError as exc:
        print(f"error [{exc.code}]: {exc}", file=sys.stderr)
        return 2
