"""Headless commands: ``procscope snapshot | exits | record | sources``.

``procscope`` with no arguments starts the GUI (see ``__main__``). The JSON these
commands print, and the recording format, are documented in docs/cli.md.

Exit status: 0 success, 1 a runtime error (one line on stderr, no traceback, for the
errors a source is expected to raise), 2 a usage error. Interrupted by Ctrl-C or
SIGTERM, ``exits`` and ``record`` stop cleanly, print their summary and exit 0.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime
from typing import Any, TextIO

from procscope import __version__
from procscope.jsonio import dumps, exited_to_json, snapshot_to_json
from procscope.model.delta import DeltaModel
from procscope.model.records import ExitedProcess, Process, Snapshot, boottime_ns, user_name
from procscope.sources import AUTO_ORDER, Source, make_source, open_source
from procscope.sources.base import ParseError, SourceError, SourceGone, SourceUnavailable

__all__ = ["build_parser", "display_comm", "format_bytes", "format_cpu_time", "main"]

EXIT_OK, EXIT_ERROR, EXIT_USAGE = 0, 1, 2

#: The most exits ``snapshot`` lists under its table (the JSON has them all).
_TEXT_EXITS = 20


class _UsageError(Exception):
    """A request that cannot work as asked (exit status 2)."""


# -- text formatting ---------------------------------------------------------------


def display_comm(comm: str) -> str:
    """A process name safe to print on a terminal, and unambiguous.

    Printable characters stay; a backslash becomes ``\\\\``; control characters, DEL,
    bytes that were not UTF-8, and a leading or trailing space become ``\\xHH``; other
    unprintable code points (say, a right-to-left override) become ``\\uXXXX``. Never a
    raw ESC or newline.
    """
    if comm.isprintable() and "\\" not in comm and comm[:1] != " " and comm[-1:] != " ":
        return comm
    out = []
    for ch in comm:
        o = ord(ch)
        if ch == "\\":
            out.append("\\\\")
        elif ch.isprintable():
            out.append(ch)
        elif 0xDC80 <= o <= 0xDCFF:  # a byte that was not UTF-8 (surrogateescape)
            out.append(f"\\x{o - 0xDC00:02x}")
        elif o < 0x100:
            out.append(f"\\x{o:02x}")
        else:
            out.append(f"\\u{o:04x}" if o < 0x10000 else f"\\U{o:08x}")
    # A leading or trailing space would be invisible in a table.
    if out[0] == " ":
        out[0] = "\\x20"
    if out[-1] == " ":
        out[-1] = "\\x20"
    return "".join(out)


def format_bytes(n: int | None) -> str:
    """``1536 * 1024`` -> ``"1.5M"``, in powers of 1024, as ``top`` does."""
    if n is None:
        return "-"
    if n < 1024:
        return f"{n}B" if n else "0"
    value = float(n)
    for unit in "KMGTP":
        value /= 1024
        if value < 1024 or unit == "P":
            return f"{value:.0f}{unit}" if value >= 100 else f"{value:.1f}{unit}"
    raise AssertionError("unreachable")


def format_cpu_time(ns: int | None) -> str:
    """CPU time as ``minutes:seconds.hundredths``, like top's TIME+."""
    if ns is None:
        return "-"
    cs = ns // 10_000_000
    return f"{cs // 6000}:{cs // 100 % 60:02d}.{cs % 100:02d}"


def format_duration(ns: int | None) -> str:
    if ns is None:
        return "-"
    if ns < 1_000_000:
        return f"{ns / 1000:.0f}us"
    if ns < 1_000_000_000:
        return f"{ns / 1e6:.1f}ms"
    if ns < 60_000_000_000:
        return f"{ns / 1e9:.2f}s"
    return format_cpu_time(ns)


def format_exit(e: ExitedProcess) -> str:
    if e.signal is not None:
        try:
            name = signal.Signals(e.signal).name
        except ValueError:
            name = f"signal {e.signal}"
        return name + (" (core)" if e.core_dumped else "")
    return "-" if e.exit_code is None else str(e.exit_code)


def _user(uid: int | None, width: int = 10) -> str:
    name = user_name(uid) if uid is not None else "-"
    return name if len(name) <= width else name[: width - 1] + "+"


_SORTS: dict[str, Callable[[tuple[Process, float]], Any]] = {
    "pid": lambda row: row[0].pid,
    "cpu": lambda row: (-row[1], row[0].pid),
    "rss": lambda row: (-row[0].rss_bytes, row[0].pid),
}

_PROCESS_HEADER = (
    f"{'PID':>7} {'PPID':>7} {'USER':<10} S {'THR':>4} {'CPU%':>5} {'TIME':>9} {'RSS':>6} COMMAND"
)
_EXIT_HEADER = (
    f"{'TIME':<12} {'PID':>7} {'PPID':>7} {'USER':<10} {'EXIT':<14} "
    f"{'LIFETIME':>9} {'CPU':>9} {'PEAK RSS':>8} COMMAND"
)


def format_process(p: Process, cpu: float) -> str:
    name = display_comm(p.comm)
    if p.kthread:
        name = f"[{name}]"
    return (
        f"{p.pid:>7} {p.ppid:>7} {_user(p.uid):<10} {p.state} {p.threads:>4} {cpu:>5.1f} "
        f"{format_cpu_time(p.cpu_ns):>9} {format_bytes(p.rss_bytes):>6} {name}"
    )


def _wall_of(boot_ns: int | None, snap: Snapshot) -> str:
    """The local clock time of a boot-based time, via the snapshot's two clocks."""
    if boot_ns is None:
        return "-"
    wall = snap.wall_time - (snap.time_ns - boot_ns) / 1e9
    return datetime.fromtimestamp(wall).strftime("%H:%M:%S.%f")[:12]


def format_exited(e: ExitedProcess, snap: Snapshot) -> str:
    ppid = "-" if e.ppid is None else str(e.ppid)
    return (
        f"{_wall_of(e.exit_ns, snap):<12} {e.pid:>7} {ppid:>7} {_user(e.uid):<10} "
        f"{format_exit(e):<14} {format_duration(e.lifetime_ns):>9} "
        f"{format_cpu_time(e.cpu_ns):>9} {format_bytes(e.peak_rss_bytes):>8} "
        f"{display_comm(e.comm)}"
    )


# -- commands ----------------------------------------------------------------------


def _print(out: TextIO, lines: Iterable[str]) -> None:
    out.write("".join(line + "\n" for line in lines))


def cmd_snapshot(args: argparse.Namespace, out: TextIO) -> int:
    src = open_source(args.source)
    model = DeltaModel()
    try:
        first = src.read()
        tick = model.update(first)
        exited, lost = list(first.exited), first.lost
        if args.interval > 0:
            if src.kind != "replay":  # a recording has its own clock
                time.sleep(args.interval)
            try:
                second = src.read()
            except SourceGone:
                if src.kind != "replay":
                    raise
            else:
                tick = model.update(second)
                exited += second.exited
                lost += second.lost
    finally:
        src.close()
    _warn_skipped(src, args.command)
    snap = tick.snapshot._replace(exited=tuple(exited), lost=lost)
    if args.json:
        out.write(dumps(snapshot_to_json(snap, tick.cpu_percent, src.reason)) + "\n")
        return EXIT_OK
    rows = sorted(
        ((p, tick.cpu_percent.get(p.pid, 0.0)) for p in snap.processes), key=_SORTS[args.sort]
    )
    lines = [
        f"# {src.name}: {len(rows)} processes, {len(exited)} exited, {lost} lost ({src.reason})",
        _PROCESS_HEADER,
        *(format_process(p, cpu) for p, cpu in rows),
    ]
    if exited or lost:
        shown = exited[-_TEXT_EXITS:]
        note = f"; the newest {len(shown)} below (all: --json)" if len(shown) < len(exited) else ""
        lines += ["", f"# exits seen: {len(exited)}, lost: {lost}{note}", _EXIT_HEADER]
        lines += (format_exited(e, snap) for e in shown)
    _print(out, lines)
    return EXIT_OK


def _warn_skipped(src: Source, command: str) -> None:
    """Say on stderr how many malformed lines the source skipped, and the last one."""
    skipped = getattr(src, "parse_errors", 0)
    if skipped:
        last = getattr(src, "last_parse_error", None)
        print(
            f"procscope {command}: warning: skipped {skipped} malformed lines; last: {last}",
            file=sys.stderr,
        )


def _read_or_warn(
    src: Source, command: str, warned: str | None
) -> tuple[Snapshot | None, str | None]:
    """One read for a long-running command. A ParseError (say, a malformed line in a
    recording, or a bad header) costs this read only: it is printed on stderr (once
    while it repeats) and the command goes on. Returns the snapshot or ``None``, and
    the last message printed."""
    try:
        return src.read(), None
    except ParseError as exc:
        message = str(exc)
        if message != warned:
            print(f"procscope {command}: warning: {message}", file=sys.stderr)
        return None, message


@contextlib.contextmanager
def _sigterm_stops() -> Iterator[None]:
    """Within: SIGTERM acts as Ctrl-C, so ``exits`` and ``record`` stop cleanly (their
    summary, exit 0) when a service manager or ``timeout`` stops them."""

    def stop(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    try:
        previous = signal.signal(signal.SIGTERM, stop)
    except ValueError:  # not the main thread: leave signals alone
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _sleep_until(deadline: float | None, step: float) -> None:
    pause = step if deadline is None else min(step, deadline - time.monotonic())
    if pause > 0:
        time.sleep(pause)


def cmd_exits(args: argparse.Namespace, out: TextIO) -> int:
    src = open_source(args.source)
    if not src.has_exit_log:
        src.close()
        raise _UsageError(
            f"the {src.kind} source has no exit log: it sees only the processes alive at "
            "each poll, so it cannot list exits. Use --source lkm (load the module: make "
            "-C kernel_module && sudo insmod kernel_module/procscope.ko) or --source netlink"
        )
    began = boottime_ns()
    deadline = None if args.duration is None else time.monotonic() + args.duration
    count = lost = 0
    status = EXIT_OK
    if not args.json:
        _print(out, [f"# {src.name} ({src.reason})", _EXIT_HEADER])
        out.flush()
    warned = None
    try:
        while True:
            snap, warned = _read_or_warn(src, args.command, warned)
            if snap is not None:
                lines = []
                for e in snap.exited:
                    if args.new_only and e.exit_ns is not None and e.exit_ns < began:
                        continue
                    lines.append(dumps(exited_to_json(e)) if args.json else format_exited(e, snap))
                count += len(lines)
                lost += snap.lost
                if not args.json and snap.lost:
                    lines.append(f"# lost {snap.lost} exit records")
                _print(out, lines)
                out.flush()
            if deadline is not None and time.monotonic() >= deadline:
                break
            _sleep_until(deadline, args.interval)
    except KeyboardInterrupt:
        pass
    except SourceGone as exc:
        if src.kind != "replay":
            print(f"procscope exits: error: {exc}", file=sys.stderr)
            status = EXIT_ERROR
    finally:
        src.close()
    _warn_skipped(src, args.command)
    if args.json:
        out.write(dumps({"summary": True, "exits": count, "lost": lost}) + "\n")
    else:
        out.write(f"# {count} exits, {lost} lost\n")
    return status


def cmd_record(args: argparse.Namespace, out: TextIO) -> int:
    from procscope.sources.replay import RecordingWriter

    src = open_source(args.source)
    try:
        writer = RecordingWriter(args.path, src, args.interval, overwrite=args.force)
    except FileExistsError:
        src.close()
        raise _UsageError(f"{args.path} exists: pass --force to overwrite it") from None
    except OSError as exc:
        src.close()
        raise SourceError(f"cannot write {args.path}: {exc.strerror or exc}") from exc
    model = DeltaModel()
    status = EXIT_OK
    start = time.monotonic()
    deadline = None if args.duration is None else start + args.duration
    warned = None
    try:
        with writer:
            while True:
                snap, warned = _read_or_warn(src, args.command, warned)
                if snap is not None:
                    writer.write(snap, model.update(snap).cpu_percent)
                now = time.monotonic()
                if deadline is not None and now >= deadline:
                    break
                if src.kind != "replay":
                    # Keep to the grid start + k * interval, whatever a read costs.
                    ticks = int((now - start) / args.interval) + 1
                    _sleep_until(deadline, start + ticks * args.interval - now)
    except KeyboardInterrupt:
        pass
    except SourceGone as exc:
        if src.kind != "replay":
            print(f"procscope record: error: {exc}", file=sys.stderr)
            status = EXIT_ERROR
    finally:
        src.close()
    _warn_skipped(src, args.command)
    print(
        f"procscope record: recorded {writer.count} snapshots of {src.name} to {args.path}",
        file=sys.stderr,
    )
    return status


def _probe(kind: str) -> tuple[bool, str, type[Source] | None]:
    """Whether ``kind`` opens here, why (not), and its class."""
    try:
        src = make_source(kind)
    except ImportError as exc:
        return False, f"not available in this build ({exc})", None
    try:
        src.open()
    except SourceUnavailable as exc:
        return False, str(exc), type(src)
    src.close()
    return True, "", type(src)


def cmd_sources(args: argparse.Namespace, out: TextIO) -> int:
    entries: list[dict[str, Any]] = []
    for kind in AUTO_ORDER:
        works, why, cls = _probe(kind)
        entries.append(
            {
                "kind": kind,
                "works": works,
                "why": why or None,
                "has_exit_log": cls.has_exit_log if cls else None,
                "sees": cls.sees if cls else "",
                "cannot_see": cls.cannot_see if cls else "",
            }
        )
    from procscope.sources.lkm import DirSource
    from procscope.sources.replay import ReplaySource

    for kind, cls, example in (
        ("dir", DirSource, "dir:/tmp/capture"),
        ("replay", ReplaySource, "replay:/tmp/rec.jsonl"),
    ):
        entries.append(
            {
                "kind": kind,
                "works": None,
                "why": f"needs a path, as in {example}",
                "has_exit_log": cls.has_exit_log,
                "sees": cls.sees,
                "cannot_see": cls.cannot_see,
            }
        )
    try:
        auto = open_source("auto")
    except (SourceUnavailable, ImportError) as exc:
        auto_kind, auto_reason = None, str(exc)
    else:
        auto_kind, auto_reason = auto.kind, auto.reason
        auto.close()
    if args.json:
        out.write(dumps({"sources": entries, "auto": auto_kind, "auto_reason": auto_reason}) + "\n")
        return EXIT_OK
    lines = []
    for e in entries:
        works = {True: "yes", False: "no", None: "-"}[e["works"]]
        lines.append(f"{e['kind']:<8} works: {works:<4} {e['why'] or ''}".rstrip())
        if e["sees"]:
            lines.append(f"{'':<8} sees: {e['sees']}")
        if e["cannot_see"]:
            lines.append(f"{'':<8} cannot see: {e['cannot_see']}")
    lines.append(f"auto     chooses {auto_kind or 'nothing'}: {auto_reason}")
    _print(out, lines)
    return EXIT_OK


# -- argument parsing --------------------------------------------------------------


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not value >= 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a finite number >= 0: {text!r}")
    return value


def _positive_seconds(text: str) -> float:
    value = _seconds(text)
    if value == 0:
        raise argparse.ArgumentTypeError("must be more than 0")
    return value


SOURCE_HELP = "auto (default), lkm, netlink, proc, dir:PATH or replay:PATH"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="procscope",
        description="A Linux process monitor that never misses a process. Without a "
        "command, 'procscope [--source S] [--interval S]' opens its window.",
        epilog="Exit status: 0 ok, 1 runtime error, 2 usage error. See docs/cli.md.",
    )
    parser.add_argument("--version", action="version", version=f"procscope {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    p = sub.add_parser(
        "snapshot",
        help="print the processes once, ps-like or as JSON",
        description="Print the processes once. By default two reads --interval apart, "
        "so CPU%% is the use over that interval; --interval 0 reads once and shows "
        "CPU%% 0. Exits seen during the snapshot are listed too.",
    )
    p.add_argument("--source", default="auto", help=SOURCE_HELP)
    p.add_argument("--json", action="store_true", help="one JSON object (see docs/cli.md)")
    p.add_argument(
        "--interval",
        type=_seconds,
        default=0.5,
        metavar="S",
        help="seconds between the two reads (default 0.5; 0: one read)",
    )
    p.add_argument(
        "--sort",
        choices=sorted(_SORTS),
        default="pid",
        help="table order (default pid; JSON is always by pid)",
    )
    p.set_defaults(func=cmd_snapshot)

    p = sub.add_parser(
        "exits",
        help="stream processes as they exit (like exitsnoop)",
        description="Print each process exit the source sees, until --duration "
        "elapses or Ctrl-C, then a summary. Needs a source with an exit log (lkm, "
        "netlink, or a recording of one); lkm also prints the exits still in its ring "
        "from before the start, unless --new-only.",
    )
    p.add_argument("--source", default="auto", help=SOURCE_HELP)
    p.add_argument(
        "--json", action="store_true", help='one JSON object per exit, then {"summary": true, ...}'
    )
    p.add_argument(
        "--duration",
        type=_seconds,
        default=None,
        metavar="S",
        help="stop after S seconds (default: run until Ctrl-C; 0: one read)",
    )
    p.add_argument(
        "--interval",
        type=_positive_seconds,
        default=0.2,
        metavar="S",
        help="seconds between reads of the source (default 0.2)",
    )
    p.add_argument(
        "--new-only",
        action="store_true",
        help="skip exits that happened before the command started",
    )
    p.set_defaults(func=cmd_exits)

    p = sub.add_parser(
        "record",
        help="record snapshots to a file that --source replay:PATH plays back",
        description="Write one snapshot every --interval seconds to PATH (JSON lines: "
        "a header, then snapshots as 'snapshot --json' prints them) until --duration "
        "elapses or Ctrl-C.",
    )
    p.add_argument("path", metavar="PATH")
    p.add_argument("--source", default="auto", help=SOURCE_HELP)
    p.add_argument(
        "--interval",
        type=_positive_seconds,
        default=1.0,
        metavar="S",
        help="seconds between snapshots (default 1)",
    )
    p.add_argument(
        "--duration",
        type=_seconds,
        default=None,
        metavar="S",
        help="stop after S seconds (default: run until Ctrl-C; 0: one snapshot)",
    )
    p.add_argument("--force", action="store_true", help="overwrite PATH if it exists")
    p.set_defaults(func=cmd_record)

    p = sub.add_parser(
        "sources",
        help="which sources work here, what each can see, and what auto picks",
    )
    p.add_argument("--json", action="store_true", help="as one JSON object")
    p.set_defaults(func=cmd_sources)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version, or a usage error
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    out = sys.stdout
    try:
        with _sigterm_stops():
            return args.func(args, out)
    except _UsageError as exc:
        print(f"procscope {args.command}: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except SourceError as exc:  # SourceUnavailable, SourceGone, ParseError
        print(f"procscope {args.command}: error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # The reader went away (procscope snapshot | head): not an error. Point stdout
        # at /dev/null so the interpreter's final flush does not complain either.
        with contextlib.suppress(OSError, ValueError, AttributeError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK
