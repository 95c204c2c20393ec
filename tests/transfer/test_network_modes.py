"""Network transfer modes: LP-FT (the head is fitted before the backbone moves), LoRA
(only adapters and head train, every adapter gets gradient)."""
from __future__ import annotations

import pytest
import torch

from jetfm.models.presets import build_model
from jetfm.transfer import modes as M


def _toy_batch(n=6, p=5, d=7):
    torch.manual_seed(0)
    x = torch.randn(n, d, p)
    v = torch.rand(n, 4, p) * 10 + 1
    v[:, 3] = v[:, :3].norm(dim=1) + 1
    return {"x": x, "v": v, "mask": torch.ones(n, 1, p, dtype=torch.bool),
            "label": torch.arange(n) % 2}


def _fit_recording(module, n_steps):
    """Train `module` with Lightning on toy batches; per step: (backbone state, head state,
    backbone in train mode, backbone parameters with requires_grad)."""
    import lightning as L
    from jetfm.transfer.network import fit_module

    record = []

    class Record(L.Callback):
        def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
            record.append(({k: v.clone() for k, v in pl_module.backbone.state_dict().items()},
                           {k: v.clone() for k, v in pl_module.head.state_dict().items()},
                           pl_module.backbone.training,
                           any(p.requires_grad for p in pl_module.backbone.parameters())))

    batches = [_toy_batch() for _ in range(2)]
    loader = torch.utils.data.DataLoader(batches, batch_size=None)
    fit_module(module, loader, n_steps, progress=False, accelerator="cpu", callbacks=[Record()])
    return record


def _same(a, b):
    return all(torch.equal(a[k], b[k]) for k in a)


@pytest.mark.parametrize("mode", ["finetune", "scratch"])
def test_lp_ft_probe_moves_only_the_head_then_everything(mode):
    # BatchNorm running statistics move in train mode even without gradients: frozen must
    # also mean eval mode; scratch runs the very same schedule as finetune
    torch.manual_seed(0)
    backbone = build_model("tiny", input_dim=7)
    before = {k: v.clone() for k, v in backbone.state_dict().items()}
    module = M.TransferModule(backbone, 2, mode, M.Schedule.make(6, 3, 1e-2, 1e-2))
    head0 = {k: v.clone() for k, v in module.head.state_dict().items()}
    record = _fit_recording(module, 6)
    assert len(record) == 6
    heads = [head0] + [r[1] for r in record]
    for step, (back, head, training, grad) in enumerate(record[:3]):     # probe phase
        assert _same(before, back), step                   # bit-identical, BN buffers too
        assert not training and not grad, step             # eval mode, no gradient
        assert not _same(heads[step], head), step          # the head learns
    for step, (back, head, training, grad) in enumerate(record[3:], start=3):
        assert training and grad, step
        assert not _same(record[step - 1][0], back), step   # the backbone learns
    assert isinstance(module.head[0], torch.nn.LayerNorm)   # the same head for every mode


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
    opt = module.configure_optimizers()["optimizer"]
    for step in range(2):
        module.on_train_batch_start(None, step)
        opt.zero_grad()
        module.training_step(_toy_batch(), step).backward()
        if step == 0:
            opt.step()
    dead = [n for n, p in adapters.items() if p.grad is None or not p.grad.abs().sum() > 0]
    assert not dead, dead
