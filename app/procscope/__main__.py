"""Entry point: ``procscope`` with no arguments starts the GUI; subcommands run headless."""

from __future__ import annotations

import resource
import sys


def raise_fd_limit(want: int = 65536) -> None:
    """Lift the soft descriptor limit toward the hard one.

    The ``proc`` walk keeps one descriptor per process open between polls (see
    ``procscope.sources.proc``); the common soft limit of 1024 would cap that at a few
    hundred processes. The hard limit is never exceeded.
    """
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = want if hard == resource.RLIM_INFINITY else min(want, hard)
    if soft != resource.RLIM_INFINITY and soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    raise_fd_limit()
    if args and (not args[0].startswith("-") or args[0] in ("-h", "--help")):
        from procscope.cli import main as cli_main

        return cli_main(args)
    from procscope.ui.app import main as gui_main

    return gui_main(args)


if __name__ == "__main__":
    sys.exit(main())
