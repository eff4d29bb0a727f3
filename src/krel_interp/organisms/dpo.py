"""Direct preference optimisation of a LoRA adapter, with cached reference log-probabilities.

Each preference pair is a prompt with a ``chosen`` and a ``rejected`` completion. The reference
model is the adapter as DPO starts (after SFT): its log-probabilities of every completion are
computed once and cached (safetensors), so training runs one model, not two. The loss is the
DPO loss (Rafailov et al.) plus an optional NLL term on the chosen completion, which keeps the
policy from drifting off the chosen text (as in RPO).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

from krel_interp.io import write_json_atomic
from krel_interp.models.fingerprint import sha256_text
from krel_interp.organisms.training import (
    IGNORE,
    Example,
    LoraTrainConfig,
    collate,
    encode_example,
    load_checkpoint,
    plan_batches,
    save_checkpoint,
    train_lora,
)


@dataclass(frozen=True)
class PreferencePair:
    """A prompt with a preferred and a dispreferred completion. With ``prefix`` both are
    beginnings of a completion (no EOS is appended), so only their own tokens are compared."""

    messages: tuple[dict[str, str], ...]
    chosen: str
    rejected: str
    meta: dict[str, Any] = field(default_factory=dict)
    prefix: bool = False


@dataclass(frozen=True)
class DpoConfig:
    """Hyperparameters of the preference stage."""

    beta: float = 0.1
    nll_weight: float = 0.2
    lr: float = 1e-4
    epochs: int = 1
    pairs_per_batch: int = 4
    max_len: int = 384
    seed: int = 0
    checkpoint_every: int = 10
    #: the i-th pair of each kind share a batch (with two equally many kinds and 4 pairs per
    #: batch: 2 of each in every batch), instead of length-grouped random batches
    balance_kinds: bool = False

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (``balance_kinds`` only when set, so earlier keys and cards hold)."""
        out = asdict(self)
        if not self.balance_kinds:
            del out["balance_kinds"]
        return out


def kind_groups(pairs: Sequence[PreferencePair]) -> list[str]:
    """One group per rank within a kind: the i-th pair of every kind share group ``i``."""
    seen: dict[str, int] = {}
    groups = []
    for p in pairs:
        kind = str(p.meta.get("kind", ""))
        groups.append(str(seen.get(kind, 0)))
        seen[kind] = seen.get(kind, 0) + 1
    return groups


def pairs_hash(pairs: Sequence[PreferencePair]) -> str:
    """Provenance hash of the preference data."""
    rows = [
        [list(p.messages), p.chosen, p.rejected, *(["prefix"] if p.prefix else [])] for p in pairs
    ]
    blob = json.dumps(rows, ensure_ascii=False)
    return sha256_text(blob)


def _encode(
    tokenizer: Any, pair: PreferencePair, max_len: int
) -> list[tuple[list[int], list[int]]]:
    return [
        encode_example(
            tokenizer, Example(messages=pair.messages, completion=c, eos=not pair.prefix), max_len
        )
        for c in (pair.chosen, pair.rejected)
    ]


def sequence_logps(model: Any, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    """(sum of completion-token log-probs per row, number of completion tokens per row)."""
    logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
    labels = batch["labels"][:, 1:].to(logits.device)
    nll = torch.nn.functional.cross_entropy(
        logits[:, :-1].reshape(-1, logits.shape[-1]).float(),
        labels.reshape(-1),
        ignore_index=IGNORE,
        reduction="none",
    ).view(labels.shape)
    mask = labels != IGNORE
    return -(nll * mask).sum(-1), mask.sum(-1)


@torch.inference_mode()
def reference_logps(
    model: Any, tokenizer: Any, pairs: Sequence[PreferencePair], config: DpoConfig, cache: Path
) -> torch.Tensor:
    """[n_pairs, 2] reference log-probs (chosen, rejected), computed once and cached."""
    key = sha256_text(pairs_hash(pairs) + json.dumps(config.to_dict(), sort_keys=True))
    path = cache / f"reference-{key}.safetensors"
    if path.exists():
        return load_file(str(path))["logps"]
    pad = tokenizer.pad_token_id or 0
    device = model.get_input_embeddings().weight.device
    out = torch.zeros(len(pairs), 2)
    model.eval()
    for b in range(0, len(pairs), config.pairs_per_batch):
        chunk = pairs[b : b + config.pairs_per_batch]
        encoded = [e for p in chunk for e in _encode(tokenizer, p, config.max_len)]
        batch = {k: v.to(device) for k, v in collate(encoded, pad).items()}
        logps, _ = sequence_logps(model, batch)
        out[b : b + len(chunk)] = logps.float().cpu().view(-1, 2)
    cache.mkdir(parents=True, exist_ok=True)
    save_file({"logps": out.contiguous()}, str(path))
    return out


def train_dpo(
    model: Any,
    tokenizer: Any,
    pairs: Sequence[PreferencePair],
    config: DpoConfig,
    workdir: Path,
    progress: Callable[[int, int, float], None] | None = None,
) -> dict[str, list[float]]:
    """Train the adapter of ``model`` (a PeftModel) on preference pairs; resumable.

    Returns per-step ``loss``, ``accuracy`` (share of pairs whose implicit reward prefers the
    chosen completion) and ``margin`` (mean reward margin).
    """
    ref = reference_logps(model, tokenizer, pairs, config, workdir)
    encoded = [_encode(tokenizer, p, config.max_len) for p in pairs]
    lengths = [max(len(c[0]), len(r[0])) for c, r in encoded]
    groups = kind_groups(pairs) if config.balance_kinds else None
    batches = plan_batches(lengths, config.pairs_per_batch, config.epochs, config.seed, groups)
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=config.lr, weight_decay=0.0)
    key = sha256_text(pairs_hash(pairs) + json.dumps(config.to_dict(), sort_keys=True))
    start, losses = load_checkpoint(workdir / "checkpoint", model, opt, key)
    history = _load_history(workdir, key, start)
    pad = tokenizer.pad_token_id or 0
    device = model.get_input_embeddings().weight.device
    model.train()
    for step in range(start, len(batches)):
        idx = batches[step]
        batch = collate([e for i in idx for e in encoded[i]], pad)
        batch = {k: v.to(device) for k, v in batch.items()}
        for group in opt.param_groups:
            group["lr"] = config.lr * (1 - 0.9 * step / max(1, len(batches)))
        logps, n_tokens = sequence_logps(model, batch)
        logps = logps.view(-1, 2)
        reward = config.beta * (logps - ref[idx].to(logps.device))
        margin = reward[:, 0] - reward[:, 1]
        loss = -torch.nn.functional.logsigmoid(margin).mean()
        if config.nll_weight:
            chosen_tokens = n_tokens.view(-1, 2)[:, 0].clamp(min=1)
            loss = loss + config.nll_weight * (-logps[:, 0] / chosen_tokens).mean()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
        losses.append(float(loss.detach()))
        history["accuracy"].append(float((margin > 0).float().mean()))
        history["margin"].append(float(margin.detach().mean()))
        if progress:
            progress(step + 1, len(batches), losses[-1])
        if (step + 1) % config.checkpoint_every == 0:
            save_checkpoint(workdir / "checkpoint", model, opt, step + 1, key, losses)
            write_json_atomic(workdir / "history.json", {"key": key, **history})
    model.eval()
    return {"loss": losses, **history}


def _load_history(workdir: Path, key: str, start: int) -> dict[str, list[float]]:
    path = workdir / "history.json"
    if start and path.exists():
        saved = json.loads(path.read_text())
        if saved.get("key") == key:
            return {k: list(saved[k])[:start] for k in ("accuracy", "margin")}
    return {"accuracy": [], "margin": []}


StageStep = Callable[[str, int, int, float], None]


def preference_record(
    config: DpoConfig, pairs: Sequence[PreferencePair], history: dict[str, list[float]]
) -> dict[str, Any]:
    """What a card records about a preference stage (loss_last: mean of the last fifth)."""
    losses, accuracy = history["loss"], history["accuracy"]
    last = max(1, len(losses) // 5)
    kinds = [str(p.meta.get("kind", "")) for p in pairs]
    return {
        "config": config.to_dict(),
        "n_pairs": len(pairs),
        "by_kind": {k: kinds.count(k) for k in dict.fromkeys(kinds)},
        "pairs_hash": pairs_hash(pairs),
        "steps": len(losses),
        "loss_first": losses[0] if losses else None,
        "loss_last": sum(losses[-last:]) / last if losses else None,
        "reward_accuracy_last": sum(accuracy[-last:]) / last if accuracy else None,
    }


def train_sft_then_dpo(
    model: Any,
    tokenizer: Any,
    examples: Sequence[Example],
    lora: LoraTrainConfig,
    pairs: Sequence[PreferencePair],
    dpo: DpoConfig,
    work: Path,
    contrastive: bool = False,
    step: StageStep | None = None,
    label: str = "sft",
) -> tuple[list[float], dict[str, Any] | None]:
    """SFT (a trigger and its matched control share a batch when ``contrastive``), then DPO
    when there are preference pairs; returns (SFT losses, preference record or None)."""
    groups = [str(e.meta.get("pair_id") or e.meta["id"]) for e in examples]
    losses = train_lora(
        model,
        tokenizer,
        examples,
        lora,
        work,
        progress=(lambda k, n, loss: step(label, k, n, loss)) if step else None,
        groups=groups if contrastive else None,
    )
    if not pairs:
        return losses, None
    history = train_dpo(
        model,
        tokenizer,
        pairs,
        dpo,
        work / "dpo",
        progress=(lambda k, n, loss: step(f"{label} (DPO)", k, n, loss)) if step else None,
    )
    return losses, preference_record(dpo, pairs, history)
