"""`jetfm compare`: a sample against itself, against deliberately modified copies (the measures
move the right way), the matching, the sampling, the output files and the error lines."""
from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from jetfm.cli import main
from jetfm.compare import measure
from jetfm.compare.jets import Jets, feature_names
from jetfm.compare.measures import displaced, match, response
from jetfm.compare.read import read_side, side_files
from jetfm.errors import ConfigError, DataError


def _read(path, max_jets=10_000, seed=0) -> Jets:
    return read_side(*side_files(path, "reference"), "reference", max_jets, seed, False)[0]


def _rows(result) -> dict:
    return {(r["group"], r["name"]): r for r in result["measures"]}


def _rewrite(src: Path, dst: Path, change) -> Path:
    """Every Parquet file under `src` copied to `dst` after `change(columns)` (name -> Arrow
    array, edited in place), keeping the schema."""
    for f in sorted(src.rglob("*.parquet")):
        table = pq.read_table(f)
        cols = {n: table.column(n).combine_chunks() for n in table.column_names}
        change(cols)
        out = dst / f.relative_to(src)
        out.parent.mkdir(parents=True, exist_ok=True)
        arrays = [cols[n].cast(table.schema.field(n).type) for n in table.column_names]
        pq.write_table(pa.Table.from_arrays(arrays, schema=table.schema), out)
    return dst


def _values(col) -> np.ndarray:
    return col.flatten().to_numpy(zero_copy_only=False)


def _list(col, values) -> pa.Array:
    return pa.ListArray.from_arrays(col.offsets, pa.array(values))


def _scale_photons(cols, factor: float = 0.85) -> None:
    """Photon four-momenta scaled by `factor`; jet pT and energy follow their constituents."""
    photon = _values(cols["part_isPhoton"])
    scale = np.where(photon, factor, 1.0).astype(np.float32)
    jet = np.repeat(np.arange(len(cols["jet_pt"])), np.diff(cols["part_px"].offsets.to_numpy()))
    before = {}
    for c in ("part_px", "part_py", "part_pz", "part_energy"):
        v = _values(cols[c])
        before[c] = np.bincount(jet, v, minlength=len(cols["jet_pt"]))
        cols[c] = _list(cols[c], v * scale)
    after = {c: np.bincount(jet, _values(cols[c]), minlength=len(cols["jet_pt"]))
             for c in ("part_px", "part_py", "part_energy")}
    ratio = np.hypot(after["part_px"], after["part_py"]) / np.hypot(before["part_px"],
                                                                     before["part_py"])
    cols["jet_pt"] = pa.array(cols["jet_pt"].to_numpy() * ratio)
    cols["jet_energy"] = pa.array(cols["jet_energy"].to_numpy()
                                  - (before["part_energy"] - after["part_energy"]))


def _drop_soft(cols, keep: float = 0.6) -> None:
    """Only the leading `keep` share of each jet's constituents (they are sorted by pT)."""
    n = np.diff(cols["part_px"].offsets.to_numpy())
    kept = np.maximum(1, np.ceil(keep * n)).astype(np.int64)
    local = np.arange(n.sum()) - np.repeat(np.cumsum(n) - n, n)
    mask = local < np.repeat(kept, n)
    offsets = pa.array(np.concatenate([[0], np.cumsum(kept)]).astype(np.int32))
    for c in [c for c in cols if c.startswith("part_")]:
        cols[c] = pa.ListArray.from_arrays(offsets, pa.array(_values(cols[c])[mask]))
    cols["jet_nparticles"] = pa.array(kept.astype(np.int32))


@pytest.fixture(scope="module")
def sim(sim_jets) -> Jets:
    return _read(sim_jets)


def test_a_sample_compared_with_itself_agrees_everywhere(sim_jets, tmp_path, capsys):
    out = tmp_path / "self"
    assert main(["compare", str(sim_jets), str(sim_jets), "--out", str(out), "--no-progress",
                 "--bootstrap", "20"]) == 0
    printed = capsys.readouterr().out
    result = json.loads((out / "compare.json").read_text())
    m = result["matching"]
    assert m["reference_jets"] == m["matched"] == m["distinct_simulated"] == 200
    assert m["distance"]["max"] == 0.0 and "matched 200 of 200 reference jets" in printed
    ks = result["ks"]["statistic"]
    assert list(ks) == list(feature_names()) and len(ks) == 17
    assert all(d == 0.0 for d in ks.values())
    rows = _rows(result)
    share = rows[("energy share (mean over jets)", "photon")]
    assert share["reference"] == share["simulated"] and 0.1 < share["reference"][0] < 0.5
    assert all(r["reference"] == r["simulated"] and r["pull"] == 0.0 for r in rows.values())
    assert all(not t["only_reference"] and not t["only_simulated"]
               for t in result["truth_pids"].values())
    assert result["truth_pids"]["isResX"]["reference"]      # res2p jets carry an X
    assert "compare.html" in printed


def test_scaled_photon_energies_lower_the_photon_share_and_the_response(sim, tmp_path,
                                                                         sim_jets):
    scaled = _read(_rewrite(sim_jets, tmp_path / "scaled", _scale_photons))
    result, _ = measure(sim, scaled, max_distance=100, bootstrap=20)
    rows = _rows(result)
    share = rows[("energy share (mean over jets)", "photon")]
    expected = 0.85 * share["reference"][0] / (1 - 0.15 * share["reference"][0])
    assert share["simulated"][0] == pytest.approx(expected, rel=0.08)
    assert share["pull"] < -1.5
    charged = rows[("energy share (mean over jets)", "charged hadron")]
    assert charged["simulated"][0] > charged["reference"][0]
    resp = rows[("jet response pT/pT_gen", "median")]
    assert resp["simulated"][0] < resp["reference"][0] - 0.02
    ks = result["ks"]["statistic"]
    assert ks["part_e_scale_log"] > 0 and ks["part_isPhoton"] < ks["part_e_scale_log"]
    mult = rows[("multiplicity: all", "mean")]    # the same constituents, only softer
    assert mult["simulated"][0] == pytest.approx(mult["reference"][0], rel=0.15)


def test_dropped_constituents_lower_the_multiplicity(sim, tmp_path, sim_jets):
    dropped = _read(_rewrite(sim_jets, tmp_path / "dropped", _drop_soft))
    result, _ = measure(sim, dropped, max_distance=100, bootstrap=20)
    rows = _rows(result)
    mult = rows[("multiplicity: all", "mean")]
    assert mult["simulated"][0] < 0.7 * mult["reference"][0] and mult["pull"] < -3
    assert rows[("multiplicity: all", "median")]["pull"] < -2
    assert result["ks"]["statistic"]["part_logptrel"] > result["ks"]["d95_jets"]
    resp = rows[("jet response pT/pT_gen", "median")]   # jet pT was left as it was
    assert resp["simulated"][0] == pytest.approx(resp["reference"][0], abs=0.02)


def test_truth_conventions_name_the_pids_only_one_side_has(sim, tmp_path, sim_jets):
    def flip_x(cols):    # the resonance written with a pid of its own
        pid, x = _values(cols["aux_genpart_pid"]), _values(cols["aux_genpart_isResX"])
        cols["aux_genpart_pid"] = _list(cols["aux_genpart_pid"],
                                        np.where(x, -np.abs(pid) - 1000, pid))
    flipped = _read(_rewrite(sim_jets, tmp_path / "flipped", flip_x))
    result, _ = measure(sim, flipped, max_distance=100, bootstrap=0)
    x = result["truth_pids"]["isResX"]
    assert x["only_reference"] == sorted(int(p) for p in x["reference"])
    assert all(p < -1000 for p in x["only_simulated"])
    assert not result["truth_pids"]["isQcdParton"]["only_simulated"]
    assert _rows(result)[("truth: aux_genpart isResX", "per jet (mean)")]["pull"] == 0.0


def _jets(points) -> Jets:
    p = np.asarray(points, np.float64)
    return Jets({"pt": np.exp(p[:, 0]), "msd": p[:, 1] * np.exp(p[:, 0]), "eta": p[:, 2]})


def test_matching_finds_the_nearest_simulated_jets_and_leaves_out_the_far_ones():
    ref = _jets([[6.0, 0.1, 0.0], [7.0, 0.2, 1.0], [6.5, 0.15, 0.5]])
    sim = _jets([[7.01, 0.2, 1.0], [5.99, 0.1, 0.0], [6.0, 0.1, 0.03], [9.0, 0.9, 2.4]])
    rows, picked, rec = match(ref, sim, neighbours=1, max_distance=0.1)
    assert rows.tolist() == [0, 1] and picked.tolist() == [1, 0]   # jet 2 has no neighbour
    assert rec["matched"] == 2 and rec["matched_fraction"] == pytest.approx(2 / 3)
    assert rec["median_abs_difference"]["log_pt"] == pytest.approx(0.01, abs=1e-6)
    rows, picked, rec = match(ref, sim, neighbours=2, max_distance=10)
    assert picked[:2].tolist() == [1, 2] and rec["max_reuse"] >= 2
    with pytest.raises(ConfigError, match="--neighbours 5"):
        match(ref, sim, neighbours=5)
    with pytest.raises(DataError, match="no reference jet"):
        match(ref, _jets([[9.0, 0.9, 2.4]]), max_distance=0.1)


def test_the_sample_is_reproducible_and_drawn_from_every_file(sim_jets):
    files, rows = side_files(sim_jets, "reference")
    a, rec = read_side(files, rows, "reference", 30, seed=3, progress=False)
    b, _ = read_side(files, rows, "reference", 30, seed=3, progress=False)
    c, _ = read_side(files, rows, "reference", 30, seed=4, progress=False)
    assert len(a) == 30 and rec["jets_read"] == 30 and rec["jets_in_files"] == 200
    assert np.array_equal(a.jet["pt"], b.jet["pt"]) and not np.array_equal(a.jet["pt"],
                                                                           c.jet["pt"])
    assert len(a.values("features")) == a.lists["features"][1].sum()
    per_file = [set(_read(f).jet["pt"].tolist()) for f in files]
    assert sum(bool(s & set(a.jet["pt"].tolist())) for s in per_file) >= 4


def test_the_page_is_self_contained_and_the_json_reads_back(sim_jets, tmp_path):
    out = tmp_path / "page"
    assert main(["compare", str(sim_jets / "qcd"), str(sim_jets / "res2p"), "--out", str(out),
                 "--no-progress", "--bootstrap", "5", "--max-distance", "5"]) == 0
    html = (out / "compare.html").read_text()
    links = ["".join(m) for m in re.findall(
        r"""\b(?:src|href)\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>"']+))""", html, re.I)]
    assert links and all(u.startswith(("data:image/png;base64,", "#")) for u in links)
    assert "<link" not in html.lower() and "<iframe" not in html.lower()
    assert html.count("data:image/png;base64,") == 6 and "<script" not in html.lower()
    assert "@import" not in html and "url(" not in html
    result = json.loads((out / "compare.json").read_text())
    assert result["inputs"]["reference"]["jets_read"] == 100
    assert result["settings"]["max_distance"] == 5
    assert {"matching", "kinematics", "ks", "measures", "truth_pids"} <= set(result)
    # the same job again replaces its files; another job's settings are refused
    assert main(["compare", str(sim_jets / "qcd"), str(sim_jets / "res2p"), "--out", str(out),
                 "--no-progress", "--bootstrap", "5", "--max-distance", "5"]) == 0
    assert main(["compare", str(sim_jets / "qcd"), str(sim_jets / "res2p"), "--out", str(out),
                 "--no-progress", "--seed", "1"]) == 2


def _fails(argv, capsys, *needles) -> str:
    assert main(["compare", *argv, "--no-progress"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("jetfm compare: error:")
    for n in needles:
        assert n in err, err
    return err


def test_bad_input_is_one_line_and_writes_nothing(sim_jets, tmp_path, capsys):
    good = str(sim_jets / "qcd")
    out = tmp_path / "out"
    first = sorted((sim_jets / "qcd").glob("*.parquet"))[0]
    table = pq.read_table(first)
    no_genjet = tmp_path / "no_genjet.parquet"
    pq.write_table(table.drop_columns(["genjet_pt"]), no_genjet)
    _fails([good, str(no_genjet), "--out", str(out)], capsys, str(no_genjet), "'genjet_pt'")
    empty = tmp_path / "empty.parquet"
    pq.write_table(table.slice(0, 0), empty)
    _fails([str(empty), good, "--out", str(out)], capsys, "reference", "no jets")
    _fails([good, str(tmp_path / "nowhere"), "--out", str(out)], capsys, "simulated",
           "nowhere")
    _fails([good, good, "--out", str(out), "--neighbours", "0"], capsys, "--neighbours")
    _fails([good, good, "--out", str(out), "--max-jets", "0"], capsys, "--max-jets")
    _fails([str(sim_jets / "qcd"), str(sim_jets / "res2p"), "--out", str(out),
            "--max-distance", "1e-9"], capsys, "no reference jet", "--max-distance")
    assert not out.exists()
    user = tmp_path / "user"
    user.mkdir()
    (user / "notes.txt").write_text("mine")
    # refused before the measures (which would fail here on the matching)
    _fails([str(sim_jets / "qcd"), str(sim_jets / "res2p"), "--out", str(user),
            "--max-distance", "1e-9"], capsys, "not empty")
    assert [p.name for p in user.iterdir()] == ["notes.txt"]


def test_bench_fidelity_prints_the_shared_measures(sim_jets, capsys):
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
    try:
        import fidelity
    finally:
        sys.path.pop(0)
    assert fidelity.main([str(sim_jets)]) == 0
    text = capsys.readouterr().out
    for line in ("[qcd] 100 jets", "[res2p] 100 jets", "tracks |d0| > 10 mm",
                 "jet pT / genjet pT", "X pids", "QCD aux_genpart per jet", "[layout]"):
        assert line in text
    qcd = text[text.index("[qcd]"):text.index("[layout]")]
    shown = float(re.search(r"tracks \|d0\| > 10 mm\s+([\d.]+) %", qcd).group(1))
    assert shown == pytest.approx(100 * displaced(_read(sim_jets / "qcd"))[0], abs=0.006)
    median = float(re.search(r"jet pT / genjet pT\s+([\d.]+) \(", qcd).group(1))
    assert median == pytest.approx(np.median(response(_read(sim_jets / "qcd"))), rel=2e-3)
