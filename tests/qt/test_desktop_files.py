"""The desktop entry, AppStream metainfo and icon: valid, and one id everywhere."""

from __future__ import annotations

import configparser
import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from procscope import APP_ID

ROOT = Path(__file__).resolve().parents[2]
DESKTOP = ROOT / "packaging" / f"{APP_ID}.desktop"
METAINFO = ROOT / "packaging" / f"{APP_ID}.metainfo.xml"
ICON = ROOT / "resources" / "icons" / f"{APP_ID}.svg"


def _run(tool: str, *args: str) -> subprocess.CompletedProcess:
    exe = shutil.which(tool)
    if exe is None:
        pytest.skip(f"{tool} is not installed (Debian: apt-get install "
                    f"{'desktop-file-utils' if tool.startswith('desktop') else 'appstream'})")
    return subprocess.run([exe, *args], capture_output=True, text=True, timeout=60)


def test_desktop_file_validates():
    out = _run("desktop-file-validate", str(DESKTOP))
    assert out.returncode == 0 and not out.stdout.strip(), out.stdout + out.stderr


def test_metainfo_validates():
    out = _run("appstreamcli", "validate", "--no-net", str(METAINFO))
    assert out.returncode == 0, out.stdout + out.stderr


def test_one_id_everywhere():
    entry = configparser.ConfigParser(interpolation=None)
    entry.optionxform = str
    entry.read(DESKTOP, encoding="utf-8")
    d = entry["Desktop Entry"]
    assert d["Icon"] == APP_ID
    assert d["StartupWMClass"] == APP_ID
    assert d["Exec"].split()[0] == "procscope"
    root = ET.parse(METAINFO).getroot()
    assert root.findtext("id") == APP_ID
    assert root.find("launchable").text == f"{APP_ID}.desktop"


def test_icon_is_a_real_svg(qapp):
    from PySide6.QtGui import QImage, QPainter
    from PySide6.QtSvg import QSvgRenderer

    renderer = QSvgRenderer(str(ICON))
    assert renderer.isValid()
    img = QImage(64, 64, QImage.Format.Format_ARGB32)
    img.fill(0)
    painter = QPainter(img)
    renderer.render(painter)
    painter.end()
    colours = {img.pixel(x, y) for x in range(0, 64, 4) for y in range(0, 64, 4)}
    assert len(colours) > 10  # drawn, not a blank or flat placeholder


def test_the_app_uses_the_id(qapp):
    from PySide6.QtGui import QGuiApplication

    from procscope.ui.mainwindow import app_icon

    QGuiApplication.setDesktopFileName(APP_ID)
    assert QGuiApplication.desktopFileName() == APP_ID
    assert not app_icon().isNull()
