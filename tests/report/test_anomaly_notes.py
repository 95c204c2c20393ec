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
    assert rows[0][-1] == "– / –"
    assert "'–': Z: no sideband fit of the selected spectrum" in note
    assert "SIC: no background event of the signal region was selected" in note
    assert "'–'" not in cwola_table(_cwola(1.5, 0.8))[2]


def test_iad_dashes_are_explained():
    row = {"injected": 0, "max_sic_median": None, "max_sic_lo": None, "max_sic_hi": None}
    data = {"inputs": {"highlevel": {"injections": [row]}}, "signal_region": [2730, 3189]}
    _, rows, note = iad_table(data)
    assert rows == [["highlevel", "–"]]
    assert "'–': no run had a point with ε_B above that floor" in note
