"""Train an SAE with sae-lens's trainer on rows from activation stores (resumable).

sae-lens's ``SAETrainer`` does the optimisation (TopK / BatchTopK with the auxiliary loss that
revives dead latents); this module feeds it batches from :mod:`krel_interp.sae.data`, scales
inputs to a mean norm of sqrt(d_in) (folded into the weights at the end, so the saved SAE reads
raw activations), checkpoints as safetensors + JSON (never pickles) and saves in sae-lens's
on-disk format with a card.
"""

from __future__ import annotations

import math
import os
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from safetensors import safe_open
from safetensors.torch import save_file

from krel_interp.errors import ConfigError
from krel_interp.io import sha256_json
from krel_interp.paths import relative_path
from krel_interp.sae.artifact import save_sae
from krel_interp.sae.config import SaeTrainConfig
from krel_interp.sae.data import SaeRows, batches, load_rows

Progress = Callable[[int], None]
CKPT = "checkpoint"


def _sae_lens_classes(architecture: str) -> tuple[Any, Any]:
    """sae-lens's (training config class, training SAE class) for ``architecture``."""
    from sae_lens.saes.batchtopk_sae import BatchTopKTrainingSAE, BatchTopKTrainingSAEConfig
    from sae_lens.saes.matryoshka_batchtopk_sae import (
        MatryoshkaBatchTopKTrainingSAE,
        MatryoshkaBatchTopKTrainingSAEConfig,
    )
    from sae_lens.saes.topk_sae import TopKTrainingSAE, TopKTrainingSAEConfig

    return {
        "topk": (TopKTrainingSAEConfig, TopKTrainingSAE),
        "batchtopk": (BatchTopKTrainingSAEConfig, BatchTopKTrainingSAE),
        "matryoshka_batchtopk": (
            MatryoshkaBatchTopKTrainingSAEConfig,
            MatryoshkaBatchTopKTrainingSAE,
        ),
    }[architecture]


def _sae_lens_config(config: SaeTrainConfig, d_in: int, meta: dict[str, Any]) -> Any:
    extra: dict[str, Any] = {}
    if config.matryoshka_widths is not None:
        extra["matryoshka_widths"] = list(config.matryoshka_widths)
    cfg = _sae_lens_classes(config.architecture)[0](
        d_in=d_in,
        d_sae=config.d_sae,
        k=config.k,
        aux_loss_coefficient=config.aux_coefficient,
        dtype="float32",
        device="cpu",
        **extra,
    )
    for key, value in meta.items():
        cfg.metadata[key] = value
    return cfg


def _trainer(config: SaeTrainConfig, sae: Any, provider: Any) -> Any:
    from sae_lens.config import LoggingConfig, SAETrainerConfig
    from sae_lens.training.sae_trainer import SAETrainer

    steps = config.total_steps
    cfg = SAETrainerConfig(
        total_training_samples=steps * config.batch_size,
        train_batch_size_samples=config.batch_size,
        lr=config.lr,
        lr_end=config.lr / 10,
        lr_decay_steps=max(1, steps // 5),
        dead_feature_window=config.dead_window,
        feature_sampling_window=10**9,
        device="cpu",
        logger=LoggingConfig(log_to_wandb=False),
    )
    return SAETrainer(cfg=cfg, sae=sae, data_provider=provider)


def _identity(config: SaeTrainConfig, rows: SaeRows) -> str:
    """What a checkpoint must match to be resumed: the config and the data."""
    return sha256_json({"config": config.to_dict(), "data": rows.info})


def _save_checkpoint(workdir: Path, trainer: Any, identity: str, scale: float) -> None:
    """One safetensors file (weights, Adam state, counters in its metadata), renamed into place."""
    tensors = {f"sae.{k}": v.detach().contiguous() for k, v in trainer.sae.state_dict().items()}
    opt = trainer.optimizer.state_dict()
    for i, state in opt["state"].items():
        for name, value in state.items():
            tensors[f"opt.{i}.{name}"] = torch.as_tensor(value).clone()
    tensors["act_freq_scores"] = trainer.act_freq_scores
    tensors["since_fired"] = trainer.n_forward_passes_since_fired
    meta = {
        "identity": identity,
        "scale": repr(scale),
        "n_training_samples": str(trainer.n_training_samples),
        "n_training_steps": str(trainer.n_training_steps),
        "n_frac_active_samples": str(trainer.n_frac_active_samples),
    }
    tmp = workdir / f".{CKPT}.tmp-{os.getpid()}.safetensors"
    save_file(tensors, str(tmp), metadata=meta)
    tmp.replace(workdir / f"{CKPT}.safetensors")


def _load_checkpoint(workdir: Path, trainer: Any, identity: str) -> bool:
    path = workdir / f"{CKPT}.safetensors"
    if not path.exists():
        return False
    with safe_open(str(path), framework="pt") as f:
        meta = f.metadata() or {}
        tensors = {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118
    if meta.get("identity") != identity:
        raise ConfigError(
            f"{workdir} holds a checkpoint of another config or data; "
            "choose a new output directory or pass --overwrite"
        )
    trainer.sae.load_state_dict({k[4:]: v for k, v in tensors.items() if k.startswith("sae.")})
    opt = trainer.optimizer.state_dict()
    for key, value in tensors.items():
        if key.startswith("opt."):
            _, i, name = key.split(".", 2)
            opt["state"].setdefault(int(i), {})[name] = value
    trainer.optimizer.load_state_dict(opt)
    trainer.act_freq_scores = tensors["act_freq_scores"]
    trainer.n_forward_passes_since_fired = tensors["since_fired"]
    trainer.n_training_samples = int(meta["n_training_samples"])
    trainer.n_training_steps = int(meta["n_training_steps"])
    trainer.n_frac_active_samples = int(meta["n_frac_active_samples"])
    with warnings.catch_warnings():  # stepping a schedule with no optimizer step is the point
        warnings.filterwarnings("ignore", message="Detected call of `lr_scheduler.step")
        for _ in range(trainer.n_training_steps):  # schedules are pure functions of the step
            trainer.lr_scheduler.step()
            for scheduler in trainer.coefficient_schedulers.values():
                scheduler.step()
    trainer.activation_scaler.scaling_factor = float(meta["scale"])
    return True


def scaling_factor(x: torch.Tensor) -> float:
    """sqrt(d_in) / mean norm: inputs scaled by it have mean norm sqrt(d_in)."""
    return math.sqrt(x.shape[1]) / float(x.norm(dim=-1).mean())


def train_sae(
    config: SaeTrainConfig,
    *,
    workdir: str | Path,
    provenance: dict[str, Any] | None = None,
    progress: Progress | None = None,
    rows: SaeRows | None = None,
) -> Path:
    """Train, evaluate on held-out traces, save in sae-lens format with ``card.json``.

    ``workdir`` keeps the resumable checkpoint (one safetensors file: weights, Adam state and
    counters); re-running after an interruption continues
    from the last checkpoint, and a checkpoint of another config or data is refused.
    """
    started = time.perf_counter()
    rows = rows or load_rows(
        config.store,
        config.site,
        config.kind,
        segments=config.segments,
        min_position=config.min_position,
        sink_factor=config.sink_factor,
        heldout_fraction=config.heldout_fraction,
        seed=config.seed,
    )
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    identity = _identity(config, rows)
    torch.manual_seed(config.seed)
    prov = provenance or {}
    meta = {"hook_name": config.site, "krel_kind": config.kind, **prov}
    meta["model_name"] = prov.get("model") or prov.get("pair")
    cfg = _sae_lens_config(config, rows.train.shape[1], meta)
    sae = _sae_lens_classes(config.architecture)[1](cfg)
    scale = scaling_factor(rows.train)
    trainer = _trainer(config, sae, None)  # batches are fed to ``step`` directly
    trainer.activation_scaler.scaling_factor = scale
    with torch.no_grad():  # start the decoder bias at the data mean (in scaled units)
        sae.b_dec.copy_(rows.train.mean(0) * scale)
    _load_checkpoint(workdir, trainer, identity)
    stream = batches(rows.train, config.batch_size, config.seed, trainer.n_training_samples)
    if progress and trainer.n_training_steps:
        progress(trainer.n_training_steps)
    while trainer.n_training_steps < config.total_steps:
        trainer.step(next(stream))
        trainer.n_training_steps += 1
        if trainer.n_training_steps % config.checkpoint_every == 0:
            _save_checkpoint(workdir, trainer, identity, scale)
        if progress:
            progress(1)
    trainer.set_final_sae_metadata()
    sae.fold_activation_norm_scaling_factor(scale)
    card = {
        "config": {
            **config.to_dict(),
            "store": relative_path(config.store),
            "out": relative_path(config.out),
        },
        "data": rows.info,
        "scaling_factor_folded": scale,
        "train_seconds": round(time.perf_counter() - started, 1),
        "dead_in_training_window": int(trainer.dead_neurons.sum()),
        "provenance": provenance or {},
    }
    return save_sae(sae, config.out, card, heldout=rows.heldout)
