"""The `kluis` command line: `kluis serve` and friends. Imports app and config.

Every Settings field is an option of `serve` (`--data-dir`) and an environment variable
(`KLUIS_DATA_DIR`); options win over the environment.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence
from typing import Any

from pod import __version__
from pod.app import run
from pod.config import ENV_PREFIX, Settings, parse_value, setting_fields

log = logging.getLogger("pod")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="kluis", description="Kluis, a Solid pod server: the personal data vault you run."
    )
    parser.add_argument("--version", action="version", version=f"kluis {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    serve = commands.add_parser("serve", help="run the server")
    for f in setting_fields():
        kind = f.type if isinstance(f.type, str) else f.type.__name__
        serve.add_argument(
            "--" + f.name.replace("_", "-"),
            dest=f.name,
            default=None,
            type=_converter(kind),
            metavar=kind.upper() if kind != "bool" else "BOOL",
            help=f"{f.metadata['help']} [env {ENV_PREFIX}{f.name.upper()}, default {f.default}]",
        )
    return parser


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
    options = {k: v for k, v in vars(args).items() if k != "command"}
    try:
        settings = Settings.load(os.environ, **options)
    except ValueError as exc:
        parser.error(str(exc))
    return serve(settings)


def serve(settings: Settings) -> int:
    logging.basicConfig(
        level=settings.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    run(settings)
    return 0


if __name__ == "__main__":
    sys.exit(main())
