"""Shared pieces of the fault-injection suite: a tiny trained run, bit flips, read-only folders."""
from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import textwrap
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import torch

from jetfm.cli import main

torch.set_num_threads(1)


def pretrain_args(data, out, *extra):
    return ["pretrain", "--strategy", "supervised", "--data", *map(str, data), "--preset",
            "tiny", "--batch-size", "16", "--out", str(out), "--no-progress",
            "--val-every-steps", "4", "--checkpoint-every-steps", "4", *extra]


@pytest.fixture(scope="package")
def trained_run(sim_jets, tmp_path_factory):
    """A 4-step run trained from a working directory with *relative* data paths."""
    home = tmp_path_factory.mktemp("trained")
    shutil.copytree(sim_jets, home / "data")
    cwd = os.getcwd()
    os.chdir(home)
    try:
        assert main(pretrain_args(["data/qcd", "data/res2p"], "run", "--max-steps", "4")) == 0
    finally:
        os.chdir(cwd)
    return home / "run"


def flip_byte_in_column(path: Path, column: str) -> None:
    """Flip one byte in the middle of `column`'s first data page (row group 0)."""
    md = pq.ParquetFile(path).metadata
    idx = md.schema.to_arrow_schema().get_field_index(column)
    leaf = [i for i in range(md.num_columns)
            if md.row_group(0).column(i).path_in_schema.split(".")[0] == column][0]
    col = md.row_group(0).column(leaf)
    assert idx >= 0
    # the chunk starts with its dictionary page when it has one (pyarrow's default encoding);
    # aim at the middle of the data pages that follow, inside this column
    start = col.dictionary_page_offset if col.has_dictionary_page else col.data_page_offset
    end = start + col.total_compressed_size
    offset = (col.data_page_offset + end) // 2
    data = bytearray(path.read_bytes())
    data[offset] ^= 0xFF
    path.write_bytes(bytes(data))


@contextlib.contextmanager
def read_only(folder: Path):
    """Make `folder` unwritable for this process, also as root (immutable attribute)."""
    folder.mkdir(parents=True, exist_ok=True)
    if os.geteuid() != 0:
        folder.chmod(0o555)
        try:
            yield
        finally:
            folder.chmod(0o755)
        return
    if shutil.which("chattr") is None or subprocess.run(
            ["chattr", "+i", str(folder)], capture_output=True).returncode != 0:
        pytest.skip("running as root and cannot make a folder immutable (chattr)")
    try:
        yield
    finally:
        subprocess.run(["chattr", "-i", str(folder)], check=True)


def one_error_line(capsys, *needles: str) -> str:
    """The command printed exactly one line on stderr, containing every needle."""
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    for needle in needles:
        assert needle in err[0], (needle, err[0])
    return err[0]


def signalling_pretrain(sig: str, step: int) -> str:
    """A `python -c` script: `jetfm ARGS`, sending itself signal `sig` (e.g. "SIGKILL",
    "SIGTERM") at the end of optimizer step `step`."""
    return textwrap.dedent(f"""
        import os, signal, sys
        import lightning as L
        from jetfm.cli import main
        from jetfm.pretrain import trainer as T
        import jetfm.pretrain.run as R

        class Signal(L.Callback):
            def on_train_batch_end(self, trainer, *args):
                if trainer.global_step == {step}:
                    os.kill(os.getpid(), signal.{sig})

        build = T.build_trainer
        def with_signal(*a, **k):
            t = build(*a, **k)
            t.callbacks.append(Signal())
            return t
        R.build_trainer = with_signal
        sys.exit(main(sys.argv[1:]))
        """)
