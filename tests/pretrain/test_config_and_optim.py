"""Run config and optimiser: `--set` overrides, and weight decay only on real weight matrices
(ParT's class token, biases and norm scales are not: `no_weight_decay()` is honoured)."""
from __future__ import annotations

import torch

from jetfm.models import build_model
from jetfm.pretrain.config import OptimConfig
from jetfm.pretrain.optim import param_groups
from jetfm.pretrain.supervised import SupervisedModule


def _names(module, group):
    ids = {id(p) for p in group["params"]}
    return {n for n, p in module.named_parameters() if id(p) in ids}


def test_groups_split_decayed_weights_from_the_rest():
    module = SupervisedModule(build_model("tiny"), OptimConfig(weight_decay=0.1), 10)
    decay, no_decay = param_groups(module, 0.1)
    assert decay["weight_decay"] == 0.1 and no_decay["weight_decay"] == 0.0
    d, nd = _names(module, decay), _names(module, no_decay)
    assert "backbone.cls_token" in nd
    assert all(n.endswith(".bias") or module.get_parameter(n).ndim <= 1 or n.endswith("cls_token")
               for n in nd)
    assert all(module.get_parameter(n).ndim >= 2 for n in d)
    assert d | nd == {n for n, _ in module.named_parameters()} and not d & nd


def test_the_class_token_is_not_decayed_by_the_optimiser():
    torch.manual_seed(0)
    module = SupervisedModule(build_model("tiny"), OptimConfig(name="adamw", lr=0.1,
                                                                weight_decay=0.5), 10)
    opt = module.configure_optimizers()["optimizer"]
    cls = module.backbone.cls_token.detach().clone()
    weight = next(p for n, p in module.named_parameters() if p.ndim == 2)
    before = weight.detach().clone()
    for p in module.parameters():          # zero gradients: only weight decay moves weights
        p.grad = torch.zeros_like(p)
    opt.step()
    assert torch.equal(module.backbone.cls_token.detach(), cls)
    assert torch.allclose(weight.detach(), before * (1 - 0.1 * 0.5))


def test_set_overrides_any_field_as_data(tmp_path):
    import pytest
    from jetfm.errors import ConfigError
    from jetfm.pretrain.config import load_train_config, parse_set
    over = parse_set(["optimizer.weight_decay=0.05", "log_every_steps=1", "data=[a, b]",
                      "compile=true"])
    cfg = load_train_config(None, **over)
    assert cfg.optimizer.weight_decay == 0.05 and cfg.log_every_steps == 1
    assert cfg.data == ["a", "b"] and cfg.compile is True
    with pytest.raises(ConfigError, match="KEY=VALUE"):
        parse_set(["lr"])
    with pytest.raises(ConfigError, match="unknown config key 'optimizer.beta'"):
        load_train_config(None, **parse_set(["optimizer.beta=1", "data=[a]"]))
    with pytest.raises(ConfigError, match="strategy"):
        load_train_config(None, **parse_set(["strategy=magic", "data=[a]"]))
    assert parse_set(["seed=__import__('os')"])["seed"] == "__import__('os')"   # data only


def test_every_strategy_gets_warm_up_cosine_and_its_own_learning_rate():
    from jetfm.pretrain.config import load_train_config
    from jetfm.pretrain.registry import REGISTRY
    for name, strategy in REGISTRY.items():
        cfg = load_train_config(None, data=["x"], strategy=name, max_steps=2000)
        o = cfg.optimizer
        assert (o.lr, o.warmup_steps, o.schedule) == (strategy.lr, 100, "cosine"), name
    assert REGISTRY["jepa"].lr <= 5e-4 and REGISTRY["mpm"].lr <= 5e-4   # anchors: ijepa, jetssl
    mine = load_train_config(None, data=["x"], strategy="jepa",
                             **{"optimizer.lr": 2e-3, "optimizer.warmup_steps": 0})
    assert (mine.optimizer.lr, mine.optimizer.warmup_steps) == (2e-3, 0)   # the user's win
