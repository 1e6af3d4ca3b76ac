"""Shared test configuration: Qt offscreen everywhere, before any Qt import."""

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
