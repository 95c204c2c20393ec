"""`jetfm transfer` and `jetfm evaluate` under faults: the one `--out` contract (outdir.py:
users' files, another job's results and a live writer refused before any work), a full disk
while writing (no results.json without its figures, no half-written folder, one line) and data
files without jets."""
from __future__ import annotations

import errno
import os
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from jetfm.cli import main
from jetfm.io import atomic_path
from jetfm.outdir import OWNER_NAME, OutputFolder

from .conftest import one_error_line

ENOSPC = "No space left on device"


def transfer_args(data, out, *extra):
    """The cheapest transfer job: a probe on frozen random features of a tiny backbone."""
    return ["transfer", "--backbone", "random", "--task", "res2p-qcd", "--mode", "linear",
            "--preset", "tiny", "--labels-per-class", "5", "--seeds", "1", "--no-progress",
            "--data", *map(str, data), "--out", str(out), *extra]


def no_work(what):
    def fail(*args, **kwargs):
        raise AssertionError(f"{what} started before the --out folder was checked")
    return fail


def listing(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


# --- transfer: the --out contract -----------------------------------------------------------

def test_transfer_refuses_a_users_folder_before_reading_any_jet(sim_jets, tmp_path, capsys,
                                                               monkeypatch):
    from jetfm.transfer import run as R
    mine = tmp_path / "analysis"
    mine.mkdir()
    (mine / "thesis.tex").write_text("mine")
    monkeypatch.setattr(R, "load_task_jets", no_work("reading the jets"))
    assert main(transfer_args([sim_jets], mine)) == 2
    one_error_line(capsys, f"--out {mine}", "not written by jetfm transfer", "thesis.tex")
    assert listing(mine) == {"thesis.tex": b"mine"}


def test_transfer_reruns_its_own_job_and_refuses_another_jobs_results(sim_jets, tmp_path,
                                                                     capsys):
    out = tmp_path / "probe"
    assert main(transfer_args([sim_jets], out)) == 0
    # the same job again (the data named in another order): fine, its results replaced
    assert main(transfer_args([sim_jets / "res2p", sim_jets / "qcd"], out)) == 0
    capsys.readouterr()
    kept = listing(out)
    # another job into its folder: refused, the first job's results kept
    assert main(transfer_args([sim_jets], out, "--seeds", "2")) == 2
    one_error_line(capsys, f"--out {out}", "another jetfm transfer job (different seeds)")
    assert listing(out) == kept
    # another command's results: refused
    other = tmp_path / "eval"
    with OutputFolder(other, "evaluate", {"run_dir": "/x"}):
        (other / "results.json").write_text("{}")
    assert main(transfer_args([sim_jets], other)) == 2
    one_error_line(capsys, "holds the results of jetfm evaluate")
    assert (other / "results.json").read_text() == "{}"


def test_a_second_transfer_into_a_busy_folder_is_refused_with_the_holders_pid(
        sim_jets, tmp_path, capsys, monkeypatch):
    """Two transfers into one --out used to both exit 0, one result lost."""
    from jetfm.transfer import run as R
    out = tmp_path / "busy"
    second = {}
    real = R.load_task_jets

    def meanwhile(*args, **kwargs):     # while the first job works, a second one starts
        if not second:
            second["started"] = True
            second["rc"] = main(transfer_args([sim_jets], out))
            second["err"] = capsys.readouterr().err
        return real(*args, **kwargs)
    monkeypatch.setattr(R, "load_task_jets", meanwhile)
    assert main(transfer_args([sim_jets], out)) == 0
    assert second["rc"] == 2
    err = second["err"].strip().splitlines()
    assert len(err) == 1 and f"in use by another jetfm transfer run (PID {os.getpid()}" in err[0]
    assert (out / "results.json").is_file()


# --- transfer: failures leave no folder -----------------------------------------------------

def test_transfer_on_a_full_disk_leaves_no_folder_and_says_which_file(sim_jets, tmp_path,
                                                                      capsys, monkeypatch):
    from jetfm.transfer import run as R

    def full_disk(path, obj):
        with atomic_path(path) as tmp:
            Path(tmp).write_text("{\"kind\": ")
            raise OSError(errno.ENOSPC, ENOSPC)
    monkeypatch.setattr(R, "write_json", full_disk)
    out = tmp_path / "new" / "probe"
    assert main(transfer_args([sim_jets], out)) == 1
    one_error_line(capsys, ENOSPC, str(out / "results.json"))
    assert not (tmp_path / "new").exists()


def test_a_data_file_without_jets_is_one_line_naming_it(sim_jets, tmp_path, capsys):
    src = sorted((sim_jets / "qcd").glob("*.parquet"))[0]
    empty = tmp_path / "empty.parquet"
    pq.write_table(pq.read_table(src).slice(0, 0), empty)
    out = tmp_path / "probe"
    assert main(transfer_args([sim_jets, empty], out)) == 2
    one_error_line(capsys, f"--data {empty}", "no jets")
    assert not out.exists()


# --- evaluate: the --out contract, a full disk while drawing --------------------------------

def evaluate_args(run, out, *extra):
    return ["evaluate", str(run), "--out", str(out), "--no-progress", *extra]


def test_evaluate_refuses_users_files_other_jobs_and_a_live_writer(trained_run, tmp_path,
                                                                   capsys, monkeypatch):
    from jetfm import evaluate_run as E
    from jetfm import pretrained
    mine = tmp_path / "analysis"
    mine.mkdir()
    (mine / "notes.txt").write_text("mine")
    with monkeypatch.context() as m:
        m.setattr(pretrained, "open_run", no_work("loading the model"))
        assert main(evaluate_args(trained_run, mine)) == 2
    one_error_line(capsys, f"--out {mine}", "not written by jetfm evaluate", "notes.txt")
    assert listing(mine) == {"notes.txt": b"mine"}

    out = tmp_path / "eval"
    second = {}
    real = E.predict

    def meanwhile(*args, **kwargs):
        if not second:
            second["started"] = True
            second["rc"] = main(evaluate_args(trained_run, out))
            second["err"] = capsys.readouterr().err
        return real(*args, **kwargs)
    with monkeypatch.context() as m:
        m.setattr(E, "predict", meanwhile)
        assert main(evaluate_args(trained_run, out)) == 0
    assert second["rc"] == 2
    assert f"in use by another jetfm evaluate run (PID {os.getpid()}" in second["err"]
    assert main(evaluate_args(trained_run, out)) == 0           # its own job again: fine
    capsys.readouterr()
    kept = listing(out)
    assert main(evaluate_args(trained_run, out, "--max-jets", "5")) == 2
    one_error_line(capsys, f"--out {out}", "another jetfm evaluate job (different max_jets)")
    assert listing(out) == kept


def test_evaluate_on_a_full_disk_leaves_no_results_without_figures(trained_run, tmp_path,
                                                                   capsys, monkeypatch):
    from jetfm.metrics import plots as P

    def full_disk(matrix, names, path, title=""):
        with atomic_path(path) as tmp:
            Path(tmp).write_bytes(b"\x89PNG")
            raise OSError(errno.ENOSPC, ENOSPC)
    out = tmp_path / "new" / "eval"
    with monkeypatch.context() as m:
        m.setattr(P, "plot_confusion", full_disk)
        assert main(evaluate_args(trained_run, out)) == 1
    one_error_line(capsys, ENOSPC, str(out / "confusion.png"))
    assert not (tmp_path / "new").exists()      # no figure, no results.json, no folder

    # a re-run of a finished job that fails while drawing keeps the finished results whole
    assert main(evaluate_args(trained_run, out)) == 0
    kept = listing(out)
    assert {"results.json", "confusion.png", OWNER_NAME} <= set(kept)
    with monkeypatch.context() as m:
        m.setattr(P, "plot_confusion", full_disk)
        assert main(evaluate_args(trained_run, out)) == 1
    assert listing(out) == kept


def test_a_folder_named_like_a_baseline_is_never_silently_the_baseline(tmp_path, monkeypatch):
    from jetfm.errors import ConfigError
    from jetfm.transfer.run import TransferConfig
    monkeypatch.chdir(tmp_path)
    (tmp_path / "random").mkdir()
    cfg = TransferConfig(backbone="random", task="tagging10", mode="linear", data=("d",),
                         out="o")
    with pytest.raises(ConfigError, match=r"--backbone ./random for the run"):
        cfg.validate()
