"""ProcSource on the real /proc, checked against ps(1)."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from procscope.model.records import PAGE_SIZE, comm_bytes
from procscope.sources.proc import ProcSource

pytestmark = pytest.mark.skipif(shutil.which("ps") is None, reason="ps (procps) is not installed")


def run_ps() -> tuple[int, dict[int, tuple[int, int, int]]]:
    """(ps's own pid, {pid: (ppid, euid, rss KiB)}) for every process."""
    ps = subprocess.Popen(
        ["ps", "-e", "-o", "pid=,ppid=,euid=,rss="], stdout=subprocess.PIPE, text=True
    )
    out, _ = ps.communicate()
    rows = {}
    for line in out.splitlines():
        pid, ppid, uid, rss = (int(x) for x in line.split())
        rows[pid] = (ppid, uid, rss)
    return ps.pid, rows


def test_same_processes_as_ps_allowing_for_churn() -> None:
    # one process with another owner, so the UID check means something
    other = subprocess.Popen(["sleep", "30"], user=65534) if os.geteuid() == 0 else None
    try:
        src = ProcSource()
        src.open()
        before = {p.pid: p for p in src.read().processes}
        ps_pid, ps_rows = run_ps()
        after = {p.pid: p for p in src.read().processes}
    finally:
        if other is not None:
            other.kill()
            other.wait()
    assert src.parse_errors == 0, src.last_parse_error

    # Everything that lived through both walks was there when ps ran.
    steady = {
        pid: p for pid, p in before.items()
        if (q := after.get(pid)) is not None and q.start_ns == p.start_ns
    }
    assert steady.keys() <= ps_rows.keys()
    # What ps saw that neither walk did started and ended in between (ps itself, say).
    unseen = ps_rows.keys() - before.keys() - after.keys() - {ps_pid}
    assert all(not os.path.exists(f"/proc/{pid}") for pid in unseen), unseen

    compared = 0
    for pid, p in steady.items():
        q = after[pid]
        if (p.ppid, p.uid, p.rss_bytes) != (q.ppid, q.uid, q.rss_bytes):
            continue  # it changed while we looked; ps may have either value
        ppid, uid, rss_kib = ps_rows[pid]
        assert (p.ppid, p.uid, p.rss_bytes) == (ppid, uid, rss_kib * 1024), (p, ps_rows[pid])
        compared += 1
    assert compared >= len(steady) // 2
    if other is not None:
        assert before[other.pid].uid == 65534


def test_own_process_is_described_correctly() -> None:
    me = {p.pid: p for p in ProcSource().read().processes}[os.getpid()]
    with open(f"/proc/{os.getpid()}/comm", "rb") as fh:
        assert comm_bytes(me.comm) == fh.read().rstrip(b"\n")
    assert me.ppid == os.getppid()
    assert me.uid == os.geteuid()
    assert me.kthread is False and me.threads >= 1 and me.rss_bytes % PAGE_SIZE == 0
    kthreadd = {p.pid: p for p in ProcSource().read().processes}.get(2)
    if kthreadd is not None and kthreadd.comm == "kthreadd":
        assert kthreadd.kthread is True and kthreadd.rss_bytes == 0


def test_kept_descriptors_follow_churn_without_leaking() -> None:
    """Reaped children drop out (their kept descriptor answers ESRCH) and nothing leaks."""

    def others() -> int:  # open descriptors that are not the walk's own
        return len(os.listdir("/proc/self/fd")) - len(src._fds)

    src = ProcSource()
    src.open()
    try:
        src.read()
        baseline = others()
        for _ in range(3):
            kids = [subprocess.Popen(["sleep", "30"]) for _ in range(20)]
            assert {k.pid for k in kids} <= {p.pid for p in src.read().processes}
            for k in kids:
                k.kill()
                k.wait()
            assert not {k.pid for k in kids} & {p.pid for p in src.read().processes}
            assert not {str(k.pid) for k in kids} & set(src._fds)
        assert others() == baseline
    finally:
        src.close()
