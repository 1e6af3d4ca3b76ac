"""The /proc/procscope ABI v1 parsers, on the hand-written captures in tests/data."""

from __future__ import annotations

from pathlib import Path

import pytest

from procscope.model.records import Counters, ExitedProcess, Process, comm_bytes
from procscope.sources.abi import (
    ABI_VERSION,
    PROCESSES_FIELDS,
    check_version,
    counters_from_abi,
    escape_comm,
    parse_counters,
    parse_exits,
    parse_processes,
    parse_version,
    unescape_comm,
)
from procscope.sources.base import ParseError, SourceUnavailable

DATA = Path(__file__).parent.parent / "data"
GOOD = DATA / "lkm"
MALFORMED = DATA / "lkm-malformed"
HEADER = b"# procscope 1 processes " + PROCESSES_FIELDS + b"\n"


def _read(directory: Path, name: str) -> tuple[bytes, str]:
    path = directory / name
    return path.read_bytes(), str(path)


# The exact kernel bytes of every name in tests/data/lkm/processes that needs escaping.
HOSTILE = {
    1530: b"Web Content",
    1600: b"my prog",
    1601: b"evil\n4242 1 0",
    1602: b"\x1b[31mred\x1b[0m",
    1603: b"back\\slash",
    1604: b"\xff\xfe bad utf8",
    1605: "café".encode(),
    1606: b"\\x41",
    1607: b"1 0 0 S 1 0",
    1608: b"tab\tname",
    1609: b"\x7f",
    1610: b" ",
    4242: b"my prog",
}


@pytest.fixture(scope="module")
def processes() -> tuple[Process, ...]:
    return parse_processes(*_read(GOOD, "processes"))


def test_capture_parses_every_line_in_pid_order(processes):
    body_lines = (GOOD / "processes").read_bytes().count(b"\n") - 1
    assert len(processes) == body_lines == 39
    pids = [p.pid for p in processes]
    assert pids == sorted(pids)
    assert len(set(pids)) == len(pids)


@pytest.mark.parametrize(
    "expected",
    [
        Process(1, 0, 0, "S", 1, 4_120_000_000, 13312 * 1024, 110_000_000, False, "systemd"),
        Process(2, 0, 0, "S", 1, 20_000_000, 0, 110_000_000, True, "kthreadd"),
        Process(
            1502,
            1031,
            1000,
            "S",
            42,
            98_120_000_000,
            1048576 * 1024,
            63_000_000_000,
            False,
            "firefox-esr",
        ),
        Process(1611, 1031, 1000, "T", 1, 2_000_000, 3072 * 1024, 71_100_000_000, False, "vim"),
        Process(1612, 1031, 1000, "Z", 1, 3_000_000, 0, 71_200_000_000, False, "defunct-child"),
        Process(1700, 1031, 0, "D", 1, 150_000_000, 6144 * 1024, 72_000_000_000, False, "dd"),
        Process(
            65000, 1, 65534, "S", 1, 1_000_000, 1024 * 1024, 94_000_000_000, False, "nobody-daemon"
        ),
        Process(4194304, 1, 1000, "S", 1, 0, 512 * 1024, 95_000_000_000, False, "bigpid"),
    ],
    ids=lambda p: p.comm,
)
def test_capture_rows_have_every_field(processes, expected):
    by_pid = {p.pid: p for p in processes}
    assert by_pid[expected.pid] == expected


@pytest.mark.parametrize("pid,raw", sorted(HOSTILE.items()), ids=repr)
def test_hostile_names_round_trip_to_the_exact_bytes(processes, pid, raw):
    by_pid = {p.pid: p for p in processes}
    assert comm_bytes(by_pid[pid].comm) == raw


def test_hostile_names_neither_add_nor_merge_rows(processes):
    # Two processes share "my prog"; a name that looks like fields or a new row stays one.
    assert [p.pid for p in processes if p.comm == "my prog"] == [1600, 4242]
    assert sum(1 for p in processes if p.pid == 4242) == 1
    assert {p.ppid for p in processes if 1600 <= p.pid <= 1612} == {1031}


def test_escaping_reproduces_the_module_output(processes):
    """Our escape_comm writes each name exactly as the capture (the module) does."""
    lines = (GOOD / "processes").read_bytes().splitlines()[1:]
    for line, p in zip(lines, processes, strict=True):
        assert escape_comm(comm_bytes(p.comm)) == line.rsplit(b" ", 1)[1]


@pytest.mark.parametrize(
    "field,raw",
    [
        (b"plain", b"plain"),
        (b"a\\x20b", b"a b"),
        (b"\\x00", b"\x00"),  # how the module writes an empty name
        (b"\\x5c", b"\\"),
        (b"\\x5cx41", b"\\x41"),
        (b"\\x41", b"A"),  # an unneeded escape is still read right
        (b"\\xff\\x0a\\x1b", b"\xff\n\x1b"),
        (b"x\\x0a", b"x\n"),
    ],
)
def test_unescape(field, raw):
    assert unescape_comm(field) == raw


@pytest.mark.parametrize(
    "field,problem",
    [
        (b"", "empty"),
        (b"a\\", "bad escape"),
        (b"a\\x4", "bad escape"),
        (b"a\\x4g", "bad escape"),
        (b"a\\x4A", "bad escape"),  # the ABI writes lower-case hex
        (b"a\\q", "bad escape"),
        (b"\\\\x41", "bad escape"),
        (b"tab\there", "unescaped byte"),
        (b"caf\xc3\xa9", "unescaped byte"),
        (b"del\x7f", "unescaped byte"),
    ],
)
def test_unescape_refuses_malformed_names(field, problem):
    with pytest.raises(ValueError, match=problem):
        unescape_comm(field)


def test_escape_covers_exactly_the_abi_bytes():
    for b in range(256):
        escaped = escape_comm(bytes((b,)))
        if b <= 0x20 or b >= 0x7F or b == 0x5C:
            assert escaped == b"\\x%02x" % b
        else:
            assert escaped == bytes((b,))


# -- exits -------------------------------------------------------------------------


def test_capture_exits_records_and_lost_lines():
    exited, lost = parse_exits(*_read(GOOD, "exits"))
    assert lost == 5  # "lost 3" at the start and "lost 2" in the middle
    assert [e.seq for e in exited] == [
        14201,
        14202,
        14203,
        14204,
        14205,
        14206,
        14207,
        14210,
        14211,
    ]
    assert exited[0] == ExitedProcess(
        seq=14201,
        pid=4243,
        ppid=4242,
        uid=1000,
        comm="true",
        exit_code=0,
        signal=None,
        start_ns=93_100_000_000,
        exit_ns=93_100_400_000,
        cpu_ns=350_000,
        peak_rss_bytes=1024 * 1024,
        core_dumped=False,
    )
    assert exited[0].lifetime_ns == 400_000


@pytest.mark.parametrize(
    "seq,exit_code,signal,core",
    [
        (14201, 0, None, False),  # wstatus 0
        (14202, 1, None, False),  # 256 = exit(1)
        (14203, None, 9, False),  # SIGKILL
        (14204, None, 11, True),  # 139 = SIGSEGV | core
        (14205, 127, None, False),  # 32512 = exit(127)
        (14210, None, 15, False),  # SIGTERM
    ],
)
def test_exit_wait_status_is_decoded(seq, exit_code, signal, core):
    exited, _ = parse_exits(*_read(GOOD, "exits"))
    e = next(e for e in exited if e.seq == seq)
    assert (e.exit_code, e.signal, e.core_dumped) == (exit_code, signal, core)


def test_exit_names_round_trip():
    exited, _ = parse_exits(*_read(GOOD, "exits"))
    names = {e.seq: comm_bytes(e.comm) for e in exited}
    assert names[14206] == b"evil\n4249 1 0"
    assert names[14207] == b"\xff\xfe bad utf8"
    assert names[14211] == b"\\x41"


def test_empty_exits_is_no_records():
    assert parse_exits(b"") == ((), 0)


# -- counters and version ------------------------------------------------------------


def test_capture_counters():
    values = parse_counters(*_read(GOOD, "counters"))
    assert values["exit_seq_next"] == 14212
    assert values["exit_ring_size"] == 4096
    assert values["load_time_ns"] == 5_210_443_901
    assert counters_from_abi(values) == Counters(
        forks=18342,
        threads_created=40517,
        exits=14212,
        threads_exited=40203,
        tasks_created=None,
        kthreads_created=212,
        kthreads_exited=187,
    )


def test_counters_keep_unknown_keys_and_leave_missing_ones_unknown():
    values = parse_counters(b"# procscope 1 counters\nforks 3\nprobes_missed 0\n")
    assert values == {"forks": 3, "probes_missed": 0}
    assert counters_from_abi(values) == Counters(forks=3)


def test_version():
    assert parse_version(b"procscope 1 0.1.0\n") == (1, "0.1.0")
    assert check_version(b"procscope 1 0.1.0-rc2\n") == "0.1.0-rc2"


def test_unknown_abi_version_is_refused_naming_both():
    data, path = _read(DATA / "lkm-badversion", "version")
    with pytest.raises(SourceUnavailable) as info:
        check_version(data, path)
    msg = str(info.value)
    assert "ABI version 2" in msg and f"ABI version {ABI_VERSION}" in msg and path in msg


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"procscope 1 0.1.0",
        b"procscope 1\n",
        b"procscope one 0.1.0\n",
        b"procscope 1 0.1.0\nextra\n",
        b"procscope -1 0.1.0\n",
        b"prozscope 1 0.1.0\n",
        b"procscope 1  0.1.0\n",
        b"procscope 1 \xff\n",
    ],
)
def test_malformed_version_is_a_parse_error(data):
    with pytest.raises(ParseError, match=r"^version"):
        parse_version(data)


@pytest.mark.parametrize("name", ["processes", "counters"])
def test_header_with_another_version_names_both(name):
    data, path = _read(DATA / "lkm-badversion", name)
    parser = parse_processes if name == "processes" else parse_counters
    with pytest.raises(ParseError) as info:
        parser(data, path, [])  # a bad header raises even in lenient mode
    assert info.value.line == 1
    assert "ABI version 2" in str(info.value) and "ABI version 1" in str(info.value)


@pytest.mark.parametrize(
    "data,problem",
    [
        (b"", "empty file"),
        (b"1 0 0 S 1 0 0 0 0 init\n", "expected header"),
        (HEADER.replace(b"rss_kib", b"rss"), "expected header"),
        (HEADER[:-1], "does not end in a newline"),
    ],
)
def test_processes_bad_header(data, problem):
    assert PROCESSES_FIELDS == b"pid ppid uid state threads cpu_ns rss_kib start_ns kthread comm"
    with pytest.raises(ParseError, match=problem):
        parse_processes(data, "p")


def test_header_alone_is_no_processes():
    assert parse_processes(HEADER) == ()


# -- malformed input: strict raises, lenient skips and counts ---------------------------

# Line number in tests/data/lkm-malformed/processes -> what the error must say.
BAD_PROCESS_LINES = {
    4: "expected 10 fields, got 9",
    5: "expected 10 fields, got 11",
    6: "uid is not an unsigned number",
    7: "state is not one letter",
    8: "kthread is not 0 or 1",
    9: "bad escape",
    10: "bad escape",
    11: "bad escape",
    12: "rss_kib is not an unsigned number",
    13: "expected 10 fields, got 1",
    14: "unescaped byte",
    15: "threads is not an unsigned number",
    16: "bad escape",
    18: "does not end in a newline",
}


def test_strict_processes_stop_at_the_first_bad_line_naming_file_and_line():
    data, path = _read(MALFORMED, "processes")
    with pytest.raises(ParseError) as info:
        parse_processes(data, path)
    err = info.value
    assert (err.path, err.line) == (path, 4)
    assert str(err).startswith(f"{path}:4: expected 10 fields, got 9")


def test_lenient_processes_keep_every_good_line_and_report_every_bad_one():
    data, path = _read(MALFORMED, "processes")
    errors: list[ParseError] = []
    procs = parse_processes(data, path, errors)
    assert [p.pid for p in procs] == [1, 2, 4242]
    assert procs[2].comm == "my prog"
    assert {e.line: e.problem for e in errors}.keys() == BAD_PROCESS_LINES.keys()
    for e in errors:
        assert e.path == path
        assert BAD_PROCESS_LINES[e.line] in e.problem, (e.line, e.problem)


def test_one_bad_line_late_in_a_big_file_is_found_after_the_fast_path():
    good = b"".join(b"%d 1 0 S 1 0 0 0 0 p%d\n" % (pid, pid) for pid in range(1, 1001))
    data = HEADER + good + b"1001 1 0 S 1 0 0 0 0 \n" + b"1002 1 0 S 1 0 0 0 0 last\n"
    with pytest.raises(ParseError) as info:
        parse_processes(data, "big")
    assert info.value.line == 1002 and "empty process name" in info.value.problem
    errors: list[ParseError] = []
    procs = parse_processes(data, "big", errors)
    assert len(procs) == 1001 and procs[-1].comm == "last" and len(errors) == 1


@pytest.mark.parametrize(
    "line",
    [
        b"1 0 0 S 1 0 0 0 0 x y",  # a raw space in a name would be an extra field
        b"+1 0 0 S 1 0 0 0 0 x",
        b"1 0 0 S 1 0 -0 0 0 x",
        b"1 0 0 S 1 0 1_0 0 0 x",
        b"1 0 0 S 1 0 0 0 0 x\r",
        b"1 0 0 \xd0\x96 1 0 0 0 0 x",
        b"1 0 0 S S 0 0 0 0 x",
        b"1 0 0 S 1 0 0 0 00 x",
        b" 1 0 0 S 1 0 0 0 0 x",
        b"1 0 0 S 1 0 0 0 0 x ",
        b"\xef\xbc\x91 0 0 S 1 0 0 0 0 x",  # a full-width digit
    ],
)
def test_near_miss_process_lines_are_errors(line):
    with pytest.raises(ParseError):
        parse_processes(HEADER + line + b"\n", "p")


def test_lenient_exits_skip_bad_lines():
    data, path = _read(MALFORMED, "exits")
    errors: list[ParseError] = []
    exited, lost = parse_exits(data, path, errors)
    assert [e.seq for e in exited] == [0, 7]
    assert exited[1].comm == "kill me" and exited[1].signal == 9
    assert lost == 4
    assert [e.line for e in errors] == [2, 3, 4, 7]
    assert "wstatus is not an unsigned number" in errors[1].problem
    assert "expected 'lost N'" in errors[2].problem
    with pytest.raises(ParseError, match=r"lkm-malformed/exits:2: expected 10 fields"):
        parse_exits(data, path)


def test_lenient_counters_skip_bad_lines():
    data, path = _read(MALFORMED, "counters")
    errors: list[ParseError] = []
    values = parse_counters(data, path, errors)
    assert values == {
        "load_time_ns": 5210443901,
        "forks": 120,
        "exits": 100,
        "threads_exited": 38,
        "future_key": 7,
        "exit_seq_next": 100,
        "exit_ring_size": 4096,
    }
    assert [e.line for e in errors] == [4, 6, 8]
    assert errors[0].problem.startswith("expected 'key value' with an unsigned number")
    assert errors[1].problem == "key 'exits' appears twice"
    assert errors[2].problem.endswith("got b'-1'")
