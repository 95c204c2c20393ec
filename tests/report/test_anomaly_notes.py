"""The anomaly tables say what their '–' cells mean, as the transfer tables do for '-'."""
from __future__ import annotations

from jetfm.report.anomaly import cwola_table, iad_table


def _cwola(z, sic):
    sel = [{"efficiency": 1.0, "z": 2.0, "sic": 1.0}, {"efficiency": 0.01, "z": z, "sic": sic}]
    hunt = {"signal_region": [2592, 3028], "signal_events_in_sr": 57,
            "background_events_in_sr": 102, "selections": sel}
    return {"inputs": {"highlevel": {"hunts": [hunt]}}, "injected": 100, "n_data_events": 2000}


def test_cwola_dashes_are_explained_only_where_they_appear():
    _, rows, note = cwola_table(_cwola(None, None))
    assert rows[0][-1] == "– / –"      # no look-elsewhere record: no global-Z column
    assert "'–': Z: no sideband fit of the selected spectrum" in note
    assert "SIC: no background event of the signal region was selected" in note
    assert "'–'" not in cwola_table(_cwola(1.5, 0.8))[2]


def test_iad_dashes_are_explained():
    row = {"injected": 0, "max_sic_median": None, "max_sic_lo": None, "max_sic_hi": None}
    data = {"inputs": {"highlevel": {"injections": [row]}}, "signal_region": [2730, 3189]}
    _, rows, note = iad_table(data)
    assert rows == [["highlevel", "–"]]
    assert "'–': no run had a point with ε_B above that floor" in note


def test_cwola_table_flags_sculpting_and_states_the_trials():
    data = _cwola(2.5, 1.2)
    data["inputs"]["highlevel"]["hunts"][0]["selections"][1]["sculpting"] = 1.45
    data["inputs"]["highlevel"]["hunts"][0]["selections"][0]["sculpting"] = 1.0
    data["inputs"]["highlevel"]["look_elsewhere"] = {
        "tests": 65, "centres": 13, "efficiencies": 5, "expected_max_z_median": 2.4,
        "p_max_z_above_2": 0.78, "observed_max_z": 2.5, "global_z": 0.9}
    headers, rows, note = cwola_table(data)
    assert rows[0][4:] == ["2.00 / 1.00 · 1.00", "2.50 / 1.20 · 1.45 ⚠", "2.50 (0.90)"]
    assert headers[-1] == "max Z, local (global)"
    assert "⚠ above 1.2" in note and "65 tests (13 signal regions × 5 efficiencies)" in note
    data["inputs"]["highlevel"]["look_elsewhere"]["tests"] = "many"
    try:
        cwola_table(data)
    except ValueError as e:
        assert "look_elsewhere.tests" in str(e)
    else:
        raise AssertionError("a broken look_elsewhere record was shown")


def test_iad_table_flags_sculpting():
    row = {"injected": 100, "max_sic_median": 3.0, "max_sic_lo": 2.0, "max_sic_hi": 4.0,
           "sculpting": {"0.1": 1.05, "0.01": 1.6, "0.001": None}}
    data = {"inputs": {"embedding:sup": {"injections": [row]}}, "signal_region": [2730, 3189]}
    _, rows, note = iad_table(data)
    assert rows == [["embedding:sup", "3.00 [2.00, 4.00] ⚠ 1.60"]]
    assert "sculpts the background" in note
