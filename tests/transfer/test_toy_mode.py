"""A transfer mode is one registry entry; a task can be a YAML file of the built-in form."""
from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest
import yaml

from jetfm.errors import ConfigError
from jetfm.transfer import modes as M
from jetfm.transfer.run import TransferConfig, transfer
from jetfm.transfer.tasks import TASKS, get_task, load_task_file


class _NearestCentroid:
    """Cosine nearest class centroid, with one-hot 'probabilities'."""

    def __init__(self, centroids: np.ndarray):
        self.centroids = centroids

    def predict_proba(self, emb: np.ndarray) -> np.ndarray:
        unit = emb / np.maximum(np.linalg.norm(emb, axis=1, keepdims=True), 1e-12)
        return np.eye(len(self.centroids))[(unit @ self.centroids.T).argmax(1)]


def _fit_centroids(emb, y, train, val, seed):
    unit = emb / np.maximum(np.linalg.norm(emb, axis=1, keepdims=True), 1e-12)
    centroids = np.stack([unit[train][y[train] == k].mean(0) for k in range(int(y.max()) + 1)])
    return _NearestCentroid(centroids), 0, {"classes": len(centroids)}


def _random_cfg(sim_jets, out, mode="linear", task="res2p-qcd", **kw):
    return TransferConfig(backbone="random", task=task, mode=mode, data=(str(sim_jets),),
                          out=str(out), labels_per_class=(5,), seeds=1, preset="tiny", **kw)


def test_a_toy_embedding_mode_needs_only_its_entry(sim_jets, tmp_path, monkeypatch):
    toy = M.TransferMode("centroid", M.EMBEDDING, (M.RUN, M.RANDOM), fit=_fit_centroids)
    monkeypatch.setitem(M.MODES, toy.name, toy)     # registered for this test only
    res = transfer(_random_cfg(sim_jets, tmp_path / "toy", mode="centroid"), progress=False)
    saved = json.loads((tmp_path / "toy" / "results.json").read_text())
    assert saved["mode"] == "centroid" and saved["mode_kind"] == "embedding"
    assert saved["schedule"] is None and saved["representation"] == "cls"
    assert res["runs"][0]["classes"] == 2 and 0 <= res["runs"][0]["metrics"]["accuracy"] <= 1
    assert saved["baseline"] == "random-features"      # recorded, not guessed from names
    assert sum(saved["n_test_per_class"].values()) == saved["n_test"]
    assert list(saved["n_test_per_class"]) == saved["classes"]
    with pytest.raises(ConfigError, match="--backbone scratch goes with --mode scratch$"):
        replace(_random_cfg(sim_jets, tmp_path / "x", mode="centroid"),
                backbone="scratch").validate()


def test_a_mode_entry_is_checked_and_unknown_modes_are_one_line():
    with pytest.raises(ValueError, match="needs fit"):
        M.TransferMode("bad", M.EMBEDDING, (M.RUN,))
    with pytest.raises(ValueError, match="registered twice"):
        M.register(M.MODES["linear"])
    with pytest.raises(ConfigError, match="--mode 'nope': choose one of linear, frozen, knn"):
        M.get_mode("nope")


def _res2p_qcd_yaml() -> dict:
    return {"name": "my-res2p-qcd", "signal_class": 1,
            "classes": [{"name": "QCD", "labels": ["QCD_*"]},
                        {"name": "X->2 prongs", "labels": ["X_??", "X_tauhtau?"]}]}


def test_a_task_file_like_a_builtin_gives_the_same_test_set_and_classes(sim_jets, tmp_path):
    path = tmp_path / "task.yaml"
    path.write_text(yaml.safe_dump(_res2p_qcd_yaml()))
    task, builtin = get_task(str(path)), TASKS["res2p-qcd"]
    assert (task.classes, task.signal_class) == (builtin.classes, builtin.signal_class)
    from_file = transfer(_random_cfg(sim_jets, tmp_path / "file", task=str(path)), progress=False)
    from_table = transfer(_random_cfg(sim_jets, tmp_path / "table"), progress=False)
    assert from_file["task"] == "my-res2p-qcd"
    for key in ("classes", "n_test", "n_test_per_class", "n_val", "n_pool"):
        assert from_file[key] == from_table[key], key
    assert from_file["runs"][0]["metrics"] == from_table["runs"][0]["metrics"]


@pytest.mark.parametrize("change, needle", [
    (lambda d: d.update(colour="red"), r"colour: unknown key; known: name, description"),
    (lambda d: d.update(classes=d["classes"][:1]), r"classes: expected a list of at least two"),
    (lambda d: d["classes"][1].update(labels=["X_nope"]),
     r"classes\[1\].labels\[0\]: 'X_nope' matches no JetClass-II label"),
    (lambda d: d["classes"][0].update(cuts=[{"quantity": "m_Y", "lo": 1}]),
     r"classes\[0\].cuts\[0\].quantity: 'm_Y' is not known"),
    (lambda d: d["classes"][0].update(cuts=[{"quantity": "m_X", "lo": 5, "hi": 1}]),
     r"classes\[0\].cuts\[0\]: lo 5 must be below hi 1"),
    (lambda d: d["classes"][1].update(name="QCD"), r"classes\[1\].name: 'QCD' names two"),
    (lambda d: d.update(signal_class=2), r"signal_class: expected a class index in \[0, 2\)"),
])
def test_a_bad_task_file_is_one_line_naming_the_file_and_key(tmp_path, change, needle):
    doc = _res2p_qcd_yaml()
    change(doc)
    path = tmp_path / "task.yaml"
    path.write_text(yaml.safe_dump(doc))
    with pytest.raises(ConfigError, match=f"^--task {path}: {needle}") as err:
        load_task_file(path)
    assert "\n" not in str(err.value)


def test_a_file_named_like_a_builtin_task_is_never_silently_one_of_them(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "qg").write_text(yaml.safe_dump(_res2p_qcd_yaml()))
    with pytest.raises(ConfigError, match="write --task ./qg for the file"):
        get_task("qg")
    assert get_task("./qg").name == "my-res2p-qcd"
