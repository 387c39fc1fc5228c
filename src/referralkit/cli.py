"""The ``referralkit`` command: thin; it parses arguments, calls the library and prints."""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

from referralkit.errors import ReferralKitError

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="referralkit",
        description="Referral management: keep referred patients from getting lost.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    demo = commands.add_parser(
        "demo", help="run four demo referrals through the lifecycle on a SQLite file"
    )
    demo.add_argument(
        "path",
        nargs="?",
        type=Path,
        help="SQLite file to write (default: a new file in a temporary directory)",
    )
    commands.add_parser("version", help="print the installed version")
    commands.add_parser("lifecycle", help="print the lifecycle state and trigger tables")
    return parser


def _writer() -> Callable[[str], None]:
    # With the ``cli`` extra (rich) installed, headings are set in bold on a terminal; the text
    # is the same either way, so scripts reading the output see no difference.
    try:
        from rich.console import Console
    except ImportError:
        return print
    console = Console(highlight=False, soft_wrap=True)

    def write(line: str) -> None:
        heading = line.startswith(("\nREF-", "\nDatabase:"))
        console.print(line, style="bold" if heading else None, markup=False)

    return write


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the process exit status."""
    args = _parser().parse_args(argv)
    if args.command == "version":
        from referralkit._version import __version__

        print(__version__)
        return 0
    if args.command == "lifecycle":
        from referralkit.reference import lifecycle_tables

        print(lifecycle_tables(), end="")
        return 0
    from referralkit.demo import run_demo

    write = _writer()
    try:
        if args.path is not None:
            run_demo(args.path, write=write)
        else:
            with tempfile.TemporaryDirectory(prefix="referralkit-demo-") as tmp:
                run_demo(Path(tmp) / "demo.db", write=write)
    except ReferralKitError as exc:
        print(f"referralkit: {exc}", file=sys.stderr)
        return 1
    return 0
