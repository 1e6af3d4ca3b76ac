"""The CLI on this machine: `procscope snapshot --source proc --json` against `ps`."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytest.importorskip("procscope.sources.proc", reason="the proc source is not there yet")
needs_ps = pytest.mark.skipif(shutil.which("ps") is None, reason="ps (procps) is not installed")

PS_FIELDS = "pid=,ppid=,ruid=,euid=,rss="


def _ps() -> dict[int, tuple[int, set[int], int]]:
    """pid -> (ppid, {real uid, effective uid}, rss KiB), from ps."""
    out = subprocess.run(
        ["ps", "-e", "-o", PS_FIELDS], capture_output=True, text=True, check=True
    ).stdout
    rows = {}
    for line in out.splitlines():
        pid, ppid, ruid, euid, rss = (int(f) for f in line.split())
        rows[pid] = (ppid, {ruid, euid}, rss)
    return rows


def _procscope(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "procscope", *argv], capture_output=True, text=True, timeout=60
    )


@needs_ps
def test_snapshot_lists_what_ps_lists():
    before = _ps()
    result = _procscope("snapshot", "--source", "proc", "--json", "--interval", "0")
    after = _ps()
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    snap = json.loads(result.stdout)
    assert snap["source"] == "proc"
    mine = {p["pid"]: p for p in snap["processes"]}

    # Processes there before and after, unchanged in ppid and uid, lived through the
    # snapshot: each must be in it, with the same ppid and uid and an RSS close to ps's.
    stable = {pid: row for pid, row in before.items() if pid in after and after[pid][:2] == row[:2]}
    assert len(stable) >= 10
    missing = sorted(set(stable) - set(mine))
    assert not missing, f"processes ps saw throughout but procscope did not: {missing}"
    for pid, (ppid, uids, rss_before) in stable.items():
        p = mine[pid]
        assert p["ppid"] == ppid, (pid, p, ppid)
        assert p["uid"] in uids, (pid, p, uids)
        low = min(rss_before, after[pid][2])
        high = max(rss_before, after[pid][2])
        slack = high // 5 + 1024  # RSS moves: 20 % and 1 MiB either way
        assert low - slack <= p["rss_bytes"] // 1024 <= high + slack, (pid, p, low, high)
    # And nothing made up: every PID procscope lists was seen by ps, but for churn.
    unknown = set(mine) - set(before) - set(after)
    assert len(unknown) <= max(5, len(mine) // 20), sorted(unknown)


def test_entry_point_exit_codes():
    assert _procscope("--help").returncode == 0
    bad = _procscope("snapshot", "--source", "lkm:/nonexistent/procscope")
    assert bad.returncode == 1 and "module not loaded" in bad.stderr
    assert "Traceback" not in bad.stderr
    usage = _procscope("snapshot", "--bogus")
    assert usage.returncode == 2 and "usage:" in usage.stderr


def test_piping_into_a_closed_reader_is_quiet(tmp_path):
    """`procscope snapshot | head -c 10` must not print a BrokenPipeError."""
    from procscope.sources.abi import PROCESSES_FIELDS

    # Far more output than a pipe buffers, so the write really fails.
    (tmp_path / "version").write_bytes(b"procscope 1 0.1.0\n")
    (tmp_path / "counters").write_bytes(b"# procscope 1 counters\nforks 1\n")
    (tmp_path / "exits").write_bytes(b"")
    (tmp_path / "processes").write_bytes(
        b"# procscope 1 processes "
        + PROCESSES_FIELDS
        + b"\n"
        + b"".join(b"%d 1 0 S 1 0 0 0 0 p%d\n" % (i, i) for i in range(1, 20_001))
    )
    result = subprocess.run(
        f"{sys.executable} -m procscope snapshot --source dir:{tmp_path} --interval 0 | head -c 10",
        shell=True,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert len(result.stdout) == 10
    assert result.stderr == ""


def test_sigterm_stops_record_cleanly(tmp_path):
    """A service manager's SIGTERM ends `record` like Ctrl-C: summary, exit 0."""
    rec = tmp_path / "rec.jsonl"
    data = Path(__file__).parent.parent / "data" / "lkm"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "procscope",
            "record",
            str(rec),
            "--source",
            f"dir:{data}",
            "--interval",
            "0.05",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        for _ in range(400):  # until a snapshot is written, at most ~20 s
            if rec.exists() and rec.read_text().count("\n") >= 2:
                break
            time.sleep(0.05)
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert "procscope record: recorded" in err and "Traceback" not in err
    lines = rec.read_text().splitlines()
    assert len(lines) >= 2 and all(json.loads(line) for line in lines)
