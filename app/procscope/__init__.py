"""Procscope: a Linux process monitor that never misses a process."""

__version__ = "0.1.0"

#: The reverse-DNS application id, used by the desktop file, icon, metainfo and Qt.
APP_ID = "io.github.procscope.Procscope"
