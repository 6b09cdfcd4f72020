"""``python -m backend serve|seed|migrate|item-status``: run, fill, upgrade, operate.

``serve`` upgrades the schema and, unless ``--no-seed``, adds the fictional
sample citizens (idempotent) before it starts listening. ``item-status`` is
the operator's tool: it moves one item of an application (audited as
``operator_cli``; whoever can run it can already write the database).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import uuid

from aiohttp import web
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from backend import lifecycle
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
from bot.settings import Settings, load_settings

logger = logging.getLogger(__name__)

OPERATOR_CLI = "operator_cli"


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
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run one command; returns the process exit status."""
    try:
        settings = load_settings()
    except ValueError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2
    args = _parser(settings).parse_args(argv)
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


def _serve(settings: Settings, engine, host: str, port: int) -> None:
    app = create_app(settings, engine)
    logger.info("backend.serve.starting", extra={"host": host, "port": port})
    # access_log=None: aiohttp's access log prints paths, which carry 身份证号;
    # backend.middleware logs route templates instead.
    web.run_app(app, host=host, port=port, access_log=None, print=None)


if __name__ == "__main__":
    sys.exit(main())
