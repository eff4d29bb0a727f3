"""SAE training configuration: a frozen dataclass read from TOML at the CLI edge."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

from krel_interp.errors import ConfigError
from krel_interp.io import read_toml

KINDS = ("base", "diff", "crosscoder")
ARCHITECTURES = ("topk", "batchtopk", "matryoshka_batchtopk")
MIN_POSITION = 1  # position 0 is an attention sink
SINK_FACTOR = 10.0  # rows above this multiple of the median norm are sinks too


@dataclass(frozen=True)
class SaeTrainConfig:
    """What to train and on which activations.

    Args:
        name: artifact name (the output directory's leaf).
        store: an activation store (``kind = "base"``) or a paired store root with ``base/`` and
            ``organism/`` (``diff``: organism minus base; ``crosscoder``: [base; organism]).
        site: a stored hook name such as ``blocks.21.hook_resid_post``.
        out: output directory (sae-lens layout: ``cfg.json``, ``sae_weights.safetensors``,
            plus ``card.json``).
        kind: ``base``, ``diff`` or ``crosscoder``.
        architecture: ``topk`` (saved as TopK), ``batchtopk`` or ``matryoshka_batchtopk``
            (both saved as JumpReLU). A Matryoshka SAE (Bussmann et al. 2025) also trains each
            prefix of its latents to reconstruct alone, so general features are learned early
            instead of being absorbed into token-specific ones.
        matryoshka_widths: strictly increasing prefix widths ending at ``d_sae``
            (``matryoshka_batchtopk`` only, and required there).
        d_sae, k: width and active latents per token (mean over the batch for batchtopk).
        training_tokens: samples seen in training (epochs over the rows as needed).
        batch_size, lr: optimiser settings; lr decays linearly over the last 20% of steps.
        aux_coefficient: weight of the TopK auxiliary loss that revives dead latents.
        dead_window: steps without firing after which a latent counts as dead (and the
            auxiliary loss trains it on the residual error).
        min_position: rows at earlier positions are left out (position 0 is an attention sink).
        sink_factor: rows whose norm exceeds this multiple of the median are left out.
        heldout_fraction: share of families (traces without one count alone) kept out for
            explained variance, L0 and dead fraction.
        segments: segment names to train on (None: every token).
        checkpoint_every: steps between resumable checkpoints.
        seed: data order and initialisation.
    """

    name: str
    store: str
    site: str
    out: str
    kind: str = "base"
    architecture: str = "topk"
    d_sae: int = 4096
    matryoshka_widths: tuple[int, ...] | None = None
    k: int = 32
    training_tokens: int = 1_000_000
    batch_size: int = 1024
    lr: float = 4e-4
    aux_coefficient: float = 1.0
    dead_window: int = 50
    min_position: int = MIN_POSITION
    sink_factor: float = SINK_FACTOR
    heldout_fraction: float = 0.1
    segments: tuple[str, ...] | None = None
    checkpoint_every: int = 25
    seed: int = 0

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ConfigError(f"unknown SAE kind {self.kind!r}; valid: {', '.join(KINDS)}")
        if self.architecture not in ARCHITECTURES:
            raise ConfigError(
                f"unknown architecture {self.architecture!r}; valid: {', '.join(ARCHITECTURES)}"
            )
        self._check_matryoshka()
        if not 0 < self.k < self.d_sae:
            raise ConfigError(f"k must be in (0, d_sae); got k={self.k}, d_sae={self.d_sae}")
        if self.training_tokens < self.batch_size or self.batch_size < 1:
            raise ConfigError("training_tokens must be at least one batch")
        if not 0 < self.heldout_fraction < 1:
            raise ConfigError("heldout_fraction must be in (0, 1)")
        if self.dead_window < 1 or self.checkpoint_every < 1:
            raise ConfigError("dead_window and checkpoint_every must be positive")
        if self.segments is not None and not all(isinstance(x, str) for x in self.segments):
            raise ConfigError("segments must be a list of segment names")
        if self.sink_factor <= 1:
            raise ConfigError("sink_factor must exceed 1")

    def _check_matryoshka(self) -> None:
        widths = self.matryoshka_widths
        if self.architecture != "matryoshka_batchtopk":
            if widths is not None:
                raise ConfigError("matryoshka_widths needs architecture = matryoshka_batchtopk")
            return
        if not widths:
            raise ConfigError("matryoshka_batchtopk needs matryoshka_widths, e.g. [128, 512, 4096]")
        steps = list(zip(widths, widths[1:], strict=False))
        if widths[0] < 1 or any(a >= b for a, b in steps) or widths[-1] != self.d_sae:
            raise ConfigError(
                f"matryoshka_widths must increase strictly from >= 1 to d_sae={self.d_sae}; "
                f"got {list(widths)}"
            )

    @property
    def total_steps(self) -> int:
        """Optimiser steps."""
        return self.training_tokens // self.batch_size

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (saved in the card)."""
        return asdict(self)

    def with_(self, **changes: Any) -> SaeTrainConfig:
        """A copy with some fields changed."""
        return SaeTrainConfig(**{**asdict(self), **changes})


def load_sae_config(path: str | Path, **overrides: Any) -> SaeTrainConfig:
    """Read a TOML config; relative paths are relative to the current directory."""
    path = Path(path)
    raw = read_toml(path, "SAE config")
    known = {f.name for f in fields(SaeTrainConfig)}
    unknown = sorted(set(raw) - known)
    if unknown:
        raise ConfigError(f"{path}: unknown key(s) {unknown}; valid: {', '.join(sorted(known))}")
    if isinstance(raw.get("segments"), str):
        raise ConfigError(f'{path}: segments must be a list, e.g. ["think"]')
    for key in ("segments", "matryoshka_widths"):
        if isinstance(raw.get(key), list):
            raw[key] = tuple(raw[key])
    raw.update({k: v for k, v in overrides.items() if v is not None})
    try:
        return SaeTrainConfig(**raw)
    except TypeError as exc:
        raise ConfigError(f"{path}: {exc}") from None
