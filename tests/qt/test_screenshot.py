"""A screenshot of the real app on a real source, under Xvfb with the xcb platform.

``make screenshot`` runs just this and keeps the picture as ``docs/screenshot.png``
for the README (it sets ``PROCSCOPE_SCREENSHOT``); a plain test run leaves the
tracked file alone.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

SHOT = os.environ.get("PROCSCOPE_SCREENSHOT")

pytestmark = pytest.mark.xvfb


@pytest.fixture
def xvfb_display():
    exe = shutil.which("Xvfb")
    if exe is None:
        pytest.skip("Xvfb is not installed (Debian: apt-get install xvfb)")
    r, w = os.pipe()
    proc = subprocess.Popen(
        [exe, "-displayfd", str(w), "-screen", "0", "1440x900x24", "-nolisten", "tcp"],
        pass_fds=(w,), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    os.close(w)
    with os.fdopen(r) as f:
        number = f.readline().strip()
    if not number:
        proc.kill()
        proc.wait()
        pytest.fail("Xvfb did not start")
    yield f":{number}"
    proc.terminate()
    proc.wait(timeout=10)


def _source() -> str:
    """netlink when it works here (it has an exit log), else proc."""
    from procscope.sources import SourceUnavailable, open_source

    try:
        open_source("netlink").close()
        return "netlink"
    except SourceUnavailable:
        return "proc"


def test_screenshot(xvfb_display, tmp_path):
    from PySide6.QtGui import QImage

    env = dict(os.environ, DISPLAY=xvfb_display, QT_QPA_PLATFORM="xcb",
               XDG_CONFIG_HOME=str(tmp_path / "config"), XDG_RUNTIME_DIR=str(tmp_path))
    env.pop("WAYLAND_DISPLAY", None)
    out = tmp_path / "shot.png"
    source = _source()
    run = subprocess.run(
        [sys.executable, str(Path(__file__).with_name("screenshot_app.py")), str(out), source,
         str(tmp_path / "work")],
        env=env, capture_output=True, text=True, timeout=120,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    assert "QThread: Destroyed" not in run.stderr
    shown = json.loads(run.stdout.strip().splitlines()[-1])
    assert shown["processes"] > 10
    assert shown["source"].startswith(f"Source: {source}")
    if source == "netlink":
        assert shown["exits"] > 10  # the short-lived "build" processes were caught
    img = QImage(str(out))
    assert (img.width(), img.height()) == (shown["width"], shown["height"])
    assert img.width() >= 1200 and img.height() >= 800
    colours = {img.pixel(x, y) for x in range(0, img.width(), 37)
               for y in range(0, img.height(), 23)}
    assert len(colours) > 20  # not a blank window
    if SHOT:
        shutil.copyfile(out, SHOT)
