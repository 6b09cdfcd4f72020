"""``python -m backend serve|seed|migrate|item-status|audit|desk``: run, fill,
upgrade, operate, audit, answer the agent queue.

``serve`` upgrades the schema and, unless ``--no-seed``, adds the fictional
sample citizens (idempotent) before it starts listening. ``item-status`` is
the operator's tool: it moves one item of an application (audited as
``operator_cli``; whoever can run it can already write the database).
``audit export`` writes one window of the audit log for an auditor.
``desk`` is an agent's terminal over HTTP (backend.desk); it needs no database.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import uuid
from pathlib import Path

from aiohttp import web
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from backend import audit, desk, lifecycle, service_hours
from backend.app import create_app
from backend.db import create_db_engine, upgrade_schema
from backend.errors import BackendError
from backend.repository import Caller
from backend.seed import seed
from backend.validation import (
    ITEM_STATUSES,
    parse_application_no,
    parse_item_id,
    parse_status_change,
)
from bot.logs import configure_logging
from bot.settings import (
    BACKEND_SECRETS,
    InsecureSettingsError,
    Settings,
    check_secrets,
    load_settings,
)

logger = logging.getLogger(__name__)

OPERATOR_CLI = "operator_cli"
AUDIT_CLI = "audit_cli"


def _parser(settings: Settings) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m backend")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="upgrade, seed and serve the API")
    serve.add_argument("--host", default=settings.host)
    serve.add_argument("--port", type=int, default=settings.backend_port)
    serve.add_argument(
        "--no-seed", action="store_true", help="do not add the sample citizens"
    )
    commands.add_parser("seed", help="upgrade the schema and add the sample citizens")
    commands.add_parser("migrate", help="upgrade the schema to the newest migration")
    item = commands.add_parser("item-status", help="move one item of an application")
    item.add_argument("application_no")
    item.add_argument("item_id")
    item.add_argument("status", choices=ITEM_STATUSES)
    item.add_argument("--reason", help="what the citizen must fix (status returned)")
    _audit_parser(commands)
    desk.add_parser(commands)
    return parser


def _audit_parser(commands) -> None:
    audit_commands = commands.add_parser(
        "audit", help="the audit log, for an auditor"
    ).add_subparsers(dest="audit_command", required=True)
    export = audit_commands.add_parser(
        "export", help="write one time window of the audit log to a new file"
    )
    moment = "ISO 8601 date or date-time; without an offset it is UTC"
    export.add_argument(
        "--since", required=True, type=_moment, help=f"from (inclusive): {moment}"
    )
    export.add_argument(
        "--until", required=True, type=_moment, help=f"to (exclusive): {moment}"
    )
    export.add_argument("--format", choices=audit.FORMATS, default="jsonl")
    export.add_argument(
        "--out", required=True, type=Path, help="a new file (mode 0600)"
    )


def _moment(raw: str):
    try:
        return audit.parse_moment(raw)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not an ISO 8601 date: {raw!r}") from exc


def main(argv: list[str] | None = None) -> int:
    """Run one command; returns the process exit status."""
    try:
        settings = load_settings()
    except ValueError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2
    args = _parser(settings).parse_args(argv)
    if args.command == "desk":
        return desk.run(args, settings)
    if args.command == "serve":
        try:
            check_secrets(settings, BACKEND_SECRETS)
        except InsecureSettingsError as exc:
            print(f"cannot start: {exc}", file=sys.stderr)
            return 2
        try:
            service_hours.parse(settings.service_hours)
        except ValueError as exc:
            print(f"configuration error: {exc}", file=sys.stderr)
            return 2
    configure_logging(settings.log_level)
    engine = create_db_engine(settings.backend_database_url)
    try:
        upgrade_schema(engine)
        if args.command == "seed" or (args.command == "serve" and not args.no_seed):
            with Session(engine, future=True) as session:
                seed(session)
        if args.command == "serve":
            _serve(settings, engine, args.host, args.port)
        if args.command == "item-status":
            return _item_status(engine, args)
        if args.command == "audit":
            return _audit_export(engine, args)
    except OperationalError as exc:
        logger.error(
            "backend.start.failed",
            extra={"code": "database_unavailable", "dialect": engine.dialect.name},
        )
        print(f"cannot reach the backend database: {exc.orig}", file=sys.stderr)
        return 2
    finally:
        engine.dispose()
    return 0


def _item_status(engine, args: argparse.Namespace) -> int:
    """Move one item; print the application as the API shows it."""
    body = {"status": args.status}
    if args.reason is not None:
        body["reason"] = args.reason
    caller = Caller(name=OPERATOR_CLI, request_id=uuid.uuid4().hex)
    try:
        with Session(engine, future=True) as session:
            record = lifecycle.set_item_status(
                session,
                parse_application_no(args.application_no),
                parse_item_id(args.item_id),
                parse_status_change(body),
                caller,
            )
    except BackendError as exc:
        print(f"{exc.code}: {exc.message}", file=sys.stderr)
        return 1
    print(json.dumps(record.to_json(), ensure_ascii=False, indent=2))
    return 0


def _audit_export(engine, args: argparse.Namespace) -> int:
    """Write the window's audit rows to a new file; print how many."""
    if args.since >= args.until:
        print("--since must be before --until", file=sys.stderr)
        return 1
    try:
        out = audit.open_new_file(args.out)
    except OSError as exc:
        print(f"cannot create {args.out}: {exc.strerror}", file=sys.stderr)
        return 1
    caller = Caller(name=AUDIT_CLI, request_id=uuid.uuid4().hex)
    with out, Session(engine, future=True) as session:
        count = audit.write_export(session, args.since, args.until, args.format, out)
        audit.record_export(session, caller, args.since, args.until)
    logger.info("backend.audit.exported", extra={"rows": count, "format": args.format})
    print(f"{count} audit entries written to {args.out}")
    return 0


def _serve(settings: Settings, engine, host: str, port: int) -> None:
    app = create_app(settings, engine)
    logger.info("backend.serve.starting", extra={"host": host, "port": port})
    # access_log=None: aiohttp's access log prints paths, which carry 身份证号;
    # backend.middleware logs route templates instead.
    web.run_app(app, host=host, port=port, access_log=None, print=None)


if __name__ == "__main__":
    sys.exit(main())
