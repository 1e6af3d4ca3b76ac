"""Fixtures for the Qt tests, and a guard that fails a test on any Qt warning
(model-tester failures, "QThread: Destroyed while thread is still running", ...).

Builders and scripted sources live in ``qtfakes.py``.
"""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import QSettings, QtMsgType

# Harmless messages of the offscreen platform.
_BENIGN = ("This plugin does not support", "propagateSizeHints")


def pytest_collection_modifyitems(items):
    here = os.path.dirname(__file__)
    for item in items:
        if str(item.fspath).startswith(here):
            item.add_marker(pytest.mark.qt)


@pytest.fixture
def settings(tmp_path):
    """A QSettings in a temporary file, so tests never touch the user's."""
    return QSettings(str(tmp_path / "procscope.ini"), QSettings.Format.IniFormat)


@pytest.fixture(autouse=True)
def _fail_on_qt_warnings(qtlog):
    yield
    bad = [
        r.message for r in qtlog.records
        if r.type in (QtMsgType.QtWarningMsg, QtMsgType.QtCriticalMsg, QtMsgType.QtFatalMsg)
        and not any(b in r.message for b in _BENIGN)
    ]
    assert not bad, f"Qt warnings: {bad}"
