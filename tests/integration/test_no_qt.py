"""The model and the sources must work where PySide6 and pyqtgraph are absent.

A subprocess makes every Qt import fail (``sys.modules[name] = None``), imports every
module under ``procscope.model`` and ``procscope.sources``, and runs the unit tests.
"""

from __future__ import annotations

import pkgutil
import subprocess
import sys
from pathlib import Path

import procscope.model
import procscope.sources

ROOT = Path(__file__).resolve().parents[2]
BLOCK = (
    "import sys\n"
    "for m in ('PySide6', 'shiboken6', 'pyqtgraph'):\n"
    "    sys.modules[m] = None\n"
)


def _modules(pkg) -> list[str]:
    return [m.name for m in pkgutil.walk_packages(pkg.__path__, pkg.__name__ + ".")]


def test_model_and_sources_import_without_qt():
    mods = _modules(procscope.model) + _modules(procscope.sources)
    assert "procscope.model.delta" in mods
    code = BLOCK + "import importlib\n" + "".join(f"importlib.import_module({m!r})\n" for m in mods)
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert res.returncode == 0, res.stderr


def test_unit_tests_pass_without_qt():
    code = BLOCK + (
        "import pytest\n"
        "args = ['-q', '-p', 'no:pytest-qt', '-p', 'no:cacheprovider', 'tests/unit']\n"
        "sys.exit(pytest.main(args))\n"
    )
    res = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=600
    )
    assert res.returncode == 0, res.stdout[-4000:] + res.stderr[-2000:]
    assert " passed" in res.stdout
