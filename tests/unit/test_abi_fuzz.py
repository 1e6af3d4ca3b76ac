"""Property tests for the ABI parsers: names round-trip, garbage never crashes."""

from __future__ import annotations

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from procscope.model.records import comm_bytes
from procscope.sources.abi import (
    EXITS_FIELDS,
    PROCESSES_FIELDS,
    escape_comm,
    parse_counters,
    parse_exits,
    parse_processes,
    parse_version,
    unescape_comm,
)
from procscope.sources.base import ParseError

#: No timing in tests: a loaded machine must not fail a property (speed is benchmarked).
NO_DEADLINE = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])

HEADER = b"# procscope 1 processes " + PROCESSES_FIELDS + b"\n"
assert EXITS_FIELDS.split()[0] == b"seq"

comms = st.binary(min_size=1, max_size=15)
u64 = st.integers(min_value=0, max_value=2**64 - 1)
u32 = st.integers(min_value=0, max_value=2**32 - 1)
letters = st.sampled_from("RSDTtXZPI")

process_rows = st.tuples(
    u32,
    u32,
    u32,
    letters,
    st.integers(1, 10_000),
    u64,
    st.integers(0, 2**44),
    u64,
    st.booleans(),
    comms,
)


def _process_line(row: tuple) -> bytes:
    pid, ppid, uid, state, threads, cpu, rss_kib, start, kthread, comm = row
    return b"%d %d %d %s %d %d %d %d %d %s\n" % (
        pid,
        ppid,
        uid,
        state.encode(),
        threads,
        cpu,
        rss_kib,
        start,
        kthread,
        escape_comm(comm),
    )


@NO_DEADLINE
@given(comms)
@example(b"\\x41")
@example(b"\n")
@example(b"\xff\xfe")
def test_escape_then_unescape_is_identity(raw):
    escaped = escape_comm(raw)
    assert b" " not in escaped and b"\n" not in escaped
    assert unescape_comm(escaped) == raw


@NO_DEADLINE
@given(st.lists(process_rows, max_size=30))
def test_processes_parse_back_to_exactly_the_rows_written(rows):
    data = HEADER + b"".join(_process_line(r) for r in rows)
    procs = parse_processes(data, "fuzz")
    assert len(procs) == len(rows)
    for p, row in zip(procs, rows, strict=True):
        pid, ppid, uid, state, threads, cpu, rss_kib, start, kthread, comm = row
        assert (p.pid, p.ppid, p.uid, p.state, p.threads, p.cpu_ns) == (
            pid,
            ppid,
            uid,
            state,
            threads,
            cpu,
        )
        assert (p.rss_bytes, p.start_ns, p.kthread) == (rss_kib * 1024, start, kthread)
        assert comm_bytes(p.comm) == comm


exit_rows = st.tuples(
    u64, u32, u32, u32, st.integers(0, 0xFFFF), u64, u64, u64, st.integers(0, 2**44), comms
)


@NO_DEADLINE
@given(st.lists(st.one_of(exit_rows, st.integers(1, 10**6)), max_size=30))
def test_exits_parse_back_with_lost_lines_anywhere(items):
    data = b""
    for item in items:
        if isinstance(item, int):
            data += b"lost %d\n" % item
        else:
            *nums, comm = item
            data += b" ".join(b"%d" % n for n in nums) + b" " + escape_comm(comm) + b"\n"
    exited, lost = parse_exits(data, "fuzz")
    rows = [i for i in items if not isinstance(i, int)]
    assert lost == sum(i for i in items if isinstance(i, int))
    assert len(exited) == len(rows)
    for e, row in zip(exited, rows, strict=True):
        seq, pid, ppid, uid, wstatus, start, end, cpu, maxrss, comm = row
        assert (e.seq, e.pid, e.ppid, e.uid) == (seq, pid, ppid, uid)
        assert (e.start_ns, e.exit_ns, e.cpu_ns, e.peak_rss_bytes) == (
            start,
            end,
            cpu,
            maxrss * 1024,
        )
        assert comm_bytes(e.comm) == comm
        if wstatus & 0x7F:
            assert (e.exit_code, e.signal, e.core_dumped) == (
                None,
                wstatus & 0x7F,
                bool(wstatus & 0x80),
            )
        else:
            assert (e.exit_code, e.signal) == ((wstatus >> 8) & 0xFF, None)


def _lenient_accounts_for_every_line(data: bytes, exits: bool = False) -> None:
    """Lenient parsing: every line is a record, a ``lost`` line, or one error, or the
    whole file is refused (a bad header) with a ParseError."""
    errors: list[ParseError] = []
    try:
        if exits:
            records, _ = parse_exits(data, "fuzz", errors)
        else:
            records = parse_processes(data, "fuzz", errors)
    except ParseError:
        assert not exits  # exits has no header: nothing can make it refuse the whole file
        return
    lines = data.split(b"\n")
    if not lines[-1]:
        lines.pop()
    lost_lines = sum(1 for ln in lines if ln.startswith(b"lost ") and ln[5:].isdigit())
    assert all(e.path == "fuzz" and e.line is not None for e in errors)
    header = 0 if exits else 1
    assert len(records) + len(errors) + (lost_lines if exits else 0) == len(lines) - header


def _parses_or_refuses(parse, *args) -> bool:
    """True if ``parse`` accepted the input; False if it raised ParseError. Any other
    exception fails the test."""
    try:
        parse(*args)
    except ParseError:
        return False
    return True


@NO_DEADLINE
@given(st.binary(max_size=300))
def test_garbage_processes_raise_parse_error_or_parse(data):
    for body in (data, HEADER + data):
        _parses_or_refuses(parse_processes, body, "fuzz")
        _lenient_accounts_for_every_line(body)


@NO_DEADLINE
@given(st.lists(process_rows, min_size=1, max_size=5), st.data())
def test_a_mutated_byte_never_adds_or_merges_rows(rows, data):
    """Flip one byte of a valid file: each line still yields one row or one error."""
    body = b"".join(_process_line(r) for r in rows)
    pos = data.draw(st.integers(0, len(body) - 1))
    byte = data.draw(st.integers(0, 255))
    mutated = HEADER + body[:pos] + bytes((byte,)) + body[pos + 1 :]
    _lenient_accounts_for_every_line(mutated)
    errors: list[ParseError] = []
    procs = parse_processes(mutated, "fuzz", errors)
    assert len(procs) <= len(rows) + (1 if byte == 0x0A else 0)


@NO_DEADLINE
@given(st.binary(max_size=300))
def test_garbage_exits_raise_parse_error_or_parse(data):
    _parses_or_refuses(parse_exits, data, "fuzz")
    _lenient_accounts_for_every_line(data, exits=True)


@NO_DEADLINE
@given(st.binary(max_size=200))
def test_garbage_counters_and_version_raise_parse_error_only(data):
    for body in (data, b"# procscope 1 counters\n" + data):
        accepted = _parses_or_refuses(parse_counters, body, "fuzz")
        errors: list[ParseError] = []
        if _parses_or_refuses(parse_counters, body, "fuzz", errors):
            assert accepted == (not errors)  # lenient differs from strict only by skipping
    if _parses_or_refuses(parse_version, data, "fuzz"):
        assert data.startswith(b"procscope ") and data.endswith(b"\n")
