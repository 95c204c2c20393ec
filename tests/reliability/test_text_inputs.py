"""Binary or non-UTF-8 config files and path names: one line, nothing made."""
import os

import pytest

from jetfm.cli import main

from .conftest import one_error_line, pretrain_args


@pytest.mark.parametrize("option", ["--config", "--data-config"])
def test_a_binary_config_file_is_one_line(sim_jets, tmp_path, capsys, option):
    bad = tmp_path / "bad.yaml"
    bad.write_bytes(b"\xff\xfe\x00binary\x80")
    assert main(pretrain_args([sim_jets], tmp_path / "run", option, str(bad))) == 2
    one_error_line(capsys, str(bad), "not a UTF-8 text file")
    assert not (tmp_path / "run").exists()


def test_a_config_that_is_not_a_mapping_is_one_line(sim_jets, tmp_path, capsys):
    bad = tmp_path / "list.yaml"
    bad.write_text("- 1\n- 2\n")
    assert main(pretrain_args([sim_jets], tmp_path / "run", "--config", str(bad))) == 2
    one_error_line(capsys, "--config", "expected a mapping")


def test_a_non_utf8_path_is_refused_before_anything_is_made(tmp_path, capsys):
    out = os.fsdecode(os.fsencode(str(tmp_path)) + b"/o\xffx")
    assert main(["generate", "--sample", "qcd", "--jets", "10", "--pileup", "0",
                 "--no-progress", "--out", out]) == 2
    one_error_line(capsys, "--out", "not UTF-8")
    assert os.listdir(tmp_path) == []
