"""The VM measures: one qemu boot (TCG) of a Debian kernel with the procscope module.

Reuses the VM test harness (tests/vm/run.py): the kernel is resolved with apt,
fetched into its cache (~/.cache/procscope/), and the module built against its
headers exactly as ``make vm-test`` does. The initramfs here is the benchmark's
own (bench/vm_init.sh, the static spawner, the module, the 9p stack). In the
boot:

1. module overhead (bench/vm_init.sh, before any Python runs);
2. bench/vm_guest.py in a chroot of the host's userland: lkm capture (beside
   netlink), lkm read vs /proc walk, the app's self-CPU on lkm vs htop.

Skipped, with the reason printed, when qemu or a static busybox is missing. In
smoke mode the boot is tiny: few rounds of small loops, 200-process captures,
100/1,000-process snapshots, and no self-CPU (pyqtgraph takes ~8 s to import
under TCG).

``BENCH_KERNEL`` (``6.12`` by default, or ``6.1``) chooses the kernel series.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import shutil
import subprocess
import threading
import time
from pathlib import Path

import module_overhead
from capture import CAPTURE_COLUMNS
from common import BUILD_DIR, ROOT, BenchError, Context, Section, Stats, Target


def _harness():
    path = ROOT / "tests" / "vm" / "run.py"
    if not path.exists():
        raise BenchError(f"the VM harness {path} is missing")
    spec = importlib.util.spec_from_file_location("procscope_vm_harness", path)
    mod = importlib.util.module_from_spec(spec)
    import sys

    sys.modules[spec.name] = mod  # dataclasses look their module up by name
    spec.loader.exec_module(mod)
    return mod


def missing_tools() -> str:
    """Why the VM part cannot run here, or '' if it can."""
    need = [
        t
        for t in ("qemu-system-x86_64", "cpio", "make", "modinfo", "apt-cache", "pahole")
        if shutil.which(t) is None
    ]
    if need:
        return f"{', '.join(need)} not installed (run 'make sysdeps-vm' as root)"
    if not Path("/bin/busybox").exists():
        return "/bin/busybox is missing (apt-get install busybox-static)"
    return ""


def cached_module(h, k, work: Path) -> Path:
    """The module built for ``k`` by the harness, reused while its sources are unchanged."""
    src = ROOT / "kernel_module"
    digest = hashlib.sha256()
    for path in sorted(src.iterdir()):
        if path.suffix in (".c", ".h") or path.name in ("Kbuild", "Makefile"):
            digest.update(path.name.encode() + b"\0" + path.read_bytes())
    cached = work / f"procscope-{k.release}-{digest.hexdigest()[:16]}.ko"
    if not cached.exists():
        for old in work.glob(f"procscope-{k.release}-*.ko"):
            old.unlink()
        shutil.copy2(h.build_module(k, src, work), cached)
    return cached


def build_initramfs(h, k, ko: Path, ctx: Context, work: Path, env: dict[str, str]) -> Path:
    tree = work / "initramfs"
    shutil.rmtree(tree, ignore_errors=True)
    for d in ("bin", "etc", "modules", "proc", "sys", "dev", "tmp", "mnt"):
        (tree / d).mkdir(parents=True)
    if not h._is_static(Path("/bin/busybox")):
        raise BenchError("/bin/busybox is not static: apt-get install busybox-static")
    shutil.copy2("/bin/busybox", tree / "bin/busybox")
    shutil.copy2(Path(__file__).with_name("vm_init.sh"), tree / "init")
    shutil.copy2(ROOT / "tests" / "vm" / "guest" / "hostroot.sh", tree / "hostroot.sh")
    (tree / "init").chmod(0o755)
    shutil.copy2(ctx.spawner, tree / "spawner")
    shutil.copy2(ko, tree / "procscope.ko")
    order = h.share_modules(k, tree / "modules")
    (tree / "modules/order").write_text("\n".join(order) + "\n")
    (tree / "etc/bench.env").write_text("".join(f"{a}='{b}'\n" for a, b in env.items()))
    out = work / "initramfs.cpio"
    names = subprocess.run(
        ["find", "."], cwd=tree, capture_output=True, text=True, check=True
    ).stdout
    with out.open("wb") as f:
        subprocess.run(
            ["cpio", "-o", "-H", "newc", "-R", "0:0", "--quiet"],
            cwd=tree,
            input=names.encode(),
            stdout=f,
            check=True,
        )
    return out


def boot(k, initrd: Path, ctx: Context, timeout: float, log_path: Path) -> tuple[list[str], str]:
    cmd = [
        "qemu-system-x86_64",
        "-accel",
        "tcg",
        "-cpu",
        "max",
        "-smp",
        "2",
        "-m",
        "2048",
        "-kernel",
        str(k.vmlinuz),
        "-initrd",
        str(initrd),
        "-append",
        "console=ttyS0 panic=-1 quiet loglevel=3",
        "-nographic",
        "-no-reboot",
        "-nic",
        "none",
        "-device",
        "isa-debug-exit,iobase=0xf4,iosize=0x04",
        "-virtfs",
        "local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap",
    ]
    lines: list[str] = []
    proc = subprocess.Popen(
        cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )

    def reader() -> None:
        assert proc.stdout is not None
        with log_path.open("w") as logf:
            for raw in proc.stdout:
                line = raw.decode("utf-8", "replace").rstrip("\r\n")
                logf.write(line + "\n")
                logf.flush()
                lines.append(line)
                if line.startswith(("guest:", "@@BOOTED", "@@ERR", "@@DONE", "@@O ")):
                    ctx.log(f"vm: {line}")

    t = threading.Thread(target=reader, daemon=True)
    t.start()
    problem = ""
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        problem = f"the boot timed out after {timeout:.0f} s"
    t.join(timeout=10)
    if not problem and "@@DONE" not in lines:
        problem = "the guest stopped before @@DONE (see the serial log)"
    return lines, problem


# --------------------------------------------------------------------------- reporting


def _capture(data: dict, sec: Section, ctx: Context) -> None:
    sec.add(
        "### Inside the VM: lkm beside netlink",
        "",
        "The same spawner and scoring, inside the VM boot (one run per row; TCG spawns "
        "far more slowly than the host, so the rates are not comparable with the host "
        "rows, only the observers within a row are).",
        "",
    )
    rows = []
    for cfg in data["configs"]:
        for lbl, s in cfg["scores"].items():
            if s["error"]:
                rows.append(
                    [
                        cfg["label"],
                        f"{cfg['rate']:,.0f}/s",
                        lbl,
                        f"unavailable: {s['error']}",
                        "",
                        "",
                        "",
                        "",
                    ]
                )
                continue
            n = cfg["n"]
            rows.append(
                [
                    cfg["label"],
                    f"{cfg['rate']:,.0f}/s",
                    lbl,
                    f"{s['named']:,}",
                    f"{100.0 * s['named'] / n:.2f} %",
                    s["wrong_name"],
                    f"{s['exit_logged']:,}",
                    s["lost"],
                ]
            )
            if not ctx.smoke and n >= 20000 and lbl.startswith("lkm"):
                pct = 100.0 * s["named"] / n
                sec.targets.append(
                    Target(
                        f"capture at 20,000 (lkm, VM, {cfg['label']})",
                        "100 %",
                        f"{pct:.2f} %",
                        pct >= 100.0,
                    )
                )
    sec.table(
        CAPTURE_COLUMNS,
        rows,
    )


def _snapshot(data: dict, sec: Section) -> None:
    sec.add(
        f"### Inside the VM: lkm read vs /proc walk ({data['repeats']} repeats)",
        "",
        "µs per process, median [min–max], under TCG (so only the ratio carries to real "
        "hardware). *lkm read* = `LkmSource.read()` (the module formats the text, Python "
        "parses it); *kernel text only* = reading `/proc/procscope/processes` without "
        "parsing; *proc walk* = `ProcSource.read()`.",
        "",
    )
    rows = []
    for r in data["rows"]:
        n_lkm = Stats.of([c[0] for c in r["counts"]]).median
        n_proc = Stats.of([c[1] for c in r["counts"]]).median
        lkm = Stats.of([t / n_lkm / 1e3 for t in r["lkm_ns"]])
        raw = Stats.of([t / n_lkm / 1e3 for t in r["raw_ns"]])
        proc = Stats.of([t / n_proc / 1e3 for t in r["proc_ns"]])
        rows.append(
            [
                f"{r['target']:,}",
                f"{n_lkm:,.0f}",
                lkm.fmt(2),
                raw.fmt(2),
                proc.fmt(2),
                f"{proc.median / lkm.median:.2f}×",
            ]
        )
    sec.table(
        [
            "target",
            "processes",
            "lkm read µs/proc",
            "kernel text only µs/proc",
            "proc walk µs/proc",
            "proc / lkm",
        ],
        rows,
    )


def _selfcpu(data: dict, sec: Section) -> None:
    pct = data["pct"]
    htop = pct["htop -d 10"]
    sec.add(
        "### Inside the VM: the app on lkm vs htop",
        "",
        f"{data['processes']:,} processes in the guest ({data['held']:,} held), same "
        f"method as above ({data['window']:.0f} s window, {data['slice']:.0f} s slices), "
        f"app: {data['how']}. Under TCG every figure is inflated; the ratio is the "
        "point.",
        "",
    )
    rows = []
    for name, vals in pct.items():
        st = Stats.of(vals)
        ratio = ""
        if name.startswith("app"):
            r = Stats.of([a / h for a, h in zip(vals, htop, strict=True) if h > 0])
            ratio = f"{r.median:.2f}× [{r.lo:.2f}–{r.hi:.2f}]"
        ticks = data["ticks"].get(name.split(", ")[-1], "") if name.startswith("app") else ""
        rows.append([name, st.fmt(2, " %"), f"{sum(vals) / len(vals):.2f} %", ratio, ticks])
    sec.table(["process", "CPU % (per slice)", "mean", "app / htop", "ticks applied"], rows)
    vals = pct.get("app, lkm")
    if vals:
        ratio = sum(vals) / max(sum(htop), 1e-9)
        sec.targets.append(
            Target(
                "self-CPU, lkm source, vs htop -d 10 (VM)",
                "≤ 0.5× htop",
                f"{ratio:.2f}×",
                ratio <= 0.5,
            )
        )


# --------------------------------------------------------------------------- entry


def run(ctx: Context, names: list[str], sections: dict[str, Section], vsec: Section) -> None:
    why = missing_tools()
    over = Section("module_overhead", module_overhead.TITLE)
    if "module_overhead" in names:
        sections["module_overhead"] = over
    if why:
        msg = f"VM parts skipped: {why}."
        ctx.log(f"vm: {msg}")
        vsec.add(msg, "")
        over.add(msg, "")
        return
    h = _harness()
    series = os.environ.get("BENCH_KERNEL", "6.12")
    work = BUILD_DIR / "vm"
    work.mkdir(parents=True, exist_ok=True)
    ctx.log(f"vm: resolving and building the module for the {series} kernel")
    t0 = time.perf_counter()
    try:
        k = h.resolve(series)
        h.fetch(k)
        ko = cached_module(h, k, work)
    except h.HarnessError as exc:
        raise BenchError(f"the VM harness could not prepare the {series} kernel: {exc}") from exc
    build_s = time.perf_counter() - t0
    guest_parts = [p for p in ("snapshot_cost", "capture", "selfcpu") if p in names]
    if ctx.smoke and "selfcpu" in guest_parts:
        guest_parts.remove("selfcpu")
    pybin, pypath = h._python_for_guest()
    pypath = f"{ROOT / 'bench'}:{pypath}"
    env = {
        "ROUNDS": "1" if ctx.smoke else "16",
        "FORK_N": "200" if ctx.smoke else "400",
        "THREAD_N": "200" if ctx.smoke else "1000",
        "PARTS": "module_overhead" if "module_overhead" in names else "",
        "GUEST_ARGS": " ".join([*(["--smoke"] if ctx.smoke else []), *guest_parts])
        if guest_parts
        else "",
        "REPO": str(ROOT),
        "PYBIN": pybin,
        "PYPATH": pypath,
    }
    initrd = build_initramfs(h, k, ko, ctx, work, env)
    log_path = work / "serial.log"
    timeout = 300.0 if ctx.smoke else 1200.0
    ctx.log(f"vm: booting {k.release} (serial log: {log_path.relative_to(ROOT)})")
    t1 = time.perf_counter()
    lines, problem = boot(k, initrd, ctx, timeout, log_path)
    boot_s = time.perf_counter() - t1
    kname = f"Debian {k.release} ({k.version})"
    vsec.add(
        f"Kernel {kname}, module built against its headers by the VM harness "
        f"(`tests/vm/run.py`: resolve, fetch, build; {build_s:.0f} s), booted once under "
        f"qemu TCG with 2 vCPUs and 2 GiB ({boot_s:.0f} s for the whole boot). Guest parts: "
        f"{', '.join(guest_parts) or 'none'}"
        + (
            "; self-CPU is skipped in smoke mode (pyqtgraph alone takes ~8 s to import under TCG)"
            if ctx.smoke
            else ""
        )
        + ".",
        "",
    )
    errs = [ln for ln in lines if ln.startswith("@@ERR")]
    if problem or errs:
        vsec.add(f"**Problem**: {problem} {' '.join(errs)}".rstrip(), "")
        tail = [ln for ln in lines if not ln.startswith("@@R ")][-25:]
        vsec.add("Last lines of the serial console:", "", "```", *tail, "```", "")
    if "module_overhead" in names:
        module_overhead.render(ctx, lines, over, kname, env)
    results = {}
    for ln in lines:
        if ln.startswith("@@R "):
            _, part, payload = ln.split(" ", 2)
            try:
                results[part] = json.loads(payload)
            except ValueError:
                vsec.add(f"Unreadable result line for {part}.", "")
    render = {"capture": _capture, "snapshot_cost": _snapshot, "selfcpu": _selfcpu}
    for part in guest_parts:
        sec = sections.setdefault(part, Section(part, part))
        data = results.get(part)
        if data is None:
            sec.add(
                "### Inside the VM",
                "",
                "No result came out of the guest for this part "
                f"({problem or 'see the serial log'}).",
                "",
            )
            sec.targets.append(Target(f"{part} (VM)", "runs", "no result", False))
        elif "error" in data:
            sec.add("### Inside the VM", "", f"The guest part failed: `{data['error']}`.", "")
            sec.targets.append(Target(f"{part} (VM)", "runs", data["error"], False))
        elif part == "capture":
            _capture(data, sec, ctx)
        elif part == "snapshot_cost":
            render[part](data, sec)
        else:
            _selfcpu(data, sec)
