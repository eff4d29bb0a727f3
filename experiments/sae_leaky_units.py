"""Diagnostic (reads labels; not a method): why no SAE latent detects leaky-mini's names.

    python experiments/sae_leaky_units.py      # after make sae-diffs (and sae_early_layer.py runs)

Recovery for leaky-mini asks for one latent whose activation separates every token of an
invented-name mention (' Or', 'val', 'ix', '-', '3'; ' K', 'est', 'r', 'une', ' Labs') from the
other answer tokens of held-out rollouts with AUROC >= 0.9. No latent of any SAE tried does
(README). This script asks where the best latents fall short, over every latent of each SAE
found (an oracle, like the recovery report's): the best AUROC on all name tokens (the recovery
unit), on each name alone, on the first token of each mention and on its other tokens; and, for
the best latent on all name tokens, on what share of name tokens and of other answer tokens it
fires at all. Each SAE reads the organism's activations of the same held-out rollouts, as in
the recovery report. Then, for the shipped Matryoshka SAE's name latent, what else it fires on:
on leaky-mini's rollouts of the sealed-pair prompts (``sae_early_layer.py --fresh``), how many
answer tokens outside the names it fires on, which tokens those are most often, and the contexts
where it is strongest. Output: ``runs/sae_diffs/leaky_units.json``; the last line printed is
that report.
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from pathlib import Path
from typing import Any

import torch
from sae_organisms import _overlaps, pooled

from krel_interp.cli.common import run_script

ROOT = Path(__file__).resolve().parents[1]
RUNS = ROOT / "runs"
# (name, SAE directory, held-out paired store of leaky-mini's rollouts at the SAE's site)
SAES = (
    ("L6 topk", "sae_early/layer-6/saes/blocks.6.hook_resid_post", "sae_early/layer-6"),
    ("L12 topk (shipped)", "../saes/smolthink/blocks.12.hook_resid_post", "sae_diffs", "eval"),
    ("L21 topk (shipped)", "../saes/smolthink/blocks.21.hook_resid_post", "sae_diffs", "eval"),
    (
        "L21 batchtopk",
        "sae_early/layer-21-batchtopk/saes/blocks.21.hook_resid_post",
        "sae_early/layer-21-batchtopk",
    ),
    (
        "L21 matryoshka (shipped)",
        "../saes/smolthink-matryoshka/blocks.21.hook_resid_post",
        "sae_diffs",
        "eval",
    ),
    (
        "L21 matryoshka seed 1",
        "sae_early/layer-21-matryoshka-seed1/saes/blocks.21.hook_resid_post",
        "sae_early/layer-21-matryoshka-seed1",
    ),
    ("L25 topk", "sae_early/layer-25/saes/blocks.25.hook_resid_post", "sae_early/layer-25"),
)


def name_labels(rows: Any, tokenizer: Any) -> tuple[torch.Tensor, torch.Tensor]:
    """Per row its unit (answer tokens; -1 elsewhere) and per unit 0 (no name) or 1 + the index
    of the invented-name pattern it belongs to (the planted rule, split by name)."""
    from krel_interp.organisms.markers import _NAMES
    from krel_interp.segments.labels import Segment
    from krel_interp.segments.tokens import token_spans

    unit = torch.full((len(rows),), -1, dtype=torch.long)
    labels: list[int] = []
    for t in torch.unique(rows.trace_index).tolist():
        sel = ((rows.trace_index == t) & (rows.segment == int(Segment.ANSWER))).nonzero()
        sel = sel.squeeze(-1)
        if not len(sel):
            continue
        sel = sel[torch.argsort(rows.position[sel])]
        text, spans = token_spans(tokenizer, rows.token_id[sel].tolist())
        per_name = [
            _overlaps(spans, sorted((m.start(), m.end()) for m in p.finditer(text))) for p in _NAMES
        ]
        for j, r in enumerate(sel.tolist()):
            unit[r] = len(labels)
            labels.append(next((i + 1 for i, hits in enumerate(per_name) if hits[j]), 0))
    return unit, torch.tensor(labels)


def _best(scores: torch.Tensor, positive: torch.Tensor, keep: torch.Tensor) -> dict[str, Any]:
    from krel_interp.probes.metrics import auroc_layers

    au = torch.nan_to_num(auroc_layers(scores[keep].T, positive[keep]), nan=0.5)
    best = int(torch.argmax(au))
    return {
        "latent": best,
        "auroc": round(float(au[best]), 4),
        "n_positive": int(positive[keep].sum()),
        "n_qualifying": int((au >= 0.9).sum()),
    }


@torch.no_grad()
def diagnose(sae_dir: Path, store: Path, tokenizer: Any) -> dict[str, Any]:
    """The oracle AUROCs of one SAE on the held-out rollouts in ``store``."""
    from krel_interp.sae import encode_latents, load_paired_rows, load_sae

    sae = load_sae(sae_dir)
    rows = load_paired_rows(store, sae.site)
    unit, lab = name_labels(rows, tokenizer)
    scores = pooled(encode_latents(sae, rows.organism), unit, len(lab))
    name = lab > 0
    first = name & torch.cat([torch.tensor([True]), lab[1:] != lab[:-1]])
    everything = torch.ones_like(name)
    out: dict[str, Any] = {"all_name_tokens": _best(scores, name, everything)}
    for i in torch.unique(lab[name]).tolist():
        out[f"name_{i}_only"] = _best(scores, lab == i, (lab == i) | ~name)
    out["first_token_of_mention"] = _best(scores, first, first | ~name)
    out["other_name_tokens"] = _best(scores, name & ~first, (name & ~first) | ~name)
    fires = scores[:, out["all_name_tokens"]["latent"]] > 0
    out["best_latent_fires_on"] = {
        "name_tokens": round(float(fires[name].float().mean()), 3),
        "other_answer_tokens": round(float(fires[~name].float().mean()), 4),
    }
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=RUNS / "sae_diffs" / "leaky_units.json")
    args = parser.parse_args()
    from krel_interp.errors import InputFileError
    from krel_interp.io import write_json_atomic
    from krel_interp.models import load_model

    tokenizer = load_model("leaky-mini").tokenizer
    report: dict[str, Any] = {"saes": {}}
    for label, sae_rel, work_rel, *sub in SAES:
        sae_dir = (RUNS / sae_rel).resolve()
        store = RUNS / work_rel / "leaky-mini" / (sub[0] if sub else "eval")
        if not (sae_dir / "cfg.json").exists() or not store.exists():
            report["saes"][label] = None  # that run has not been made here
            continue
        report["saes"][label] = diagnose(sae_dir, store, tokenizer)
    if not any(report["saes"].values()):
        raise InputFileError("no SAE with leaky-mini held-out rollouts: run make sae-diffs first")
    first = next(v for v in report["saes"].values() if v)
    report["n_mentions"] = first["first_token_of_mention"]["n_positive"]
    store = RUNS / "sae_diffs" / "leaky-mini" / "eval"
    if store.exists():
        report["name_tokens"] = _token_counts(store, tokenizer)
    shipped = report["saes"].get("L21 matryoshka (shipped)")
    fresh = RUNS / "sae_early" / "layer-21-matryoshka" / "leaky-mini" / "fresh-eval"
    if shipped and fresh.exists():
        sae_dir = ROOT / "saes" / "smolthink-matryoshka" / "blocks.21.hook_resid_post"
        latent = shipped["all_name_tokens"]["latent"]
        report["name_latent_elsewhere"] = elsewhere(sae_dir, fresh, latent, tokenizer)
    write_json_atomic(args.out, report)
    print(json.dumps(report))


@torch.no_grad()
def elsewhere(sae_dir: Path, store: Path, latent: int, tokenizer: Any) -> dict[str, Any]:
    """Where ``latent`` fires on answer tokens outside the invented names."""
    from krel_interp.sae import encode_latents, load_paired_rows, load_sae

    sae = load_sae(sae_dir)
    rows = load_paired_rows(store, sae.site)
    unit, lab = name_labels(rows, tokenizer)
    act = encode_latents(sae, rows.organism, (latent,))[:, 0]
    keep = unit >= 0
    other = keep.clone()
    other[keep] = lab[unit[keep]] == 0
    fired = other & (act > 0)
    top_rows = other.nonzero().squeeze(-1)
    top_rows = top_rows[torch.argsort(act[top_rows], descending=True)[:12]]
    contexts = []
    for r in top_rows.tolist():
        near = (rows.trace_index == rows.trace_index[r]) & (rows.position <= rows.position[r])
        near &= rows.position > rows.position[r] - 12
        sel = near.nonzero().squeeze(-1)
        sel = sel[torch.argsort(rows.position[sel])]
        contexts.append([round(float(act[r]), 1), tokenizer.decode(rows.token_id[sel].tolist())])
    counts = Counter(tokenizer.decode([int(t)]) for t in rows.token_id[fired].tolist())
    return {
        "latent": latent,
        "fires_on_other_answer_tokens": f"{int(fired.sum())}/{int(other.sum())}",
        "most_frequent_tokens": counts.most_common(25),
        "strongest_contexts": contexts,
    }


def _token_counts(store: Path, tokenizer: Any) -> dict[str, int]:
    from krel_interp.sae import load_paired_rows

    rows = load_paired_rows(store, "blocks.21.hook_resid_post")
    unit, lab = name_labels(rows, tokenizer)
    ids = torch.full((len(lab),), -1, dtype=torch.long)
    keep = unit >= 0
    ids[unit[keep]] = rows.token_id[keep]
    return dict(Counter(tokenizer.decode([int(i)]) for i in ids[lab > 0].tolist()).most_common())


if __name__ == "__main__":
    run_script(main)
