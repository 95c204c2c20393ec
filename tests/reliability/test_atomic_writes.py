"""Atomic writes go through a temporary file made with O_EXCL under an unpredictable name:
a symlink planted where the old writer put its temp file (`.NAME.tmp-PID`) is never
followed, so `jetfm report --out` & co. cannot be made to overwrite another file."""
from __future__ import annotations

import os

from jetfm.io import TMP_MARK, atomic_path, write_json


def test_a_planted_symlink_is_not_followed(tmp_path):
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    os.chmod(victim, 0o600)
    target = tmp_path / "out" / "results.json"
    target.parent.mkdir()
    for pid in range(os.getpid() - 2, os.getpid() + 3):        # the old predictable names
        (target.parent / f".{target.name}{TMP_MARK}{pid}").symlink_to(victim)
    write_json(target, {"ok": 1})
    assert victim.read_text() == "precious" and (victim.stat().st_mode & 0o777) == 0o600
    assert target.read_text().strip().startswith("{") and not target.is_symlink()


def test_temporary_names_are_fresh_and_cleaned_up(tmp_path):
    seen = []
    for _ in range(2):
        with atomic_path(tmp_path / "a.txt") as tmp:
            seen.append(tmp)
            assert tmp.exists() and tmp.parent == tmp_path and tmp.name.startswith(".a.txt")
            tmp.write_text("x")
    assert seen[0] != seen[1]
    try:
        with atomic_path(tmp_path / "b.txt") as tmp:
            raise RuntimeError("writer failed")
    except RuntimeError:
        pass
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.txt"]
