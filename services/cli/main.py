"""The ``agentloom`` command: start the local stack, run one service, mint a token, maintain.

    agentloom up [--port 8006]              everything, on embedded defaults
    agentloom serve api|command-api|query-api|executor|projector|relay|notifier|scheduler [--port N]
    agentloom token --user ID [--email E] [--admin]
    agentloom migrate
    agentloom projections rebuild
    agentloom relay reset [--context graphs|executions|credits|apikeys|integrations ...]
    agentloom credentials keygen | reencrypt
    agentloom replay EXEC_ID
    agentloom deadletters list [--all] | retry ID | skip ID
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
import time

from pydantic import ValidationError

from schemas.topics import CONTEXTS
from services.infra.settings import load_settings

SERVICES = ("api", "command-api", "query-api", "executor", "projector", "relay", "notifier", "scheduler")


def _settings_problem(exc: ValidationError) -> str:
    """A refused configuration in one line per problem (the settings never echo their input)."""
    return "; ".join(str(err.get("msg", "")).removeprefix("Value error, ") for err in exc.errors())


def _run_until_signal(main) -> None:
    """Run ``main(stop)`` and set ``stop`` on SIGINT/SIGTERM so services finish their batch."""

    async def runner() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await main(stop)

    asyncio.run(runner())


def serve(name: str, port: int) -> None:
    settings = load_settings()
    if name in ("api", "command-api", "query-api"):
        import uvicorn

        factory = {"api": "services.gateway:app_from_env", "command-api": "services.command_api.app:app_from_env",
                   "query-api": "services.query_api.app:app_from_env"}[name]
        uvicorn.run(factory, factory=True, workers=settings.api_workers, host=settings.host,
                    port=port, log_level="warning", ws=ws_protocol())
        return
    from services import workers
    from services.infra.gc_tuning import tune_gc

    tune_gc()
    _run_until_signal(lambda stop: workers.run(name, settings, stop))


def ws_protocol() -> str:
    """uvicorn's ``ws=``: the sansio protocol that answers oversized upgrade requests (see
    ``query_api/ws/uvicorn_protocol.py``), where this uvicorn has the sansio implementation."""
    try:
        from services.query_api.ws.uvicorn_protocol import UVICORN_WS
    except ImportError:
        return "auto"
    return UVICORN_WS


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=os.environ.get("AGENTLOOM_LOG_LEVEL", "INFO"),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("aiokafka").setLevel(logging.WARNING)
    parser = argparse.ArgumentParser(prog="agentloom", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    up = sub.add_parser("up", help="start the whole stack")
    up.add_argument("--port", type=int, default=8006)
    sv = sub.add_parser("serve", help="run one service")
    sv.add_argument("service", choices=SERVICES)
    sv.add_argument("--port", type=int, default=8006)
    tk = sub.add_parser("token", help="print a JWT the local stack accepts")
    tk.add_argument("--user", required=True)
    tk.add_argument("--email")
    tk.add_argument("--admin", action="store_true")
    sub.add_parser("migrate", help="create or update the database schema")
    pj = sub.add_parser("projections", help="read-model maintenance")
    pj.add_argument("action", choices=["rebuild"])
    rl = sub.add_parser("relay", help="outbox maintenance")
    rl.add_argument("action", choices=["reset"])
    rl.add_argument("--context", choices=list(CONTEXTS), action="append")
    cr = sub.add_parser("credentials", help="credential keyring: make a key, re-seal secrets after a rotation")
    cr.add_argument("action", choices=["keygen", "reencrypt"])
    rp = sub.add_parser("replay", help="print an execution's timeline from the store")
    rp.add_argument("execution_id")
    dl = sub.add_parser("deadletters", help="events a consumer parked: list them, retry or skip one")
    dl.add_argument("action", choices=["list", "retry", "skip"])
    dl.add_argument("id", type=int, nargs="?", help="dead-letter id (retry, skip)")
    dl.add_argument("--all", action="store_true", help="list resolved and skipped ones too")
    lg = sub.add_parser("login", help="remember the API address and your token for the commands below")
    lg.add_argument("--url", default=None, help="the API (default: the local stack)")
    lg.add_argument("--token", required=True)
    from services.cli import time_travel

    time_travel.add_parsers(sub)
    args = parser.parse_args(argv)
    try:
        return _dispatch(args)
    except ValidationError as exc:
        if exc.title != "Settings":
            raise
        print(f"agentloom: configuration refused: {_settings_problem(exc)}", file=sys.stderr)
        return 2


def _dispatch(args) -> int:
    if args.command == "up":
        from services.dev import local_stack

        return local_stack.up(args.port)
    if args.command == "serve":
        serve(args.service, args.port)
        return 0
    if args.command == "token":
        from services.infra.auth import issue_token

        # a local helper: signs with this installation's development secret unless one is set
        print(issue_token(load_settings(local_default=True), args.user, email=args.email, admin=args.admin))
        return 0
    if args.command == "migrate":
        from services.infra.migrations import migrate

        print("applied:", ", ".join(migrate(load_settings())))
        return 0
    if args.command == "projections":
        from services.projector.rebuild import rebuild

        counts = asyncio.run(rebuild(load_settings()))
        parked = counts.pop("parked", 0)
        print("rebuilt read models from", ", ".join(f"{n} {ctx} events" for ctx, n in counts.items()))
        if parked:
            print(f"{parked} events left out behind dead letters (`agentloom deadletters list`)")
        return 0
    if args.command == "relay":
        from services.infra.relay import reset_positions

        contexts = args.context or list(CONTEXTS)
        asyncio.run(reset_positions(load_settings(), contexts))
        print("relay will republish from position 0:", ", ".join(contexts))
        return 0
    if args.command == "credentials":
        return _credentials(args.action)
    if args.command == "deadletters":
        return _deadletters(args)
    if args.command in ("executions", "reviews"):
        from services.cli import time_travel

        return time_travel.run(args)
    if args.command == "login":
        from services.cli.api_client import DEFAULT_URL, save_login

        print("saved to", save_login(args.url or DEFAULT_URL, args.token))
        return 0
    if args.command == "replay":
        from services.cli.replay import print_timeline

        return print_timeline(load_settings(), args.execution_id)
    return 2


def _deadletters(args) -> int:
    from services.infra import db
    from services.infra.deadletters import operator_command

    async def run() -> tuple[int, str]:
        conn = await db.aconnect(load_settings(), autocommit=True)
        try:
            return await operator_command(conn, args.action, args.id, include_closed=args.all)
        finally:
            await conn.close()

    code, text = asyncio.run(run())
    print(text, file=sys.stdout if code == 0 else sys.stderr)
    return code


def _credentials(action: str) -> int:
    """``keygen`` prints a keyring entry for AGENTLOOM_CREDENTIALS_KEYS; ``reencrypt`` re-seals every
    stored secret with the first (active) key, after which older keys can be dropped."""
    from services.domain.integrations.crypto import generate_key

    if action == "keygen":
        print(f"k{int(time.time())}:{generate_key()}")
        return 0
    from services.command_api.app import CommandServices
    from services.command_api.application.credentials import reencrypt_all

    services = CommandServices(load_settings())
    try:
        changed, live = reencrypt_all(services.credentials_commands)
    finally:
        services.datastore.close()
    print(f"re-sealed {changed} of {live} credentials with key "
          f"{services.credentials_reader.keyring.active!r}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
