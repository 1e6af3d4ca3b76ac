"""The PySide6 + pyqtgraph desktop app. Everything that imports Qt lives here."""
