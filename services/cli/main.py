"""The ``agentloom`` command: start the local stack, run one service, mint a token, maintain; and
talk to any agentloom over its REST API and WebSocket (``docs/cli.md``).

Operating this installation (reads its settings, talks to its database):

    agentloom up [--port 8006] [--executors N] [--projectors N]   everything, on embedded defaults
    agentloom serve api|command-api|query-api|executor|projector|relay|notifier|scheduler [--port N]
    agentloom token --user ID [--email E] [--admin]
    agentloom migrate
    agentloom projections rebuild
    agentloom relay reset [--context graphs|executions|credits|apikeys|integrations ...]
    agentloom credentials keygen | reencrypt
    agentloom replay EXEC_ID
    agentloom deadletters list [--all] | retry ID | skip ID

Over the REST API (each takes --url, --token, --json; defaults: AGENTLOOM_URL/AGENTLOOM_TOKEN,
then `agentloom login`, then the local stack):

    agentloom login --token T [--url U]
    agentloom graphs import FILE | list | export GRAPH_ID [--version N] [-o FILE]
    agentloom run GRAPH_ID [--version N] [--input NAME=VALUE ...] [--follow]
    agentloom executions list [--graph ID] [--limit N] | show ID | events ID | follow ID | stop ID
    agentloom executions retry ID | fork ID --at-seq N [--input ...] | diff ID OTHER | lineage ID
    agentloom reviews list | approve NODE_EXEC_ID [--data JSON] | reject NODE_EXEC_ID
    agentloom schedules list | create GRAPH_ID --cron "..." --name N [--input ...] | delete ID
    agentloom credits

Exit codes: 0 done (a followed run completed); 1 the API refused, could not be reached, or a
followed run failed or was terminated; 2 a usage error or a refused configuration; 130 Ctrl-C.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
import time

import click
from pydantic import ValidationError

from schemas.topics import CONTEXTS
from services.cli.executions import executions
from services.cli.graphs import graphs, run
from services.cli.schedules import credits, schedules
from services.cli.time_travel import reviews
from services.infra.settings import load_settings

GRACEFUL_SHUTDOWN_S = 5
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
        # An open WebSocket (a monitor tab, a `run --follow`) must not hold a shutdown forever:
        # after this long the workers close what is still open; clients resume from their last seq.
        uvicorn.run(factory, factory=True, workers=settings.api_workers, host=settings.host,
                    port=port, log_level="warning", ws=ws_protocol(), timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_S)
        return
    from services import workers
    from services.infra.process_start import finish_start

    finish_start(loads_blocks=name in workers.LOADS_BLOCKS)
    _run_until_signal(lambda stop: workers.run(name, settings, stop))


def ws_protocol() -> str:
    """uvicorn's ``ws=``: the sansio protocol that answers oversized upgrade requests (see
    ``query_api/ws/uvicorn_protocol.py``), where this uvicorn has the sansio implementation."""
    try:
        from services.query_api.ws.uvicorn_protocol import UVICORN_WS
    except ImportError:
        return "auto"
    return UVICORN_WS


# ------------------------------------------------------------------------------------------------ the parser

class _InOrder(click.Group):
    """``--help`` lists the commands as they are defined: this installation's first, then the REST ones."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(self.commands)


@click.group(cls=_InOrder, help="agentloom: run the event-sourced AutoGPT backend, and use any agentloom over REST.\n\n"
                  "The REST commands take --url, --token and --json (defaults: AGENTLOOM_URL and AGENTLOOM_TOKEN, "
                  "then what `agentloom login` saved, then the local stack). See docs/cli.md.",
             context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 110})
def cli() -> None:
    pass


@cli.command(help="Start the whole stack (embedded defaults).")
@click.option("--port", type=int, default=8006, show_default=True)
@click.option("--executors", type=int, default=1, show_default=True,
              help="Executor processes, 1 to 8 (they share the topics' partitions).")
@click.option("--projectors", type=int, default=1, show_default=True,
              help="Projector processes, 1 to 8 (they share the topics' partitions).")
def up(port: int, executors: int, projectors: int) -> int:
    from services.dev import local_stack

    try:
        plan = local_stack.child_plan({"executor": executors, "projector": projectors})
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    return local_stack.up(port, plan)


@cli.command("serve", short_help="Run one service.", help="Run one service: " + ", ".join(SERVICES) + ".")
@click.argument("service", type=click.Choice(SERVICES), metavar="SERVICE")
@click.option("--port", type=int, default=8006, show_default=True)
def serve_command(service: str, port: int) -> int:
    serve(service, port)
    return 0


@cli.command(help="Print a JWT the local stack accepts.")
@click.option("--user", required=True)
@click.option("--email")
@click.option("--admin", is_flag=True)
def token(user: str, email: str | None, admin: bool) -> int:
    from services.infra.auth import issue_token

    # a local helper: signs with this installation's development secret unless one is set
    click.echo(issue_token(load_settings(local_default=True), user, email=email, admin=admin))
    return 0


@cli.command(help="Create or update the database schema.")
def migrate() -> int:
    from services.infra.migrations import migrate as apply

    click.echo("applied: " + ", ".join(apply(load_settings())))
    return 0


@cli.group(help="Read-model maintenance.")
def projections() -> None:
    pass


@projections.command(help="Rebuild every read model from the event store.")
def rebuild() -> int:
    from services.projector.rebuild import rebuild as run_rebuild

    counts = asyncio.run(run_rebuild(load_settings()))
    parked = counts.pop("parked", 0)
    click.echo("rebuilt read models from " + ", ".join(f"{n} {ctx} events" for ctx, n in counts.items()))
    if parked:
        click.echo(f"{parked} events left out behind dead letters (`agentloom deadletters list`)")
    return 0


@cli.group(help="Outbox maintenance.")
def relay() -> None:
    pass


@relay.command(help="Republish from position 0 (every context unless --context).")
@click.option("--context", "contexts", type=click.Choice(list(CONTEXTS)), multiple=True)
def reset(contexts: tuple[str, ...]) -> int:
    from services.infra.relay import reset_positions

    chosen = list(contexts) or list(CONTEXTS)
    asyncio.run(reset_positions(load_settings(), chosen))
    click.echo("relay will republish from position 0: " + ", ".join(chosen))
    return 0


@cli.group(short_help="Credential keyring: keygen, reencrypt.",
           help="Credential keyring: make a key, re-seal secrets after a rotation.")
def credentials() -> None:
    pass


@credentials.command(help="Print a keyring entry for AGENTLOOM_CREDENTIALS_KEYS.")
def keygen() -> int:
    from services.domain.integrations.crypto import generate_key

    click.echo(f"k{int(time.time())}:{generate_key()}")
    return 0


@credentials.command(help="Re-seal every stored secret with the first (active) key; older keys can then go.")
def reencrypt() -> int:
    from services.command_api.app import CommandServices
    from services.command_api.application.credentials import reencrypt_all

    services = CommandServices(load_settings())
    try:
        changed, live = reencrypt_all(services.credentials_commands)
    finally:
        services.datastore.close()
    click.echo(f"re-sealed {changed} of {live} credentials with key {services.credentials_reader.keyring.active!r}")
    return 0


@cli.command(help="Print an execution's timeline from the store.")
@click.argument("execution_id")
def replay(execution_id: str) -> int:
    from services.cli.replay import print_timeline

    return print_timeline(load_settings(), execution_id)


@cli.group(help="Events a consumer parked: list them, retry or skip one.")
def deadletters() -> None:
    pass


@deadletters.command("list", help="The open dead letters.")
@click.option("--all", "include_closed", is_flag=True, help="List resolved and skipped ones too.")
def list_deadletters(include_closed: bool) -> int:
    return _deadletters("list", None, include_closed)


@deadletters.command("retry", help="Let the consumer try a dead letter again.")
@click.argument("dead_letter_id", type=int)
def retry_deadletter(dead_letter_id: int) -> int:
    return _deadletters("retry", dead_letter_id, False)


@deadletters.command("skip", help="Step over a dead letter for good.")
@click.argument("dead_letter_id", type=int)
def skip_deadletter(dead_letter_id: int) -> int:
    return _deadletters("skip", dead_letter_id, False)


def _deadletters(action: str, dead_letter_id: int | None, include_closed: bool) -> int:
    from services.infra import db
    from services.infra.deadletters import operator_command

    async def run_command() -> tuple[int, str]:
        conn = await db.aconnect(load_settings(), autocommit=True)
        try:
            return await operator_command(conn, action, dead_letter_id, include_closed=include_closed)
        finally:
            await conn.close()

    code, text = asyncio.run(run_command())
    click.echo(text, err=code != 0)
    return code


@cli.command(short_help="Remember the API address and your token.",
             help="Remember the API address and your token for the REST commands.")
@click.option("--url", default=None, help="The API (default: the local stack).")
@click.option("--token", "token_", required=True, help="A bearer token (`agentloom token` or an API's login).")
def login(url: str | None, token_: str) -> int:
    from services.cli.api_client import DEFAULT_URL, save_login

    click.echo(f"saved to {save_login(url or DEFAULT_URL, token_)}")
    return 0


for _command in (graphs, run, executions, reviews, schedules, credits):
    cli.add_command(_command)


def main(argv: list[str] | None = None) -> int:
    """Run one command; its exit code (never a traceback for a usage error or a refused configuration)."""
    logging.basicConfig(level=os.environ.get("AGENTLOOM_LOG_LEVEL", "INFO"),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for chatty in ("aiokafka", "httpx", "httpcore", "websockets"):  # a request per line is noise in a terminal
        logging.getLogger(chatty).setLevel(logging.WARNING)
    args = sys.argv[1:] if argv is None else list(argv)
    try:
        code = cli.main(args=args, prog_name="agentloom", standalone_mode=False)
    except click.UsageError as exc:  # a missing or bad argument, an unknown command: 2, with the usage line
        exc.show()
        return exc.exit_code
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except click.Abort:  # Ctrl-C or end of input where click itself was reading
        click.echo("agentloom: interrupted", err=True)
        return 130
    except ValidationError as exc:
        if exc.title != "Settings":
            raise
        click.echo(f"agentloom: configuration refused: {_settings_problem(exc)}", err=True)
        return 2
    return code if isinstance(code, int) else 0


if __name__ == "__main__":
    sys.exit(main())
