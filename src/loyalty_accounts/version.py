"""The installed distribution's version (``0+unknown`` in a source tree never installed)."""

from __future__ import annotations

from importlib import metadata

try:
    __version__ = metadata.version("loyalty-accounts")
except metadata.PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0+unknown"
