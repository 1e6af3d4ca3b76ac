"""ExitLog bookkeeping, wait-status decoding, and the filter predicates."""

from __future__ import annotations

import os

import pytest

from procscope.model import ExitedProcess, ExitLog, Process, comm_bytes, comm_from_bytes
from procscope.model.filters import by_pattern, by_uid, combine, kthreads, mine


def ex(seq):
    return ExitedProcess(seq, seq, 1, 0, "x", 0, None, 10, 30, None, None)


def test_exit_log_counts_everything():
    log = ExitLog(capacity=2)
    log.extend([ex(1), ex(2), ex(3)], lost=4)
    assert [r.seq for r in log] == [3, 2]
    assert (log.seen, log.lost, log.evicted, len(log)) == (3, 4, 1, 2)
    assert log.newest(1) == [ex(3)]
    log.clear()
    assert (len(log), log.evicted, log.seen) == (0, 3, 3)


@pytest.mark.parametrize("bad", [0, -1])
def test_exit_log_rejects_bad_capacity(bad):
    with pytest.raises(ValueError, match="capacity"):
        ExitLog(bad)


def test_exit_log_rejects_negative_loss():
    with pytest.raises(ValueError, match="negative"):
        ExitLog().extend([], lost=-1)


def test_lifetime():
    assert ex(1).lifetime_ns == 20
    assert ex(1)._replace(start_ns=None).lifetime_ns is None
    assert ex(1)._replace(start_ns=50).lifetime_ns == 0  # clock skew never goes negative


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (0, (0, None, False)),
        (1 << 8, (1, None, False)),
        (255 << 8, (255, None, False)),
        (9, (None, 9, False)),  # SIGKILL
        (11 | 0x80, (None, 11, True)),  # SIGSEGV, core dumped
        (15, (None, 15, False)),
    ],
)
def test_decode_wait_status(status, expected):
    assert ExitedProcess.decode_wait_status(status) == expected


@pytest.mark.parametrize(
    "raw",
    [b"bash", b"a b", b"line\nbreak", b"\x1b[31mred", b"\xff\xfe", b"caf\xc3\xa9", b"tab\there"],
)
def test_comm_round_trips_exactly(raw):
    assert comm_bytes(comm_from_bytes(raw)) == raw


def p(pid, comm, uid=1000, kthread=False):
    return Process(pid, 1, uid, "S", 1, 0, 0, 0, kthread, comm)


ROWS = [p(1, "systemd", 0), p(2, "kthreadd", 0, True), p(120, "bash"), p(1200, "Python3")]


@pytest.mark.parametrize(
    ("pattern", "regex", "expected"),
    [
        ("", False, [1, 2, 120, 1200]),
        ("sys", False, [1]),
        ("PYTHON", False, [1200]),  # case-insensitive
        ("12", False, [120, 1200]),  # PID prefix
        ("^k", True, [2]),
        ("^1200$", True, [1200]),
        ("d$", True, [1, 2]),
    ],
)
def test_pattern_filter(pattern, regex, expected):
    pred = by_pattern(pattern, regex)
    got = [r.pid for r in ROWS if pred is None or pred(r)]
    assert got == expected


def test_bad_regex_is_a_clear_error():
    with pytest.raises(ValueError, match="bad regular expression"):
        by_pattern("(", regex=True)


def test_user_and_kthread_filters_combine():
    pred = combine(by_uid(0), kthreads(False))
    assert [r.pid for r in ROWS if pred(r)] == [1]
    assert combine(None, kthreads(True)) is None
    me = mine()
    assert me(p(5, "x", os.getuid())) and not me(p(5, "x", os.getuid() + 1))
