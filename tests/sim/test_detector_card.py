"""Detector cards: the packaged CMS card, user cards through `jetfm generate`, and bad cards."""
from __future__ import annotations

import hashlib
from importlib import resources

import awkward as ak
import numpy as np
import pytest
import yaml

from jetfm.cli import main
from jetfm.errors import ConfigError
from jetfm.sim.detector import ecal_sigma, ip_resolution, simulate_detector
from jetfm.sim.detector_card import config_from_card, default_detector, load_card

from .test_detector import make_gen


def _card() -> dict:
    return yaml.safe_load(resources.files("jetfm.sim").joinpath("cards", "cms.yaml").read_text())


def _write(tmp_path, card: dict, name="card.yaml"):
    path = tmp_path / name
    path.write_text(yaml.safe_dump(card))
    return path


def test_packaged_card_holds_the_delphes_cms_numbers():
    """Spot checks against the Delphes CMS card (docs/design.md), written out independently."""
    c = load_card("cms")
    assert c == default_detector()
    assert c.b_field == 3.8 and c.tracker_eta_max == 2.5
    assert c.hadron_track_eff == ((1.5, (0.1, 1.0), (0.70, 0.95)), (2.5, (0.1, 1.0), (0.60, 0.85)))
    # JetClass-II's TrackSmearing stores tracks with their unsmeared momentum
    assert all(row[1:] == (0.0, 0.0) for row in c.hadron_pt_res + c.electron_pt_res
               + c.muon_pt_res)
    assert (c.ecal_deta, c.ecal_dphi_deg, c.hcal_deta, c.hcal_dphi_deg) == (0.0174, 1.0, 0.087, 5.0)
    assert (c.ecal_constant, c.ecal_stochastic, c.ecal_noise) == (0.008, 0.11, 0.40)
    assert (c.hcal_constant, c.hcal_stochastic, c.ecal_e_min, c.hcal_e_min) == (0.05, 1.5, 0.5, 1.0)
    # TrackSmearing σ(d0), σ(dz) in mm: first and last bins of the central and forward regions
    d0, dz = ip_resolution(np.array([0.5, 0.5, 2.0]), np.array([0.2, 1e4, 0.2]),
                           c.ip_d0_resolution, c.ip_dz_resolution)
    assert list(d0) == [0.3543, 0.0110, 0.6970]
    assert list(dz[:2]) == [0.3693, 0.0318]
    assert [len(r[2]) for r in c.ip_d0_resolution] == [34, 34, 34]


def test_card_round_trips():
    c = default_detector()
    assert config_from_card(c.to_card()) == c
    assert config_from_card(yaml.safe_load(yaml.safe_dump(c.to_card()))) == c


@pytest.mark.parametrize("edit,key", [
    (lambda d: d.update(ecal_resolution=0.1), "ecal_resolution"),          # unknown key
    (lambda d: d.pop("hcal_stochastic"), "hcal_stochastic"),               # missing key
    (lambda d: d.update(b_field="3.8 T"), "b_field"),                      # wrong type
    (lambda d: d.update(ecal_noise=True), "ecal_noise"),                   # bool is no number
    (lambda d: d.update(em_pids=[11, 22.5]), "em_pids[1]"),
    (lambda d: d.update(ecal_endcap_shape=[2.16, 5.6]), "ecal_endcap_shape"),
    (lambda d: d.update(hcal_stochastic=-1.5), "hcal_stochastic"),         # negative resolution
    (lambda d: d.update(ecal_constant=float("nan")), "ecal_constant"),
    (lambda d: d.update(hcal_dphi_deg=7.0), "hcal_dphi_deg"),
    (lambda d: d.update(track_rescaling="magic"), "track_rescaling"),
    (lambda d: d["ip_d0_resolution"][1]["pt_edges"].reverse(), "ip_d0_resolution[1].pt_edges"),
    (lambda d: d["ip_dz_resolution"][0]["sigma_mm"].pop(), "ip_dz_resolution[0].sigma_mm"),
    (lambda d: d["ip_dz_resolution"][2].update(sigma_mm=[-0.1] * 34), "ip_dz_resolution[2].sigma_mm"),
    (lambda d: d["hadron_track_eff"][0].update(efficiency=[0.7, 1.2]), "hadron_track_eff[0].efficiency"),
    (lambda d: d["hadron_track_eff"][0].pop("pt_edges"), "hadron_track_eff[0].pt_edges"),
    (lambda d: d["muon_pt_res"].reverse(), "muon_pt_res.abseta_max"),
    (lambda d: d["electron_pt_res"][1].update(a=-0.05), "electron_pt_res[1]"),
])
def test_broken_card_names_the_key(tmp_path, edit, key):
    card = _card()
    edit(card)
    path = _write(tmp_path, card)
    with pytest.raises(ConfigError) as err:
        load_card(path)
    msg = str(err.value)
    assert key in msg and str(path) in msg and "\n" not in msg


@pytest.mark.parametrize("text", ["b_field: [3.8\n", "- 1\n- 2\n", ""])
def test_card_that_is_not_a_mapping(tmp_path, text):
    path = tmp_path / "card.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match="detector card"):
        load_card(path)


def test_generate_refuses_a_broken_card_before_making_anything(tmp_path, capsys):
    card = _card()
    card["hcal_stochastic"] = -1.5
    path = _write(tmp_path, card)
    out = tmp_path / "new" / "data"
    rc = main(["generate", "--sample", "qcd", "--jets", "5", "--out", str(out),
               "--detector-card", str(path), "--no-progress"])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1 and "hcal_stochastic" in err[0]
    assert not (tmp_path / "new").exists()
    rc = main(["generate", "--sample", "qcd", "--jets", "5", "--out", str(out),
               "--detector-card", str(tmp_path / "missing.yaml"), "--no-progress"])
    assert rc == 2 and "missing.yaml" in capsys.readouterr().err
    assert not (tmp_path / "new").exists()


def test_card_from_file_sets_the_calorimeter_resolution(tmp_path):
    """Single 100 GeV photons: the measured ECAL spread follows the card's constant term."""
    card = _card()
    card["ecal_constant"] = 0.10
    wide = load_card(_write(tmp_path, card))
    gen = make_gen(22, 100.0, 0.3)
    for cfg, c_term in ((default_detector(), 0.008), (wide, 0.10)):
        out = simulate_detector(gen, np.random.default_rng(4), cfg)
        e = out["e"][out["isPhoton"]]
        expected = ecal_sigma(np.array([100.0 * np.cosh(0.3)]), np.array([0.3]), cfg)[0]
        assert np.std(e) == pytest.approx(expected, rel=0.05)
        assert expected / (100 * np.cosh(0.3)) > 0.9 * c_term


def _generate(tmp_path, name, card=None):
    out = tmp_path / name
    args = ["generate", "--sample", "qcd", "--jets", "30", "--jets-per-file", "30",
            "--chunk-events", "20", "--seed", "2", "--out", str(out), "--no-progress"]
    assert main(args + (["--detector-card", str(card)] if card else [])) == 0
    return out


def _photon_response(folder):
    jets = ak.from_parquet(folder / "qcd_00000.parquet")
    reco = ak.sum(jets.part_energy * jets.part_isPhoton, axis=1).to_numpy()
    gen = ak.sum(jets.genpart_energy * (jets.genpart_pid == 22), axis=1).to_numpy()
    return reco[gen > 0] / gen[gen > 0]


def test_generate_with_a_user_card(tmp_path):
    """Same seed: an explicit copy of the built-in card gives the same bytes; a card with a
    worse calorimeter gives measurably different photon energies, and is recorded."""
    default = _generate(tmp_path, "default")
    copy = tmp_path / "copy.yaml"
    copy.write_text(resources.files("jetfm.sim").joinpath("cards", "cms.yaml").read_text())
    same = _generate(tmp_path, "same", copy)
    digest = [hashlib.sha256((f / "qcd_00000.parquet").read_bytes()).hexdigest()
              for f in (default, same)]
    assert digest[0] == digest[1]

    card = _card()
    card["ecal_constant"], card["hcal_constant"] = 0.3, 0.5
    worse = _generate(tmp_path, "worse", _write(tmp_path, card, "worse.yaml"))
    r_default, r_worse = _photon_response(default), _photon_response(worse)
    assert len(r_default) > 10 and len(r_worse) > 10
    assert np.std(r_worse) > 2 * np.std(r_default)
    recorded = yaml.safe_load((worse / "generate_config.yaml").read_text())
    assert recorded["detector_card"] == str((tmp_path / "worse.yaml").resolve())
    assert recorded["settings"]["detector"]["ecal_constant"] == 0.3
    assert config_from_card(recorded["settings"]["detector"]) == load_card(tmp_path / "worse.yaml")
    # a folder made with one card is not silently extended with another
    assert main(["generate", "--sample", "qcd", "--jets", "30", "--jets-per-file", "30",
                 "--chunk-events", "20", "--seed", "2", "--out", str(default),
                 "--detector-card", str(tmp_path / "worse.yaml"), "--no-progress"]) == 2
