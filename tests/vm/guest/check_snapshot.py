"""Guest side of the VM check "snapshot": judge `procscope snapshot --source lkm --json`.

Runs with the host's interpreter in the guest's chroot (stdlib only)::

    check_snapshot.py SNAPSHOT.json HELPER_PID HELPER_PPID HELPER_COMM

Passes when the output is one JSON object from the ``lkm`` source whose process
list holds the guest's PID 1 and the helper, with the helper's parent and name.
"""

from __future__ import annotations

import json
import sys


def fail(msg: str) -> int:
    print(f"FAIL: {msg}")
    return 1


def main(argv: list[str]) -> int:
    path, pid, ppid, comm = argv[1], int(argv[2]), int(argv[3]), argv[4]
    with open(path, "rb") as f:
        raw = f.read()
    try:
        snap = json.loads(raw)
    except ValueError as exc:
        return fail(f"not valid JSON ({exc}): {raw[:200]!r}")
    if not isinstance(snap, dict):
        return fail(f"top level is a {type(snap).__name__}, not an object")
    if snap.get("source") != "lkm":
        return fail(f"source is {snap.get('source')!r}, not 'lkm'")
    procs = snap.get("processes")
    if not isinstance(procs, list) or not all(isinstance(p, dict) for p in procs):
        return fail(f"'processes' is not a list of objects (keys: {sorted(snap)})")
    by_pid = {p.get("pid"): p for p in procs}
    print(f"ok JSON from source lkm with {len(procs)} processes")
    status = 0
    if 1 not in by_pid:
        status = fail("PID 1 is missing")
    helper = by_pid.get(pid)
    if helper is None:
        return fail(f"the helper (pid {pid}) is missing")
    if helper.get("ppid") != ppid:
        status = fail(f"helper ppid {helper.get('ppid')!r}, expected {ppid}")
    if helper.get("comm", comm) != comm:
        status = fail(f"helper comm {helper.get('comm')!r}, expected {comm!r}")
    if status == 0:
        print(f"ok PID 1 and helper {pid} (ppid {ppid}, {comm}) present")
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv))
