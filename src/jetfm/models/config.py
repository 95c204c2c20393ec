"""Hyper-parameters of the ParT backbone, in one frozen dataclass.

Field names follow weaver-core's ``ParticleTransformer`` constructor so that a config can
be turned into the keyword arguments of weaver's class (:meth:`ParTConfig.weaver_kwargs`),
which is how the parity tests build their reference model.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from jetfm.errors import ConfigError

ACTIVATIONS = ("gelu", "relu")
PAIR_MODES = ("sparse", "dense")


@dataclass(frozen=True)
class ParTConfig:
    """ParT architecture and runtime switches.

    Dims, heads, layers, ``num_classes`` and ``fc_params`` set the ``state_dict`` shapes;
    dropouts, activations and ``pair_eps`` change the function only; ``trim``,
    ``pair_mode``, ``use_amp`` and ``length_buckets`` change speed only (same eval-mode
    outputs).
    """

    input_dim: int = 17
    num_classes: int | None = 10  # None: backbone only, no head (logits is None)
    embed_dims: tuple[int, ...] = (128, 512, 128)
    pair_input_dim: int = 4  # 0 disables the pair bias
    pair_embed_dims: tuple[int, ...] = (64, 64, 64)
    # JetClass/Sophon configs end the pair embedding with an activation (False here);
    # weaver's constructor default (True) drops that last activation.
    use_pre_activation_pair: bool = False
    num_heads: int = 8
    num_layers: int = 8
    num_cls_layers: int = 2
    ffn_ratio: int = 4
    dropout: float = 0.1
    attn_dropout: float = 0.1
    activation_dropout: float = 0.1
    # Hidden fc layers before the final linear head: (out_dim, dropout[, "relu"|"gelu"]).
    fc_params: tuple[tuple[Any, ...], ...] = ()
    activation: str = "gelu"
    pair_eps: float = 1e-8
    # runtime switches
    trim: bool = True  # cut the particle axis to the longest real jet of each batch
    pair_mode: str = "sparse"  # "sparse": real×real pairs only; "dense": all P² (static shapes)
    use_amp: bool = False  # bf16 autocast on CUDA; ignored on CPU
    # Run the particle blocks per group of similar-length jets (P² attention cost follows
    # each group's own length). 0/1 = off; also off for pair_mode="dense", under
    # tracing/export and when a batch has fewer than 32 jets (see part.py).
    length_buckets: int = 8

    def __post_init__(self) -> None:
        # normalise list inputs (YAML, CLI) to tuples so configs hash and compare
        object.__setattr__(self, "embed_dims", tuple(int(d) for d in self.embed_dims))
        object.__setattr__(self, "pair_embed_dims", tuple(int(d) for d in self.pair_embed_dims))
        object.__setattr__(self, "fc_params", tuple(tuple(p) for p in self.fc_params))
        self.validate()

    @property
    def embed_dim(self) -> int:
        return self.embed_dims[-1] if self.embed_dims else self.input_dim

    def validate(self) -> None:
        if not self.embed_dims:
            raise ConfigError("embed_dims must not be empty")
        if self.input_dim <= 0:
            raise ConfigError(f"input_dim must be positive, got {self.input_dim}")
        if self.num_heads <= 0 or self.embed_dim % self.num_heads:
            raise ConfigError(
                f"embed dim {self.embed_dim} must be divisible by num_heads={self.num_heads}"
            )
        if self.num_cls_layers < 1:
            raise ConfigError("num_cls_layers must be >= 1 (the class token gives the embedding)")
        if self.pair_input_dim not in (0, 4):
            raise ConfigError(
                "pair_input_dim must be 4 (ln kT, ln z, ln ΔR, ln m²) or 0, "
                f"got {self.pair_input_dim}"
            )
        if self.activation not in ACTIVATIONS:
            raise ConfigError(f"activation must be one of {ACTIVATIONS}, got {self.activation!r}")
        if self.pair_mode not in PAIR_MODES:
            raise ConfigError(f"pair_mode must be one of {PAIR_MODES}, got {self.pair_mode!r}")
        if self.length_buckets < 0:
            raise ConfigError(f"length_buckets must be >= 0, got {self.length_buckets}")
        if self.num_classes is not None and self.num_classes <= 0:
            raise ConfigError(f"num_classes must be positive or None, got {self.num_classes}")
        if self.fc_params and self.num_classes is None:
            raise ConfigError("fc_params needs num_classes (the fc stack ends in the class head)")
        for p in self.fc_params:
            if len(p) not in (2, 3) or (len(p) == 3 and p[2] not in ACTIVATIONS):
                raise ConfigError(f"fc_params entries are (out_dim, dropout[, act]); got {p!r}")

    def replace(self, **changes: Any) -> "ParTConfig":
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["embed_dims"] = list(self.embed_dims)
        d["pair_embed_dims"] = list(self.pair_embed_dims)
        d["fc_params"] = [list(p) for p in self.fc_params]
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "ParTConfig":
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = set(d) - known
        if unknown:
            raise ConfigError(f"unknown ParT config keys: {sorted(unknown)}")
        return cls(**d)

    def weaver_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for weaver-core's ``ParticleTransformer`` with the same weights
        layout and eval-mode outputs (used by the parity tests; weaver is not imported)."""
        return dict(
            input_dim=self.input_dim,
            num_classes=self.num_classes,
            pair_input_dim=self.pair_input_dim,
            use_pre_activation_pair=self.use_pre_activation_pair,
            embed_dims=list(self.embed_dims),
            pair_embed_dims=list(self.pair_embed_dims),
            num_heads=self.num_heads,
            num_layers=self.num_layers,
            num_cls_layers=self.num_cls_layers,
            block_params=dict(
                ffn_ratio=self.ffn_ratio,
                dropout=self.dropout,
                attn_dropout=self.attn_dropout,
                activation_dropout=self.activation_dropout,
            ),
            cls_block_params=dict(
                ffn_ratio=self.ffn_ratio, dropout=0, attn_dropout=0, activation_dropout=0
            ),
            # weaver builds no head only for fc_params=None; () means "just the linear head"
            fc_params=None if self.num_classes is None else [tuple(p) for p in self.fc_params],
            activation=self.activation,
            trim=self.trim,
            for_inference=False,
        )
