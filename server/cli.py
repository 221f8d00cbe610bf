"""The `racewire` command line."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path

from server.settings import PREFIX, Settings, load_or_exit

SCHEMA_FILE = Path(__file__).resolve().parent.parent / "graphql" / "schema.graphql"
SUBGRAPH_FILE = SCHEMA_FILE.with_name("subgraph.graphql")


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    return int(args.run(args) or 0)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="racewire", description="Live horse-racing odds over GraphQL.")
    commands = parser.add_subparsers(required=True, metavar="COMMAND")
    now = _effective_settings()

    def command(name: str, summary: str, description: str) -> argparse.ArgumentParser:
        return commands.add_parser(name, help=summary, description=f"{description[0].upper()}{description[1:]}")

    serve = command(
        "serve",
        "run the API server (GraphQL and GraphiQL at /graphql)",
        "run the API server: GraphQL over HTTP and WebSocket and GraphiQL at /graphql, the odds "
        "board at /, /health, /ready and /metrics. Every setting is a RACEWIRE_* variable.",
    )
    serve.add_argument("--host", help=f"bind address (now {now.host}: RACEWIRE_HOST, else 127.0.0.1)")
    serve.add_argument("--port", type=int, help=f"port (now {now.port}: RACEWIRE_PORT, else 8000)")
    serve.add_argument(
        "--workers",
        type=int,
        default=1,
        help="server processes (default %(default)s; more need a shared database and redis://)",
    )
    serve.add_argument("--demo", action="store_true", help="load today's demo cards and run the simulated feed")
    serve.set_defaults(run=_serve)

    command(
        "migrate",
        "bring the database to the newest schema",
        f"bring the database at RACEWIRE_DATABASE_URL (now {now.database_url}) to the newest schema.",
    ).set_defaults(run=_migrate)
    command(
        "demo",
        "load today's demo meetings, races and runners",
        "load today's demo meetings, races and runners, and the ante-post feature race, unless already loaded.",
    ).set_defaults(run=_demo)
    command(
        "feed",
        "run the simulated price feed against the database",
        "run the simulated price feed against the database until stopped: races open, move, go off and "
        "are resulted on the wall clock. With several server processes, needs RACEWIRE_BROADCAST_URL=redis://…",
    ).set_defaults(run=_feed)

    token = command(
        "token",
        "mint a development token signed with RACEWIRE_JWT_SECRET",
        "mint a development bearer token (HS256) signed with RACEWIRE_JWT_SECRET and print it.",
    )
    token.add_argument("--sub", default="dev", help="the token's subject (default %(default)s)")
    token.add_argument(
        "--scope",
        action="append",
        default=[],
        help=f"a scope, one of {', '.join(_SCOPES)} (repeat, or space-separated; none: read only)",
    )
    token.add_argument(
        "--source",
        action="append",
        default=None,
        help="a source the token may write odds for (repeat; without it, any source)",
    )
    token.add_argument("--hours", type=float, default=12, help="lifetime in hours (default %(default)s)")
    token.add_argument("--client", help="the client it is issued to (a partner's id: selects its limits and documents)")
    token.set_defaults(run=_token)

    documents = command(
        "documents",
        "register a partner's operations (its trusted documents)",
        "register a partner client's operations in its manifest (<client>.json in "
        f"RACEWIRE_PARTNER_DOCUMENTS_DIR, now {now.partner_documents_dir or 'unset'}): a client with a "
        "manifest may run only those operations. The server reads manifests when it starts.",
    )
    actions = documents.add_subparsers(required=True)
    add = actions.add_parser("add", help="add the operation of each .graphql file, checked against the schema")
    add.add_argument("files", nargs="+", type=Path, metavar="FILE", help="a .graphql file holding one named operation")
    listed = actions.add_parser("list", help="print the client's registered operations: id, type and name")
    for action in (add, listed):
        action.add_argument("--client", required=True, help="the partner's client id (its tokens' client or azp claim)")
        action.add_argument(
            "--dir", type=Path, help="the manifests' directory (default RACEWIRE_PARTNER_DOCUMENTS_DIR)"
        )
    add.set_defaults(run=_documents_add)
    listed.set_defaults(run=_documents_list)

    export = command(
        "export-schema",
        "print the schema as SDL, or write it with --output",
        "print the GraphQL schema as SDL, or write it to a file: the API as clients see it, or with "
        "--federation the Federation 2 subgraph SDL a router composes.",
    )
    export.add_argument(
        "--output", type=Path, help=f"file to write (the repository keeps {SCHEMA_FILE.name} and {SUBGRAPH_FILE.name})"
    )
    export.add_argument(
        "--federation",
        action="store_true",
        help="the subgraph SDL, with @key and @link (what _service { sdl } answers)",
    )
    export.set_defaults(run=_export_schema)
    return parser


# The scopes the mutations ask for (schema/permissions.py).
_SCOPES = ("odds:write", "races:write", "news:write")


def _effective_settings() -> Settings:
    """The settings the environment gives now, for the help texts (the defaults if it is unreadable)."""
    try:
        return Settings.from_env()
    except ValueError:
        return Settings()


def _serve(args: argparse.Namespace) -> None:
    import uvicorn

    from server.live.uvicorn_fast_path import uvicorn_ws_protocol
    from server.logs import logging_config

    overrides = {"HOST": args.host, "PORT": args.port, "DEMO": "true" if args.demo else None}
    for name, value in overrides.items():
        if value is not None:
            os.environ[PREFIX + name] = str(value)
    settings = load_or_exit()  # before uvicorn starts: one message, not one per worker
    if args.workers > 1 and (settings.is_sqlite or settings.broadcast_url.startswith("memory")):
        sys.exit("--workers > 1 needs a shared database (PostgreSQL) and RACEWIRE_BROADCAST_URL=redis://…")
    _check_broadcast(settings)
    if args.workers > 1 and settings.demo:
        sys.exit("--demo runs one feed per process: with --workers, run `racewire demo` and `racewire feed` beside it")
    uvicorn.run(
        "server.app:create_app",
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=args.workers,
        ws=uvicorn_ws_protocol(),
        http="server.http_protocol:RacewireHttpProtocol",
        log_level="info",
        # uvicorn annotates it int, and hands it to asyncio.wait_for, which takes seconds as a float
        timeout_graceful_shutdown=settings.shutdown_grace_seconds,  # type: ignore[arg-type]
        ws_per_message_deflate=settings.ws_compression,
        ws_ping_interval=settings.ws_ping_interval_seconds,
        ws_ping_timeout=settings.ws_pong_timeout_seconds,
        log_config=logging_config(settings.log_format, access_log=settings.access_log),
        access_log=settings.access_log,
        ws_max_size=settings.ws_max_message_bytes,
        loop=settings.event_loop,
    )


def _check_broadcast(settings: Settings) -> None:
    from server.broadcasting import BroadcastSettingsError, broadcast_key, namespace

    try:
        broadcast_key(settings), namespace(settings)
    except BroadcastSettingsError as error:
        sys.exit(str(error))


def _migrate(args: argparse.Namespace) -> None:
    from storage.database import Database
    from storage.migrate import upgrade

    async def run() -> None:
        db = Database(Settings.from_env().database_url)
        try:
            await upgrade(db)
        finally:
            await db.dispose()

    asyncio.run(run())
    print("database is at the newest schema")


def _demo(args: argparse.Namespace) -> None:
    from demo.data import load_demo
    from storage.database import Database
    from storage.migrate import upgrade

    async def run() -> int:
        db = Database(Settings.from_env().database_url)
        try:
            await upgrade(db)
            return await load_demo(db=db)
        finally:
            await db.dispose()

    print(f"loaded {asyncio.run(run())} demo races")


def _feed(args: argparse.Namespace) -> None:
    from demo.feed import run_feed
    from server.broadcasting import deployment_broadcast, deployment_hub
    from storage.database import Database

    async def run() -> None:
        settings = Settings.from_env()
        db = Database(settings.database_url)
        broadcast = deployment_broadcast(settings)
        await broadcast.connect()
        try:
            await run_feed(
                db=db,
                hub=deployment_hub(settings, broadcast),
                interval=settings.feed_interval_seconds,
                stale_after=settings.feed_stale_seconds,
            )
        finally:
            await broadcast.disconnect()
            await db.dispose()

    _check_broadcast(Settings.from_env())
    if Settings.from_env().broadcast_url.startswith("memory"):
        print("note: with memory:// only this process hears the feed; use serve --demo instead", file=sys.stderr)
    asyncio.run(run())


def _token(args: argparse.Namespace) -> int:
    from server.auth import create_access_token

    settings = Settings.from_env()
    if not settings.own_jwt_secret:
        sys.exit(
            "racewire: no secret to sign with: set RACEWIRE_JWT_SECRET "
            "(with RACEWIRE_PRODUCTION=true the development secret is refused)"
        )
    scopes = [part for value in args.scope for part in value.split()]
    unknown = sorted(set(scopes) - set(_SCOPES))
    if unknown:
        print(f"racewire token: unknown scope {', '.join(unknown)} (known: {', '.join(_SCOPES)})", file=sys.stderr)
        return 2
    print(
        create_access_token(
            secret=settings.own_jwt_secret,
            subject=args.sub,
            scopes=scopes,
            sources=args.source,
            ttl=timedelta(hours=args.hours),
            client=args.client,
        )
    )
    return 0


def _manifest_of(args: argparse.Namespace) -> Path:
    from server.manifests import ManifestError, manifest_path

    directory = args.dir or Settings.from_env().partner_documents_dir
    if not directory:
        sys.exit(
            "racewire documents: set RACEWIRE_PARTNER_DOCUMENTS_DIR (the server reads the manifests there) or --dir"
        )
    try:
        return manifest_path(Path(directory), args.client)
    except ManifestError as error:
        sys.exit(f"racewire documents: {error}")


def _documents_add(args: argparse.Namespace) -> None:
    from schema.query_limits import QueryLimits
    from schema.schema import schema
    from server.manifests import ManifestError, add_operations, operation_of

    path = _manifest_of(args)
    settings = _effective_settings()  # the limits the server will judge the operations by
    limits = QueryLimits(
        max_tokens=settings.max_tokens,
        max_query_length=settings.max_query_length,
        validation_budget=settings.validation_budget,
    )
    try:
        operations = [
            operation_of(file.read_text(), schema._schema, source=str(file), limits=limits)  # noqa: SLF001 - graphql-core's
            for file in args.files
        ]
        added = {operation.id for operation in add_operations(path, operations)}
    except (ManifestError, OSError) as error:
        sys.exit(f"racewire documents: {error}")
    for operation in operations:
        state = "added" if operation.id in added else "already registered"
        print(f"{state}: {operation.type} {operation.name} {operation.id}")
    print(f"{path}: restart the server to apply")


def _documents_list(args: argparse.Namespace) -> None:
    from server.manifests import ManifestError, read_manifest

    path = _manifest_of(args)
    try:
        operations = read_manifest(path) if path.exists() else []
    except ManifestError as error:
        sys.exit(f"racewire documents: {error}")
    for operation in operations:
        print(f"{operation.id} {operation.type} {operation.name}")


def _export_schema(args: argparse.Namespace) -> None:
    from schema.schema import schema
    from schema.sdl import plain_sdl, subgraph_sdl

    sdl = subgraph_sdl(schema) if args.federation else plain_sdl(schema)
    if args.output is None:
        sys.stdout.write(sdl)
    else:
        args.output.write_text(sdl)
        print(f"wrote {args.output}")


if __name__ == "__main__":
    raise SystemExit(main())
