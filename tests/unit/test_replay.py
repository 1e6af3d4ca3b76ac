"""Recordings: write with RecordingWriter, play back with ReplaySource."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from procscope.jsonio import dumps, snapshot_from_json, snapshot_to_json
from procscope.model.delta import DeltaModel
from procscope.model.records import (
    Counters,
    ExitedProcess,
    Process,
    Snapshot,
    comm_bytes,
    comm_from_bytes,
)
from procscope.sources import make_source, open_source
from procscope.sources.base import ParseError, Source, SourceGone, SourceUnavailable
from procscope.sources.lkm import DirSource
from procscope.sources.replay import RecordingWriter, ReplaySource

DATA = Path(__file__).parent.parent / "data"
ODD_NAMES = [b"\xff\xfe\x80", b"evil\n1 2 3", b"\x1b]0;title\x07", b"\\udcff", "日本".encode()]


class FakeSource(Source):
    """Snapshots shaped like netlink's or proc's: some fields unknown (None)."""

    kind = "proc"
    has_exit_log = False

    def __init__(self, snaps: list[Snapshot]) -> None:
        self.snaps = list(snaps)

    def read(self) -> Snapshot:
        if not self.snaps:
            raise SourceGone("no more")
        return self.snaps.pop(0)


def _fake_snapshots() -> list[Snapshot]:
    procs = tuple(
        Process(
            10 + i,
            1,
            1000,
            "S",
            1,
            1_000_000 * i,
            4096 * i,
            5_000 + i,
            i == 0,
            comm_from_bytes(name),
        )
        for i, name in enumerate(ODD_NAMES)
    )
    exited = (
        ExitedProcess(
            0, 99, None, None, comm_from_bytes(b"\xc3"), None, None, None, 7_000, None, None
        ),
        ExitedProcess(1, 98, 1, 0, "killed", None, 9, 1_000, 2_000, 50, 8192, True),
    )
    return [
        Snapshot(
            "proc", 10_000, 1_700_000_000.25, Counters(tasks_created=5), procs, exited, 2, 300
        ),
        Snapshot("proc", 20_000, 1_700_000_001.25, Counters(tasks_created=9), procs[:2]),
    ]


def _record(path: Path, src: Source, n: int) -> list[Snapshot]:
    written = []
    model = DeltaModel()
    with RecordingWriter(str(path), src, interval_s=0.5) as writer:
        for _ in range(n):
            snap = src.read()
            writer.write(snap, model.update(snap).cpu_percent)
            written.append(snap)
        assert writer.count == n
    return written


def _play(path: Path) -> tuple[ReplaySource, list[Snapshot]]:
    src = ReplaySource(str(path))
    src.open()
    out = []
    while True:
        try:
            out.append(src.read())
        except SourceGone as exc:
            assert "recording ended" in str(exc)
            break
    src.close()
    return src, out


def test_round_trip_from_a_dir_source(tmp_path):
    rec = tmp_path / "rec.jsonl"
    with DirSource(str(DATA / "lkm")) as src:
        src.reason = "a test"
        written = _record(rec, src, 3)
    replay, played = _play(rec)
    assert played == [s._replace(source="replay") for s in written]
    assert len(played[0].exited) == 9 and played[1].exited == ()
    assert replay.recorded_source == f"dir:{DATA / 'lkm'}"
    assert replay.interval_s == 0.5 and replay.has_exit_log and replay.played == 3
    assert replay.header["reason"] == "a test"
    # the file is ASCII, one header and one line per snapshot
    lines = rec.read_bytes().split(b"\n")
    assert lines[-1] == b"" and len(lines) == 5 and rec.read_bytes().isascii()


def test_round_trip_of_unknown_fields_and_names_that_are_not_utf8(tmp_path):
    rec = tmp_path / "rec.jsonl"
    written = _record(rec, FakeSource(_fake_snapshots()), 2)
    replay, played = _play(rec)
    assert played == [s._replace(source="replay") for s in written]
    assert [comm_bytes(p.comm) for p in played[0].processes] == ODD_NAMES
    assert played[0].exited[0].ppid is None and played[0].exited[0].cpu_ns is None
    assert played[0].exited[1].core_dumped is True
    assert not replay.has_exit_log  # the recorded source (proc) had none
    assert replay.recorded_source == "proc"


def test_json_shape_of_a_snapshot():
    snap = _fake_snapshots()[0]
    obj = json.loads(dumps(snapshot_to_json(snap, {10: 12.345}, "why")))
    assert obj["source"] == "proc" and obj["reason"] == "why"
    assert obj["time"] == 1_700_000_000.25 and obj["time_ns"] == 10_000 and obj["lost"] == 2
    assert obj["counters"]["tasks_created"] == 5 and obj["counters"]["forks"] is None
    p = obj["processes"][0]
    assert list(p) == [
        "pid",
        "ppid",
        "uid",
        "user",
        "state",
        "threads",
        "cpu_ns",
        "cpu_percent",
        "rss_bytes",
        "start_ns",
        "kthread",
        "comm",
    ]
    assert p["cpu_percent"] == 12.35 and p["kthread"] is True
    assert obj["processes"][1]["cpu_percent"] == 0.0
    e = obj["exited"][1]
    assert (e["exit_code"], e["signal"], e["core_dumped"], e["lifetime_ns"]) == (
        None,
        9,
        True,
        1_000,
    )
    assert obj["exited"][0]["user"] is None and obj["exited"][0]["lifetime_ns"] is None


def test_dumps_never_writes_raw_control_or_non_ascii_bytes():
    snap = _fake_snapshots()[0]
    text = dumps(snapshot_to_json(snap))
    assert text.isascii() and "\n" not in text and "\x1b" not in text
    assert "\\udcff" in text and "\\u001b" in text


@pytest.mark.parametrize(
    "mutate,problem",
    [
        (lambda o: o.pop("time_ns"), "missing key 'time_ns'"),
        (lambda o: o.update(lost=-1), "'lost' must not be negative"),
        (lambda o: o.update(lost=True), "'lost' must be int"),
        (lambda o: o["processes"][0].update(pid="10"), r"processes\[0\]: 'pid' must be int"),
        (lambda o: o["processes"][1].update(state="SS"), "one letter"),
        (lambda o: o["processes"][1].update(comm=""), "must not be empty"),
        (lambda o: o["processes"][1].update(comm="\ud800"), "surrogate"),
        (lambda o: o["exited"][0].update(core_dumped=None), "'core_dumped' must be bool"),
        (lambda o: o.update(processes={}), "'processes' must be list"),
        (lambda o: o.update(time="now"), "'time' must be a number"),
        (lambda o: o["counters"].update(forks=1.5), "'forks' must be int or null"),
    ],
)
def test_malformed_snapshot_json_is_refused_saying_what(mutate, problem):
    obj = json.loads(dumps(snapshot_to_json(_fake_snapshots()[0])))
    mutate(obj)
    with pytest.raises(ValueError, match=problem):
        snapshot_from_json(obj)


def test_a_bad_line_is_a_parse_error_and_the_next_read_goes_on(tmp_path):
    rec = tmp_path / "rec.jsonl"
    written = _record(rec, FakeSource(_fake_snapshots()), 2)
    header, first, second = rec.read_text().splitlines()
    rec.write_text("\n".join([header, first, "{not json", '{"source": 1}', second]) + "\n")
    with ReplaySource(str(rec)) as src:
        assert src.read() == written[0]._replace(source="replay")
        with pytest.raises(ParseError, match=r"rec.jsonl:3: "):
            src.read()
        with pytest.raises(ParseError, match=r"rec.jsonl:4: 'time' must be a number"):
            src.read()
        assert src.read() == written[1]._replace(source="replay")
        with pytest.raises(SourceGone, match="recording ended"):
            src.read()
        with pytest.raises(SourceGone):
            src.read()


def test_a_cut_short_last_line_says_so(tmp_path):
    rec = tmp_path / "rec.jsonl"
    _record(rec, FakeSource(_fake_snapshots()), 2)
    rec.write_bytes(rec.read_bytes()[:-20])
    with ReplaySource(str(rec)) as src:
        src.read()
        with pytest.raises(ParseError, match="cut short"):
            src.read()


@pytest.mark.parametrize(
    "content,problem",
    [
        (b"", "is not a procscope recording: it is empty"),
        (b"hello\n", "its first line is not JSON"),
        (b'{"source": "lkm"}\n', "no 'procscope_recording' key"),
        (b"[1, 2]\n", "no 'procscope_recording' key"),
        (
            b'{"procscope_recording": 2}\n',
            "format version 2, but this procscope reads only version 1",
        ),
    ],
)
def test_what_is_not_a_recording_is_refused(tmp_path, content, problem):
    path = tmp_path / "x.jsonl"
    path.write_bytes(content)
    with pytest.raises(SourceUnavailable, match=problem):
        ReplaySource(str(path)).open()


def test_missing_recording_and_spec_parsing(tmp_path):
    with pytest.raises(SourceUnavailable, match="cannot open recording"):
        open_source(f"replay:{tmp_path}/absent.jsonl")
    with pytest.raises(SourceUnavailable, match="replay: needs a path"):
        make_source("replay:")
    src = make_source(f"replay:{tmp_path}/r.jsonl")
    assert isinstance(src, ReplaySource) and src.name == f"replay:{tmp_path}/r.jsonl"


def test_writer_refuses_to_overwrite_unless_asked(tmp_path):
    rec = tmp_path / "rec.jsonl"
    rec.write_text("precious\n")
    with pytest.raises(FileExistsError):
        RecordingWriter(str(rec), FakeSource([]))
    assert rec.read_text() == "precious\n"
    RecordingWriter(str(rec), FakeSource([]), overwrite=True).close()
    assert json.loads(rec.read_text())["procscope_recording"] == 1
