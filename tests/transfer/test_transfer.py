"""`jetfm transfer`: tasks, the label sweep, every mode, frozen means frozen, LoRA gradients."""
from __future__ import annotations

import json

import awkward as ak
import numpy as np
import pytest
import torch

from jetfm.cli import main
from jetfm.errors import ConfigError
from jetfm.labels import LABEL_NAMES
from jetfm.models.presets import build_model
from jetfm.transfer import modes as M
from jetfm.transfer.data import compute_embeddings, draw_per_class, load_task_jets, split
from jetfm.transfer.run import TransferConfig, transfer
from jetfm.transfer.tasks import TASKS, ClassDef, Cut, Task, _label_mask, assign_classes


@pytest.fixture(scope="module")
def backbone_run(sim_jets, tmp_path_factory):
    out = tmp_path_factory.mktemp("tr") / "sup"
    assert main(["pretrain", "--strategy", "supervised", "--data", str(sim_jets), "--preset",
                 "tiny", "--max-steps", "4", "--batch-size", "16", "--out", str(out),
                 "--no-progress"]) == 0
    return out


def _cfg(backbone_run, sim_jets, tmp_path, mode, **kw):
    base = dict(backbone=str(backbone_run), task="res2p-qcd", mode=mode, data=(str(sim_jets),),
                out=str(tmp_path / mode), labels_per_class=(5, 10), seeds=2, steps=3,
                batch_size=8)
    base.update(kw)
    return TransferConfig(**base)


@pytest.mark.parametrize("mode", M.MODES)
def test_every_mode_trains_and_scores_the_same_test_set(backbone_run, sim_jets, tmp_path, mode):
    kw = {"backbone": "scratch", "preset": "tiny"} if mode == "scratch" else {}
    res = transfer(_cfg(backbone_run, sim_jets, tmp_path, mode, **kw), progress=False)
    saved = json.loads((tmp_path / mode / "results.json").read_text())
    assert saved["kind"] == "jetfm.transfer" and saved["mode"] == mode
    assert [(r["labels_per_class"], r["seed"]) for r in res["runs"]] == [(5, 0), (5, 1), (10, 0), (10, 1)]
    assert all(r["n_train"] == 2 * r["labels_per_class"] for r in res["runs"])
    for r in res["runs"]:
        assert 0 <= r["metrics"]["accuracy"] <= 1 and r["roc"]["fpr"][-1] == 1.0
    assert res["test_seed"] == 12345 and res["n_test"] > 20
    assert [s["labels_per_class"] for s in res["summary"]] == [5, 10]
    d = build_model("tiny").config.embed_dims[-1]
    expected_params = {"knn": 0, "linear": d + 1}.get(mode)     # binary: one logit
    if expected_params is not None:
        assert res["trainable_parameters"] == expected_params
    assert res["trainable_parameters"] >= 0 and res["strategy"] in ("supervised", "scratch")


def test_random_features_baseline_has_one_initialisation_per_seed(backbone_run, sim_jets,
                                                                    tmp_path, monkeypatch):
    from jetfm.transfer import run as R
    inits = []
    real = R._random_embeddings

    def spy(cfg, data_cfg, jets, seed, progress):
        emb = real(cfg, data_cfg, jets, seed, progress)
        inits.append((seed, emb))
        return emb
    monkeypatch.setattr(R, "_random_embeddings", spy)
    res = transfer(_cfg(backbone_run, sim_jets, tmp_path, "linear", backbone="random",
                        preset="tiny"), progress=False)
    assert res["strategy"] == "random" and res["backbone"] == "random"
    assert len(res["runs"]) == 4 and [s for s, _ in inits] == [0, 1]   # computed once per seed
    assert not np.allclose(inits[0][1], inits[1][1])                  # different initialisations
    again = real(_cfg(backbone_run, sim_jets, tmp_path, "linear", backbone="random",
                      preset="tiny"), R.load_data_config("jetclass2"),
                 load_task_jets([str(sim_jets)], TASKS["res2p-qcd"],
                                R.load_data_config("jetclass2"), None, False)[0], 0, False)
    assert np.array_equal(again, inits[0][1])                         # seed fixes the init
    with pytest.raises(ConfigError, match="--backbone random .* goes with --mode linear"):
        _cfg(backbone_run, sim_jets, tmp_path, "finetune", backbone="random").validate()


def test_label_sweep_draws_exactly_n_per_class_with_a_fixed_seed():
    labels = np.repeat([0, 1, 2], [50, 30, 40])
    parts = split(labels, test_seed=7)
    assert set(parts.test) | set(parts.val) | set(parts.pool) == set(range(120))
    assert not set(parts.test) & set(parts.pool) and not set(parts.val) & set(parts.pool)
    again = split(labels, test_seed=7)
    assert np.array_equal(parts.test, again.test)             # the test set is fixed by its seed
    a = draw_per_class(labels, parts.pool, 10, seed=1)
    assert np.bincount(labels[a]).tolist() == [10, 10, 10] and set(a) <= set(parts.pool)
    assert np.array_equal(a, draw_per_class(labels, parts.pool, 10, seed=1))
    assert not np.array_equal(a, draw_per_class(labels, parts.pool, 10, seed=2))
    assert draw_per_class(labels, parts.pool, 25, seed=1) is None      # class 1 has < 25
    assert np.array_equal(draw_per_class(labels, parts.pool, None, 0), parts.pool)


def test_knn_beats_chance_on_a_separable_toy():
    rng = np.random.default_rng(0)
    y = np.repeat([0, 1, 2], 60)
    centres = np.eye(3, 16) * 5
    emb = centres[y] + rng.normal(size=(180, 16))
    train, val, test = np.arange(0, 180, 3), np.arange(1, 180, 3), np.arange(2, 180, 3)
    clf, n_params, extra = M.fit_on_embeddings("knn", emb, y, train, val, seed=0)
    assert n_params == 0 and extra["k"] > 10
    assert (clf.predict(emb[test]) == y[test]).mean() > 0.9


def _toy_batch(n=6, p=5, d=7):
    torch.manual_seed(0)
    x = torch.randn(n, d, p)
    v = torch.rand(n, 4, p) * 10 + 1
    v[:, 3] = v[:, :3].norm(dim=1) + 1
    return {"x": x, "v": v, "mask": torch.ones(n, 1, p, dtype=torch.bool),
            "label": torch.arange(n) % 2}


def test_frozen_backbone_stays_bit_identical_during_a_frozen_warm_up():
    # BatchNorm running statistics move in train mode even without gradients: frozen must
    # also mean eval mode
    backbone = build_model("tiny", input_dim=7)
    before = {k: v.clone() for k, v in backbone.state_dict().items()}
    module = M.TransferModule(backbone, 2, "finetune", warmup_steps=100)
    opt = module.configure_optimizers()
    for step in range(3):
        module.on_train_batch_start(None, step)
        loss = module.training_step(_toy_batch(), step)
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert all(torch.equal(before[k], v) for k, v in backbone.state_dict().items())
    assert not backbone.training and not any(p.requires_grad for p in backbone.parameters())


def test_embeddings_leave_the_backbone_untouched(sim_jets):
    from jetfm.data.config import load_data_config
    cfg = load_data_config("jetclass2")
    jets, _ = load_task_jets([str(sim_jets)], TASKS["res2p-qcd"], cfg, progress=False)
    model = build_model("tiny", input_dim=cfg.num_features).train()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    emb = compute_embeddings(model, jets, cfg.max_particles, batch_size=32, progress=False)
    assert emb.shape == (len(jets), model.config.embed_dims[-1]) and np.isfinite(emb).all()
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())


def test_lora_trains_only_adapters_and_head_and_every_adapter_gets_gradient():
    backbone = M.add_lora(build_model("tiny", input_dim=7), rank=2)
    module = M.TransferModule(backbone, 2, "lora")
    adapters = {n: p for n, p in backbone.named_parameters() if "lora_" in n}
    # the attention projections and feed-forward linears of the particle AND class blocks
    wrapped = {n.split(".lora_")[0] for n in adapters}
    n_blocks = len(backbone.blocks) + len(backbone.cls_blocks)
    assert len(wrapped) == 4 * n_blocks
    assert any(w.startswith("cls_blocks") and w.endswith("attn.in_proj") for w in wrapped)
    trainable = {n for n, p in module.named_parameters() if p.requires_grad}
    assert trainable == {f"backbone.{n}" for n in adapters} | {n for n, _ in module.head.named_parameters(prefix="head")}
    assert M.trainable_parameters(module) == sum(p.numel() for p in adapters.values()) + \
        sum(p.numel() for p in module.head.parameters())
    # LoRA's B starts at zero, so A gets no gradient on the first step: take one step first
    opt = module.configure_optimizers()
    for step in range(2):
        module.on_train_batch_start(None, step)
        opt.zero_grad()
        module.training_step(_toy_batch(), step).backward()
        if step == 0:
            opt.step()
    dead = [n for n, p in adapters.items() if p.grad is None or not p.grad.abs().sum() > 0]
    assert not dead, dead


def _batch(labels, mass, pid, dr=None, sample=None):
    n = len(labels)
    aux = {"aux_genpart_isResX": [[True, False, False]] * n,
           "aux_genpart_isResDecayProd": [[False, True, True]] * n,
           "aux_genpart_mass": [[m, 4.8, 4.8] for m in mass],
           "aux_genpart_pid": [[p, 5, -5] for p in pid],
           "aux_genpart_eta": [[0.0, 0.0, d or 0.0] for d in (dr or [0.0] * n)],
           "aux_genpart_phi": [[0.0, 0.0, 0.0]] * n}
    cols = {"jet_label": labels, **aux}
    if sample is not None:
        cols["sample"] = sample
    return ak.Array(cols)


def test_task_classes_from_labels_mass_windows_charge_and_dr():
    idx = {n: i for i, n in enumerate(LABEL_NAMES)}
    b = _batch([idx["X_bb"], idx["X_bb"], idx["X_qq"], idx["X_qq"], idx["QCD_light"], idx["X_bb"]],
               [125, 90, 80, 90, 0, 300], [25, 25, 37, 25, 0, 25])
    got = assign_classes(TASKS["tagging10"], b).tolist()
    names = TASKS["tagging10"].class_names
    assert [names[k] if k >= 0 else None for k in got] == ["H->bb", "Z->qq", "W->qq", "Z->qq",
                                                           "QCD", None]
    d = _batch([idx["X_bb"]] * 3, [125] * 3, [25] * 3, dr=[0.05, 0.45, 1.3])
    assert assign_classes(TASKS["bb-dR"], d).tolist() == [0, 4, 9]
    with pytest.raises(Exception, match="sample"):
        assign_classes(TASKS["qg"], d)
    # xbs: the unlabelled X(200) -> bs jets against every JetClass-II label (QCD, Res2P, Res34P)
    x = _batch([-1, idx["QCD_light"], idx["X_bb"], idx["X_YY_bbbb"], -1], [200] * 5, [25] * 5,
               sample=["xbs", "qcd", "res2p", "res34p", "tau"])
    assert assign_classes(TASKS["xbs"], x).tolist() == [1, 0, 0, 0, -1]
    clash = Task("clash", "", (ClassDef("a", labels=("X_bb",)), ClassDef("b", cuts=(Cut("m_X", 0, 500),))))
    with pytest.raises(ConfigError, match="clash"):
        assign_classes(clash, d)


def test_every_task_label_pattern_names_a_jetclass2_label():
    for t in TASKS.values():
        for c in t.classes:
            for p in c.labels:
                assert _label_mask(np.arange(188), (p,)).any(), (t.name, c.name, p)


def test_cli_lists_tasks_and_refuses_bad_options(capsys, tmp_path):
    assert main(["transfer", "--list-tasks"]) == 0
    out = capsys.readouterr().out
    assert "tagging10" in out and "bb-dR" in out and "wplus-wminus" in out
    assert main(["transfer", "--backbone", "scratch", "--task", "nope", "--data", "x",
                 "--out", str(tmp_path / "o")]) == 2
    assert "--task 'nope'" in capsys.readouterr().err
    assert main(["transfer", "--backbone", "scratch", "--task", "qg", "--data", "x", "--out",
                 str(tmp_path / "o"), "--labels-per-class", "10,lots"]) == 2
    assert "lots" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_classes_without_jets_are_left_out_and_named(backbone_run, sim_jets, tmp_path,
                                                     monkeypatch):
    three = Task("three", "", (ClassDef("QCD", labels=("QCD_*",)),
                               ClassDef("X", labels=("X_??", "X_tauhtau?")),
                               ClassDef("XYY", labels=("X_YY_*",))))
    monkeypatch.setitem(TASKS, "three", three)
    res = transfer(_cfg(backbone_run, sim_jets, tmp_path, "linear", task="three",
                        labels_per_class=(None,), seeds=1), progress=False)
    assert res["classes"] == ["QCD", "X"] and res["classes_absent"] == ["XYY"]
    assert res["jets_per_class"] == {"QCD": 100, "X": 100}
    assert res["runs"][0]["n_train"] == res["n_pool"]
    # fewer than two classes with jets: one clear error, nothing written
    with pytest.raises(ConfigError, match="fewer than two classes"):
        transfer(_cfg(backbone_run, sim_jets, tmp_path, "linear", task="tagging10",
                      out=str(tmp_path / "t10")), progress=False)
    assert not (tmp_path / "t10").exists()
