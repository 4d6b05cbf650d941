"""Duplex's identity, shipped with the package: the app icon (SVG) and the desktop entry's template."""
