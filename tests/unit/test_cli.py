"""The headless commands, through cli.main(argv), on the captures in tests/data."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from procscope.cli import display_comm, format_bytes, format_cpu_time, main
from procscope.model.records import (
    Counters,
    ExitedProcess,
    Process,
    Snapshot,
    comm_bytes,
    comm_from_bytes,
    user_name,
)
from procscope.sources.base import Source
from procscope.sources.replay import RecordingWriter

DATA = Path(__file__).parent.parent / "data"
CAPTURE = f"dir:{DATA / 'lkm'}"


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    return code, out, err


def test_help_lists_the_subcommands(capsys):
    code, out, _ = run(capsys, "--help")
    assert code == 0
    for cmd in ("snapshot", "exits", "record", "sources"):
        assert cmd in out


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["frobnicate"],
        ["snapshot", "--interval", "-1"],
        ["snapshot", "--interval", "nan"],
        ["exits", "--interval", "0"],
        ["record"],
        ["snapshot", "--sort", "name"],
    ],
)
def test_usage_errors_exit_2(capsys, argv):
    code, _, err = run(capsys, *argv)
    assert code == 2 and "usage:" in err


def test_snapshot_json(capsys):
    code, out, err = run(capsys, "snapshot", "--source", CAPTURE, "--json", "--interval", "0")
    assert code == 0 and err == ""
    assert out.count("\n") == 1
    snap = json.loads(out)
    assert snap["source"] == "dir" and snap["reason"] == f"{CAPTURE} chosen by the user"
    assert len(snap["processes"]) == 39 and len(snap["exited"]) == 9 and snap["lost"] == 5
    assert snap["counters"]["forks"] == 18342
    by_pid = {p["pid"]: p for p in snap["processes"]}
    assert by_pid[1]["user"] == "root" and by_pid[1]["rss_bytes"] == 13312 * 1024
    assert by_pid[1502]["user"] == user_name(1000)
    assert comm_bytes(by_pid[1604]["comm"]) == b"\xff\xfe bad utf8"
    assert comm_bytes(by_pid[1601]["comm"]) == b"evil\n4242 1 0"
    killed = next(e for e in snap["exited"] if e["seq"] == 14204)
    assert (killed["signal"], killed["core_dumped"], killed["exit_code"]) == (11, True, None)
    assert killed["lifetime_ns"] == 5_000_000 and killed["peak_rss_bytes"] == 20480 * 1024


def test_snapshot_with_two_reads_reports_each_exit_once(capsys):
    code, out, _ = run(capsys, "snapshot", "--source", CAPTURE, "--json", "--interval", "0.01")
    assert code == 0
    snap = json.loads(out)
    assert len(snap["exited"]) == 9 and snap["lost"] == 5
    assert all(p["cpu_percent"] == 0.0 for p in snap["processes"])  # a copy does not move


def test_snapshot_table_is_safe_for_a_terminal(capsys):
    code, out, _ = run(capsys, "snapshot", "--source", CAPTURE, "--interval", "0")
    assert code == 0
    assert "\x1b" not in out and "\t" not in out and "\x7f" not in out
    lines = out.splitlines()
    assert lines[0].startswith(f"# {CAPTURE}: 39 processes, 9 exited, 5 lost")
    assert lines[1].split() == ["PID", "PPID", "USER", "S", "THR", "CPU%", "TIME", "RSS", "COMMAND"]
    rows = lines[2:41]
    assert [int(r.split()[0]) for r in rows] == sorted(int(r.split()[0]) for r in rows)
    by_pid = {int(r.split()[0]): r for r in rows}
    assert by_pid[1601].endswith(r" evil\x0a4242 1 0")
    assert by_pid[1602].endswith(r" \x1b[31mred\x1b[0m")
    assert by_pid[1603].endswith(r" back\\slash")
    assert by_pid[1604].endswith(r" \xff\xfe bad utf8")
    assert by_pid[1610].endswith(r" \x20")
    assert by_pid[2].endswith(" [kthreadd]")
    assert by_pid[1502].split()[5:8] == ["0.0", "1:38.12", "1.0G"]
    assert "SIGSEGV (core)" in out and "# exits seen: 9, lost: 5\n" in out


def test_snapshot_table_lists_only_the_newest_exits(capsys, tmp_path):
    root = tmp_path / "many"
    shutil.copytree(DATA / "lkm", root)
    (root / "exits").write_text("".join(f"{i} {100 + i} 1 0 0 1 2 3 4 e{i}\n" for i in range(50)))
    code, out, _ = run(capsys, "snapshot", "--source", f"dir:{root}", "--interval", "0")
    assert code == 0
    assert "# exits seen: 50, lost: 0; the newest 20 below (all: --json)" in out
    assert out.splitlines()[-1].endswith(" e49") and " e29\n" not in out and " e30\n" in out


def test_snapshot_sorted_by_rss(capsys):
    _, out, _ = run(capsys, "snapshot", "--source", CAPTURE, "--interval", "0", "--sort", "rss")
    assert out.splitlines()[2].split()[0] == "1502"  # firefox-esr, 1 GiB


def test_snapshot_of_a_bad_version_is_a_clear_error(capsys):
    code, out, err = run(capsys, "snapshot", "--source", f"dir:{DATA / 'lkm-badversion'}")
    assert code == 1 and out == ""
    assert err.startswith("procscope snapshot: error: ")
    assert "ABI version 2" in err and "only ABI version 1" in err


def test_snapshot_of_a_malformed_copy_warns_and_keeps_the_good_lines(capsys):
    code, out, err = run(
        capsys, "snapshot", "--source", f"dir:{DATA / 'lkm-malformed'}", "--json", "--interval", "0"
    )
    assert code == 0
    assert [p["pid"] for p in json.loads(out)["processes"]] == [1, 2, 4242]
    assert "warning: skipped 20 malformed lines; last: " in err and "exits:4" in err


def test_missing_module_or_unknown_source_exit_1(capsys, tmp_path):
    code, _, err = run(capsys, "snapshot", "--source", f"lkm:{tmp_path}/none")
    assert code == 1 and "module not loaded" in err and "insmod" in err
    code, _, err = run(capsys, "snapshot", "--source", "bogus")
    assert code == 1 and "unknown source 'bogus'" in err


def test_exits_json_stream_and_summary(capsys):
    code, out, _ = run(capsys, "exits", "--source", CAPTURE, "--json", "--duration", "0")
    assert code == 0
    lines = [json.loads(line) for line in out.splitlines()]
    assert [e["seq"] for e in lines[:-1]] == [
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
    assert lines[-1] == {"summary": True, "exits": 9, "lost": 5}
    assert comm_bytes(lines[5]["comm"]) == b"evil\n4249 1 0"


def test_exits_text(capsys):
    code, out, _ = run(capsys, "exits", "--source", CAPTURE, "--duration", "0")
    assert code == 0
    lines = out.splitlines()
    assert lines[1].split()[:5] == ["TIME", "PID", "PPID", "USER", "EXIT"]
    assert lines[-1] == "# 9 exits, 5 lost" and "# lost 5 exit records" in lines
    assert any(" SIGKILL " in ln and ln.endswith(" sleep") for ln in lines)
    assert any(" 127 " in ln and ln.endswith(" sh") for ln in lines)


def test_exits_new_only_skips_the_backlog(capsys):
    code, out, _ = run(
        capsys, "exits", "--source", CAPTURE, "--json", "--duration", "0", "--new-only"
    )
    assert code == 0
    assert [json.loads(line) for line in out.splitlines()] == [
        {"summary": True, "exits": 0, "lost": 5}
    ]


class _NoExitLog(Source):
    kind = "proc"
    has_exit_log = False

    def read(self) -> Snapshot:
        proc = Process(1, 0, 0, "S", 1, 0, 0, 0, False, comm_from_bytes(b"init"))
        return Snapshot("proc", 1, 1.0, Counters(), (proc,))


def _recording(path: Path, snaps: list[Snapshot], source: Source) -> str:
    with RecordingWriter(str(path), source) as writer:
        for s in snaps:
            writer.write(s)
    return f"replay:{path}"


def test_exits_refuses_a_source_without_exit_log(capsys, tmp_path):
    spec = _recording(tmp_path / "p.jsonl", [_NoExitLog().read()], _NoExitLog())
    code, out, err = run(capsys, "exits", "--source", spec)
    assert code == 2 and out == ""
    assert "has no exit log" in err and "--source lkm" in err


def test_exits_from_a_recording_ends_with_the_recording(capsys, tmp_path):
    gone = ExitedProcess(0, 5, 1, 0, "x", 0, None, 1, 2, 3, 4096)
    snaps = [
        Snapshot("lkm", i, 1.0 + i, Counters(), (), (gone._replace(seq=i),), i) for i in range(3)
    ]
    src = _NoExitLog()
    src.has_exit_log = True
    spec = _recording(tmp_path / "e.jsonl", snaps, src)
    code, out, _ = run(capsys, "exits", "--source", spec, "--json", "--interval", "0.001")
    assert code == 0
    lines = [json.loads(line) for line in out.splitlines()]
    assert [e["seq"] for e in lines[:-1]] == [0, 1, 2]
    assert lines[-1] == {"summary": True, "exits": 3, "lost": 3}


def test_exits_goes_on_after_a_malformed_recording_line(capsys, tmp_path):
    gone = ExitedProcess(0, 5, 1, 0, "x", 0, None, 1, 2, 3, 4096)
    snaps = [Snapshot("lkm", i, 1.0 + i, Counters(), (), (gone._replace(seq=i),)) for i in (0, 1)]
    src = _NoExitLog()
    src.has_exit_log = True
    path = tmp_path / "e.jsonl"
    _recording(path, snaps, src)
    header, first, second = path.read_text().splitlines()
    path.write_text("\n".join([header, first, "garbage", second]) + "\n")
    code, out, err = run(
        capsys, "exits", "--source", f"replay:{path}", "--json", "--interval", "0.001"
    )
    assert code == 0
    assert [json.loads(line).get("seq") for line in out.splitlines()] == [0, 1, None]
    assert f"warning: {path}:3: " in err


def test_record_then_replay(capsys, tmp_path):
    rec = tmp_path / "rec.jsonl"
    code, _, err = run(
        capsys, "record", str(rec), "--source", CAPTURE, "--interval", "0.01", "--duration", "0.03"
    )
    assert code == 0 and f"to {rec}" in err
    lines = rec.read_text().splitlines()
    header = json.loads(lines[0])
    assert header["procscope_recording"] == 1 and header["source"] == CAPTURE
    assert header["interval_s"] == 0.01 and len(lines) >= 3
    _, live, _ = run(capsys, "snapshot", "--source", CAPTURE, "--json", "--interval", "0")
    _, replayed, _ = run(capsys, "snapshot", "--source", f"replay:{rec}", "--json")
    live_obj, replayed_obj = json.loads(live), json.loads(replayed)
    assert replayed_obj["source"] == "replay"
    assert replayed_obj["processes"] == live_obj["processes"]
    assert replayed_obj["exited"] == live_obj["exited"]  # 9 from the first snapshot only


def test_record_refuses_to_overwrite(capsys, tmp_path):
    rec = tmp_path / "rec.jsonl"
    rec.write_text("keep me\n")
    code, _, err = run(capsys, "record", str(rec), "--source", CAPTURE, "--duration", "0")
    assert code == 2 and "--force" in err
    assert rec.read_text() == "keep me\n"
    code, _, _ = run(capsys, "record", str(rec), "--source", CAPTURE, "--duration", "0", "--force")
    assert code == 0 and len(rec.read_text().splitlines()) == 2


def test_record_into_a_missing_directory_is_a_runtime_error(capsys, tmp_path):
    code, _, err = run(
        capsys, "record", str(tmp_path / "no" / "r.jsonl"), "--source", CAPTURE, "--duration", "0"
    )
    assert code == 1 and "cannot write" in err


def test_sources_lists_every_source_and_the_auto_choice(capsys):
    code, out, _ = run(capsys, "sources", "--json")
    assert code == 0
    report = json.loads(out)
    kinds = [s["kind"] for s in report["sources"]]
    assert kinds == ["lkm", "netlink", "proc", "dir", "replay"]
    lkm = report["sources"][0]
    if not Path("/proc/procscope").exists():
        assert lkm["works"] is False and "module not loaded" in lkm["why"]
        assert report["auto"] != "lkm"
    assert lkm["has_exit_log"] is True and lkm["sees"]
    _, text, _ = run(capsys, "sources")
    assert text.splitlines()[0].startswith("lkm ") and "auto     chooses" in text


@pytest.mark.parametrize(
    "raw,shown",
    [
        (b"bash", "bash"),
        (b"my prog", "my prog"),
        (b"\x1b[31m", r"\x1b[31m"),
        (b"a\nb", r"a\x0ab"),
        (b"\xff\xfe", r"\xff\xfe"),
        (b"back\\slash", r"back\\slash"),
        (b"\\x41", r"\\x41"),
        (b" lead", r"\x20lead"),
        (b"trail ", r"trail\x20"),
        (b"\x7f", r"\x7f"),
        ("café".encode(), "café"),
        ("\u202eevil".encode(), r"\u202eevil"),
        (b"\xc2\x9b", r"\x9b"),  # C1 CSI, valid UTF-8 but a control character
    ],
)
def test_display_comm(raw, shown):
    assert display_comm(comm_from_bytes(raw)) == shown


@pytest.mark.parametrize(
    "n,text",
    [
        (0, "0"),
        (512, "512B"),
        (1024, "1.0K"),
        (1536 * 1024, "1.5M"),
        (200 * 2**20, "200M"),
        (2**30, "1.0G"),
        (None, "-"),
    ],
)
def test_format_bytes(n, text):
    assert format_bytes(n) == text


@pytest.mark.parametrize(
    "ns,text",
    [
        (0, "0:00.00"),
        (1_234_000_000, "0:01.23"),
        (98_120_000_000, "1:38.12"),
        (3_600_000_000_000, "60:00.00"),
        (None, "-"),
    ],
)
def test_format_cpu_time(ns, text):
    assert format_cpu_time(ns) == text
