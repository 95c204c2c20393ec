"""The by-file split trap: one file per sample trains on one sample and tests on another."""
import logging
from pathlib import Path

from jetfm.cli import build_parser
from jetfm.pretrain.run import _warn_missing_samples
from jetfm.sim.generate import GenerateConfig


def test_a_sample_in_one_split_only_is_named(caplog):
    one_file_each = {"train": [Path("d/qcd/0.parquet")], "val": [Path("d/res34p/0.parquet")],
                     "test": [Path("d/res2p/0.parquet")]}
    with caplog.at_level(logging.WARNING, logger="jetfm"):
        _warn_missing_samples(one_file_each)
    text = caplog.text
    assert "d/qcd: every file of this sample is in the train split, none in test/val" in text
    assert "d/res2p" in text and "never trains on it" in text


def test_samples_that_reach_every_split_are_quiet(caplog):
    splits = {s: [Path(f"d/{k}/{s}.parquet") for k in ("qcd", "res2p")]
              for s in ("train", "val", "test")}
    with caplog.at_level(logging.WARNING, logger="jetfm"):
        _warn_missing_samples(splits)
    assert caplog.text == ""


def test_the_default_file_size_gives_the_readmes_sample_enough_files():
    """`jetfm generate --jets 100000` (the README's example) must make >= 5 files."""
    args = build_parser().parse_args(["generate", "--sample", "qcd", "--jets", "100000",
                                      "--out", "x"])
    assert 100_000 / args.jets_per_file >= 5
    assert GenerateConfig(sample="qcd", jets=1, out="x").jets_per_file == args.jets_per_file
