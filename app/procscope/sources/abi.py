"""Parsers for the ``/proc/procscope/`` text ABI, version 1 (see docs/procfs-abi.md).

Pure functions over ``bytes``: no I/O, no Qt. They are the hot path of the ``lkm``
and ``dir:`` sources (100,000 process lines per read is a benchmark target).

Strict or lenient, the caller chooses:

* By default every parser is **strict**: the first bad line raises
  :class:`~procscope.sources.base.ParseError`, naming the file, the line number
  (1-based, counting the header) and what was wrong.
* Given an ``errors`` list, ``parse_processes``, ``parse_exits`` and
  ``parse_counters`` are **lenient** for *lines*: a bad line is skipped and its
  ``ParseError`` appended to ``errors``, and the rest of the file is kept. A bad
  *header* or a wrong ABI version still raises, because then no line can be
  trusted. The sources use this mode (one broken line must not blank the table)
  and count what they skipped.

A process name (``comm``) is unescaped from ``\\xHH`` and decoded with
:func:`~procscope.model.records.comm_from_bytes`, so it round-trips to the exact
kernel bytes. Since the escaped form never holds a space or a newline, no name can
add, split or merge rows.
"""

from __future__ import annotations

import codecs
import re

from procscope.model.records import Counters, ExitedProcess, Process
from procscope.sources.base import ParseError, SourceUnavailable

__all__ = [
    "ABI_VERSION",
    "EXITS_FIELDS",
    "PROCESSES_FIELDS",
    "check_version",
    "counters_from_abi",
    "escape_comm",
    "parse_counters",
    "parse_exits",
    "parse_processes",
    "parse_version",
    "unescape_comm",
]

#: The only ABI version this reader knows.
ABI_VERSION = 1

PROCESSES_FIELDS = b"pid ppid uid state threads cpu_ns rss_kib start_ns kthread comm"
EXITS_FIELDS = b"seq pid ppid uid wstatus start_ns exit_ns cpu_ns maxrss_kib comm"

_PROCESSES_HEADER = b"# procscope %d processes " % ABI_VERSION + PROCESSES_FIELDS
_COUNTERS_HEADER = b"# procscope %d counters" % ABI_VERSION

# -- comm escaping -----------------------------------------------------------------

#: Bytes that stand for themselves in an escaped comm (printable ASCII but space and \).
_PLAIN = bytes(b for b in range(0x21, 0x7F) if b != 0x5C)
_ESCAPE = [bytes((i,)) if i in _PLAIN else b"\\x%02x" % i for i in range(256)]
#: Everything allowed in the escaped form: the plain bytes, \ and the hex digits.
_ESCAPED_OK = _PLAIN + b"\\"
#: A whole escaped name: plain bytes and \xHH (lower-case), at least one.
_ESCAPED_FORM = re.compile(rb"(?:[!-\[\]-~]|\\x[0-9a-f]{2})+").fullmatch
_escape_decode = codecs.escape_decode  # type: ignore[attr-defined]


def escape_comm(raw: bytes) -> bytes:
    """Escape a process name the way the module does (``\\xHH`` for the unsafe bytes)."""
    esc = _ESCAPE
    return b"".join([esc[b] for b in raw])


def unescape_comm(field: bytes) -> bytes:
    """Undo :func:`escape_comm`. Raises ``ValueError`` on a malformed field.

    Malformed: empty, a byte the module would have escaped, or a backslash that does
    not start ``\\x`` and two lower-case hex digits.
    """
    if _ESCAPED_FORM(field) is None:
        if not field:
            raise ValueError("empty process name")
        if field.translate(None, _ESCAPED_OK):
            raise ValueError(f"unescaped byte in process name {field!r}")
        raise ValueError(f"bad escape in process name {field!r}")
    if b"\\" not in field:
        return field
    # Every backslash now starts \xHH, the one escape escape_decode and the ABI share.
    return _escape_decode(field)[0]


# -- version -----------------------------------------------------------------------


def parse_version(data: bytes, path: str = "version") -> tuple[int, str]:
    """``b"procscope 1 0.1.0\\n"`` -> ``(1, "0.1.0")``: the ABI and module versions."""
    if not data.endswith(b"\n") or data.count(b"\n") != 1:
        raise ParseError(path, 1, f"expected one line ending in a newline, got {data[:80]!r}")
    fields = data[:-1].split(b" ")
    if len(fields) != 3 or fields[0] != b"procscope" or not fields[1].isdigit():
        raise ParseError(path, 1, f"expected 'procscope <abi> <module version>', got {data[:80]!r}")
    try:
        module_version = fields[2].decode("ascii")
    except UnicodeDecodeError:
        raise ParseError(path, 1, f"module version is not ASCII: {fields[2]!r}") from None
    if not module_version:
        raise ParseError(path, 1, "empty module version")
    return int(fields[1]), module_version


def check_version(data: bytes, path: str = "version") -> str:
    """Parse ``version`` and refuse an ABI this reader does not know.

    Returns the module version. Raises :class:`SourceUnavailable` naming both ABI
    versions on a mismatch, :class:`ParseError` if the file is malformed.
    """
    abi, module_version = parse_version(data, path)
    if abi != ABI_VERSION:
        raise SourceUnavailable(
            f"{path}: the procscope module speaks ABI version {abi} (module "
            f"{module_version}), but this reader knows only ABI version {ABI_VERSION}: "
            "use a procscope app and module from the same release"
        )
    return module_version


def _check_header(lines: list[bytes], expected: bytes, what: str, path: str) -> None:
    header = lines[0]
    if header == expected:
        return
    if len(lines) == 1 and not header:
        raise ParseError(path, None, f"empty file: expected the {what} header")
    fields = header.split(b" ")
    if fields[:2] == [b"#", b"procscope"] and len(fields) > 2 and fields[2] != b"%d" % ABI_VERSION:
        raise ParseError(
            path,
            1,
            f"header says ABI version {fields[2].decode('ascii', 'replace')}, "
            f"but this reader knows only ABI version {ABI_VERSION}",
        )
    raise ParseError(path, 1, f"expected header {expected.decode()!r}, got {header[:120]!r}")


def _split_lines(data: bytes, path: str) -> tuple[list[bytes], ParseError | None]:
    """Split on newlines. The text must end in one: a last line without is returned as
    an error, for the caller to raise or record *after* the lines before it."""
    lines = data.split(b"\n")
    last = lines.pop()
    if not last:
        return lines, None
    return lines, ParseError(
        path, len(lines) + 1, f"line does not end in a newline (truncated?): {last[:80]!r}"
    )


def _report(err: ParseError | None, errors: list[ParseError] | None) -> None:
    """Raise ``err`` (strict) or record it (lenient)."""
    if err is not None:
        if errors is None:
            raise err
        errors.append(err)


# -- counters ----------------------------------------------------------------------


def parse_counters(
    data: bytes, path: str = "counters", errors: list[ParseError] | None = None
) -> dict[str, int]:
    """The ``key value`` lines of ``counters``, unknown keys included."""
    lines, truncated = _split_lines(data, path)
    if not lines:
        raise truncated or ParseError(path, None, "empty file: expected the counters header")
    _check_header(lines, _COUNTERS_HEADER, "counters", path)
    out: dict[str, int] = {}
    for lineno, line in enumerate(lines[1:], 2):
        fields = line.split(b" ")
        problem = None
        if len(fields) != 2 or not fields[0] or not fields[1].isdigit():
            problem = f"expected 'key value' with an unsigned number, got {line[:80]!r}"
        elif not fields[0].isascii():
            problem = f"key is not ASCII: {fields[0][:80]!r}"
        else:
            key = fields[0].decode("ascii")
            if key in out:
                problem = f"key {key!r} appears twice"
            else:
                out[key] = int(fields[1])
                continue
        _report(ParseError(path, lineno, problem), errors)
    _report(truncated, errors)
    return out


def counters_from_abi(values: dict[str, int]) -> Counters:
    """The module's counters as :class:`Counters`; keys it lacks stay ``None``."""
    get = values.get
    return Counters(
        forks=get("forks"),
        threads_created=get("threads_created"),
        exits=get("exits"),
        threads_exited=get("threads_exited"),
        kthreads_created=get("kthreads_created"),
        kthreads_exited=get("kthreads_exited"),
    )


# -- processes ---------------------------------------------------------------------

_tuple_new = tuple.__new__
_STATES = {bytes((c,)): chr(c) for c in b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"}
_KTHREAD = {b"0": False, b"1": True}
_DIGITS_SPACE = b"0123456789 "

#: Escaped comm -> decoded name. Names repeat a lot (a machine runs many ``bash``), so
#: a lookup beats unescaping and decoding each time. Bounded: cleared when full.
_NAMES: dict[bytes, str] = {}
_NAMES_MAX = 8192


def _decode_comm(field: bytes) -> str:
    """Unescape and decode one comm field (ValueError if malformed), and cache it."""
    if b"\\" in field:
        name = unescape_comm(field).decode("utf-8", "surrogateescape")
    elif field and not field.translate(None, _ESCAPED_OK):
        name = field.decode("ascii")
    else:
        unescape_comm(field)  # raises, saying what is wrong
        raise AssertionError("unreachable")
    if len(_NAMES) >= _NAMES_MAX:
        _NAMES.clear()
    _NAMES[field] = name
    return name


def _process_line(line: bytes) -> Process:
    """One process line, checked field by field, with a precise message on failure."""
    fields = line.split(b" ")
    if len(fields) != 10:
        raise ValueError(f"expected 10 fields, got {len(fields)}: {line[:120]!r}")
    names = PROCESSES_FIELDS.decode().split()
    for i in (0, 1, 2, 4, 5, 6, 7):
        if not fields[i].isdigit():
            raise ValueError(f"{names[i]} is not an unsigned number: {fields[i][:40]!r}")
    state = _STATES.get(fields[3])
    if state is None:
        raise ValueError(f"state is not one letter: {fields[3][:40]!r}")
    kthread = _KTHREAD.get(fields[8])
    if kthread is None:
        raise ValueError(f"kthread is not 0 or 1: {fields[8][:40]!r}")
    comm = _decode_comm(fields[9])
    pid, ppid, uid, threads, cpu, rss, start = (int(fields[i]) for i in (0, 1, 2, 4, 5, 6, 7))
    return _tuple_new(
        Process, (pid, ppid, uid, state, threads, cpu, rss * 1024, start, kthread, comm)
    )


def parse_processes(
    data: bytes, path: str = "processes", errors: list[ParseError] | None = None
) -> tuple[Process, ...]:
    """The ``processes`` file: a header, then one line per process.

    Strict when ``errors`` is ``None``: the first bad line raises ParseError. Otherwise
    bad lines are skipped and their errors appended to ``errors``.
    ``rss_kib`` becomes ``rss_bytes``; ``comm`` is unescaped and decoded.
    """
    lines, truncated = _split_lines(data, path)
    if not lines:
        raise truncated or ParseError(path, None, "empty file: expected the processes header")
    _check_header(lines, _PROCESSES_HEADER, "processes", path)

    # Fast path: no per-field checks beyond what int() and the lookups do, plus one
    # translate() proving the numeric fields are plain digits. Any failure re-parses
    # line by line below, to say exactly which line and what.
    out: list[Process] = []
    append = out.append
    new = _tuple_new
    proc = Process
    states = _STATES
    kflag = _KTHREAD
    digits_space = _DIGITS_SPACE
    names = _NAMES
    get_name = names.get
    done = 0
    try:
        for line in lines[1:]:
            pid, ppid, uid, state, threads, cpu, rss, start, kthread, comm = line.split(b" ")
            st = states[state]
            if line[: -len(comm) - 1].translate(None, digits_space) != state:
                raise ValueError
            name = get_name(comm)
            if name is None:
                name = _decode_comm(comm)
            append(
                new(
                    proc,
                    (
                        int(pid),
                        int(ppid),
                        int(uid),
                        st,
                        int(threads),
                        int(cpu),
                        int(rss) * 1024,
                        int(start),
                        kflag[kthread],
                        name,
                    ),
                )
            )
            done += 1
    except (ValueError, KeyError):
        pass
    else:
        _report(truncated, errors)
        return tuple(out)

    # Slow path, from the first line that failed.
    for lineno, line in enumerate(lines[1 + done :], 2 + done):
        try:
            append(_process_line(line))
        except ValueError as exc:
            _report(ParseError(path, lineno, str(exc)), errors)
    _report(truncated, errors)
    return tuple(out)


# -- exits -------------------------------------------------------------------------

_decode_wait = ExitedProcess.decode_wait_status


def _exit_line(line: bytes) -> ExitedProcess:
    fields = line.split(b" ")
    if len(fields) != 10:
        raise ValueError(f"expected 10 fields, got {len(fields)}: {line[:120]!r}")
    names = EXITS_FIELDS.decode().split()
    for i in range(9):
        if not fields[i].isdigit():
            raise ValueError(f"{names[i]} is not an unsigned number: {fields[i][:40]!r}")
    seq, pid, ppid, uid, wstatus, start, end, cpu, maxrss = (int(f) for f in fields[:9])
    comm = _decode_comm(fields[9])
    code, sig, core = _decode_wait(wstatus)
    return ExitedProcess(seq, pid, ppid, uid, comm, code, sig, start, end, cpu, maxrss * 1024, core)


def parse_exits(
    data: bytes, path: str = "exits", errors: list[ParseError] | None = None
) -> tuple[tuple[ExitedProcess, ...], int]:
    """Exit records (no header), and the sum of the ``lost N`` lines among them.

    ``lost`` lines are accepted anywhere, since a copy made by ``cat`` concatenates
    several reads. Strict when ``errors`` is ``None``; otherwise a bad line is skipped,
    its error appended to ``errors``, and it is *not* counted as lost here (the caller
    decides: the sources count each skipped record as lost).
    """
    lines, truncated = _split_lines(data, path)
    out: list[ExitedProcess] = []
    lost = 0
    for lineno, line in enumerate(lines, 1):
        try:
            if line.startswith(b"lost "):
                n = line[5:]
                if not n.isdigit():
                    raise ValueError(f"expected 'lost N', got {line[:80]!r}")
                lost += int(n)
            else:
                out.append(_exit_line(line))
        except ValueError as exc:
            _report(ParseError(path, lineno, str(exc)), errors)
    _report(truncated, errors)
    return tuple(out), lost
