"""Snapshot cost per process: a /proc walk, psutil, an lkm read, an lkm parse.

On the host, with the process count raised to 100, 1,000 and 10,000 by pausing
children (``spawner hold``), each repeat takes, back to back:

* ``proc``: one ``ProcSource.read()`` (our /proc walk);
* ``psutil``: one ``list(psutil.process_iter(FIELDS))`` with the same fields
  (pid, ppid, name, uids, status, num_threads, cpu_times, memory_info,
  create_time), after a warm-up call, as a poller would use it.

Then, from generated captures in the module's ABI (``processes`` files of 100 to
100,000 lines), ``lkm parse``: ``abi.parse_processes`` on bytes in memory, and
``dir: read``: a ``DirSource.read()`` of the capture on disk (read + parse).
The lkm read inside the VM is in the VM section.
"""

from __future__ import annotations

import os
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (
    PSUTIL_FIELDS,
    Context,
    Hold,
    Section,
    Stats,
    Target,
    count_processes,
    profile_top,
)

TITLE = "3. Snapshot cost per process"
PARSE_TARGET_US = 3.0


def host_sizes(ctx: Context) -> list[int]:
    return [100, 400] if ctx.smoke else [100, 1000, 10000]


def parse_sizes(ctx: Context) -> list[int]:
    return [100, 1000] if ctx.smoke else [100, 1000, 10000, 100000]


# --------------------------------------------------------------------------- captures


def _host_names() -> list[bytes]:
    names = []
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                with open(f"/proc/{pid}/comm", "rb") as fh:
                    names.append(fh.read().rstrip(b"\n"))
            except OSError:
                pass
    return names or [b"init"]


def make_capture(n: int, unique_names: bool, seed: int = 5) -> bytes:
    """A ``processes`` file of ``n`` lines, as the module writes it (ABI v1).

    Names come from the host's own processes (so they repeat as on a real
    machine, a few with bytes that need escaping), or, with ``unique_names``,
    are all different (the worst case for the parser's name cache).
    """
    from procscope.sources.abi import PROCESSES_FIELDS, escape_comm

    rng = random.Random(seed)
    pool = [*_host_names(), b"my prog", b"tab\there", b"caf\xc3\xa9", b"back\\slash"]
    lines = [b"# procscope 1 processes " + PROCESSES_FIELDS]
    pid = 1
    for i in range(n):
        pid += rng.randint(1, 3)
        kthread = i % 10 == 0
        comm = b"u%07d" % i if unique_names else rng.choice(pool)
        lines.append(
            b"%d %d %d %s %d %d %d %d %d %s"
            % (
                pid,
                rng.randint(0, pid - 1),
                rng.choice((0, 0, 1000, 65534)),
                rng.choice((b"S", b"S", b"S", b"R", b"I", b"D")),
                rng.randint(1, 40),
                rng.randint(0, 10**12),
                0 if kthread else rng.randint(100, 2_000_000),
                rng.randint(10**9, 10**13),
                kthread,
                escape_comm(comm),
            )
        )
    return b"\n".join(lines) + b"\n"


def write_capture_dir(path: Path, processes: bytes) -> None:
    path.mkdir(parents=True, exist_ok=True)
    (path / "version").write_bytes(b"procscope 1 0.1.0\n")
    (path / "counters").write_bytes(
        b"# procscope 1 counters\nload_time_ns 5000000000\nforks 120\nthreads_created 40\n"
        b"kthreads_created 3\nexits 100\nthreads_exited 38\nkthreads_exited 1\n"
        b"exit_seq_next 0\nexit_ring_size 4096\nexit_overwritten 0\n"
    )
    (path / "processes").write_bytes(processes)
    (path / "exits").write_bytes(b"")


# --------------------------------------------------------------------------- timing


def _time_ns(fn) -> int:
    t0 = time.perf_counter_ns()
    fn()
    return time.perf_counter_ns() - t0


def host_walks(ctx: Context, sec: Section) -> None:
    import psutil

    from procscope.sources.proc import ProcSource

    repeats = 3 if ctx.smoke else 9
    rows = []
    src = ProcSource()
    src.open()
    for target in host_sizes(ctx):
        base = count_processes()
        with Hold(ctx.spawner, max(0, target - base)):
            ctx.log(f"snapshot_cost: host walks at {target} processes")
            list(psutil.process_iter(PSUTIL_FIELDS))  # warm-up: psutil caches Process objects
            src.read()
            proc_us, ps_us, counts = [], [], []
            for _ in range(repeats):
                t0 = time.perf_counter_ns()
                snap = src.read()
                t = time.perf_counter_ns() - t0
                n = len(snap.processes)
                counts.append(n)
                proc_us.append(t / n / 1e3)
                t0 = time.perf_counter_ns()
                got = list(psutil.process_iter(PSUTIL_FIELDS))
                t = time.perf_counter_ns() - t0
                ps_us.append(t / len(got) / 1e3)
        p, q = Stats.of(proc_us), Stats.of(ps_us)
        rows.append(
            [
                f"{target:,}",
                f"{Stats.of(counts).median:,.0f}",
                p.fmt(2),
                q.fmt(2),
                f"{p.median * Stats.of(counts).median / 1e3:.1f} ms",
                f"{q.median * Stats.of(counts).median / 1e3:.1f} ms",
                f"{q.median / p.median:.2f}×",
            ]
        )
    src.close()
    sec.add(
        f"### Host: /proc walk vs psutil ({repeats} repeats each, interleaved)",
        "",
        "µs per process, median [min–max]; *per snapshot* is the median total. Pausing "
        "children of `spawner hold` bring the count up to the target; *processes* is "
        "what the walk actually found.",
        "",
    )
    sec.table(
        [
            "target",
            "processes",
            "proc µs/proc",
            "psutil µs/proc",
            "proc per snapshot",
            "psutil per snapshot",
            "psutil / proc",
        ],
        rows,
    )


def parse_costs(ctx: Context, sec: Section) -> None:
    from procscope.sources.abi import parse_processes
    from procscope.sources.lkm import DirSource

    repeats = 3 if ctx.smoke else 7
    rows = []
    worst: dict[int, Stats] = {}
    for n in parse_sizes(ctx):
        ctx.log(f"snapshot_cost: lkm parse at {n:,}")
        for unique in (False, True):
            data = make_capture(n, unique)
            parse_processes(data)  # warm-up (and a check that it parses)
            parse = Stats.of(
                [_time_ns(lambda d=data: parse_processes(d)) / n / 1e3 for _ in range(repeats)]
            )
            cap = ctx.work / f"capture-{n}-{int(unique)}"
            write_capture_dir(cap, data)
            src = DirSource(str(cap))
            src.open()
            src.read()
            read = Stats.of([_time_ns(src.read) / n / 1e3 for _ in range(repeats)])
            src.close()
            rows.append(
                [
                    f"{n:,}",
                    "all different" if unique else "as on this host",
                    f"{len(data) / n:.0f} B",
                    parse.fmt(2),
                    read.fmt(2),
                    f"{parse.median * n / 1e3:.1f} ms",
                ]
            )
            if not unique:
                worst[n] = parse
    sec.add(
        f"### Host: lkm parse of generated captures ({repeats} repeats)",
        "",
        "`parse_processes` on the bytes in memory, and `DirSource.read()` of the same "
        "capture written to a directory (open + read + parse; page-cached). Names are "
        "either drawn from this host's processes (repeating, as on a real machine, plus a "
        "few that need escaping) or all different (the worst case).",
        "",
    )
    sec.table(
        ["processes", "names", "line", "parse µs/proc", "dir: read µs/proc", "parse per snapshot"],
        rows,
    )
    if ctx.smoke:
        return
    big = max(worst)
    met = worst[big].median <= PARSE_TARGET_US
    sec.targets.append(
        Target(
            f"lkm parse at {big:,} processes",
            f"≤ {PARSE_TARGET_US:g} µs/process",
            worst[big].fmt(2, " µs"),
            met,
        )
    )
    if not met:
        data = make_capture(big, False)
        sec.add(
            f"Target missed: profile of `parse_processes` on {big:,} lines (cProfile, "
            "top entries by own time):",
            "",
            profile_top(lambda: parse_processes(data)),
            "",
        )


def run(ctx: Context) -> Section:
    sec = Section("snapshot_cost", TITLE)
    host_walks(ctx, sec)
    parse_costs(ctx, sec)
    return sec
