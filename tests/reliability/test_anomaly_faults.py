"""`jetfm anomaly ...` under faults (issue 24, "nothing lost, nothing silent"): colliding input
labels, out-of-range options, weighted or empty input files, binary count files, diverging
fits, the one --out contract and a disk that fills while the figures are written. Each test
failed on the code before its fix."""
from __future__ import annotations

import errno
import json
import shutil
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from jetfm.anomaly.autoencoder import AutoencoderConfig
from jetfm.anomaly.bumpfit import Spectrum, bump_hunt, log_bins
from jetfm.cli import main
from jetfm.errors import ConfigError, DataError

from ..anomaly.toys import write_dijet_parquet
from .conftest import one_error_line


@pytest.fixture(scope="module")
def dijets(tmp_path_factory):
    """Synthetic dijet files (high-level columns only): data, a narrow signal, a pT-hat-weighted
    signal and a file without rows."""
    root = tmp_path_factory.mktemp("dijets")
    for name in ("data", "signal", "weighted", "empty"):
        (root / name).mkdir()
    write_dijet_parquet(root / "data" / "qcd.parquet", 3000, seed=1)
    write_dijet_parquet(root / "signal" / "wp.parquet", 300, seed=2, lo=2800, hi=3200)
    write_dijet_parquet(root / "weighted" / "wp.parquet", 300, seed=3, lo=2800, hi=3200,
                        weight=2.5)
    write_dijet_parquet(root / "empty" / "none.parquet", 0)
    return root


def cwola(data, out, *extra):
    return ["anomaly", "cwola", "--data", *map(str, data), "--bins", "2001", "4350", "15",
            "--centre", "3000", "--folds", "3", "--max-iter", "5", "--efficiencies", "1",
            "--no-progress", "--out", str(out), *extra]


def iad(background, signal, out, *extra):
    return ["anomaly", "iad", "--background", *map(str, background), "--signal",
            *map(str, signal), "--signal-region", "2700", "3200", "--inject", "0", "--runs", "1",
            "--models", "1", "--max-iter", "5", "--no-progress", "--out", str(out), *extra]


def autoencoder(background, signal, out, *extra):
    return ["anomaly", "autoencoder", "--background", *map(str, background), "--signal",
            *[f"s={p}" for p in signal], "--max-jets", "300", "--no-progress", "--out", str(out),
            *extra]


# --- 1. two input sets whose run folders share a name ---------------------------------------

def test_two_runs_of_one_name_stay_two_entries(trained_run, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("JETFM_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.chdir(tmp_path)
    for parent in ("runs", "other"):
        shutil.copytree(trained_run, tmp_path / parent / "sup")
    data = trained_run.parent / "data"
    argv = ["anomaly", "autoencoder", "--background", str(data / "qcd"), "--signal",
            f"res2p={data / 'res2p'}", "--inputs", "embedding:runs/sup", "embedding:other/sup",
            "--hidden", "8", "4", "8", "--out", "ae", "--no-progress"]
    assert main(argv) == 0, capsys.readouterr().err
    res = json.loads((tmp_path / "ae" / "results.json").read_text())
    assert set(res["inputs"]) == {"embedding:runs/sup", "embedding:other/sup"}
    assert len(list((tmp_path / "ae").glob("roc_*.png"))) == 2
    assert "embedding:runs/sup" in capsys.readouterr().out


# --- 2. --max-jets below 1 --------------------------------------------------------------------

@pytest.mark.parametrize("value", [-5, 0])
def test_max_jets_below_one_is_refused_by_the_run_too(dijets, tmp_path, capsys, value):
    from jetfm.anomaly.run import run_autoencoder
    out = tmp_path / "ae"
    with pytest.raises(ConfigError, match=f"--max-jets must be >= 1, got {value}"):
        run_autoencoder([dijets / "data"], {"s": [dijets / "signal"]}, ["highlevel"], out,
                        AutoencoderConfig(), max_jets=value, progress=False)
    assert not out.exists()
    assert main(autoencoder([dijets / "data"], [dijets / "signal"], out)[:-2] +
                ["--max-jets", str(value), "--out", str(out)]) == 2
    one_error_line(capsys, "--max-jets must be >= 1")
    assert not out.exists()


# --- 3. a pT-hat-weighted --signal -----------------------------------------------------------

@pytest.mark.parametrize("command", ["cwola", "iad"])
def test_weighted_signal_is_refused(dijets, tmp_path, capsys, command):
    out = tmp_path / "out"
    argv = (cwola([dijets / "data"], out, "--signal", str(dijets / "weighted"), "--inject", "20")
            if command == "cwola" else iad([dijets / "data"], [dijets / "weighted"], out))
    assert main(argv) == 2
    one_error_line(capsys, "--signal", "weighted", "event_weight != 1")
    assert not out.exists()


# --- 4. input files without rows ------------------------------------------------------------

@pytest.mark.parametrize("case", ["cwola-data-among-others", "cwola-signal", "iad-background",
                                  "iad-signal", "autoencoder-background", "autoencoder-signal"])
def test_an_input_file_without_rows_is_refused_by_name(dijets, tmp_path, capsys, case):
    out = tmp_path / "out"
    data, sig, empty = dijets / "data", dijets / "signal", dijets / "empty"
    argv = {"cwola-data-among-others": cwola([data, empty], out),
            "cwola-signal": cwola([data], out, "--signal", str(empty)),
            "iad-background": iad([empty], [sig], out),
            "iad-signal": iad([data], [empty], out),
            "autoencoder-background": autoencoder([empty], [sig], out),
            "autoencoder-signal": autoencoder([data], [empty], out)}[case]
    assert main(argv) == 2
    one_error_line(capsys, "none.parquet", "no jets")
    assert not out.exists()


# --- 5. --counts that is not text; --sqrt-s that is no energy ------------------------------------

def test_binary_counts_file_is_one_line(tmp_path, capsys):
    counts = tmp_path / "counts.bin"
    counts.write_bytes(bytes(range(256)) * 8)
    assert main(["anomaly", "fit", "--counts", str(counts)]) == 2
    one_error_line(capsys, "counts.bin", "not a text file")


def _counts_file(path, counts):
    e = log_bins(2001.0, 4350.0, len(counts))
    path.write_text("".join(f"{a:.6f} {b:.6f} {n:.0f}\n" for a, b, n in zip(e[:-1], e[1:], counts)))
    return path


def test_sqrt_s_must_be_a_finite_positive_energy(dijets, tmp_path, capsys):
    counts = _counts_file(tmp_path / "counts.txt",
                          np.round(1e4 * (log_bins()[:-1] / 2001.0) ** -8))
    for value in ("inf", "nan", "0", "-5"):
        assert main(["anomaly", "fit", "--counts", str(counts), f"--sqrt-s={value}"]) == 2
        one_error_line(capsys, f"--sqrt-s {value}")
        out = tmp_path / "cw"
        assert main(cwola([dijets / "data"], out, f"--sqrt-s={value}")) == 2
        one_error_line(capsys, f"--sqrt-s {value}")
        assert not out.exists()


# --- 6. a bump fit that diverges ------------------------------------------------------------------

DIVERGING = [3.73e6, 16, 1.46e7, 1.29e6, 4.8e5, 28, 7.65e6, 3, 3, 4.24e7, 3.35e7, 2.01e7,
             1.48e4, 149, 0]      # ln p1 runs to ~1200: p1 overflows a float


def test_a_diverging_fit_is_one_line(tmp_path, capsys):
    counts = _counts_file(tmp_path / "counts.txt", DIVERGING)
    assert main(["anomaly", "fit", "--counts", str(counts)]) == 2
    one_error_line(capsys, "background fit failed", "diverged")
    sr = np.zeros(15, bool)
    sr[6:9] = True
    with pytest.raises(DataError, match="background fit failed"):
        bump_hunt(Spectrum(log_bins(), np.asarray(DIVERGING)), sr)


# --- 7. the one --out contract ------------------------------------------------------------------

@pytest.mark.parametrize("command", ["cwola", "iad", "autoencoder"])
def test_a_folder_with_a_users_files_is_refused(dijets, tmp_path, capsys, command):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "thesis.tex").write_text("mine")
    argv = {"cwola": cwola([dijets / "data"], out),
            "iad": iad([dijets / "data"], [dijets / "signal"], out),
            "autoencoder": autoencoder([dijets / "data"], [dijets / "signal"], out)}[command]
    assert main(argv) == 2
    one_error_line(capsys, str(out), f"not written by jetfm anomaly {command}")
    assert [p.name for p in out.iterdir()] == ["thesis.tex"]
    assert (out / "thesis.tex").read_text() == "mine"


def test_another_jobs_results_are_refused_and_kept(dijets, tmp_path, capsys):
    out = tmp_path / "cw"
    assert main(cwola([dijets / "data"], out)) == 0
    assert main(cwola([dijets / "data"], out)) == 0          # the same job again: fine
    before = (out / "results.json").read_bytes()
    capsys.readouterr()
    assert main(cwola([dijets / "data"], out, "--seed", "2")) == 2
    one_error_line(capsys, "another jetfm anomaly cwola job", "different seed")
    assert (out / "results.json").read_bytes() == before


def test_a_second_live_run_is_refused_with_the_holders_pid(dijets, tmp_path, capsys):
    out = tmp_path / "cw"
    argv = cwola([dijets / "data"], out)
    holder = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        import sys, time
        import jetfm.anomaly.run as R
        def slow(*a, **k):
            print("held", flush=True)
            time.sleep(60)
        R.cwola_hunt = slow
        from jetfm.cli import main
        sys.exit(main({argv!r}))
        """)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        assert main(argv) == 2
        one_error_line(capsys, "in use by another jetfm anomaly cwola run", f"PID {holder.pid}")
    finally:
        holder.kill()
        holder.wait()
    assert not (out / "results.json").exists()


# --- 8. the disk fills while the figures are written ----------------------------------------------

def _no_space(*args, **kwargs):
    raise OSError(errno.ENOSPC, "No space left on device")


@pytest.mark.parametrize("command, figure", [("cwola", "plot_spectra"), ("iad", "plot_max_sic")])
def test_a_failed_figure_leaves_no_results(dijets, tmp_path, monkeypatch, capsys, command,
                                           figure):
    import jetfm.anomaly.plots as plots
    out = tmp_path / "new" / "out"
    argv = (cwola([dijets / "data"], out) if command == "cwola" else
            iad([dijets / "data"], [dijets / "signal"], out))
    assert main(argv) == 0                       # a finished run, then its re-run fails
    assert (out / "results.json").is_file()
    capsys.readouterr()
    monkeypatch.setattr(plots, figure, _no_space)
    assert main(argv) != 0
    one_error_line(capsys, "No space left on device")
    assert not (out / "results.json").exists()
    assert not list(out.glob("*.png")) and not list(out.glob("*.yaml"))
    shutil.rmtree(tmp_path / "new")
    assert main(argv) != 0                       # in a folder it made: taken back
    one_error_line(capsys, "No space left on device")
    assert not (tmp_path / "new").exists()
