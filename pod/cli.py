"""The `kluis` command line. Imports app and config.

- `kluis serve`: every Settings field is an option (`--data-dir`) and an environment variable
  (`KLUIS_DATA_DIR`); options win over the environment.
- `kluis account create`, `kluis account delete` and `kluis client create` talk to a running
  server through its JSON account API (the one the pages use), and print JSON for scripts.
- `kluis export` and `kluis import` download a copy of a pod and import one (pod.rights), with
  a progress line on stderr when it is a terminal.
- `kluis idp rotate-keys` adds a signing key in a file-backed data directory.
- `kluis admin` is the operator's: it calls a running server's admin API
  (`pod.http.admin_api`) with the token the server wrote at its start, found in the data
  directory (or `--token-file`), so only who can read the operator's files can use it.
"""

from __future__ import annotations

import argparse
import asyncio
import ctypes
import getpass
import json
import logging
import os
import re
import sys
import time
import zlib
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any, Final, NoReturn
from urllib.parse import quote, urlencode

import aiohttp

from pod import __version__, logs
from pod.app import StartupError, run
from pod.config import ENV_PREFIX, Settings, parse_value, setting_fields
from pod.errors import BackendUnavailable
from pod.idp.keys import SigningKeys
from pod.idp.provider import ACCESS_TOKEN_LIFETIME, ID_TOKEN_LIFETIME
from pod.ldp.quotas import amount
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

    _admin_parser(commands)
    export = commands.add_parser(
        "export",
        help="download a copy of a pod (a .tar.gz: every file, its ACLs, grants and access log)",
    )
    _server_options(export)
    export.add_argument("--pod", required=True, help="the name of the pod")
    export.add_argument("--output", required=True, type=Path, help="the file to write")
    import_ = commands.add_parser(
        "import", help="import a copy made by `kluis export` into a new or an empty pod"
    )
    _server_options(import_)
    import_.add_argument("--pod", required=True, help="the name of the pod to import into")
    import_.add_argument("--input", required=True, type=Path, help="the archive to import")
    import_.add_argument(
        "--reclaim", help="the reclaim code of an erased pod whose name --pod takes back"
    )

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


def _admin_parser(commands: Any) -> None:
    admin = commands.add_parser(
        "admin",
        help="the operator's commands, on a running server",
        description="Call a running server's admin API with the token it wrote at its start "
        "(<data-dir>/.kluis/admin-token, or the setting admin_token_file).",
    )
    admin.add_argument(
        "--server",
        default=None,
        help=f"base URL of the server [env {ENV_PREFIX}BASE_URL, default http://localhost:3000/]",
    )
    where = admin.add_mutually_exclusive_group()
    where.add_argument(
        "--token-file",
        type=Path,
        default=None,
        help=f"the server's admin token file [env {ENV_PREFIX}ADMIN_TOKEN_FILE]",
    )
    where.add_argument(
        "--data-dir",
        type=Path,
        default=None,
        help=f"the server's data directory, which holds .kluis/admin-token "
        f"[env {ENV_PREFIX}DATA_DIR, default ./data]",
    )
    actions = admin.add_subparsers(dest="action", metavar="ACTION", required=True)
    accounts = actions.add_parser(
        "accounts", help="every account with its pods, their usage and quota"
    )
    accounts.add_argument("--json", action="store_true", help="print JSON instead of a table")
    quota = actions.add_parser(
        "quota", help="set a pod's quota, or recount its usage; prints the pod's usage"
    )
    quota.add_argument("pod", help="the pod's name")
    quota.add_argument(
        "limit",
        nargs="?",
        type=_quota,
        default=None,
        help="bytes (500M, 2G, 1.5GB, 512MiB: k, M, G, T are powers of 1000, Ki, Mi, Gi, Ti of "
        "1024), none (no limit) or default (the setting pod_quota_bytes)",
    )
    quota.add_argument(
        "--recount", action="store_true", help="walk the pod and correct its usage counter"
    )
    for name, text in (
        ("disable", "disable an account: log-in refused, its sessions and tokens end"),
        ("enable", "enable a disabled account again"),
        ("reset-link", "make a one-time password-reset link, valid an hour"),
    ):
        action = actions.add_parser(name, help=text)
        action.add_argument("email", help="the account's e-mail address")
    erase = actions.add_parser(
        "erase", help="erase an account, or one of its pods, with everything of it (no undo)"
    )
    erase.add_argument("email", help="the account's e-mail address")
    erase.add_argument("--pod", help="erase only this pod of the account")


_UNIT_BYTES: Final = {
    "": 1,
    "k": 10**3,
    "m": 10**6,
    "g": 10**9,
    "t": 10**12,
    "ki": 2**10,
    "mi": 2**20,
    "gi": 2**30,
    "ti": 2**40,
}
_SIZE: Final = re.compile(r"(?P<number>\d+(?:\.\d+)?)\s*(?P<unit>[kmgt]i?)?b?", re.IGNORECASE)


def _quota(text: str) -> int | str:
    """A quota as `kluis admin quota` takes it: bytes, `none` or `default`."""
    lowered = text.strip().lower()
    if lowered in ("none", "default"):
        return lowered
    found = _SIZE.fullmatch(lowered)
    if found is None:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a size (500M, 2G, 1073741824), none or default"
        )
    return round(float(found["number"]) * _UNIT_BYTES[found["unit"] or ""])


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
    if args.command == "admin":
        try:
            print(asyncio.run(_admin(args)))
        except CommandError as exc:
            print(f"kluis admin: {exc}", file=sys.stderr)
            return 1
        return 0
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
    if args.command == "import" and not args.input.is_file():
        raise CommandError(f"{args.input} is not a file")
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
        token = str(login["token"])
        if args.command == "export":
            return await _export(session, server, token, args.pod, args.output)
        if args.command == "import":
            return await _import(session, server, token, args.pod, args.input, args.reclaim)
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


async def _admin(args: argparse.Namespace) -> str:
    """Run a `kluis admin` command; what to print."""
    server = args.server or os.environ.get(ENV_PREFIX + "BASE_URL") or "http://localhost:3000/"
    api = server.rstrip("/") + "/.account/api/admin/"
    if args.action == "quota" and args.limit is None and not args.recount:
        raise CommandError("give the pod a quota (2G, none, default), or --recount")
    token = _admin_token(args)
    async with aiohttp.ClientSession() as session:

        async def call(method: str, path: str, body: dict[str, Any] | None = None) -> Any:
            return await _call(session, method, api + path, body, token=token, admin=True)

        if args.action == "accounts":
            listed = await call("GET", "accounts")
            return json.dumps(listed, indent=2) if args.json else _accounts_table(listed)
        if args.action == "quota":
            pod = "pods/" + quote(args.pod, safe="")
            answer = None
            if args.limit is not None:
                quota = None if args.limit == "none" else args.limit
                answer = await call("PUT", pod + "/quota", {"quota": quota})
            if args.recount:
                answer = await call("POST", pod + "/recount")
            return json.dumps(answer, indent=2)
        if args.action == "erase":
            body = (
                {"email": args.email}
                if args.pod is None
                else {"email": args.email, "pod": args.pod}
            )
            return json.dumps(await call("POST", "erase", body), indent=2)
        path = {"disable": "disable", "enable": "enable", "reset-link": "reset-links"}
        return json.dumps(await call("POST", path[args.action], {"email": args.email}), indent=2)


def _admin_token(args: argparse.Namespace) -> str:
    path: Path | None = args.token_file
    if path is None and args.data_dir is None and ENV_PREFIX + "ADMIN_TOKEN_FILE" in os.environ:
        path = Path(os.environ[ENV_PREFIX + "ADMIN_TOKEN_FILE"])
    if path is None:
        data_dir = args.data_dir or Path(os.environ.get(ENV_PREFIX + "DATA_DIR", "data"))
        path = data_dir / ".kluis" / "admin-token"
    try:
        token = path.read_text().strip()
    except OSError as exc:
        raise CommandError(
            f"cannot read the admin token at {path} ({exc.strerror or exc}): run this as the "
            "user the server runs as, with its --data-dir or --token-file, while it runs"
        ) from exc
    if not token:
        raise CommandError(f"{path} is empty; restart the server to write a new admin token")
    return token


def _accounts_table(listed: dict[str, Any]) -> str:
    """The accounts as a table for people: one line per pod (an account without one has a
    line of its own)."""
    rows: list[tuple[str, ...]] = [("E-MAIL", "CREATED", "STATE", "POD", "USED", "QUOTA")]
    for account in listed["accounts"]:
        state = "disabled" if account["disabled"] else "active"
        first = (account["email"], account["created"][:10], state)
        pods = account["pods"] or [None]
        for at, pod in enumerate(pods):
            who = first if at == 0 else ("", "", "")
            if pod is None:
                rows.append((*who, "-", "", ""))
            else:
                quota = "none" if pod["quota"] is None else amount(pod["quota"])
                rows.append((*who, pod["name"], amount(pod["used"]), quota))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True))
        for row in rows
    ]
    return "\n".join(line.rstrip() for line in lines)


_CHUNK: Final = 1024 * 1024


class Progress:
    """A `\r` progress line on stderr, drawn only when stderr is a terminal."""

    def __init__(self, what: str, total: int | None) -> None:
        self.what = what
        self.total = total
        self.shown = sys.stderr.isatty()
        self._last = 0.0

    def show(self, done: int, *, last: bool = False) -> None:
        if not self.shown:
            return
        now = time.monotonic()
        if not last and now - self._last < 0.2:
            return
        self._last = now
        line = f"{self.what}: {done / 1e6:,.1f} MB"
        if self.total:
            share = 100 if last else min(99, done * 100 // self.total)
            line += f" of {self.total / 1e6:,.1f} MB ({share}%)"
        sys.stderr.write("\r" + line + ("\n" if last else ""))
        sys.stderr.flush()


async def _export(
    session: aiohttp.ClientSession, server: str, token: str, pod: str, output: Path
) -> dict[str, Any]:
    """Stream the pod's copy to `output` (through `<output>.part`, renamed when whole). The
    progress line counts the data unpacked against the server's `Kluis-Export-Bytes`."""
    url = f"{server}.account/api/pods/{pod}/export"
    part = output.with_name(output.name + ".part")
    received = 0
    try:
        async with session.get(url, headers={"Authorization": f"Bearer {token}"}) as response:
            if response.status >= 400:
                raise CommandError(
                    f"the server refused ({response.status}): {await _detail(response)}"
                )
            total = int(response.headers.get("Kluis-Export-Bytes", "0") or 0)
            progress = Progress(f"exporting {pod}", total)
            unpacked = zlib.decompressobj(31)
            data = 0
            with part.open("wb") as f:
                async for chunk in response.content.iter_chunked(_CHUNK):
                    f.write(chunk)
                    received += len(chunk)
                    if progress.shown:
                        data += len(unpacked.decompress(chunk))
                        progress.show(data)
            progress.show(data, last=True)
    except aiohttp.ClientError as exc:
        part.unlink(missing_ok=True)
        raise CommandError(f"the copy of {pod} did not arrive whole: {exc}") from exc
    except OSError as exc:
        part.unlink(missing_ok=True)
        raise CommandError(f"cannot write {output}: {exc.strerror or exc}") from exc
    except BaseException:
        part.unlink(missing_ok=True)
        raise
    part.replace(output)
    return {"pod": pod, "output": str(output), "bytes": received, "dataBytes": total}


async def _import(
    session: aiohttp.ClientSession,
    server: str,
    token: str,
    pod: str,
    archive: Path,
    reclaim: str | None = None,
) -> dict[str, Any]:
    url = f"{server}.account/api/pods/{quote(pod, safe='')}/import"
    if reclaim:
        url += "?" + urlencode({"reclaim": reclaim})
    size = await asyncio.to_thread(os.path.getsize, archive)
    progress = Progress(f"importing into {pod}", size)

    async def body() -> AsyncIterator[bytes]:
        sent = 0
        with archive.open("rb") as f:
            while chunk := f.read(_CHUNK):
                sent += len(chunk)
                progress.show(sent)
                yield chunk
        progress.show(sent, last=True)

    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/gzip"}
    try:
        async with session.post(url, data=body(), headers=headers) as response:
            if response.status >= 400:
                raise CommandError(
                    f"the server refused ({response.status}): {await _detail(response)}"
                )
            answer = await response.json(content_type=None)
    except aiohttp.ClientError as exc:
        raise CommandError(f"cannot reach the server at {url}: {exc}; is it running?") from exc
    if not isinstance(answer, dict):
        raise CommandError("the server answered something other than a JSON object")
    return answer


async def _detail(response: aiohttp.ClientResponse) -> str:
    try:
        answer = await response.json(content_type=None)
    except ValueError:
        return await response.text()
    if isinstance(answer, dict):
        return str(answer.get("detail") or answer)
    return str(answer)


async def _call(
    session: aiohttp.ClientSession,
    method: str,
    url: str,
    body: dict[str, Any] | None,
    *,
    token: str | None = None,
    admin: bool = False,
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
    if admin and response.status == 404 and str(answer.get("detail")).endswith("does not exist"):
        # The admin API hides itself from a wrong token as an unknown path (pod.http.admin_api).
        raise CommandError(
            f"the server at {url.split('.account/', 1)[0]} refused the admin token: give its "
            "--data-dir or --token-file (a server with memory storage needs admin_token_file)"
        )
    if response.status >= 400:
        detail = answer.get("detail") or answer.get("error_description") or answer
        raise CommandError(f"the server refused ({response.status}): {detail}")
    if not isinstance(answer, dict):
        raise CommandError("the server answered something other than a JSON object")
    return answer


if __name__ == "__main__":
    sys.exit(main())
