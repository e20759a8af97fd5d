"""The `kluis` command line. Imports app and config.

- `kluis serve`: every Settings field is an option (`--data-dir`) and an environment variable
  (`KLUIS_DATA_DIR`); options win over the environment.
- `kluis account create`, `kluis account delete` and `kluis client create` talk to a running
  server through its JSON account API (the one the pages use), and print JSON for scripts.
- `kluis idp rotate-keys` adds a signing key in a file-backed data directory.
"""

from __future__ import annotations

import argparse
import asyncio
import ctypes
import getpass
import json
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Final, NoReturn
from urllib.parse import quote

import aiohttp

from pod import __version__, logs
from pod.app import StartupError, run
from pod.config import ENV_PREFIX, Settings, parse_value, setting_fields
from pod.errors import BackendUnavailable
from pod.idp.keys import SigningKeys
from pod.idp.provider import ACCESS_TOKEN_LIFETIME, ID_TOKEN_LIFETIME
from pod.migrate import BaseUrlChanged, move
from pod.storage.claim import claim_data_directory
from pod.storage.kv import FileKeyValueStore

log = logging.getLogger("pod")


class CommandError(Exception):
    """A command failed in a way the user can act on; the message says how."""


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line: the usage of `serve` alone is a screenful
    that hides the mistake."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="kluis", description="Kluis, a Solid pod server: the personal data vault you run."
    )
    parser.add_argument("--version", action="version", version=f"kluis {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    serve = commands.add_parser("serve", help="run the server")
    _setting_options(serve)
    migrate = commands.add_parser(
        "migrate",
        help="move a data directory to the base URL these options give (stop the server first)",
        description="Rewrite the URLs a file-storage data directory holds (accounts, WebIDs, "
        "access rules, documents) from the base URL it was served at to the one the same "
        "options as `kluis serve` give. The directory is copied to <data-dir>.backup-<time> "
        "first. Prints what changed as JSON.",
    )
    _setting_options(migrate)
    migrate.add_argument(
        "--dry-run", action="store_true", help="only print what would change; write nothing"
    )
    migrate.add_argument(
        "--from",
        dest="old_base_url",
        default=None,
        metavar="URL",
        help="the base URL it was served at [default: the one the data directory recorded]",
    )

    account = commands.add_parser("account", help="manage accounts on a running server")
    account_commands = account.add_subparsers(dest="action", metavar="ACTION", required=True)
    create = account_commands.add_parser("create", help="create an account (and a pod)")
    _server_options(create)
    create.add_argument("--pod", help="name of the account's first pod")
    create.add_argument(
        "--reclaim", help="the reclaim code of an erased pod whose name --pod takes back"
    )
    delete = account_commands.add_parser(
        "delete",
        help="erase the account with all its pods, or one pod (--pod): prints the receipt "
        "and, once, the code that takes the name back",
    )
    _server_options(delete)
    delete.add_argument("--pod", help="erase only this pod of the account")

    client = commands.add_parser("client", help="manage client credentials on a running server")
    client_commands = client.add_subparsers(dest="action", metavar="ACTION", required=True)
    client_create = client_commands.add_parser(
        "create", help="create client credentials acting as one of the account's WebIDs"
    )
    _server_options(client_create)
    client_create.add_argument("--webid", required=True, help="the WebID the client acts as")
    client_create.add_argument("--name", required=True, help="a name to recognise it by")

    idp = commands.add_parser("idp", help="identity provider maintenance")
    idp_commands = idp.add_subparsers(dest="action", metavar="ACTION", required=True)
    rotate = idp_commands.add_parser(
        "rotate-keys", help="add a new token-signing key; older keys stay valid while needed"
    )
    rotate.add_argument(
        "--data-dir",
        type=Path,
        default=None,
        help=f"the server's data directory [env {ENV_PREFIX}DATA_DIR]",
    )
    return parser


def _setting_options(parser: argparse.ArgumentParser) -> None:
    for f in setting_fields():
        kind = f.type if isinstance(f.type, str) else f.type.__name__
        # A boolean option alone means true (`--allow-bearer`); it also takes a value.
        flag: dict[str, Any] = {"nargs": "?", "const": True} if kind == "bool" else {}
        parser.add_argument(
            "--" + f.name.replace("_", "-"),
            dest=f.name,
            default=None,
            type=_converter(kind),
            metavar=kind.upper() if kind != "bool" else "BOOL",
            help=f"{f.metadata['help']} [env {ENV_PREFIX}{f.name.upper()}, default {f.default}]",
            **flag,
        )


def _server_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--server",
        default=None,
        help=f"base URL of the server [env {ENV_PREFIX}BASE_URL, default http://localhost:3000/]",
    )
    parser.add_argument("--email", required=True, help="the account's e-mail address")
    parser.add_argument(
        "--password",
        default=None,
        help=f"the account's password [env {ENV_PREFIX}PASSWORD; asked for if absent]",
    )


def command_parsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    """The sub-command parsers of `parser` by name (for help output and the docs test)."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def _converter(kind: str) -> Any:
    def convert(raw: str) -> Any:
        try:
            return parse_value(kind, raw)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from exc

    return convert


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    if args.command in ("serve", "migrate"):
        names = {f.name for f in setting_fields()}
        options = {k: v for k, v in vars(args).items() if k in names}
        try:
            settings = Settings.load(os.environ, **options)
        except ValueError as exc:
            print(f"kluis {args.command}: error: {exc}", file=sys.stderr)
            return 2
        if args.command == "migrate":
            return migrate(settings, old=args.old_base_url, dry_run=args.dry_run)
        return serve(settings)
    try:
        result = asyncio.run(_run_command(args))
    except CommandError as exc:
        print(f"kluis: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(result, indent=2))
    return 0


def serve(settings: Settings) -> int:
    logs.configure(settings.log_level)
    _fewer_malloc_arenas()
    # Whatever else this process creates (the lock, files of a custom backend) is the owner's too.
    os.umask(0o077)
    try:
        run(settings)
    except (StartupError, BaseUrlChanged) as exc:
        print(f"kluis serve: error: {exc}", file=sys.stderr)
        return 1
    return 0


def _fewer_malloc_arenas() -> None:
    """glibc gives each thread that allocates its own malloc arena (up to 8 per core), and
    memory freed in one is not reused by another: with the event loop, the file writer and the
    signature and default executors, the server kept about 8 MB more at its peak than with two
    arenas, at the same speed (benchmarks/README.md). Done before any thread starts; an
    operator's MALLOC_ARENA_MAX wins, and other C libraries have no such call."""
    if "MALLOC_ARENA_MAX" in os.environ or not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL(None)
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # not glibc
        return
    mallopt(_M_ARENA_MAX, 2)


_M_ARENA_MAX: Final = -8  # glibc's malloc.h


def migrate(settings: Settings, *, old: str | None, dry_run: bool) -> int:
    if settings.storage != "file":
        print("kluis migrate: error: only file storage keeps anything to migrate", file=sys.stderr)
        return 1
    os.umask(0o077)
    try:
        # No server may write meanwhile: the same lock a server holds.
        claim = claim_data_directory(settings.data_dir)
    except BackendUnavailable as exc:
        print(f"kluis migrate: error: {exc.message}", file=sys.stderr)
        return 1
    try:
        plan = asyncio.run(move(settings.data_dir, settings.base_url, old=old, dry_run=dry_run))
    except ValueError as exc:
        print(f"kluis migrate: error: {exc}", file=sys.stderr)
        return 1
    finally:
        claim.release()
    print(json.dumps({"dryRun": dry_run, **plan.summary()}, indent=2))
    return 0


async def _run_command(args: argparse.Namespace) -> dict[str, Any]:
    if args.command == "idp":
        data_dir = args.data_dir or Path(os.environ.get(ENV_PREFIX + "DATA_DIR", "data"))
        kv_dir = data_dir / ".kluis" / "kv"
        if not kv_dir.is_dir():
            raise CommandError(f"{data_dir} holds no Kluis identity provider state")
        keys = SigningKeys(
            FileKeyValueStore(kv_dir),
            retire_after=2 * max(ACCESS_TOKEN_LIFETIME, ID_TOKEN_LIFETIME),
        )
        kid = await keys.rotate()
        return {"signingKey": kid, "published": len((await keys.public_jwks())["keys"])}
    server = args.server or os.environ.get(ENV_PREFIX + "BASE_URL") or "http://localhost:3000/"
    server = server.rstrip("/") + "/"
    password = args.password or os.environ.get(ENV_PREFIX + "PASSWORD")
    if password is None:
        if not sys.stdin.isatty():
            raise CommandError(f"give --password or set {ENV_PREFIX}PASSWORD")
        password = getpass.getpass("Password: ")
    async with aiohttp.ClientSession() as session:
        if args.command == "account" and args.action == "create":
            body: dict[str, Any] = {"email": args.email, "password": password}
            if args.pod:
                body["pod"] = args.pod
            if args.reclaim:
                body["reclaim"] = args.reclaim
            return await _call(session, "POST", server + ".account/api/accounts", body)
        login = await _call(
            session,
            "POST",
            server + ".account/api/login",
            {"email": args.email, "password": password},
        )
        if args.command == "account":  # delete: the password is asked again, as on the page
            target = f"api/pods/{quote(args.pod, safe='')}" if args.pod else "api/me"
            return await _call(
                session,
                "DELETE",
                server + ".account/" + target,
                {"password": password},
                token=str(login["token"]),
            )
        return await _call(
            session,
            "POST",
            server + ".account/api/credentials",
            {"webId": args.webid, "name": args.name},
            token=str(login["token"]),
        )


async def _call(
    session: aiohttp.ClientSession,
    method: str,
    url: str,
    body: dict[str, Any],
    *,
    token: str | None = None,
) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    try:
        async with session.request(method, url, json=body, headers=headers) as response:
            try:
                answer = await response.json(content_type=None)
            except ValueError:
                answer = {"detail": await response.text()}
    except aiohttp.ClientError as exc:
        raise CommandError(f"cannot reach the server at {url}: {exc}; is it running?") from exc
    if response.status >= 400:
        detail = answer.get("detail") or answer.get("error_description") or answer
        raise CommandError(f"the server refused ({response.status}): {detail}")
    if not isinstance(answer, dict):
        raise CommandError("the server answered something other than a JSON object")
    return answer


if __name__ == "__main__":
    sys.exit(main())
