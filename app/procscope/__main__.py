"""Entry point: ``procscope`` with no arguments starts the GUI; subcommands run headless."""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args and (not args[0].startswith("-") or args[0] in ("-h", "--help")):
        from procscope.cli import main as cli_main

        return cli_main(args)
    from procscope.ui.app import main as gui_main

    return gui_main(args)


if __name__ == "__main__":
    sys.exit(main())
