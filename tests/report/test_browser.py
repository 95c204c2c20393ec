"""The report as a reader sees it: rendered by headless Chromium with every network lookup
refused, its figures must appear (pixels of the plots' tab10 orange). Skipped where no
Chromium is installed (`.ci/run` installs Debian's when it can)."""
from __future__ import annotations

import re
import shutil
import subprocess

import numpy as np
import pytest
from matplotlib.image import imread

from .test_report import report, tree  # noqa: F401  (module fixtures)

BROWSER = next(filter(None, map(shutil.which, ("chromium", "chromium-browser", "google-chrome"))),
               None)
ORANGE = np.array([255, 127, 14]) / 255.0        # tab10's second colour: only in the figures


def screenshot(html, tmp_path):
    png = tmp_path / "shot.png"
    cmd = [BROWSER, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
           "--no-first-run", "--disable-background-networking", "--disable-component-update",
           "--disable-sync", "--host-resolver-rules=MAP * ~NOTFOUND",
           f"--user-data-dir={tmp_path / 'profile'}", "--window-size=1200,4000",
           "--hide-scrollbars", f"--screenshot={png}", html.as_uri()]
    subprocess.run(cmd, check=True, capture_output=True, timeout=120)
    return imread(png)[..., :3]


def orange_pixels(image) -> int:
    return int((np.abs(image - ORANGE).max(axis=-1) < 0.06).sum())


@pytest.mark.skipif(BROWSER is None, reason="no Chromium on this machine")
def test_the_report_renders_with_its_figures_and_no_network(report, tmp_path):  # noqa: F811
    out, _ = report
    alone = tmp_path / "alone"          # the page alone in a folder: nothing beside it to load
    alone.mkdir()
    page = alone / "report.html"
    shutil.copy(out, page)
    shown = orange_pixels(screenshot(page, tmp_path / "a"))
    assert shown > 500, shown
    # the check can fail: the same page with its figures as (absent) files shows none
    broken = alone / "broken.html"
    text = re.sub(r'src="data:image/png;base64,[^"]*"', 'src="figure.png"', page.read_text())
    broken.write_text(text)
    hidden = orange_pixels(screenshot(broken, tmp_path / "b"))
    assert hidden < shown / 50, (shown, hidden)
