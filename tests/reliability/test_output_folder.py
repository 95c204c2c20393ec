"""The one `--out` contract (jetfm.outdir.OutputFolder) every command's results folder follows."""
import os
import subprocess
import sys
import textwrap

import pytest

from jetfm.errors import ConfigError
from jetfm.outdir import OWNER_NAME, OutputFolder


def test_new_folder_is_made_claimed_and_reused_by_the_same_job(tmp_path):
    out = tmp_path / "a" / "b"
    with OutputFolder(out, "transfer", {"task": "qg"}):
        (out / "results.json").write_text("{}")
    assert (out / OWNER_NAME).is_file()
    with OutputFolder(out, "transfer", {"task": "qg"}):    # the same job again: fine
        pass


def test_user_files_another_command_and_another_job_are_refused(tmp_path):
    user = tmp_path / "user"
    user.mkdir()
    (user / "thesis.tex").write_text("mine")
    with pytest.raises(ConfigError, match="not written by jetfm transfer"):
        OutputFolder(user, "transfer").__enter__()
    assert (user / "thesis.tex").read_text() == "mine" and not (user / OWNER_NAME).exists()

    out = tmp_path / "out"
    with OutputFolder(out, "anomaly", {"x": 1}):
        pass
    with pytest.raises(ConfigError, match="results of jetfm anomaly"):
        OutputFolder(out, "transfer", {"x": 1}).__enter__()
    with pytest.raises(ConfigError, match=r"another jetfm anomaly job \(different x\)"):
        OutputFolder(out, "anomaly", {"x": 2}).__enter__()


def test_failed_job_takes_back_the_folder_it_made(tmp_path):
    out = tmp_path / "new" / "out"
    with pytest.raises(RuntimeError):
        with OutputFolder(out, "transfer"):
            raise RuntimeError("boom")
    assert not (tmp_path / "new").exists()


def test_a_second_live_writer_is_refused_with_the_holders_pid(tmp_path):
    out = tmp_path / "out"
    holder = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        import sys, time
        from jetfm.outdir import OutputFolder
        with OutputFolder({str(out)!r}, "transfer", {{"task": "qg"}}):
            print("held", flush=True)
            time.sleep(30)
        """)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(ConfigError, match=f"in use by another jetfm transfer run \\(PID {holder.pid}"):
            OutputFolder(out, "transfer", {"task": "qg"}).__enter__()
    finally:
        holder.kill()
        holder.wait()
    with OutputFolder(out, "transfer", {"task": "qg"}):     # a dead holder never blocks
        pass
