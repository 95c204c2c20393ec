"""`jetfm transfer`: tasks, the label sweep, every mode, frozen means frozen, LoRA gradients."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from jetfm.cli import main
from jetfm.errors import ConfigError
from jetfm.models.presets import build_model
from jetfm.transfer import modes as M
from jetfm.embeddings import compute_embeddings
from jetfm.transfer.data import draw_per_class, load_task_jets, split
from jetfm.transfer.run import TransferConfig, transfer
from jetfm.transfer.tasks import TASKS, ClassDef, Task


@pytest.fixture(scope="module")
def backbone_run(tiny_run):
    return tiny_run


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
    assert saved["baseline"] == ("scratch" if mode == "scratch" else None)
    assert sum(saved["n_test_per_class"].values()) == saved["n_test"]
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


def test_lp_ft_schedule_is_the_same_for_finetune_and_scratch(backbone_run, sim_jets, tmp_path):
    kw = dict(steps=30, lr=2e-3)
    fine = _cfg(backbone_run, sim_jets, tmp_path, "finetune", **kw).schedule()
    scratch = _cfg(backbone_run, sim_jets, tmp_path, "scratch", backbone="scratch",
                   **kw).schedule()
    assert fine == scratch
    assert (fine.probe_steps, fine.full_steps, fine.lr, fine.backbone_lr) == (10, 20, 2e-3, 2e-3)
    assert fine.to_dict()["decay"] == "cosine" and fine.warmup == 2 and fine.probe_warmup == 1
    head = [fine.factor(k, "head") for k in range(30)]
    back = [fine.factor(k, "backbone") for k in range(30)]
    assert back[:10] == [0.0] * 10 and head[0] == 1.0 and head[9] < 0.05     # probe phase
    assert head[10:] == back[10:]                                            # full phase
    assert back[10] == 0.5 and back[11] == 1.0 and 0 < back[29] < 0.01       # warm-up, cosine
    assert all(a >= b for a, b in zip(back[11:], back[12:]))
    # --probe-steps 0: plain fine-tuning, one warm-up + cosine over every step
    plain = _cfg(backbone_run, sim_jets, tmp_path, "finetune", probe_steps=0, **kw).schedule()
    assert plain.probe_steps == 0 and plain.full_steps == 30 and plain.factor(0, "backbone") > 0
    for bad in (30, -1):
        with pytest.raises(ConfigError, match="--probe-steps"):
            _cfg(backbone_run, sim_jets, tmp_path, "finetune", probe_steps=bad).validate()


def test_embeddings_leave_the_backbone_untouched(sim_jets):
    from jetfm.data.config import load_data_config
    cfg = load_data_config("jetclass2")
    jets, _ = load_task_jets([str(sim_jets)], TASKS["res2p-qcd"], cfg, progress=False)
    model = build_model("tiny", input_dim=cfg.num_features).train()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    emb = compute_embeddings(model, jets, cfg.max_particles, batch_size=32, progress=False)
    assert emb.shape == (len(jets), model.config.embed_dims[-1]) and np.isfinite(emb).all()
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())


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


# ------------------------------------------------------------------ representations
@pytest.fixture(scope="module")
def resim_like_run(backbone_run, tmp_path_factory):
    """The supervised run, re-saved as a strategy with a projection head would save it."""
    import shutil

    from jetfm.models.export import load_checkpoint, save_checkpoint
    from jetfm.models.heads import MLPHead
    out = tmp_path_factory.mktemp("tr") / "proj"
    shutil.copytree(backbone_run, out)
    model, cfg = load_checkpoint(out / "model.safetensors")
    torch.manual_seed(3)
    head = MLPHead([model.config.embed_dims[-1], 16, 8], normalize=True)
    save_checkpoint(model, {**cfg, "representation": "projection"}, out / "model.safetensors",
                    heads={"projection": head})
    return out


def test_compute_embeddings_reads_each_representation(sim_jets):
    from jetfm.data.config import load_data_config
    from jetfm.models.heads import MLPHead
    cfg = load_data_config("jetclass2")
    jets, _ = load_task_jets([str(sim_jets)], TASKS["res2p-qcd"], cfg, progress=False)
    jets = jets.take(np.arange(40))
    torch.manual_seed(0)
    model = build_model("tiny", input_dim=cfg.num_features).eval()
    head = MLPHead([model.config.embed_dims[-1], 6])
    b = jets.pad(cfg.max_particles)
    with torch.no_grad():
        out = model(*(torch.from_numpy(b[k]) for k in ("x", "v", "mask")))
        m = torch.from_numpy(b["mask"]).float().squeeze(1)
        mean = (out.particle_embeddings * m[..., None]).sum(1) / m.sum(1, keepdim=True)
        want = {"cls": out.embedding, "mean": mean, "projection": head(out.embedding)}
    for name, ref in want.items():
        got = compute_embeddings(model, jets, cfg.max_particles, batch_size=16, progress=False,
                                 representation=name, heads={"projection": head})
        assert np.allclose(got, ref.numpy(), atol=1e-5), name


def test_frozen_modes_read_the_runs_default_or_the_chosen_representation(
        resim_like_run, backbone_run, sim_jets, tmp_path, monkeypatch):
    monkeypatch.setenv("JETFM_CACHE_DIR", str(tmp_path / "cache"))
    d = build_model("tiny").config.embed_dims[-1]
    kw = dict(labels_per_class=(10,), seeds=1)
    res = {}
    for rep in (None, "cls", "mean"):
        res[rep] = transfer(_cfg(resim_like_run, sim_jets, tmp_path, "linear", representation=rep,
                                 out=str(tmp_path / f"lin-{rep}"), **kw), progress=False)
    # the run's config names projection: 8-d, normalised -> 8 + 1 linear parameters
    assert res[None]["representation"] == "projection" and res[None]["trainable_parameters"] == 9
    assert res["cls"]["representation"] == "cls" and res["cls"]["trainable_parameters"] == d + 1
    assert res["mean"]["representation"] == "mean"
    saved = json.loads((tmp_path / "lin-mean" / "results.json").read_text())
    assert saved["representation"] == "mean" and saved["schedule"] is None
    # the report tells them apart (not duplicates) and shows the representation
    from jetfm.report import task_series
    from jetfm.report.collect import collect
    series = task_series(collect([tmp_path / "lin-cls", tmp_path / "lin-mean",
                                  tmp_path / "lin-None"]))["res2p-qcd"]
    assert sorted(s.label for s in series) == ["supervised / linear",
                                               "supervised / linear · mean",
                                               "supervised / linear · projection"]
    # one cache entry per representation: never a cls array read back as mean
    cached = [np.load(f) for f in (tmp_path / "cache" / "embeddings").glob("*.npy")]
    assert len(cached) == 3 and sorted(c.shape[1] for c in cached) == [8, d, d]
    dd = [c for c in cached if c.shape[1] == d]
    assert not np.allclose(dd[0], dd[1])
    # a run without the key (older, or a cls strategy): cls
    plain = transfer(_cfg(backbone_run, sim_jets, tmp_path, "knn", out=str(tmp_path / "k"),
                          **kw), progress=False)
    assert plain["representation"] == "cls"


def test_representation_errors_name_the_option_and_the_run(resim_like_run, backbone_run,
                                                           sim_jets, tmp_path):
    with pytest.raises(ConfigError, match=r"--representation bottleneck: run .*proj saved no "
                                          r"'bottleneck' head \(saved heads: projection\)"):
        transfer(_cfg(resim_like_run, sim_jets, tmp_path, "linear",
                      representation="bottleneck"), progress=False)
    with pytest.raises(ConfigError, match=r"--representation projection: run .*sup saved no"):
        transfer(_cfg(backbone_run, sim_jets, tmp_path, "linear",
                      representation="projection"), progress=False)
    # a run whose config names a head representation it did not save (broken or older)
    import shutil

    from jetfm.models.export import load_checkpoint, save_checkpoint
    broken = tmp_path / "broken"
    shutil.copytree(backbone_run, broken)
    model, cfg = load_checkpoint(broken / "model.safetensors")
    save_checkpoint(model, {**cfg, "representation": "bottleneck"}, broken / "model.safetensors")
    with pytest.raises(ConfigError, match=r"its default representation 'bottleneck' \(no "
                                          r"--representation given\): run .*broken saved no"):
        transfer(_cfg(broken, sim_jets, tmp_path, "knn"), progress=False)
    assert transfer(_cfg(broken, sim_jets, tmp_path, "knn", representation="mean",
                         labels_per_class=(5,), seeds=1), progress=False)["representation"] == "mean"
    with pytest.raises(ConfigError, match="--backbone random has none: use cls or mean"):
        _cfg(backbone_run, sim_jets, tmp_path, "knn", backbone="random",
             representation="projection").validate()
    with pytest.raises(ConfigError, match="--representation mean is for the frozen modes"):
        _cfg(backbone_run, sim_jets, tmp_path, "finetune", representation="mean").validate()
    with pytest.raises(ConfigError, match="--representation 'pooled': choose one of"):
        _cfg(backbone_run, sim_jets, tmp_path, "linear", representation="pooled").validate()
    assert not (tmp_path / "linear").exists()


def test_random_features_read_mean_and_network_modes_record_cls_and_schedule(
        backbone_run, sim_jets, tmp_path):
    res = transfer(_cfg(backbone_run, sim_jets, tmp_path, "linear", backbone="random",
                        preset="tiny", representation="mean", labels_per_class=(5,), seeds=1),
                   progress=False)
    assert res["representation"] == "mean" and res["schedule"] is None
    from jetfm.transfer import run as R
    data_cfg = R.load_data_config("jetclass2")
    jets = load_task_jets([str(sim_jets)], TASKS["res2p-qcd"], data_cfg, 40, False)[0]
    emb = {rep: R._random_embeddings(_cfg(backbone_run, sim_jets, tmp_path, "linear",
                                          backbone="random", preset="tiny",
                                          representation=rep), data_cfg, jets, 0, False)
           for rep in ("cls", "mean")}
    assert emb["cls"].shape == emb["mean"].shape and not np.allclose(emb["cls"], emb["mean"])
    fine = transfer(_cfg(backbone_run, sim_jets, tmp_path, "finetune", labels_per_class=(5,),
                         seeds=1, steps=3), progress=False)
    assert fine["representation"] == "cls"
    assert fine["schedule"] == {"probe_steps": 1, "full_steps": 2, "lr": 1e-3,
                                "backbone_lr": 1e-3, "warmup": 0, "probe_warmup": 0,
                                "decay": "cosine"}
    from jetfm.report.collect import load_results
    assert load_results(tmp_path / "finetune" / "results.json").mode_label == \
        "finetune · LP-FT 1+2"


# ------------------------------------------------------------------ qgtau, per-class recall
@pytest.fixture(scope="module")
def qgtau_jets(sim_jets, tmp_path_factory):
    """The simulated jets relabelled as samples quark (60 QCD jets), gluon (60 Res2P jets)
    and tau (20 Res2P jets): Rieck et al.'s 3:3:1."""
    import pyarrow as pa
    import pyarrow.parquet as pq
    out = tmp_path_factory.mktemp("qgtau")
    plan = [("qcd", i, "quark") for i in range(3)] + [("res2p", i, "gluon") for i in range(3)] \
        + [("res2p", 3, "tau")]
    for sample, i, name in plan:
        src = sorted((sim_jets / sample).glob("*.parquet"))[i]
        table = pq.read_table(src)
        col = table.schema.get_field_index("sample")
        table = table.set_column(col, table.schema.field(col),
                                 pa.array([name] * len(table), table.schema.field(col).type))
        pq.write_table(table, out / f"{name}_{sample}_{i}.parquet")
    return out


def test_knn_reports_per_class_recall(backbone_run, qgtau_jets, tmp_path):
    res = transfer(_cfg(backbone_run, qgtau_jets, tmp_path, "knn", task="qgtau",
                        labels_per_class=(5, 10), seeds=3), progress=False)
    assert res["classes"] == ["quark", "gluon", "tau_h"]
    assert res["jets_per_class"] == {"quark": 60, "gluon": 60, "tau_h": 20}
    for r in res["runs"]:
        recall = r["metrics"]["recall"]
        assert set(recall) == {"quark", "gluon", "tau_h"}
        # accuracy = the test set's class-weighted mean of the recalls (15, 15, 5 test jets)
        acc = (15 * recall["quark"] + 15 * recall["gluon"] + 5 * recall["tau_h"]) / 35
        assert res["n_test"] == 35 and r["metrics"]["accuracy"] == pytest.approx(acc)
    for row in res["summary"]:
        for name in res["classes"]:
            sel = [r["metrics"]["recall"][name] for r in res["runs"]
                   if r["labels_per_class"] == row["labels_per_class"]]
            assert row["recall"][name]["mean"] == pytest.approx(np.mean(sel)), name
            assert row["recall"][name]["std"] == pytest.approx(np.std(sel)), name
    # the report still reads it (per-class recall is not a *_mean number)
    from jetfm.report.collect import load_results
    assert load_results(tmp_path / "knn" / "results.json").task == "qgtau"


def test_cli_probe_steps_and_its_old_name(capsys, tmp_path, sim_jets):
    from jetfm.cli.transfer import _probe_steps
    assert _probe_steps(None, None) is None and _probe_steps(7, None) == 7
    assert _probe_steps(None, 5) == 5 and "deprecated" in capsys.readouterr().err
    assert _probe_steps(5, 5) == 5
    assert main(["transfer", "--backbone", "scratch", "--task", "qg", "--data", "x", "--out",
                 str(tmp_path / "o"), "--probe-steps", "3", "--warmup-steps", "4"]) == 2
    assert "--warmup-steps 4 and --probe-steps 3" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()
    # the old name still works end to end: scratch, 1 probe step of 3
    assert main(["transfer", "--backbone", "scratch", "--mode", "scratch", "--preset", "tiny",
                 "--task", "res2p-qcd", "--data", str(sim_jets), "--labels-per-class", "5",
                 "--seeds", "1", "--steps", "3", "--warmup-steps", "1", "--batch-size", "8",
                 "--out", str(tmp_path / "s"), "--no-progress"]) == 0
    out = capsys.readouterr()
    assert "mode scratch (probe 1 + full 2 steps)" in out.out and "deprecated" in out.err
    saved = json.loads((tmp_path / "s" / "results.json").read_text())
    assert saved["schedule"]["probe_steps"] == 1 and saved["representation"] == "cls"


@pytest.mark.parametrize("extra,needle", [(["--labels-per-class", "10,10"], "names a count twice"),
                                          (["--labels-per-class", "all,5,all"], "names a count twice"),
                                          (["--test-seed", "-1"], "--test-seed must be")])
def test_bad_sweep_options_are_one_line(tmp_path, capsys, extra, needle):
    from jetfm.cli import main
    rc = main(["transfer", "--backbone", "random", "--task", "qg", "--mode", "linear",
               "--data", str(tmp_path), "--out", str(tmp_path / "o"), *extra])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and needle in err and len(err.splitlines()) == 1
    assert not (tmp_path / "o").exists()


def test_the_test_set_does_not_depend_on_the_order_of_data(backbone_run, sim_jets, tmp_path):
    """`--data a b` and `--data b a` used to give different test sets (AUC 0.721 vs 0.766
    for one backbone)."""
    runs = []
    for i, order in enumerate([("qcd", "res2p"), ("res2p", "qcd")]):
        data = tuple(str(sim_jets / name) for name in order)
        res = transfer(_cfg(backbone_run, sim_jets, tmp_path / str(i), "linear", data=data,
                            labels_per_class=(10,)), progress=False)
        runs.append(res)
    assert runs[0]["runs"][0]["metrics"] == runs[1]["runs"][0]["metrics"]
    assert runs[0]["config"]["data"] == runs[1]["config"]["data"]


def test_a_damaged_embedding_cache_entry_is_recomputed(backbone_run, sim_jets, tmp_path,
                                                       monkeypatch, caplog):
    """A flipped sign bit in a cached embedding used to be loaded and change the accuracy."""
    monkeypatch.setenv("JETFM_CACHE_DIR", str(tmp_path / "cache"))
    first = transfer(_cfg(backbone_run, sim_jets, tmp_path / "a", "linear",
                          labels_per_class=(10,)), progress=False)
    (entry,) = (tmp_path / "cache" / "embeddings").glob("*.npy")
    raw = bytearray(entry.read_bytes())
    raw[-1] ^= 0x80                                   # the sign bit of the last float
    entry.write_bytes(bytes(raw))
    with caplog.at_level("WARNING", logger="jetfm.cache"):
        again = transfer(_cfg(backbone_run, sim_jets, tmp_path / "b", "linear",
                              labels_per_class=(10,)), progress=False)
    assert any("damaged" in r.getMessage() for r in caplog.records)
    assert again["runs"][0]["metrics"] == first["runs"][0]["metrics"]
