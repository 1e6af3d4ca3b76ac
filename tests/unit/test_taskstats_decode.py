"""Taskstats exit records decoded from packed bytes."""

from __future__ import annotations

import struct

from hypothesis import given, settings
from hypothesis import strategies as st

from procscope.sources.taskstats import TaskExit, decode_taskstats


def nlattr(typ: int, payload: bytes) -> bytes:
    n = 4 + len(payload)
    return struct.pack("=HH", n, typ) + payload + b"\0" * (-n & 3)


def taskstats(pid: int, ppid: int, uid: int, comm: bytes, code: int, utime_us: int,
              stime_us: int, hiwater_kib: int, size: int = 560) -> bytes:
    buf = bytearray(size)
    struct.pack_into("=H", buf, 0, 16)
    struct.pack_into("=I", buf, 4, code)
    buf[80 : 80 + len(comm)] = comm
    struct.pack_into("=IIII", buf, 120, uid, 0, pid, ppid)
    struct.pack_into("=QQ", buf, 152, utime_us, stime_us)
    struct.pack_into("=Q", buf, 200, hiwater_kib)
    return bytes(buf)


def message(*aggregates: bytes, family: int = 31, cmd: int = 2) -> bytes:
    body = struct.pack("=BBH", cmd, 1, 0) + b"".join(aggregates)
    return struct.pack("=IHHII", 16 + len(body), family, 0, 0, 0) + body


def aggr_pid(pid: int, stats: bytes) -> bytes:
    return nlattr(4, nlattr(1, struct.pack("=I", pid)) + nlattr(3, stats))


def aggr_tgid(tgid: int, stats: bytes) -> bytes:
    return nlattr(5, nlattr(2, struct.pack("=I", tgid)) + nlattr(3, stats))


def test_per_task_record() -> None:
    stats = taskstats(42, 7, 1000, b"my prog\n", 0x0300, 1500, 500, 2048)
    recs, bad = decode_taskstats(message(aggr_pid(42, stats)))
    assert bad == 0
    assert recs == [TaskExit(42, 7, 1000, b"my prog\n", 0x0300, 2_000_000, 2048 * 1024)]


def test_group_aggregate_is_skipped_and_pid_record_kept() -> None:
    pid_stats = taskstats(43, 1, 0, b"worker", 9, 10, 0, 100)
    tgid_stats = taskstats(40, 1, 0, b"main", 9, 0, 0, 0)
    recs, bad = decode_taskstats(message(aggr_pid(43, pid_stats), aggr_tgid(40, tgid_stats)))
    assert bad == 0 and [r.pid for r in recs] == [43]


def test_several_messages_in_one_datagram() -> None:
    data = b"".join(
        message(aggr_pid(p, taskstats(p, 1, 0, b"x%d" % p, 0, 0, 0, 1))) for p in (5, 6, 7)
    )
    recs, bad = decode_taskstats(data)
    assert [(r.pid, r.comm) for r in recs] == [(5, b"x5"), (6, b"x6"), (7, b"x7")] and bad == 0


def test_short_or_mismatched_stats_are_counted() -> None:
    short = message(aggr_pid(5, taskstats(5, 1, 0, b"a", 0, 0, 0, 1)[:100]))
    mismatch = message(aggr_pid(5, taskstats(6, 1, 0, b"a", 0, 0, 0, 1)))
    recs, bad = decode_taskstats(short + mismatch)
    assert recs == [] and bad == 2


def test_other_commands_and_control_messages_are_ignored() -> None:
    other_cmd = message(aggr_pid(5, taskstats(5, 1, 0, b"a", 0, 0, 0, 1)), cmd=1)
    nl_error = struct.pack("=IHHII", 20, 2, 0, 0, 0) + struct.pack("=i", 0)
    assert decode_taskstats(other_cmd + nl_error) == ([], 0)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=700))
def test_garbage_never_crashes(data: bytes) -> None:
    recs, bad = decode_taskstats(data)
    assert bad >= 0 and all(isinstance(r, TaskExit) for r in recs)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=600), st.integers(0, 2**32 - 1))
def test_garbage_inside_valid_framing(stats: bytes, pid: int) -> None:
    recs, bad = decode_taskstats(message(aggr_pid(pid, stats)))
    assert len(recs) + bad == 1
