"""What every benchmark shares: statistics, the spawner, CPU clocks, profiles, results.

Each measure is a module with ``run(ctx: Context) -> Section``. A :class:`Section`
holds the Markdown the report shows (raw figures, ratios) and the :class:`Target`
rows it checked; ``bench/run.py`` puts the sections together.
"""

from __future__ import annotations

import contextlib
import cProfile
import io
import os
import pstats
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
BUILD_DIR = ROOT / "build" / "bench"
PY = sys.executable

#: The fields every process snapshot carries, as psutil names them (the same
#: information a :class:`procscope.model.records.Process` holds).
PSUTIL_FIELDS = [
    "pid",
    "ppid",
    "name",
    "uids",
    "status",
    "num_threads",
    "cpu_times",
    "memory_info",
    "create_time",
]

CLK_TCK = os.sysconf("SC_CLK_TCK")


class BenchError(RuntimeError):
    """A benchmark could not run; the message says why."""


@dataclass
class Target:
    """One goal from issue #5: what was asked, what was measured, whether it was met."""

    name: str
    goal: str
    measured: str
    met: bool | None  # None: not measured here (the reason is in ``measured``)


@dataclass
class Section:
    name: str
    title: str
    body: list[str] = field(default_factory=list)
    targets: list[Target] = field(default_factory=list)
    seconds: float = 0.0

    def add(self, *lines: str) -> None:
        self.body.extend(lines)

    def table(self, header: Sequence[str], rows: Iterable[Sequence[object]]) -> None:
        self.body.append("| " + " | ".join(header) + " |")
        self.body.append("|" + "---|" * len(header))
        for row in rows:
            self.body.append("| " + " | ".join(str(c) for c in row) + " |")
        self.body.append("")


@dataclass
class Context:
    smoke: bool
    work: Path  # scratch directory for this run
    spawner: Path
    log: Callable[[str], None]

    def size(self, full: int, smoke: int) -> int:
        return smoke if self.smoke else full


# --------------------------------------------------------------------------- stats


@dataclass(frozen=True)
class Stats:
    n: int
    median: float
    lo: float
    hi: float
    q1: float
    q3: float

    @classmethod
    def of(cls, values: Sequence[float]) -> Stats:
        if not values:
            raise BenchError("no samples")
        vals = sorted(values)
        if len(vals) >= 4:
            q1, _, q3 = statistics.quantiles(vals, n=4)
        else:
            q1, q3 = vals[0], vals[-1]
        return cls(len(vals), statistics.median(vals), vals[0], vals[-1], q1, q3)

    def fmt(self, digits: int = 2, unit: str = "") -> str:
        """``median [min–max]``, the form every table uses."""
        f = f"{{:,.{digits}f}}"
        if self.n == 1 or self.lo == self.hi:
            return f"{f.format(self.median)}{unit}"
        return f"{f.format(self.median)}{unit} [{f.format(self.lo)}–{f.format(self.hi)}]"


def ratio_stats(num: Sequence[float], den: Sequence[float]) -> Stats:
    """Ratios of paired samples (same repeat, same run)."""
    return Stats.of([a / b for a, b in zip(num, den, strict=True) if b])


def fmt_ratio(x: float) -> str:
    return f"{x:.2f}×"


# --------------------------------------------------------------------------- spawner


def build_spawner(out_dir: Path) -> Path:
    """Compile bench/spawner.c (static) into ``out_dir``, once per source change."""
    src = BENCH_DIR / "spawner.c"
    exe = out_dir / "spawner"
    if exe.exists() and exe.stat().st_mtime >= src.stat().st_mtime:
        return exe
    gcc = shutil.which("gcc")
    if gcc is None:
        raise BenchError("gcc is missing: apt-get install gcc libc6-dev")
    out_dir.mkdir(parents=True, exist_ok=True)
    cmd = [gcc, "-O2", "-Wall", "-static", "-pthread", "-o", str(exe), str(src)]
    res = subprocess.run(cmd, capture_output=True, text=True)
    if res.returncode != 0:
        raise BenchError(f"cannot build the spawner ({' '.join(cmd)}):\n{res.stderr}")
    return exe


class Hold:
    """``spawner hold N``: N pausing children for as long as the ``with`` lasts."""

    def __init__(self, spawner: Path, count: int) -> None:
        self.spawner = spawner
        self.count = count
        self.proc: subprocess.Popen[str] | None = None
        self.held = 0

    def __enter__(self) -> Hold:
        if self.count <= 0:
            return self
        self.proc = subprocess.Popen(
            [str(self.spawner), "hold", str(self.count)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline().split()
        if len(line) != 2 or line[0] != "ready":
            self.__exit__()
            raise BenchError(f"spawner hold {self.count} did not start: {line!r}")
        self.held = int(line[1])
        if self.held < self.count:
            self.__exit__()
            raise BenchError(f"spawner could hold only {self.held} of {self.count} children")
        return self

    def __exit__(self, *exc: object) -> None:
        if self.proc is None:
            return
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        try:
            self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.proc = None


def count_processes() -> int:
    return sum(1 for name in os.listdir("/proc") if name.isdigit())


# --------------------------------------------------------------------------- CPU, memory


def cpu_ns(pid: int, children: bool = True) -> int:
    """User + system CPU of ``pid`` (plus its reaped children), in ns."""
    with open(f"/proc/{pid}/stat", "rb") as fh:
        data = fh.read()
    f = data[data.rfind(b")") + 2 :].split()
    ticks = int(f[11]) + int(f[12])
    if children:
        ticks += int(f[13]) + int(f[14])
    return ticks * 1_000_000_000 // CLK_TCK


def tree_cpu_ns(pid: int) -> int:
    """CPU of ``pid``, its reaped children and its live descendants, in ns."""
    total = cpu_ns(pid)
    for child in children_of(pid):
        with contextlib.suppress(FileNotFoundError, ProcessLookupError):
            total += tree_cpu_ns(child)
    return total


def children_of(pid: int) -> list[int]:
    out: list[int] = []
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except FileNotFoundError:
        return out
    for tid in tids:
        try:
            with open(f"/proc/{pid}/task/{tid}/children") as fh:
                out.extend(int(x) for x in fh.read().split())
        except FileNotFoundError:
            pass
    return out


def rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise BenchError(f"no VmRSS for pid {pid}")


# --------------------------------------------------------------------------- profiles


def profile_top(fn: Callable[[], object], limit: int = 12, sort: str = "tottime") -> str:
    """Run ``fn`` under cProfile; the ``limit`` top entries as a Markdown code block."""
    prof = cProfile.Profile()
    prof.enable()
    try:
        fn()
    finally:
        prof.disable()
    return format_profile(prof, limit, sort)


def format_profile(prof: cProfile.Profile, limit: int = 12, sort: str = "tottime") -> str:
    buf = io.StringIO()
    st = pstats.Stats(prof, stream=buf)
    st.strip_dirs().sort_stats(sort).print_stats(limit)
    lines = buf.getvalue().splitlines()
    # keep the summary line and the table, drop pstats' blank preamble
    keep = [ln.rstrip() for ln in lines if ln.strip()]
    start = next((i for i, ln in enumerate(keep) if "function calls" in ln), 0)
    return "```\n" + "\n".join(keep[start:]) + "\n```"


# --------------------------------------------------------------------------- misc


def wait_until(pred: Callable[[], bool], timeout: float, step: float = 0.05) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(step)
    return pred()


def env_with_app() -> dict[str, str]:
    """The environment for a child Python that imports procscope from the checkout."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(ROOT / "app"), str(BENCH_DIR), env.get("PYTHONPATH", "")) if p
    )
    env.setdefault("QT_QPA_PLATFORM", "offscreen")
    # A fresh settings directory, so the app neither reads nor changes the user's
    # settings, and one run's saved filter cannot leak into the next.
    env["XDG_CONFIG_HOME"] = tempfile.mkdtemp(
        prefix="config-", dir=os.environ.get("PROCSCOPE_BENCH_TMP")
    )
    return env
