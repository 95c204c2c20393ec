"""`jetfm generate` under faults: concurrent runs, mixed settings, damaged caches and files,
impossible output folders, killed parents. Each test failed on the code before its fix."""
from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from jetfm.cli import main
from jetfm.sim.pythia_run import mpi_init_file

from .conftest import flip_byte_in_column, one_error_line, read_only


def gen_args(out, *extra, sample="qcd", jets=10, seed=3):
    return ["generate", "--sample", sample, "--jets", str(jets), "--jets-per-file", "10",
            "--chunk-events", "20", "--seed", str(seed), "--out", str(out), "--no-progress",
            *extra]


def digests(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.glob("*.parquet"))}


@pytest.fixture(scope="module")
def qcd_folder(tmp_path_factory):
    out = tmp_path_factory.mktemp("gen") / "qcd"
    assert main(gen_args(out)) == 0
    return out


# --- 1. two runs into one folder -------------------------------------------------------------

def test_a_second_run_into_a_busy_folder_is_refused(qcd_folder, tmp_path, capsys):
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time; from jetfm.io import FolderLock; "
         "lock = FolderLock(sys.argv[1], 'jetfm generate').acquire(); print('locked', flush=True); "
         "time.sleep(60)", str(qcd_folder)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        before = digests(qcd_folder)
        rc = main(gen_args(qcd_folder, seed=9))
        line = one_error_line(capsys, "in use by another jetfm generate run", f"PID {holder.pid}")
        assert rc == 2 and str(qcd_folder) in line
        assert digests(qcd_folder) == before
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    # the holder died without cleaning up: its stale lock file no longer blocks anyone
    assert (qcd_folder / ".jetfm.lock").exists()
    assert main(gen_args(qcd_folder)) == 0


# --- 2. another sample into the same folder ----------------------------------------------------

def test_another_sample_into_the_folder_is_refused_naming_the_setting(qcd_folder, capsys):
    record = (qcd_folder / "generate_config.yaml").read_text()
    assert main(gen_args(qcd_folder, sample="res2p")) == 2
    one_error_line(capsys, "sample: qcd (folder) vs res2p (this run)")
    assert (qcd_folder / "generate_config.yaml").read_text() == record
    assert not list(qcd_folder.glob("res2p_*"))


# --- 3. the MPI initialisation cache -----------------------------------------------------------

def test_a_damaged_mpi_cache_cannot_change_the_jets(qcd_folder, tmp_path):
    cache = mpi_init_file()
    assert not cache.is_relative_to(qcd_folder) and not list(qcd_folder.glob(".mpi*"))
    good = cache.read_bytes()
    reference = digests(qcd_folder)
    for i, damage in enumerate((b"", good[: len(good) // 2], good + b"\n0 0 0\n")):
        cache.write_bytes(damage)
        out = tmp_path / f"again{i}"
        assert main(gen_args(out)) == 0
        assert digests(out) == reference, f"damage {i} changed the output"
        assert cache.read_bytes() == good, "the cache was rebuilt with the same bytes"


# --- 4. a flipped bit in a finished file -------------------------------------------------------

def test_resume_verifies_the_files_it_skips(qcd_folder, tmp_path, capsys):
    out = tmp_path / "flip"
    assert main(gen_args(out, jets=20)) == 0
    reference = digests(out)
    flip_byte_in_column(out / "qcd_00001.parquet", "part_px")
    capsys.readouterr()
    assert main(gen_args(out, jets=20)) == 0
    err = capsys.readouterr().err
    assert "qcd_00001.parquet is damaged" in err and "regenerating" in err
    assert digests(out) == reference


# --- tracebacks that are now one line ----------------------------------------------------------

@pytest.mark.parametrize("where", ["file", "file/sub"])
def test_out_that_cannot_be_a_folder(tmp_path, capsys, where):
    (tmp_path / "file").write_text("notes")
    assert main(gen_args(tmp_path / where)) == 2
    one_error_line(capsys, "--out", "file")
    assert (tmp_path / "file").read_text() == "notes"


def test_out_inside_a_read_only_folder(tmp_path, capsys):
    with read_only(tmp_path / "ro"):
        assert main(gen_args(tmp_path / "ro" / "data")) == 2
        one_error_line(capsys, "not writable")
    assert not (tmp_path / "ro" / "data").exists()


def test_a_finished_read_only_folder_is_left_untouched(qcd_folder, capsys):
    before = {p.name: p.stat().st_mtime_ns for p in qcd_folder.iterdir()}
    with read_only(qcd_folder):
        assert main(gen_args(qcd_folder)) == 0
        assert "files skipped (done)  1" in capsys.readouterr().out
    assert {p.name: p.stat().st_mtime_ns for p in qcd_folder.iterdir()} == before


# --- processes ---------------------------------------------------------------------------------

def _children(pid: int) -> list[int]:
    out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout
    return [int(x) for x in out.split()]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    return not (stat.exists() and stat.read_text().split()[2] == "Z")


@pytest.mark.skipif(sys.platform != "linux", reason="uses /proc and pgrep")
def test_workers_die_with_a_killed_parent(tmp_path):
    proc = subprocess.Popen([sys.executable, "-m", "jetfm.cli",
                             *gen_args(tmp_path / "w", "--workers", "2", jets=400)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 60
    workers: list[int] = []
    while time.time() < deadline and len(workers) < 2:
        # the pool's spawn children are grandchildren of nothing else: find them by parent
        workers = [c for c in _children(proc.pid)
                   if "spawn_main" in Path(f"/proc/{c}/cmdline").read_text(errors="ignore")]
        time.sleep(0.2)
    assert len(workers) == 2, "the pool did not start"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    deadline = time.time() + 20
    while time.time() < deadline and any(_alive(w) for w in workers):
        time.sleep(0.2)
    alive = [w for w in workers if _alive(w)]
    for w in alive:
        os.kill(w, signal.SIGKILL)
    assert not alive, "workers outlived their killed parent"


def test_two_workers_keep_their_look_ahead_across_files(tmp_path, monkeypatch):
    """Small files: chunks run ahead for the next files instead of being thrown away."""
    from jetfm.sim import schedule
    calls, current = [], [0]
    submit, result = schedule.ChunkScheduler._submit, schedule.ChunkScheduler.result

    def counting_submit(self, pos):
        calls.append((pos, self.submitted[pos], current[0]))
        return submit(self, pos)

    def tracking_result(self, pos, chunk, written):
        current[0] = pos
        return result(self, pos, chunk, written)
    monkeypatch.setattr(schedule.ChunkScheduler, "_submit", counting_submit)
    monkeypatch.setattr(schedule.ChunkScheduler, "result", tracking_result)
    assert main(gen_args(tmp_path / "la", "--workers", "2", "--jets-per-file", "3",
                         jets=18)) == 0
    n_files = 6
    wasted = len(calls) - n_files
    # each file needs one chunk (a 20-event chunk gives > 3 jets); before: 2 * workers per file
    assert wasted <= 2 * 2, f"{len(calls)} chunks submitted for {n_files} one-chunk files"
    ahead = [c for c in calls if c[0] > c[2]]
    assert len(ahead) >= n_files - 2, "the next files' chunks were not started ahead"
    record = yaml.safe_load((tmp_path / "la" / "generate_config.yaml").read_text())
    assert Path(record["out"]).is_absolute()


def test_a_selection_nothing_passes_stops_with_one_line(tmp_path, capsys, monkeypatch):
    """--jet-pt-min 20000 used to run forever; now it stops after a bounded number of events
    without a jet, says so, and leaves no folder (or lock) behind."""
    import jetfm.sim.generate as G
    monkeypatch.setattr(G, "MAX_EVENTS_WITHOUT_JETS", 60)
    out = tmp_path / "never"
    assert main(gen_args(out, "--jet-pt-min", "20000")) == 2
    err = one_error_line(capsys)
    assert "no jet passed the selection in 60 events" in err and "--jet-pt-min 20000" in err
    assert not out.exists()
