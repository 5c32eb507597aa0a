"""The ``watchkeeper`` command: validate configs, export the schema, run checks without Airflow."""

from __future__ import annotations

import argparse
import logging
import sys
from typing import Any

from watchkeeper.cli import configs, runs
from watchkeeper.cli.common import EXIT_ERROR, EXIT_FINDINGS, EXIT_OK, EXIT_USAGE
from watchkeeper.exceptions import WatchkeeperError

__all__ = ["EXIT_ERROR", "EXIT_FINDINGS", "EXIT_OK", "EXIT_USAGE", "build_parser", "main"]

log = logging.getLogger("watchkeeper")

#: Modules that each register their subcommands with ``add_commands(sub, model_cmd)``.
COMMAND_MODULES = (configs, runs)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``watchkeeper`` command."""
    parser = argparse.ArgumentParser(prog="watchkeeper", description=__doc__)
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress to stderr")
    sub = parser.add_subparsers(dest="command", required=True)

    def model_cmd(name: str, func: Any, help_: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_)
        p.add_argument("model")
        p.add_argument("--config-dir", help="folder of model configs (default: dags/models)")
        p.set_defaults(func=func)
        return p

    for module in COMMAND_MODULES:
        module.add_commands(sub, model_cmd)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; errors print one clear message and exit 1, never a traceback."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        stream=sys.stderr,
        format="%(levelname)s %(name)s: %(message)s",
    )
    try:
        return int(args.func(args))
    except WatchkeeperError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_ERROR


if __name__ == "__main__":
    sys.exit(main())
