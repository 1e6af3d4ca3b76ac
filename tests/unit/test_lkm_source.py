"""LkmSource and DirSource on copies of /proc/procscope in tmp_path."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from procscope.model.records import Counters, comm_bytes
from procscope.sources import make_source, open_source
from procscope.sources.base import ParseError, SourceGone, SourceUnavailable
from procscope.sources.lkm import DirSource, LkmSource

DATA = Path(__file__).parent.parent / "data"
COUNTERS = (
    "# procscope 1 counters\nforks 10\nthreads_created 4\nkthreads_created 1\nexits 7\n"
    "threads_exited 3\nkthreads_exited 0\nexit_seq_next {next}\nexit_ring_size {ring}\n"
)
EXIT = "{seq} {pid} 1 1000 0 100 200 5 64 {comm}\n"


@pytest.fixture
def capture(tmp_path: Path) -> Path:
    root = tmp_path / "procscope"
    shutil.copytree(DATA / "lkm", root)
    return root


def test_dir_source_reads_the_capture(capture):
    with DirSource(str(capture)) as src:
        assert src.name == f"dir:{capture}" and src.module_version == "0.1.0"
        snap = src.read()
    assert snap.source == "dir"
    assert len(snap.processes) == 39
    assert comm_bytes(next(p for p in snap.processes if p.pid == 1601).comm) == b"evil\n4242 1 0"
    assert [e.seq for e in snap.exited][:2] == [14201, 14202]
    assert snap.lost == 5
    assert snap.counters == Counters(18342, 40517, 14212, 40203, None, 212, 187)
    assert snap.time_ns > 0 and snap.wall_time > 0 and snap.read_cost_ns >= 0
    assert src.parse_errors == 0 and src.raw_counters["exit_ring_size"] == 4096


def test_dir_source_returns_each_exit_once_and_then_what_is_appended(capture):
    with DirSource(str(capture)) as src:
        first = src.read()
        assert len(first.exited) == 9
        again = src.read()
        assert again.exited == () and again.lost == 0
        assert again.processes == first.processes
        with open(capture / "exits", "a") as f:
            f.write("lost 1\n" + EXIT.format(seq=14213, pid=9, comm="new") + "14214 10 1 10")
        third = src.read()
        assert [(e.seq, e.comm) for e in third.exited] == [(14213, "new")]
        assert third.lost == 1
        with open(capture / "exits", "a") as f:  # the rest of the half-written line
            f.write("00 0 100 200 5 64 half\\x20way\n")
        fourth = src.read()
        assert [(e.seq, e.pid, e.comm) for e in fourth.exited] == [(14214, 10, "half way")]
        assert src.next_seq == 14215


def test_dir_source_skips_and_counts_malformed_lines(tmp_path):
    root = tmp_path / "bad"
    shutil.copytree(DATA / "lkm-malformed", root)
    with DirSource(str(root)) as src:
        snap = src.read()
    assert [p.pid for p in snap.processes] == [1, 2, 4242]
    assert [e.seq for e in snap.exited] == [0, 7]
    # 3 bad counters lines, 14 bad process lines, 3 bad exit lines; the half-written
    # last exit line waits for its newline and is not parsed yet.
    assert src.parse_errors == 20
    assert src.last_parse_error == f"{root}/exits:4: expected 'lost N', got b'lost many'"
    # the lost line (4) plus the three exit lines that could not be read
    assert snap.lost == 4 + 3
    assert snap.counters.forks == 120 and snap.counters.threads_created is None


def test_dir_source_refuses_another_abi_version():
    with pytest.raises(SourceUnavailable, match=r"ABI version 2.*only ABI version 1"):
        DirSource(str(DATA / "lkm-badversion")).open()


def test_dir_source_missing_directory_or_file(tmp_path, capture):
    with pytest.raises(SourceUnavailable, match="no such directory"):
        DirSource(str(tmp_path / "nope")).open()
    (capture / "exits").unlink()
    with pytest.raises(SourceUnavailable, match="exits"):
        DirSource(str(capture)).open()
    with pytest.raises(SourceUnavailable, match="dir: needs a path"):
        make_source("dir:")


def test_bad_header_mid_run_is_a_parse_error_and_the_next_read_recovers(capture):
    with DirSource(str(capture)) as src:
        src.read()
        good = (capture / "processes").read_bytes()
        (capture / "processes").write_bytes(b"# something else\n" + good.split(b"\n", 1)[1])
        with open(capture / "exits", "a") as f:
            f.write(EXIT.format(seq=14213, pid=9, comm="kept"))
        with pytest.raises(ParseError, match=r"processes:1: expected header"):
            src.read()
        (capture / "processes").write_bytes(good)
        snap = src.read()
        assert len(snap.processes) == 39
        assert [e.comm for e in snap.exited] == ["kept"]  # not lost with the failed read


def test_directory_vanishing_mid_run_is_source_gone(capture):
    src = DirSource(str(capture))
    src.open()
    src.read()
    shutil.rmtree(capture)
    with pytest.raises(SourceGone, match="gone"):
        src.read()
    src.close()
    src.close()  # twice is fine


def test_file_vanishing_mid_run_is_source_gone(capture):
    with LkmSource(str(capture)) as src:
        src.read()
        (capture / "processes").unlink()
        with pytest.raises(SourceGone, match=r"stopped answering.*processes"):
            src.read()


def _fake_module(root: Path, seq_next: int, ring: int, exits: str = "") -> Path:
    root.mkdir()
    (root / "version").write_text("procscope 1 0.1.0\n")
    (root / "counters").write_text(COUNTERS.format(next=seq_next, ring=ring))
    (root / "processes").write_bytes((DATA / "lkm" / "processes").read_bytes())
    (root / "exits").write_text(exits)
    return root


def test_lkm_source_without_the_module_says_how_to_load_it(tmp_path):
    with pytest.raises(SourceUnavailable) as info:
        LkmSource(str(tmp_path / "absent")).open()
    msg = str(info.value)
    assert msg.startswith(f"module not loaded ({tmp_path / 'absent'} missing)")
    assert "make -C kernel_module && sudo insmod kernel_module/procscope.ko" in msg
    assert LkmSource().name == "lkm" and LkmSource("/x").name == "lkm:/x"


@pytest.mark.parametrize(
    "seq_next,ring,start", [(0, 4096, 0), (100, 4096, 0), (5000, 4096, 904), (4096, 4096, 0)]
)
def test_lkm_source_starts_at_the_oldest_record_the_ring_can_hold(tmp_path, seq_next, ring, start):
    """So a start does not report the records overwritten before it as lost."""
    root = _fake_module(tmp_path / "m", seq_next, ring)
    with LkmSource(str(root)) as src:
        assert src.next_seq == start


def test_lkm_source_reads_the_exit_stream_incrementally(tmp_path):
    # A small ring that has not wrapped: the stream starts at 0, as file offset 0.
    exits = "".join(EXIT.format(seq=i, pid=100 + i, comm=f"p{i}") for i in range(3))
    root = _fake_module(tmp_path / "m", 3, 64, exits)
    src = open_source(f"lkm:{root}")
    try:
        assert src.reason == f"lkm:{root} chosen by the user"
        snap = src.read()
        assert snap.source == "lkm" and [e.comm for e in snap.exited] == ["p0", "p1", "p2"]
        assert src.read().exited == ()
        with open(root / "exits", "a") as f:
            f.write(EXIT.format(seq=3, pid=200, comm="late"))
        assert [e.pid for e in src.read().exited] == [200]
    finally:
        src.close()


def test_lkm_source_module_unloaded_mid_run(tmp_path):
    root = _fake_module(tmp_path / "m", 0, 64)
    with LkmSource(str(root)) as src:
        src.read()
        shutil.rmtree(root)
        with pytest.raises(SourceGone, match="module was unloaded"):
            src.read()
