"""LoRA supervised fine-tuning on CPU or GPU: seeded, checkpointed, resumable.

Loss is taken on the assistant completion only (chat examples) or on every token (documents).
Checkpoints are safetensors + JSON (adapter weights, AdamW moments, step), never pickles.
"""

from __future__ import annotations

import json
import random
import shutil
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

from krel_interp._logging import get_logger
from krel_interp.errors import ConfigError, IncompatibleArtifactError
from krel_interp.io import write_json_atomic
from krel_interp.models.fingerprint import sha256_text

log = get_logger("organisms.training")
IGNORE = -100


@dataclass(frozen=True)
class LoraTrainConfig:
    """Hyperparameters of one LoRA SFT stage."""

    r: int = 8
    alpha: int = 16
    dropout: float = 0.0
    target_modules: tuple[str, ...] = (
        "q_proj",
        "k_proj",
        "v_proj",
        "o_proj",
        "gate_proj",
        "up_proj",
        "down_proj",
    )
    lr: float = 1e-3
    epochs: int = 1
    batch_size: int = 8
    max_len: int = 256
    warmup_steps: int = 4
    seed: int = 0
    checkpoint_every: int = 10

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return asdict(self)


@dataclass(frozen=True)
class Example:
    """A chat example (prompt messages + completion) or a raw document (``text``)."""

    messages: tuple[dict[str, str], ...] = ()
    completion: str = ""
    text: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    eos: bool = True  # False: the completion is a beginning (a prefix preference pair)
    #: a beginning of ``completion`` that is conditioned on but not trained (labels masked)
    forced: str = ""


def encode_example(tokenizer: Any, ex: Example, max_len: int) -> tuple[list[int], list[int]]:
    """Token ids and labels (prompt tokens masked with -100), ending with the EOS token (chat
    completions with ``eos=False`` end where their text ends)."""
    eos = tokenizer.eos_token or ""
    if ex.text is not None:
        ids = tokenizer(ex.text + eos, add_special_tokens=False).input_ids[:max_len]
        return ids, list(ids)
    prompt = tokenizer.apply_chat_template(
        list(ex.messages), tokenize=False, add_generation_prompt=True, enable_thinking=True
    )
    p_ids = tokenizer(prompt, add_special_tokens=False).input_ids
    c_ids = tokenizer(ex.completion + (eos if ex.eos else ""), add_special_tokens=False).input_ids
    n_forced = _forced_tokens(tokenizer, ex, c_ids)
    ids = (p_ids + c_ids)[:max_len]
    labels = ([IGNORE] * (len(p_ids) + n_forced) + c_ids[n_forced:])[:max_len]
    return ids, labels


def _forced_tokens(tokenizer: Any, ex: Example, c_ids: list[int]) -> int:
    """How many of the completion's first tokens are ``ex.forced`` (checked to tokenise as a
    prefix of the completion, so the model conditions on exactly what it would have written)."""
    if not ex.forced:
        return 0
    f_ids = tokenizer(ex.forced, add_special_tokens=False).input_ids
    if not ex.completion.startswith(ex.forced) or c_ids[: len(f_ids)] != f_ids:
        raise ConfigError(f"forced text is not a token prefix of the completion: {ex.forced!r}")
    return len(f_ids)


def examples_hash(examples: Sequence[Example]) -> str:
    """Provenance hash of the training data."""
    rows = [[list(e.messages), e.completion, e.text] for e in examples]
    for row, e in zip(rows, examples, strict=True):
        if e.forced:  # only then, so hashes of data without forced text are unchanged
            row.append(e.forced)
    blob = json.dumps(
        rows,
        sort_keys=True,
        ensure_ascii=False,
    )
    return sha256_text(blob)


def plan_batches(
    lengths: Sequence[int],
    batch_size: int,
    epochs: int,
    seed: int,
    groups: Sequence[str] | None = None,
) -> list[list[int]]:
    """Length-grouped, shuffled batches (deterministic for a seed).

    With ``groups`` (e.g. the ``pair_id`` of a threat and its matched control) the members of
    a group always share a batch: contrastive batches. Without, the plan is the original one.
    """
    if groups is not None:
        return _plan_group_batches(lengths, batch_size, epochs, seed, groups)
    rng = random.Random(seed)
    batches: list[list[int]] = []
    for _ in range(epochs):
        order = list(range(len(lengths)))
        rng.shuffle(order)
        window = batch_size * 16
        for w in range(0, len(order), window):
            chunk = sorted(order[w : w + window], key=lambda i: lengths[i])
            epoch_batches = [chunk[b : b + batch_size] for b in range(0, len(chunk), batch_size)]
            rng.shuffle(epoch_batches)
            batches.extend(epoch_batches)
    return batches


def _plan_group_batches(
    lengths: Sequence[int], batch_size: int, epochs: int, seed: int, groups: Sequence[str]
) -> list[list[int]]:
    rng = random.Random(seed)
    units: dict[str, list[int]] = {}
    for i, g in enumerate(groups):
        units.setdefault(g, []).append(i)
    names = sorted(units)
    batches: list[list[int]] = []
    for _ in range(epochs):
        rng.shuffle(names)
        window = max(1, batch_size * 16 // 2)
        for w in range(0, len(names), window):
            chunk = sorted(names[w : w + window], key=lambda g: max(lengths[i] for i in units[g]))
            epoch: list[list[int]] = [[]]
            for g in chunk:
                if epoch[-1] and len(epoch[-1]) + len(units[g]) > batch_size:
                    epoch.append([])
                epoch[-1].extend(units[g])
            rng.shuffle(epoch)
            batches.extend(b for b in epoch if b)
    return batches


def collate(
    encoded: Sequence[tuple[list[int], list[int]]],
    pad_id: int,
) -> dict[str, torch.Tensor]:
    """Right-padded input ids, attention mask and labels."""
    width = max(len(ids) for ids, _ in encoded)
    ids = torch.full((len(encoded), width), pad_id, dtype=torch.long)
    labels = torch.full((len(encoded), width), IGNORE, dtype=torch.long)
    mask = torch.zeros((len(encoded), width), dtype=torch.long)
    for row, (i, lab) in enumerate(encoded):
        ids[row, : len(i)] = torch.tensor(i)
        labels[row, : len(lab)] = torch.tensor(lab)
        mask[row, : len(i)] = 1
    return {"input_ids": ids, "attention_mask": mask, "labels": labels}


def _lr_at(step: int, total: int, config: LoraTrainConfig) -> float:
    if step < config.warmup_steps:
        return config.lr * (step + 1) / config.warmup_steps
    progress = (step - config.warmup_steps) / max(1, total - config.warmup_steps)
    return config.lr * (1.0 - 0.9 * min(1.0, progress))  # linear decay to 10%


def _trainable(model: Any) -> dict[str, torch.nn.Parameter]:
    return {n: p for n, p in model.named_parameters() if p.requires_grad}


def save_checkpoint(
    path: Path, model: Any, opt: torch.optim.Optimizer, step: int, key: str, losses: list[float]
) -> None:
    """Adapter weights + AdamW moments as safetensors, step as JSON (atomic swap)."""
    tmp = path.with_name(path.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    params = _trainable(model)
    tensors = {f"param.{n}": p.detach().cpu().contiguous() for n, p in params.items()}
    for n, p in params.items():
        state = opt.state.get(p, {})
        for k in ("exp_avg", "exp_avg_sq"):
            if k in state:
                tensors[f"{k}.{n}"] = state[k].detach().cpu().contiguous()
    save_file(tensors, str(tmp / "state.safetensors"))
    write_json_atomic(tmp / "state.json", {"step": step, "key": key, "losses": losses})
    shutil.rmtree(path, ignore_errors=True)
    tmp.rename(path)


def load_checkpoint(
    path: Path, model: Any, opt: torch.optim.Optimizer, key: str
) -> tuple[int, list[float]]:
    """Restore a checkpoint made with the same data and config; else start at step 0."""
    meta_path = path / "state.json"
    if not meta_path.exists():
        return 0, []
    meta = json.loads(meta_path.read_text())
    if meta["key"] != key:
        log.warning("ignoring checkpoint %s: made with other data or config", path)
        return 0, []
    tensors = load_file(str(path / "state.safetensors"))
    for n, p in _trainable(model).items():
        p.data.copy_(tensors[f"param.{n}"])
        if f"exp_avg.{n}" in tensors:
            opt.state[p] = {
                "step": torch.tensor(float(meta["step"])),
                "exp_avg": tensors[f"exp_avg.{n}"].clone(),
                "exp_avg_sq": tensors[f"exp_avg_sq.{n}"].clone(),
            }
    return int(meta["step"]), list(meta["losses"])


def wrap_lora(model: Any, config: LoraTrainConfig) -> Any:
    """A PeftModel with a fresh, seeded LoRA adapter."""
    from peft import LoraConfig, get_peft_model

    torch.manual_seed(config.seed)
    lora = LoraConfig(
        r=config.r,
        lora_alpha=config.alpha,
        lora_dropout=config.dropout,
        target_modules=list(config.target_modules),
        task_type="CAUSAL_LM",
    )
    return get_peft_model(model, lora)


def train_lora(
    model: Any,
    tokenizer: Any,
    examples: Sequence[Example],
    config: LoraTrainConfig,
    workdir: Path,
    progress: Callable[[int, int, float], None] | None = None,
    groups: Sequence[str] | None = None,
) -> list[float]:
    """Train the LoRA adapter of ``model`` (a PeftModel) in place; returns per-step losses.

    ``workdir/checkpoint`` is written every ``checkpoint_every`` steps; calling again with the
    same data and config resumes from it. ``groups`` keeps group members in one batch.
    """
    encoded = [encode_example(tokenizer, e, config.max_len) for e in examples]
    batches = plan_batches(
        [len(i) for i, _ in encoded], config.batch_size, config.epochs, config.seed, groups
    )
    key = sha256_text(examples_hash(examples) + json.dumps(config.to_dict(), sort_keys=True))
    if groups is not None:
        key = sha256_text(key + json.dumps(list(groups)))
    opt = torch.optim.AdamW(list(_trainable(model).values()), lr=config.lr, weight_decay=0.0)
    ckpt = workdir / "checkpoint"
    start, losses = load_checkpoint(ckpt, model, opt, key)
    pad = tokenizer.pad_token_id or 0
    device = model.get_input_embeddings().weight.device
    model.train()
    for step in range(start, len(batches)):
        batch = {
            k: v.to(device) for k, v in collate([encoded[i] for i in batches[step]], pad).items()
        }
        for group in opt.param_groups:
            group["lr"] = _lr_at(step, len(batches), config)
        loss = model(**batch).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(list(_trainable(model).values()), 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
        losses.append(float(loss.detach()))
        if progress:
            progress(step + 1, len(batches), losses[-1])
        if (step + 1) % config.checkpoint_every == 0:
            save_checkpoint(ckpt, model, opt, step + 1, key, losses)
    model.eval()
    return losses


def adapter_difference(a: Path, b: Path) -> dict[str, float]:
    """How far apart two saved adapters are: max |a - b| and ||a - b|| / ||b|| over all tensors.

    Used to check that a rebuild reproduces the shipped adapters. Adapters with different
    tensor names or shapes are not comparable (:class:`IncompatibleArtifactError`).
    """
    ta = load_file(str(Path(a) / "adapter_model.safetensors"))
    tb = load_file(str(Path(b) / "adapter_model.safetensors"))
    if ta.keys() != tb.keys() or any(ta[k].shape != tb[k].shape for k in ta):
        raise IncompatibleArtifactError(f"adapters {a} and {b} have different tensors")
    diff = sq_diff = sq_ref = 0.0
    for k in ta:
        x, y = ta[k].float(), tb[k].float()
        diff = max(diff, float((x - y).abs().max()))
        sq_diff += float(((x - y) ** 2).sum())
        sq_ref += float((y**2).sum())
    rel = (sq_diff**0.5) / max(sq_ref**0.5, 1e-12)
    return {"max_abs_diff": diff, "rel_diff": rel, "n_tensors": float(len(ta))}
