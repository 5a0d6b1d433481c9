"""Headless Chromium for the report pack's render test: Debian's ``chromium``, apt-installed when the suite runs
as root and it is missing (as hledger and PostgreSQL are), never skipped.

:func:`render` opens a page twice, once for a screenshot and once for the DOM as Chromium built it, each with
console logging on stderr; :func:`blank` says whether a screenshot shows nothing (Pillow, which matplotlib
brings, reads it).
"""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path
from typing import NamedTuple

from PIL import Image
from support.debian import debian_command

WIDTH, HEIGHT = 1280, 6400
"""The window: as wide as a desk screen, tall enough for the demo year's whole pack."""


def chromium_bin() -> str:
    """``chromium`` on PATH, installed from Debian's package first when missing and running as root."""

    return debian_command("chromium", "chromium")


class Rendered(NamedTuple):
    screenshot: Path
    dom: str
    """The document as Chromium built it (``--dump-dom``)."""
    log: str
    """Chromium's stderr for both runs: console messages (``CONSOLE``) and uncaught errors show here."""


def render(page: Path, screenshot: Path) -> Rendered:
    """Open ``page`` headless: a screenshot of the window to ``screenshot``, then its DOM."""

    with tempfile.TemporaryDirectory(prefix="chromium-profile-") as profile:
        base = [
            chromium_bin(),
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
            "--enable-logging=stderr",
            "--v=0",
            f"--user-data-dir={profile}",
            f"--window-size={WIDTH},{HEIGHT}",
        ]
        shot = subprocess.run([*base, f"--screenshot={screenshot}", page.as_uri()], capture_output=True, text=True, timeout=180)
        dom = subprocess.run([*base, "--dump-dom", page.as_uri()], capture_output=True, text=True, timeout=180)
    assert shot.returncode == 0 and dom.returncode == 0, shot.stderr[-2000:] + dom.stderr[-2000:]
    return Rendered(screenshot=screenshot, dom=dom.stdout, log=shot.stderr + dom.stderr)


def blank(screenshot: Path) -> bool:
    """Whether the image is (nearly) one colour: fewer than 1 % of its pixels differ from the most common one."""

    with Image.open(screenshot) as image:
        pixels = image.convert("RGB")
        colours = pixels.getcolors(maxcolors=1 << 24) or []
    total = pixels.width * pixels.height
    most = max((count for count, _ in colours), default=total)
    return total - most < total // 100


def script_errors(log: str) -> list[str]:
    """The lines of Chromium's log that report a console message or an uncaught error."""

    return [line for line in log.splitlines() if "CONSOLE" in line or "Uncaught" in line]
