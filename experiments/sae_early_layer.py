"""Exploratory (not part of ``make sae-diffs``): a base SAE at an early layer, for leaky-mini.

    python experiments/sae_early_layer.py               # layer 6; after make sae-diffs
    python experiments/sae_early_layer.py --layer 25    # the second exploratory layer
    python experiments/sae_early_layer.py --layer 21 --architecture matryoshka_batchtopk \
        --store runs/saes/store-smolthink [--fresh] [--seed 1]    # see below

Why: no latent of any SAE at layers 12 or 21 reaches AUROC 0.9 on leaky-mini's invented-name
tokens (README, SAE section), including an SAE trained on the organism's own activations
(``sae_organism_sae.py``). Names span several tokens (' Or', 'val', 'ix', '-', '3'); early
layers are where multi-token words are assembled, so a latent there may cover a whole name.

Method, fixed in this file before its first run: smolthink's base SAE at layer 6 (a fifth of
the depth; the layer was chosen after layers 12 and 21 had failed, not by looking at any
layer-6 result), built exactly as ``make saes`` builds the others (the same 2,080 traces of
``sae_data.py``, TopK 4,096 latents, k 32, 1M samples, the same held-out families), then
``generation_stats`` at layer 6 on the replies ``make sae-diffs`` already generated (smolthink
and each organism on the 48 train-family prompts, read by the base), scored on the same held-out
rollouts, captured again at layer 6, with the same units, rules and statistics (top 20,
AUROC >= 0.9, oracle, random top-20 baseline, chance of the rank). Added after the first run,
reporting only (the ranking and scoring are unchanged): a family-bootstrap interval for a
recovered latent's AUROC and on how many positive and negative units it fires at all,
``sae_probe_ceiling``'s supervised ceiling at layer 6, and the cards page of the top 5 latents
(``runs/sae_early/layer-6/ORG/cards_generation_stats_l6.html``). Output:
``runs/sae_early/layer-6/report.json``; the last line printed is its summary.

``--layer 25`` (added after the layer-6 run, before any layer-25 run, as the last layer-6 note's
"next"): the same procedure at layer 25, to tell "no single latent anywhere" from "not at the
layers tried"; it is a fifth site searched, so a hit there would be reported as such, not as a
recovery chosen in advance.

``--layer 21 --architecture matryoshka_batchtopk --store runs/saes/store-smolthink`` (added after
the layer-25 run, before any Matryoshka run; the flag was first spelled ``--matryoshka``): a
diagnostic (``sae_leaky_units.py``, first run from a scratch copy) showed that at layers 12 and 21
the latents that best detect invented-name tokens fire on about half of a name's tokens (some
sub-words) and almost nowhere else: the name is split across token-specific latents, the pattern
Matryoshka SAEs were made against (feature absorption). So: a Matryoshka BatchTopK SAE at layer 21
(prefix widths 128, 512, 2,048, 4,096; k 32; otherwise the same data, 1M samples and held-out
families as the shipped one, read from ``make saes``'s store instead of capturing it again), then
the same ``generation_stats`` procedure and scoring. The oracle over all 4,096 latents answers the
question whether any latent covers the names; the rank answers whether a blind method finds it.
Output: ``runs/sae_early/layer-21-matryoshka/``.

Confirmation (declared after the first Matryoshka run, which ranked a leaky-mini latent 5th with
AUROC 0.919, before any of these runs). That hypothesis came from looking at held-out units, so
the units it was scored on are no longer clean. Three checks, same procedure otherwise:
``--fresh`` scores the ranking again on units no step has looked at for this SAE: each
organism's greedy rollouts of the 132 sealed-pair prompts (``krel_mini_sealed.jsonl``; new
rollouts for leaky-mini), with intervals bootstrapped over prompt pairs (the file is one
family); ``--seed 1`` trains the Matryoshka SAE again from another seed (does a qualifying
latent reappear?); ``--architecture batchtopk`` trains a flat BatchTopK SAE with the same
settings (is it the nested loss or BatchTopK?). Outputs ``layer-21-matryoshka[-seed1]`` and
``layer-21-batchtopk``; with ``--fresh`` the report is ``report-fresh.json``. ``--seed 2`` was
added after seed 1 had ranked its name latent #28, before any seed-2 run, to count recoveries
over three seeds instead of two; it is reported whatever it shows.

Replication on unseen seeds (declared after seeds 0, 1 and 2 had ranked their name latents 5th,
#28 and 4th, before any run of these two): ``--seed 3`` and ``--seed 4``, the same procedure
with nothing changed, for leaky-mini and KREL-mini on the held-out units (no ``--fresh``). Seed 3
captures the store (``runs/sae_early/layer-21-matryoshka-seed3/store-smolthink``, the same
traces as ``make saes``); seed 4 reads it with ``--store``. The count of seeds whose name latent
``generation_stats`` ranks within the top 20 is reported over all five seeds, whatever it is.

A second site (declared after the five seeds, before it runs): ``--layer 12 --architecture
matryoshka_batchtopk`` (seed 0, held-out units), the same procedure at ``make saes``'s other
layer, capturing its own store. The question: does the nested loss give the names a latent at
layer 12 too? It is one more site searched, so a hit counts as exploration, not as a recovery.
"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path
from typing import Any

import torch
from rich.logging import RichHandler
from sae_data import sae_text_traces
from sae_organisms import (
    GEN_PROMPTS,
    ORGANISMS,
    UNITS,
    _capture,
    cards_for,
    eval_prompts,
    parse_organisms,
    rollouts,
    score_method,
    units,
)

from krel_interp.cli.common import progress_bar, run_script

ROOT = Path(__file__).resolve().parents[1]
LAYER = 6
MATRYOSHKA_WIDTHS = (128, 512, 2048, 4096)


def site_of(layer: int) -> str:
    """The residual-stream site of ``layer``."""
    return f"blocks.{layer}.hook_resid_post"


def base_sae(
    work: Path, layer: int, architecture: str = "topk", store: Path | None = None, seed: int = 0
) -> Path:
    """smolthink's SAE at ``layer``, trained like ``make saes`` trains its two (resumable);
    from ``store`` when given (it must hold the site), else captured into ``work``."""
    from krel_interp.capture import ActivationStore
    from krel_interp.errors import InputFileError
    from krel_interp.models import load_model
    from krel_interp.sae import SaeTrainConfig, train_sae

    site = site_of(layer)
    if store is None:
        store = work / "store-smolthink"
        lm = load_model("smolthink")
        traces = sae_text_traces()
        _capture(lm, traces, store, "smolthink (SAE text)", str(layer), length_sorted=True)
    elif site not in ActivationStore(store).header.get("sites", ()):
        raise InputFileError(f"{store} holds no {site}")
    out = work / "saes" / site
    if (out / "card.json").exists():
        return out
    header = ActivationStore(store).header
    config = SaeTrainConfig(
        name=f"smolthink-{site}",
        store=str(store),
        site=site,
        out=str(out),
        architecture=architecture,
        seed=seed,
        matryoshka_widths=MATRYOSHKA_WIDTHS if architecture == "matryoshka_batchtopk" else None,
    )
    prov = {
        "model": "smolthink",
        "fingerprint": header["fingerprint"],
        "data": "experiments/sae_data.py: suites (train) + corpus (train) + webtext",
        "traces_sha256": header["traces_sha256"],
    }
    with progress_bar(f"training {site}", config.total_steps) as advance:
        return train_sae(config, workdir=work / f"train-{site}", progress=advance, provenance=prov)


def run_one(
    diffs: Path, work: Path, organism: str, sae: Any, layer: int, fresh: bool = False
) -> dict[str, Any]:
    """generation_stats at ``layer`` for one organism, scored on its held-out units (and on
    the sealed-pair prompts' units with ``fresh``)."""
    from krel_interp.models import load_pair
    from krel_interp.sae import generation_stats, load_reply_rows
    from krel_interp.traces import load_traces

    pair = load_pair(ORGANISMS[organism])
    prompts = load_traces(GEN_PROMPTS)
    base_done = rollouts(pair.base, prompts, diffs / "gen-base" / "rollouts")
    mine_done = rollouts(pair.organism, prompts, diffs / organism / "gen" / "rollouts")
    base_store, mine_store = work / "gen-base", work / organism / "gen"
    _capture(pair.base, base_done, base_store, "base replies read by the base", str(layer))
    _capture(pair.base, mine_done, mine_store, "organism replies read by the base", str(layer))
    ranking = generation_stats(
        load_reply_rows(mine_store, site_of(layer)),
        load_reply_rows(base_store, site_of(layer)),
        sae,
    )
    done = rollouts(pair.organism, eval_prompts(organism), diffs / organism / "rollouts")
    rows, unit, y = units_on(pair, organism, done, layer, work / organism / "eval", "held-out")
    entry = score_method(ranking, sae, rows, unit, y)
    record = {"pair": ORGANISMS[organism], "sae": sae.source, "store": work / organism / "eval"}
    unembed = pair.organism.model.get_output_embeddings().weight.detach()
    tok = pair.organism.tokenizer
    cards_for(
        work / organism,
        f"generation_stats_l{layer}",
        organism,
        record,
        ranking,
        sae,
        rows,
        tok,
        unembed,
    )
    out = {
        "unit": UNITS[organism],
        "n_units": len(y),
        "n_positive": int(y.sum()),
        **entry,
        **uncertainty(rows, unit, y, sae, ranking, entry, layer),
    }
    if fresh:
        out["fresh_units"] = fresh_units(diffs, work, organism, pair, sae, ranking, layer)
    return out


def units_on(
    pair: Any, organism: str, done: list, layer: int, store: Path, what: str
) -> tuple[Any, torch.Tensor, torch.Tensor]:
    """``done`` (rollouts) captured through both models at ``layer`` into ``store``: the rows,
    each row's unit and each unit's label."""
    from krel_interp.capture import CaptureConfig, capture_pair
    from krel_interp.sae import load_paired_rows

    config = CaptureConfig(layers=str(layer), dtype="float16", batch_size=8)
    with progress_bar(f"capturing {what} rollouts", 2 * len(done)) as advance:
        capture_pair(pair, done, config, store, progress=advance)
    rows = load_paired_rows(store, site_of(layer))
    completions = [t.completion or "" for t in done]
    return rows, *units(organism, rows, pair.organism.tokenizer, completions)


def fresh_units(
    diffs: Path, work: Path, organism: str, pair: Any, sae: Any, ranking: Any, layer: int
) -> dict[str, Any]:
    """The ranking scored again on the organism's rollouts of the sealed-pair prompts, with a
    bootstrap over prompt pairs for the first qualifying latent."""
    from sae_organisms import SEALED

    from krel_interp.traces import load_traces

    done = rollouts(pair.organism, load_traces(SEALED), diffs / organism / "sealed-rollouts")
    where = work / organism / "fresh-eval"
    rows, unit, y = units_on(pair, organism, done, layer, where, "sealed-pair")
    entry = score_method(ranking, sae, rows, unit, y)
    entry.pop("top20", None)
    entry.update(n_units=len(y), n_positive=int(y.sum()))
    if entry["rank"] is not None:
        latent = ranking.latents[entry["rank"] - 1]
        pairs = torch.full((len(y),), -1, dtype=torch.long)
        keep = unit >= 0
        pairs[unit[keep]] = rows.trace_index[keep]
        groups = [str(done[t].meta.get("pair_id") or t) for t in pairs.tolist()]
        entry["ci_over_pairs"] = latent_ci(ranking, sae, rows, unit, y, latent, groups)[1]
    return entry


@torch.no_grad()
def latent_ci(
    ranking: Any, sae: Any, rows: Any, unit: Any, y: Any, latent: int, groups: list[str]
) -> tuple[torch.Tensor, list[float]]:
    """``latent``'s max activation per unit and a bootstrap interval (over ``groups``) for its
    AUROC."""
    from sae_organisms import pooled

    from krel_interp.probes.metrics import auroc, bootstrap_ci
    from krel_interp.sae import latent_activations

    acts = latent_activations(ranking, sae, rows.base, rows.organism, (latent,))
    scores = pooled(acts, unit, len(y))[:, 0]
    lo, hi = bootstrap_ci(auroc, scores, y.float(), groups)
    return scores, [round(lo, 4), round(hi, 4)]


@torch.no_grad()
def uncertainty(
    rows: Any, unit: Any, y: Any, sae: Any, ranking: Any, entry: dict[str, Any], layer: int
) -> dict[str, Any]:
    """Reporting only (fixed after the first run): a family-bootstrap interval for the AUROC
    of the recovered latent, and ``sae_probe_ceiling``'s supervised ceiling at ``layer``."""
    from sae_probe_ceiling import ceiling, unit_means

    x, groups = unit_means(rows, unit, len(y))
    out: dict[str, Any] = {"probe_ceiling": ceiling(x, y.float(), groups)}
    if entry["rank"] is not None:
        latent = entry["top20"][entry["rank"] - 1]
        scores, ci = latent_ci(ranking, sae, rows, unit, y, latent, groups)
        fires = scores > 0
        out["recovered_latent"] = {
            "latent": latent,
            "ci": ci,
            "fires_on_positive_units": f"{int(fires[y].sum())}/{int(y.sum())}",
            "fires_on_negative_units": f"{int(fires[~y].sum())}/{int((~y).sum())}",
        }
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--diffs", type=Path, default=ROOT / "runs" / "sae_diffs")
    parser.add_argument("--layer", type=int, default=LAYER, help="layer 6 or 25 (see the doc)")
    parser.add_argument("--work", type=Path, default=None, help="default runs/sae_early/layer-N")
    parser.add_argument(
        "--architecture",
        choices=("topk", "batchtopk", "matryoshka_batchtopk"),
        default="topk",
        help="the base SAE's architecture (topk as make saes)",
    )
    parser.add_argument("--seed", type=int, default=0, help="the SAE's seed")
    parser.add_argument("--fresh", action="store_true", help="also score on sealed-pair rollouts")
    parser.add_argument("--store", type=Path, default=None, help="an existing store of the site")
    parser.add_argument("--organisms", default=",".join(ORGANISMS))
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, handlers=[RichHandler(show_path=False)])
    from krel_interp.errors import InputFileError
    from krel_interp.io import write_json_atomic
    from krel_interp.sae import load_sae

    chosen = parse_organisms(args.organisms)
    if not (args.diffs / "gen-base" / "rollouts").exists():
        raise InputFileError(f"{args.diffs} has no generation rollouts: run `make sae-diffs` first")
    suffix = {"topk": "", "batchtopk": "-batchtopk", "matryoshka_batchtopk": "-matryoshka"}
    name = f"layer-{args.layer}{suffix[args.architecture]}" + (
        f"-seed{args.seed}" if args.seed else ""
    )
    work = args.work or ROOT / "runs" / "sae_early" / name
    sae_dir = base_sae(work, args.layer, args.architecture, args.store, args.seed)
    sae = load_sae(sae_dir)
    held = json.loads((sae_dir / "card.json").read_text())["heldout"]
    report: dict[str, Any] = {
        "site": site_of(args.layer),
        "sae": {k: held[k] for k in ("explained_variance", "l0", "dead_fraction")},
        "architecture": args.architecture,
        "seed": args.seed,
        "organisms": {},
    }
    for organism in chosen:
        entry = run_one(args.diffs, work, organism, sae, args.layer, args.fresh)
        report["organisms"][organism] = entry
    write_json_atomic(work / ("report-fresh.json" if args.fresh else "report.json"), report)
    summary = {
        org: {
            "rank": e["rank"],
            "auroc": e["auroc"],
            "oracle": (e.get("oracle") or {}).get("auroc"),
            "oracle_rank": (e.get("oracle") or {}).get("rank_in_method"),
            "n_qualifying": (e.get("oracle") or {}).get("n_qualifying"),
            "random_top20_median": ((e.get("oracle") or {}).get("random_top20") or {}).get(
                "median"
            ),
            "chance_of_rank": e.get("chance_of_rank"),
            "recovered_latent": e.get("recovered_latent"),
            "probe_ceiling": e["probe_ceiling"],
            "fresh_units": {
                k: v
                for k, v in (e.get("fresh_units") or {}).items()
                if k in ("rank", "auroc", "n_units", "n_positive", "ci_over_pairs", "note")
            }
            or None,
        }
        for org, e in report["organisms"].items()
    }
    print(json.dumps({"sae": report["sae"], f"generation_stats_l{args.layer}": summary}))


if __name__ == "__main__":
    run_script(main)
