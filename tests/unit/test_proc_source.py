"""ProcSource on fake /proc trees built in tmp_path."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

from procscope.model.records import CLK_TCK, PAGE_SIZE, comm_bytes
from procscope.sources import ParseError, SourceUnavailable
from procscope.sources.proc import PF_KTHREAD, ProcSource, parse_stat


def stat_line(
    pid: int,
    comm: bytes = b"proc",
    *,
    state: bytes = b"S",
    ppid: int = 1,
    flags: int = 0x400100,
    utime: int = 0,
    stime: int = 0,
    threads: int = 1,
    starttime: int = 100,
    rss: int = 0,
) -> bytes:
    """A /proc/PID/stat line with all 52 fields, as Linux 6.x writes it."""
    after = [
        state, ppid, pid, pid, 0, -1, flags, 10, 0, 0, 0, utime, stime, 0, 0, 20, 0,
        threads, 0, starttime, 4096 * 100, rss, 2**64 - 1,
    ]
    after += [0] * (50 - len(after))
    text = b" ".join(x if isinstance(x, bytes) else str(x).encode() for x in after)
    return b"%d (%s) %s\n" % (pid, comm, text)


class FakeProc:
    """A tiny procfs: /stat plus PID directories with a stat file."""

    def __init__(self, root: Path, processes: int = 1234) -> None:
        self.root = root
        root.mkdir(exist_ok=True)
        (root / "stat").write_bytes(
            b"cpu  1 2 3 4 5 6 7 0 0 0\nintr 5\nctxt 9\nbtime 1700000000\n"
            b"processes %d\nprocs_running 1\nprocs_blocked 0\n" % processes
        )
        for name in ("self", "sys", "net", "1x"):  # non-PID entries are ignored
            (root / name).mkdir()

    def add(
        self, pid: int, line: bytes | None = None, uid: int = 0, statm: bytes | None = None,
        **kw,
    ) -> Path:
        d = self.root / str(pid)
        d.mkdir()
        if line is None:
            line = stat_line(pid, **kw)
        (d / "stat").write_bytes(line)
        if statm is not None:
            (d / "statm").write_bytes(statm)
        os.chown(d / "stat", uid, 0)
        return d


@pytest.fixture
def fake(tmp_path: Path) -> FakeProc:
    return FakeProc(tmp_path / "proc")


def by_pid(src: ProcSource) -> dict:
    return {p.pid: p for p in src.read().processes}


def test_fields_are_converted_to_record_units(fake: FakeProc) -> None:
    fake.add(
        42, comm=b"worker", state=b"R", ppid=7, utime=150, stime=50, threads=5,
        starttime=12345, rss=300, uid=1000,
    )
    src = ProcSource(str(fake.root))
    src.open()
    snap = src.read()
    assert snap.source == "proc"
    (p,) = snap.processes
    assert p.pid == 42 and p.ppid == 7 and p.uid == 1000
    assert p.state == "R" and p.threads == 5 and p.comm == "worker"
    assert p.cpu_ns == 200 * 10**9 // CLK_TCK
    assert p.start_ns == 12345 * 10**9 // CLK_TCK
    assert p.rss_bytes == 300 * PAGE_SIZE
    assert p.kthread is False
    assert snap.counters.tasks_created == 1234
    assert snap.exited == () and snap.lost == 0
    assert snap.read_cost_ns > 0


def test_rss_comes_from_statm_when_there(fake: FakeProc) -> None:
    fake.add(10, rss=300, statm=b"5000 320 100 10 0 400 0\n")
    fake.add(11, rss=300)  # no statm: the estimate in stat
    fake.add(12, rss=300, statm=b"garbage\n")  # odd statm: the estimate, not a crash
    exact = by_pid(ProcSource(str(fake.root)))
    assert exact[10].rss_bytes == 320 * PAGE_SIZE
    assert exact[11].rss_bytes == exact[12].rss_bytes == 300 * PAGE_SIZE
    estimate = by_pid(ProcSource(str(fake.root), exact_rss=False))
    assert estimate[10].rss_bytes == 300 * PAGE_SIZE


def test_kthread_flag(fake: FakeProc) -> None:
    fake.add(2, comm=b"kthreadd", ppid=0, flags=PF_KTHREAD | 0x40)
    fake.add(3, comm=b"bash", flags=0x400000)  # PF_RANDOMIZE-like bits, not a kthread
    procs = by_pid(ProcSource(str(fake.root)))
    assert procs[2].kthread is True
    assert procs[3].kthread is False


HOSTILE = [
    b"with space",
    b"a) R 1 2 3 (b",  # looks like the fields that follow
    b")",
    b"((",
    b"new\nline",
    b"\x1b[31mred\x1b[0m",
    b"\xff\xfe\x80bad",
    b"",
    b"tab\there",
    b"back\\slash",
]


def test_hostile_names_round_trip_as_one_row_each(fake: FakeProc) -> None:
    for i, raw in enumerate(HOSTILE):
        fake.add(100 + i, comm=raw, ppid=1, rss=i)
    src = ProcSource(str(fake.root))
    procs = by_pid(src)
    assert sorted(procs) == [100 + i for i in range(len(HOSTILE))]
    for i, raw in enumerate(HOSTILE):
        p = procs[100 + i]
        assert comm_bytes(p.comm) == raw
        assert p.ppid == 1 and p.rss_bytes == i * PAGE_SIZE  # the fields after it are intact
    assert src.parse_errors == 0


def test_vanished_processes_are_skipped_silently(fake: FakeProc) -> None:
    fake.add(10, comm=b"alive")
    (fake.root / "11").mkdir()  # the directory is there, stat is already gone
    fake.add(12, line=b"")  # empty read: died between open and read
    fake.add(13, line=stat_line(13)[:20])  # truncated mid-read, no newline
    src = ProcSource(str(fake.root))
    assert sorted(by_pid(src)) == [10]
    assert src.parse_errors == 0


def test_esrch_on_read_is_a_vanished_process(fake: FakeProc, monkeypatch) -> None:
    fake.add(10, comm=b"alive")
    fake.add(11, comm=b"dying")
    real_read = os.read
    real_open = os.open
    dying: set[int] = set()

    def fake_open(path, *a, **kw):
        fd = real_open(path, *a, **kw)
        if str(path).endswith("/11/stat"):
            dying.add(fd)
        return fd

    def fake_read(fd, n):
        if fd in dying:
            dying.discard(fd)  # the number is reused by the next open
            raise ProcessLookupError(errno.ESRCH, "No such process")
        return real_read(fd, n)

    monkeypatch.setattr(os, "open", fake_open)
    monkeypatch.setattr(os, "read", fake_read)
    src = ProcSource(str(fake.root))
    assert sorted(by_pid(src)) == [10]
    assert src.parse_errors == 0


def test_malformed_stat_is_skipped_and_counted(fake: FakeProc) -> None:
    fake.add(10, comm=b"good")
    fake.add(11, line=b"11 no parens here S 1\n")
    fake.add(12, line=b"12 (short) S 1 2\n")
    fake.add(13, line=stat_line(13).replace(b" S 1 ", b" S one "))
    src = ProcSource(str(fake.root))
    assert sorted(by_pid(src)) == [10]
    assert src.parse_errors == 3
    assert src.last_parse_error.startswith(f"{fake.root}/1")
    assert "fields" in src.last_parse_error or "(name)" in src.last_parse_error or (
        "invalid literal" in src.last_parse_error
    )
    # the next walk counts them again: the count is of skipped reads, not of processes
    src.read()
    assert src.parse_errors == 6


@pytest.mark.parametrize(
    ("content", "line", "problem"),
    [
        (b"cpu 1 2 3\nctxt 5\n", None, "no 'processes' line"),
        (b"cpu 1 2 3\nprocesses lots\n", 2, "not 'processes <count>'"),
        (b"cpu 1\nintr 2\nprocesses\n", 3, "not 'processes <count>'"),
        (b"processes -4\n", 1, "negative"),
    ],
)
def test_malformed_proc_stat_is_a_parse_error(
    fake: FakeProc, content: bytes, line: int | None, problem: str
) -> None:
    (fake.root / "stat").write_bytes(content)
    with pytest.raises(ParseError) as info:
        ProcSource(str(fake.root)).read()
    assert info.value.path == f"{fake.root}/stat"
    assert info.value.line == line
    assert problem in info.value.problem


def test_missing_root_is_unavailable(tmp_path: Path) -> None:
    with pytest.raises(SourceUnavailable, match="procfs mounted"):
        ProcSource(str(tmp_path / "nothing")).open()


def test_name_reopens_the_same_root(fake: FakeProc) -> None:
    assert ProcSource().name == "proc"
    assert ProcSource(str(fake.root)).name == f"proc:{fake.root}"


def test_parse_stat_rejects_garbage_with_a_reason() -> None:
    with pytest.raises(ValueError, match="no '\\(name\\)'"):
        parse_stat(b"1 S 2 3\n", 0)
    with pytest.raises(ValueError, match="fields"):
        parse_stat(b"1 (x) S 2\n", 0)


def test_an_unchanged_stat_line_is_reused_and_a_changed_one_reread(fake: FakeProc) -> None:
    d = fake.add(50, rss=10, statm=b"100 20 5 1 0 9 0\n")
    src = ProcSource(str(fake.root))
    first = by_pid(src)[50]
    assert first.rss_bytes == 20 * PAGE_SIZE
    # statm moves but the stat line does not: the process did not run, so it is reused
    (d / "statm").write_bytes(b"100 25 5 1 0 9 0\n")
    assert by_pid(src)[50] is first
    # once the stat line changes (it ran), both files are read again
    (d / "stat").write_bytes(stat_line(50, rss=12, utime=3))
    again = by_pid(src)[50]
    assert again.rss_bytes == 25 * PAGE_SIZE
    assert again.cpu_ns == 3 * 10**9 // CLK_TCK


def test_the_reuse_cache_forgets_vanished_processes(fake: FakeProc) -> None:
    fake.add(60)
    d = fake.add(61)
    src = ProcSource(str(fake.root))
    assert set(by_pid(src)) == {60, 61}
    for f in d.iterdir():
        f.unlink()
    d.rmdir()
    assert set(by_pid(src)) == {60}
    assert set(src._last) == {"60"}


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def test_stat_descriptors_are_kept_open_then_closed(fake: FakeProc) -> None:
    for pid in (70, 71, 72):
        fake.add(pid)
    before = open_fds()
    src = ProcSource(str(fake.root))
    src.open()
    by_pid(src)
    assert sorted(src._fds) == ["70", "71", "72"]
    assert open_fds() == before + 3
    by_pid(src)  # a second walk re-reads them, opening nothing new
    assert open_fds() == before + 3
    src.close()
    src.close()  # twice is fine
    assert open_fds() == before


def test_no_descriptors_kept_without_keep_open_or_over_budget(fake: FakeProc) -> None:
    for pid in range(80, 90):
        fake.add(pid)
    src = ProcSource(str(fake.root), keep_open=False)
    src.open()
    assert len(by_pid(src)) == 10 and src._fds == {}
    src = ProcSource(str(fake.root))
    src.open()
    src._fd_budget = 4
    assert len(by_pid(src)) == 10
    assert len(src._fds) == 4
    assert len(by_pid(src)) == 10  # the rest are opened and closed each walk
    src.close()


def test_a_changed_line_on_a_kept_descriptor_takes_the_owner_afresh(fake: FakeProc) -> None:
    d = fake.add(90, uid=1000)
    src = ProcSource(str(fake.root))
    src.open()
    assert by_pid(src)[90].uid == 1000
    (d / "stat").write_bytes(stat_line(90, utime=5))  # it ran ...
    os.chown(d / "stat", 2000, 0)  # ... and called setuid
    assert by_pid(src)[90].uid == 2000
    src.close()
