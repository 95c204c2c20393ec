"""The built wheel is self-contained: its data files are inside it and are found without the
repository (or anything beside it) in sight."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# Run from an empty folder against the unpacked wheel only.
CHECK = """
import sys
from pathlib import Path
import jetfm
from jetfm.labels import LABEL_NAMES, published_label_names, rule_label_names
from jetfm.sim.detector_card import load_card
from jetfm.data.config import builtin_configs, load_data_config

site = Path(sys.argv[1]).resolve()
assert Path(jetfm.__file__).resolve().is_relative_to(site), jetfm.__file__
card = load_card("cms")
assert card.b_field == 3.8 and len(card.ip_d0_resolution) == 3, card
assert len(published_label_names()) == 188 and LABEL_NAMES == rule_label_names()
assert "jetclass2" in builtin_configs(), builtin_configs()
load_data_config("jetclass2")
from jetfm.study import builtin_plans, load_plan
assert "quickstart" in builtin_plans(), builtin_plans()
load_plan("quickstart")
print("ok", len(LABEL_NAMES), card.b_field)
"""


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    # build from a clean copy: no stale build/ folder can hide a missing file, and the
    # checkout is left untouched
    src = tmp_path_factory.mktemp("source")
    shutil.copytree(ROOT / "src", src / "src",
                    ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, src / name)
    # --no-build-isolation: build with the setuptools of this environment (no registry needed)
    proc = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps",
                           "--no-build-isolation", "-q", "-w", str(out), str(src)],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-3000:]
    wheels = list(out.glob("jetfm-*.whl"))
    assert len(wheels) == 1, wheels
    return wheels[0]


def test_wheel_lists_the_package_data(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    plans = ("quickstart-fast", "quickstart", "quickstart-full", "transfer-study", "ssl-study",
             "sophon-search")
    for data in ("jetfm/jetclass2_labels.txt", "jetfm/sim/cards/cms.yaml",
                 "jetfm/data/configs/jetclass2.yaml", *(f"jetfm/plans/{p}.yaml" for p in plans)):
        assert data in names, data


def test_unpacked_wheel_runs_with_no_repository_around(wheel, tmp_path):
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    empty = tmp_path / "empty"
    empty.mkdir()
    # the repository's own sources must not be importable: only the unpacked wheel
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["PYTHONPATH"] = str(site)
    proc = subprocess.run([sys.executable, "-c", CHECK, str(site)], cwd=empty, env=env,
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.startswith("ok 188 3.8")
